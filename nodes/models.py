"""Model references and model folders: what a MODEL socket carries and where models live.

A :class:`ModelRef` is a small, hashable handle (source, kind, family, dtype, LoRA
stack, VAE override); the model cache in ``gpu/models.py`` turns it into weights on
the lane that runs the node. Nothing here imports torch, so listing and checking
models is instant.

Sources: a local diffusers folder, a single ``.safetensors`` file (``.ckpt`` only
through torch's weights-only loader), or a hub id such as ``stabilityai/sd-turbo``.
A models folder in the ComfyUI layout (``checkpoints/``, ``loras/``, ``controlnet/``,
``vae/``, ``upscale_models/``, ...) is scanned, so an existing ComfyUI install works.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from nodes.spec import NodeFailure

CHECKPOINT = "checkpoint"
LORA = "lora"
CONTROLNET = "controlnet"
VAE = "vae"
UPSCALER = "upscaler"
TINY_AUTOENCODER = "tiny_autoencoder"
LANGUAGE_MODEL = "language_model"
#: A text-to-speech model folder (VITS/MMS, SpeechT5, Bark), run by ``nodes.speech_models``.
SPEECH_MODEL = "speech_model"

#: ComfyUI's folder names (and a few of their aliases) -> the kind of model inside.
FOLDER_KINDS: dict[str, str] = {
    "checkpoints": CHECKPOINT,
    "diffusion_models": CHECKPOINT,
    "unet": CHECKPOINT,
    "diffusers": CHECKPOINT,
    "loras": LORA,
    "controlnet": CONTROLNET,
    "vae": VAE,
    "upscale_models": UPSCALER,
    "vae_approx": TINY_AUTOENCODER,
    "LLM": LANGUAGE_MODEL,
    "llm": LANGUAGE_MODEL,
    "tts": SPEECH_MODEL,
}
WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

#: Families Reelgraph knows how to run, with the words creators know them by.
FAMILIES: dict[str, str] = {
    "sd15": "Stable Diffusion 1.x",
    "sd2": "Stable Diffusion 2.x",
    "sdxl": "Stable Diffusion XL",
    "svd": "Stable Video Diffusion",
    "wan": "Wan 2.x",
    "ltx": "LTX-Video",
    "flux": "FLUX",
    "unknown": "an unrecognised model",
}
#: diffusers pipeline class names (``model_index.json``) -> family.
PIPELINE_FAMILIES: dict[str, str] = {
    "StableDiffusionPipeline": "sd15",
    "StableDiffusionImg2ImgPipeline": "sd15",
    "StableDiffusionInpaintPipeline": "sd15",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "StableDiffusionXLInpaintPipeline": "sdxl",
    "StableVideoDiffusionPipeline": "svd",
    "WanPipeline": "wan",
    "WanImageToVideoPipeline": "wan",
    "LTXPipeline": "ltx",
    "LTXImageToVideoPipeline": "ltx",
    "LTXConditionPipeline": "ltx",
    "FluxPipeline": "flux",
}
BYTES_PER_DTYPE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                   "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


class ModelError(NodeFailure):
    """A model that cannot be found, read or used; the message says what to do."""


@dataclass(frozen=True)
class ModelRef:
    """A handle on a model: cheap to copy, hash and send to a remote worker."""

    source: str
    kind: str = CHECKPOINT
    family: str = "unknown"
    #: "float16", "bfloat16", "float32", or None for the device's best.
    dtype: str | None = None
    variant: str | None = None
    #: LoRAs applied on top, in order, each with its weight.
    loras: tuple[tuple["ModelRef", float], ...] = ()
    #: A VAE that replaces the checkpoint's own.
    vae: "ModelRef | None" = None
    #: Weights of the base model only (its LoRAs and VAE override travel separately).
    base_key: tuple[str, str, str | None, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_key", (self.source, self.kind, self.dtype, self.variant))

    @property
    def is_hub_id(self) -> bool:
        return not os.path.isabs(self.source) and bool(HUB_ID.match(self.source))

    @property
    def name(self) -> str:
        """What the creator calls it: the file or folder name, or the hub id."""
        return self.source if self.is_hub_id else Path(self.source).name

    def with_lora(self, lora: "ModelRef", weight: float) -> "ModelRef":
        return replace(self, loras=self.loras + ((lora, float(weight)),))

    def with_vae(self, vae: "ModelRef") -> "ModelRef":
        return replace(self, vae=vae)

    def describe(self) -> str:
        text = f"{self.name} ({FAMILIES.get(self.family, self.family)})"
        if self.loras:
            text += " + " + ", ".join(f"{lora.name}×{weight:g}" for lora, weight in self.loras)
        return text


@dataclass(frozen=True)
class ModelEntry:
    """One model found in a models folder."""

    kind: str
    name: str  # relative to the kind's folder, as pickers show it
    path: Path
    family: str
    size: int


def models_folder() -> Path:
    """Where Reelgraph looks for models: ``REELGRAPH_MODELS`` (e.g. a ComfyUI ``models``
    folder), or ``models`` in the user data folder."""
    override = os.environ.get("REELGRAPH_MODELS")
    if override:
        return Path(override).expanduser()
    from nodes.user_folders import data_folder

    return data_folder() / "models"


def scan_models(folder: Path | None = None) -> list[ModelEntry]:
    """Every model in a ComfyUI-layout folder: weight files and diffusers folders."""
    root = folder if folder is not None else models_folder()
    entries: list[ModelEntry] = []
    if not root.is_dir():
        return entries
    for sub in sorted(root.iterdir()):
        kind = FOLDER_KINDS.get(sub.name)
        if kind is None or not sub.is_dir():
            continue
        for path in _model_paths(sub):
            try:
                family = detect_family(path)
            except ModelError:
                family = "unknown"
            entries.append(ModelEntry(kind, path.relative_to(sub).as_posix(), path, family, weights_size(path)))
    return entries


def _model_paths(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        if (here / "model_index.json").is_file() or ((here / "config.json").is_file() and here != folder):
            dirnames.clear()
            yield here
            continue
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for filename in sorted(filenames):
            if filename.endswith(WEIGHT_SUFFIXES):
                yield here / filename


def resolve_source(text: str, kind: str, folder: Path | None = None) -> str:
    """Turn what a creator typed (a path, a name in the models folder, a hub id) into
    a source; ModelError naming the places looked in when there is none."""
    text = text.strip()
    if not text:
        raise ModelError(f"no {kind} chosen; pick one from the models folder or type a path or hub id")
    path = Path(text).expanduser()
    if path.is_absolute():
        if path.exists():
            return str(path)
        raise ModelError(f"the {kind} {str(path)!r} does not exist")
    root = folder if folder is not None else models_folder()
    for sub, sub_kind in FOLDER_KINDS.items():
        candidate = root / sub / text
        if sub_kind == kind and candidate.exists():
            return str(candidate.resolve())
    if path.exists():
        return str(path.resolve())
    if HUB_ID.match(text):
        return text
    places = ", ".join(str(root / sub) for sub, sub_kind in FOLDER_KINDS.items() if sub_kind == kind)
    raise ModelError(f"cannot find the {kind} {text!r}; looked in {places}")


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The tensor table of a ``.safetensors`` file (names, dtypes, shapes), read without
    loading any weights; ModelError when the file is damaged."""
    try:
        with open(path, "rb") as stream:
            prefix = stream.read(8)
            if len(prefix) < 8:
                raise ModelError(f"{path.name} is empty or cut short: not a usable .safetensors file")
            (length,) = struct.unpack("<Q", prefix)
            size = path.stat().st_size
            if length <= 1 or length > min(size - 8, 100 * 1024**2):
                raise ModelError(f"{path.name} is damaged: its header does not fit the file (re-download it)")
            header = json.loads(stream.read(length).decode("utf-8"))
    except OSError as error:
        raise ModelError(f"cannot read {path.name}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{path.name} is damaged: its header is not readable (re-download it)") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path.name} is damaged: its header is not a tensor table")
    header.pop("__metadata__", None)
    end = max((entry.get("data_offsets", [0, 0])[1] for entry in header.values() if isinstance(entry, dict)),
              default=0)
    if 8 + length + end > size:
        raise ModelError(f"{path.name} is cut short ({size} bytes, needs {8 + length + end}); re-download it")
    return header


