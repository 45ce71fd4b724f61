"""The live sketch canvas's graphs: a real workflow, run by the shared executor like
any other, built afresh for each request (a handful of nodes; planning it costs well
under a millisecond)::

    model.Checkpoint ─(model.LoRA…)─(model.VAE: TAESD)─┐
    live.Canvas "<canvas>@<version>" ──────────────────┼─► diffusion.SketchToImage ─► image.Preview
    model.ControlNet (optional) ───────────────────────┘

Variations use ``live.Variations`` in place of SketchToImage and Preview.

Tiny decoding: when the models folder's ``vae_approx`` holds the model family's tiny
autoencoder (``taesd`` for SD 1.x/2.x, ``taesdxl`` for SDXL) and it shrinks pictures
as much as the model's own VAE does, the live graph hands it to the model as its VAE
(``model.VAE``), so each picture is encoded and decoded by TAESD in a few
milliseconds instead of the full VAE. Normal graphs keep the model's own VAE: the
model service puts it back for every node that does not ask for another.
"""

from __future__ import annotations

import json
from pathlib import Path

from dataclasses import replace

from gpu.live_settings import LiveSettings
from nodes.graph import Graph
from nodes.models import FOLDER_KINDS, TINY_AUTOENCODER, ModelError, ModelRef, detect_family, models_folder

PAINT = "paint"
PREVIEW = "preview"
CANVAS = "canvas"
VARIATIONS = "variations"
TINY_DECODERS = {"sd15": "taesd", "sd2": "taesd", "sdxl": "taesdxl"}


def model_nodes(graph: Graph, model: ModelRef, tiny_decoder: Path | None) -> str:
    """Nodes that rebuild ``model`` (checkpoint, LoRAs, VAE) in the graph; the last one's id."""
    dtype = model.dtype or "auto"
    last = graph.add("model.Checkpoint", {"checkpoint": model.source, "dtype": dtype}, node_id="checkpoint")
    for index, (lora, weight) in enumerate(model.loras):
        last = graph.add("model.LoRA", {"model": [last, "model"], "lora": lora.source, "weight": weight},
                         node_id=f"lora{index}")
    vae = str(tiny_decoder) if tiny_decoder is not None else model.vae.source if model.vae is not None else None
    if vae is not None:
        last = graph.add("model.VAE", {"model": [last, "model"], "vae": vae}, node_id="vae")
    return last


def painting_inputs(model_node: str, settings: LiveSettings) -> dict[str, object]:
    inputs: dict[str, object] = {
        "model": [model_node, "model"], "sketch": [CANVAS, "image"], "prompt": settings.prompt,
        "negative": settings.negative, "seed": settings.seed, "steps": settings.node_steps(), "cfg": settings.cfg,
        "scheduler": settings.scheduler, "strength": settings.strength,
        "control_strength": settings.control_strength,
    }
    return inputs


def add_canvas_and_controlnet(graph: Graph, inputs: dict[str, object], canvas: str, settings: LiveSettings) -> None:
    graph.add("live.Canvas", {"canvas": canvas, "size": settings.size}, node_id=CANVAS)
    if settings.controlnet is not None:
        graph.add("model.ControlNet", {"controlnet": settings.controlnet.source,
                                       "dtype": settings.controlnet.dtype or "auto"}, node_id="controlnet")
        inputs["controlnet"] = ["controlnet", "controlnet"]


def live_graph(model: ModelRef, canvas: str, settings: LiveSettings, tiny_decoder: Path | None) -> Graph:
    """canvas → SketchToImage → Preview, for one request; run it with targets [PREVIEW]."""
    graph = Graph()
    inputs = painting_inputs(model_nodes(graph, model, tiny_decoder), settings)
    add_canvas_and_controlnet(graph, inputs, canvas, settings)
    graph.add("diffusion.SketchToImage", inputs, node_id=PAINT)
    graph.add("image.Preview", {"image": [PAINT, "image"]}, node_id=PREVIEW)
    return graph


def variations_graph(model: ModelRef, canvas: str, settings: LiveSettings, tiny_decoder: Path | None,
                     first_seed: int, count: int) -> Graph:
    """canvas → live.Variations (count seeds from ``first_seed``, one batched call)."""
    graph = Graph()
    inputs = painting_inputs(model_nodes(graph, model, tiny_decoder), settings)
    inputs.update(seed=first_seed, count=count)
    add_canvas_and_controlnet(graph, inputs, canvas, settings)
    graph.add("live.Variations", inputs, node_id=VARIATIONS)
    return graph


def find_tiny_decoder(model: ModelRef, folder: Path | None = None) -> Path | None:
    """The tiny autoencoder for ``model``'s family in the models folder, when it fits the
    model (same shrink factor as its own VAE, read from the configs); None otherwise."""
    name = TINY_DECODERS.get(model.family)
    if name is None:
        return None
    root = folder if folder is not None else models_folder()
    for sub, kind in FOLDER_KINDS.items():
        candidate = root / sub / name
        if kind == TINY_AUTOENCODER and (candidate / "config.json").is_file():
            if shrink_factor(candidate / "config.json") == model_shrink_factor(model):
                return candidate.resolve()
    return None


def shrink_factor(config_path: Path) -> int | None:
    """2^(blocks - 1) of a VAE or tiny autoencoder config; None when unreadable."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    blocks = config.get("block_out_channels") or config.get("decoder_block_out_channels")
    return 2 ** (len(blocks) - 1) if isinstance(blocks, list) and blocks else None


def model_shrink_factor(model: ModelRef) -> int | None:
    """The factor of the VAE the model decodes with: its override's, or its folder's;
    8 for a single-file checkpoint (every SD family's VAE)."""
    source = Path(model.vae.source if model.vae is not None else model.source)
    if source.is_file():
        return 8
    for config in (source / "vae" / "config.json", source / "config.json"):
        if config.is_file():
            return shrink_factor(config)
    return 8 if model.is_hub_id else None


def known_family(model: ModelRef) -> ModelRef:
    """``model`` with its family read from its files when the caller did not say."""
    if model.family != "unknown" or model.is_hub_id:
        return model
    try:
        return replace(model, family=detect_family(Path(model.source)))
    except (ModelError, OSError):
        return model
