"""Choosing models: a checkpoint, LoRAs stacked on it, a VAE, a ControlNet.

These nodes only resolve and describe the model (a ModelRef); the weights load on the
GPU lane of the node that uses them, and stay warm in the model cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from nodes.models import CHECKPOINT, CONTROLNET, LORA, VAE, ModelError, ModelRef, detect_family, resolve_source
from nodes.spec import Input, Output, node
from nodes.types import CONTROLNET as CONTROLNET_TYPE
from nodes.types import FLOAT, MODEL, STRING

DTYPES = ("auto", "float16", "bfloat16", "float32")


def _source_fingerprint(field_name: str, kind: str) -> Any:
    """Re-resolve when the file or folder changes on disk (replaced, re-downloaded)."""

    def fingerprint(constants: Mapping[str, Any]) -> Any:
        text = constants.get(field_name)
        if not isinstance(text, str):
            return None
        try:
            source = resolve_source(text, kind)
        except ModelError:
            return "missing"
        try:
            status = os.stat(source)
        except OSError:
            return source  # a hub id
        return (source, status.st_size, status.st_mtime_ns)

    return fingerprint


def _check_source(field_name: str, kind: str) -> Any:
    def check(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
        text = constants.get(field_name)
        if isinstance(text, str) and not text.strip():
            yield field_name, f"no {kind} chosen", f"pick a {kind} from the models folder, or type a path or hub id"
        elif isinstance(text, str):
            try:
                resolve_source(text, kind)
            except ModelError as error:
                yield field_name, str(error), f"put the {kind} in the models folder, or give its full path or hub id"

    return check


def _reference(text: str, kind: str, dtype: str = "auto") -> ModelRef:
    source = resolve_source(text, kind)
    family = detect_family(Path(source)) if os.path.exists(source) else "unknown"
    return ModelRef(source, kind, family, None if dtype == "auto" else dtype)


@node("model.Checkpoint", category="model",
      description="Picks a checkpoint: a diffusers folder, a .safetensors file or a hub id. "
                  "Its family (SD 1.5, SDXL, SVD, Wan, LTX-Video, ...) is read from its files.",
      inputs=[Input("checkpoint", STRING, default="", widget="model:checkpoint"),
              Input("dtype", STRING, default="auto", choices=DTYPES)],
      outputs=[Output("model", MODEL), Output("family", STRING)], light=True,
      fingerprint=_source_fingerprint("checkpoint", CHECKPOINT), check=_check_source("checkpoint", CHECKPOINT))
def checkpoint(ctx: Any, checkpoint: str, dtype: str) -> tuple[ModelRef, str]:
    reference = _reference(checkpoint, CHECKPOINT, dtype)
    return reference, reference.family


@node("model.LoRA", category="model",
      description="Adds a LoRA to a model with a weight; chain several to stack them.",
      inputs=[Input("model", MODEL), Input("lora", STRING, default="", widget="model:lora"),
              Input("weight", FLOAT, default=1.0, min=-4.0, max=4.0, step=0.05)],
      outputs=[Output("model", MODEL)], light=True,
      fingerprint=_source_fingerprint("lora", LORA), check=_check_source("lora", LORA))
def lora(ctx: Any, model: ModelRef, lora: str, weight: float) -> ModelRef:
    return model.with_lora(_reference(lora, LORA), weight)


@node("model.VAE", category="model",
      description="Replaces a model's VAE, e.g. with a fine-tuned one for sharper details.",
      inputs=[Input("model", MODEL), Input("vae", STRING, default="", widget="model:vae")],
      outputs=[Output("model", MODEL)], light=True,
      fingerprint=_source_fingerprint("vae", VAE), check=_check_source("vae", VAE))
def vae(ctx: Any, model: ModelRef, vae: str) -> ModelRef:
    return model.with_vae(_reference(vae, VAE))


@node("model.ControlNet", category="model",
      description="Picks a ControlNet (scribble, lineart, depth, ...) to guide generation with an image.",
      inputs=[Input("controlnet", STRING, default="", widget="model:controlnet"),
              Input("dtype", STRING, default="auto", choices=DTYPES)],
      outputs=[Output("controlnet", CONTROLNET_TYPE)], light=True,
      fingerprint=_source_fingerprint("controlnet", CONTROLNET), check=_check_source("controlnet", CONTROLNET))
def controlnet(ctx: Any, controlnet: str, dtype: str) -> ModelRef:
    return _reference(controlnet, CONTROLNET, dtype)