def detect_family(path: Path) -> str:
    """Which family a model belongs to, from its files alone."""
    if path.is_dir():
        index = path / "model_index.json"
        if index.is_file():
            try:
                class_name = json.loads(index.read_text(encoding="utf-8")).get("_class_name", "")
            except (OSError, ValueError):
                raise ModelError(f"{path.name}/model_index.json is damaged") from None
            return PIPELINE_FAMILIES.get(class_name, "unknown")
        return "unknown"
    if path.suffix != ".safetensors":
        return "unknown"
    return family_from_tensor_names(read_safetensors_header(path))


def family_from_tensor_names(header: dict[str, Any]) -> str:
    names = header.keys()

    def has(fragment: str) -> bool:
        return any(fragment in name for name in names)

    if has("conditioner.embedders.1") or has("add_embedding.linear_1") or has("label_emb.0.0"):
        return "sdxl"
    if has("time_stack") or has("temporal_transformer_blocks"):
        return "svd"
    if has("patch_embedding") and (has("blocks.0.self_attn") or has("blocks.0.attn1")):
        return "wan"
    if has("scale_shift_table") and (has("adaln_single") or has("caption_projection")):
        return "ltx"
    if has("double_blocks.0") or has("single_transformer_blocks.0"):
        return "flux"
    if has("cond_stage_model.model.transformer") or has("cond_stage_model.model.ln_final"):
        return "sd2"
    if has("cond_stage_model.transformer") or has("model.diffusion_model.input_blocks") \
            or has("down_blocks.0.attentions.0"):
        return "sd15"
    return "unknown"


def weights_size(path: Path) -> int:
    """Bytes of weights on disk: one file, or every weight file of a folder."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for filename in filenames:
            if filename.endswith(WEIGHT_SUFFIXES):
                total += os.path.getsize(os.path.join(dirpath, filename))
    return total


def estimate_load_bytes(path: Path, dtype_bytes: int) -> int:
    """Memory the weights will take once loaded at ``dtype_bytes`` per value, judged
    from the size and dtype of the files (before loading anything)."""
    stored = weights_size(path)
    sample = path if path.is_file() else next(path.rglob("*.safetensors"), None)
    source_bytes = 4
    if sample is not None and sample.suffix == ".safetensors":
        try:
            header = read_safetensors_header(sample)
            dtypes = [entry.get("dtype") for entry in header.values() if isinstance(entry, dict)]
            if dtypes:
                source_bytes = BYTES_PER_DTYPE.get(max(set(dtypes), key=dtypes.count), 4)
        except ModelError:
            pass
    return int(stored * dtype_bytes / source_bytes)
