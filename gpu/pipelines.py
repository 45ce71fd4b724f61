"""Turning a ModelRef into a ready diffusers pipeline (or language model) on a device.

Generation nodes reach this through ``ctx.models``. The base weights are loaded once
per device and kept warm by the model cache; task pipelines (image-to-image, inpaint,
ControlNet) are derived from the warm base without copying weights; LoRAs are loaded
once as adapters and switched per call; a VAE override is swapped in per call.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable

from gpu.models import ModelCache
from gpu.prompt_embeddings import PromptEmbeddings
from nodes.models import (
    CHECKPOINT, FAMILIES, LANGUAGE_MODEL, SPEECH_MODEL, TINY_AUTOENCODER, ModelError, ModelRef, estimate_load_bytes,
    models_folder, read_safetensors_header,
)

log = logging.getLogger("reelgraph.models")

TEXT_TO_IMAGE = "text2img"
IMAGE_TO_IMAGE = "img2img"
INPAINT = "inpaint"
#: Families whose weights want bfloat16 on CUDA (float16 overflows in them).
BFLOAT16_FAMILIES = {"wan", "ltx", "flux"}
SINGLE_FILE_CLASSES = {
    "sd15": "StableDiffusionPipeline",
    "sd2": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "flux": "FluxPipeline",
    "ltx": "LTXPipeline",
}

ProgressCallback = Callable[[float, str], None]


class ModelService:
    """What ``ctx.models`` offers node functions; one per executor, shared by its lanes."""

    def __init__(self, cache: ModelCache | None = None, folder: Path | None = None) -> None:
        self.cache = cache if cache is not None else ModelCache()
        self.folder = folder
        self._lock = threading.Lock()
        #: Encoded prompts, reused while the prompt does not change (``gpu/prompt_embeddings.py``).
        self.prompts = PromptEmbeddings()

    # ----- dtypes ------------------------------------------------------------------------
    def dtype(self, device: str, ref: ModelRef) -> Any:
        """float32 on the CPU; bfloat16 for FLUX/Wan/LTX and float16 otherwise on a GPU."""
        import torch

        if ref.dtype:
            return getattr(torch, ref.dtype)
        if ref.kind == SPEECH_MODEL:
            from nodes.speech_models import speech_dtype

            return speech_dtype(ref.family, device)
        if device == "cpu":
            return torch.float32
        if device.startswith("cuda") and ref.family in BFLOAT16_FAMILIES:
            return torch.bfloat16
        return torch.float16

    # ----- diffusion pipelines -------------------------------------------------------
    def pipeline(
        self, ref: ModelRef, device: str, task: str = TEXT_TO_IMAGE, controlnet: ModelRef | None = None,
        progress: ProgressCallback | None = None,
    ) -> Any:
        """The pipeline for ``task`` on ``device`` with ``ref``'s LoRAs and VAE in place."""
        dtype = self.dtype(device, ref)
        base = self.cache.get(
            ("pipeline", ref.base_key, str(dtype)), device,
            lambda: load_pipeline(ref, dtype, self.folder, progress),
            estimate_bytes(ref, dtype, self.folder), ref.name,
        )
        self._apply_vae(base, ref, device, dtype)
        self._apply_loras(base, ref)
        control = None
        if controlnet is not None:
            control = self.cache.get(
                ("controlnet", controlnet.base_key, str(dtype)), device,
                lambda: load_controlnet(controlnet, dtype), estimate_bytes(controlnet, dtype, self.folder),
                controlnet.name,
            )
        return derived_pipeline(base, task, control)

    def prompt_embeddings(self, ref: ModelRef, pipe: Any, device: str, prompt: str, negative: str,
                          guidance: bool) -> dict[str, Any] | None:
        """``prompt_embeds=...`` arguments for ``pipe``, encoded once per prompt; None
        for pipelines that must be handed the prompt as text."""
        return self.prompts.arguments(ref, pipe, device, prompt, negative, guidance)

    def run_guarded(self, device: str, ref: ModelRef, work: Callable[[], Any], what: str) -> Any:
        """Run ``work`` with the cache's free-and-retry-once answer to out-of-memory."""
        dtype = self.dtype(device, ref)
        slot = {LANGUAGE_MODEL: "llm", SPEECH_MODEL: "speech"}.get(ref.kind, "pipeline")  # its weights' cache key
        return self.cache.run_guarded(device, (slot, ref.base_key, str(dtype)), work, what)

    def tiny_autoencoder(self, family: str, device: str, dtype: Any) -> Any | None:
        """A tiny autoencoder (TAESD family) for fast step previews, when one is in the
        models folder's ``vae_approx``; None otherwise."""
        from nodes.models import scan_models

        names = {"sdxl": ("taesdxl",), "sd15": ("taesd",), "sd2": ("taesd",)}.get(family, ())
        for entry in scan_models(self.folder):
            if entry.kind == TINY_AUTOENCODER and entry.path.is_dir() and entry.path.name in names:
                ref = ModelRef(str(entry.path), TINY_AUTOENCODER, family)
                return self.cache.get(("tae", ref.base_key, str(dtype)), device,
                                      lambda: _load_tiny_autoencoder(entry.path, dtype),
                                      estimate_bytes(ref, dtype, self.folder), entry.name)
        return None

    # ----- language models -------------------------------------------------------------
    def language_model(self, ref: ModelRef, device: str) -> tuple[Any, Any]:
        """(causal LM, tokenizer) for prompt enhancement, warm like any other model."""
        dtype = self.dtype(device, ref)
        model = self.cache.get(("llm", ref.base_key, str(dtype)), device,
                               lambda: load_language_model(ref, dtype, self.folder),
                               estimate_bytes(ref, dtype, self.folder), ref.name)
        return model, model.reelgraph_tokenizer

    # ----- text-to-speech models -------------------------------------------------------
    def speech_model(self, ref: ModelRef, device: str) -> Any:
        """A text-to-speech model (VITS/MMS, SpeechT5, Bark) with its tokenizer, vocoder
        and voices (``nodes.speech_models.SpeechModel``), warm like any other model."""
        from nodes.speech_models import load_speech_model

        dtype = self.dtype(device, ref)

        def load() -> Any:
            source = local_source(ref, self.folder, None)
            _check_weight_files(source)
            return load_speech_model(source, dtype)

        return self.cache.get(("speech", ref.base_key, str(dtype)), device, load,
                              estimate_bytes(ref, dtype, self.folder), ref.name)

    # ----- LoRA and VAE ----------------------------------------------------------------
    def _apply_loras(self, pipe: Any, ref: ModelRef) -> None:
        loaded: dict[str, str] = pipe.__dict__.setdefault("_reelgraph_adapters", {})
        names, weights = [], []
        for lora, weight in ref.loras:
            name = loaded.get(lora.source)
            if name is None:
                name = f"lora{len(loaded)}"
                if not lora.is_hub_id:
                    _check_weight_files(Path(lora.source))
                try:
                    pipe.load_lora_weights(lora.source, adapter_name=name)
                except Exception as error:
                    raise ModelError(
                        f"the LoRA {lora.name} does not fit {ref.name} ({FAMILIES.get(ref.family, ref.family)}); "
                        f"it was probably made for another model family ({_first_line(error)})"
                    ) from None
                loaded[lora.source] = name
            names.append(name)
            weights.append(weight)
        if names:
            pipe.enable_lora()
            pipe.set_adapters(names, adapter_weights=weights)
        elif loaded:
            pipe.disable_lora()

    def _apply_vae(self, pipe: Any, ref: ModelRef, device: str, dtype: Any) -> None:
        own = pipe.__dict__.setdefault("_reelgraph_own_vae", pipe.vae)
        if ref.vae is None:
            pipe.vae = own
            return
        vae_ref = ref.vae
        vae = self.cache.get(("vae", vae_ref.base_key, str(dtype)), device,
                             lambda: load_vae(vae_ref, dtype), estimate_bytes(vae_ref, dtype, self.folder),
                             vae_ref.name)
        if vae_scale(vae) != vae_scale(own):
            raise ModelError(f"the VAE {vae_ref.name} does not fit {ref.name}: it shrinks pictures {vae_scale(vae)}× "
                             f"and the model's own {vae_scale(own)}×; pick a VAE made for this model family")
        pipe.vae = vae


def estimate_bytes(ref: ModelRef, dtype: Any, folder: Path | None) -> int:
    if ref.is_hub_id:
        return 0
    try:
        changed = os.stat(ref.source).st_mtime_ns
    except OSError:
        changed = None
    return _estimate_once(ref.source, getattr(dtype, "itemsize", 4), changed)


@functools.lru_cache(maxsize=256)
def _estimate_once(source: str, itemsize: int, changed: int | None) -> int:
    """Reading a checkpoint's tensor table takes milliseconds (7 ms for an SD UNet):
    once per file version, not on every node that asks for the warm model."""
    return estimate_load_bytes(Path(source), itemsize)


def derived_pipeline(base: Any, task: str, controlnet: Any = None) -> Any:
    """A pipeline for ``task`` sharing ``base``'s weights, cached on the base."""
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, AutoPipelineForText2Image

    if task == TEXT_TO_IMAGE and controlnet is None:
        return base
    derived: dict[tuple[str, int], Any] = base.__dict__.setdefault("_reelgraph_derived", {})
    slot = (task, id(controlnet))
    pipe = derived.get(slot)
    if pipe is None:
        auto = {TEXT_TO_IMAGE: AutoPipelineForText2Image, IMAGE_TO_IMAGE: AutoPipelineForImage2Image,
                INPAINT: AutoPipelineForInpainting}[task]
        extra = {"controlnet": controlnet} if controlnet is not None else {}
        # Born with the model's own scheduler, not the one the last node switched the base to.
        extra["scheduler"] = base.__dict__.get("_reelgraph_own_scheduler", base.scheduler)
        try:
            pipe = auto.from_pipe(base, **extra)
        except (ValueError, KeyError) as error:
            raise ModelError(f"this model cannot do {task} ({_first_line(error)})") from None
        pipe.set_progress_bar_config(disable=True)
        derived[slot] = pipe
    pipe.vae = base.vae
    return pipe


# ----- loading from files, folders and the hub -------------------------------------------
def load_pipeline(ref: ModelRef, dtype: Any, folder: Path | None, progress: ProgressCallback | None) -> Any:
    import diffusers

    source = local_source(ref, folder, progress)
    try:
        if source.is_dir():
            _check_weight_files(source)
            pipe = diffusers.DiffusionPipeline.from_pretrained(
                source, dtype=dtype, local_files_only=True, variant=ref.variant)
        else:
            _check_weight_files(source)
            class_name = SINGLE_FILE_CLASSES.get(ref.family)
            if class_name is None:
                raise ModelError(
                    f"{source.name} looks like {FAMILIES.get(ref.family, ref.family)}, which Reelgraph cannot "
                    "load from a single file; use its diffusers folder instead"
                )
            pipe = getattr(diffusers, class_name).from_single_file(source, dtype=dtype, local_files_only=True)
    except ModelError:
        raise
    except Exception as error:
        raise ModelError(f"cannot load {ref.name}: {_first_line(error)}; if the files are damaged, "
                         "download them again") from None
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_controlnet(ref: ModelRef, dtype: Any) -> Any:
    from diffusers import ControlNetModel

    return _load_component(ControlNetModel, ref, dtype, "ControlNet")


def vae_scale(vae: Any) -> int:
    """How many times a VAE shrinks each side of a picture into latents."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def is_tiny_autoencoder(path: Path) -> bool:
    """A TAESD-family folder (``AutoencoderTiny`` in its config.json)."""
    import json

    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("_class_name") == "AutoencoderTiny"
    except (OSError, ValueError, AttributeError):
        return False


def load_vae(ref: ModelRef, dtype: Any) -> Any:
    """A VAE override; a tiny autoencoder (TAESD) as one decodes (and encodes) in a
    fraction of the time, which the live sketch canvas uses."""
    from diffusers import AutoencoderKL, AutoencoderTiny

    model_class = AutoencoderTiny if is_tiny_autoencoder(Path(ref.source)) else AutoencoderKL
    return _load_component(model_class, ref, dtype, "VAE")


def _load_component(model_class: Any, ref: ModelRef, dtype: Any, what: str) -> Any:
    """A single diffusers model from a folder or one weights file, damaged files named."""
    source = Path(ref.source)
    _check_weight_files(source)
    try:
        if source.is_dir():
            return model_class.from_pretrained(source, dtype=dtype, local_files_only=True)
        return model_class.from_single_file(source, dtype=dtype, local_files_only=True)
    except Exception as error:
        raise ModelError(f"cannot load the {what} {ref.name}: {_first_line(error)}") from None


def load_language_model(ref: ModelRef, dtype: Any, folder: Path | None) -> Any:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = local_source(ref, folder, None)
    _check_weight_files(source)
    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except Exception as error:
        raise ModelError(f"cannot load the language model {ref.name}: {_first_line(error)}") from None
    model.eval()
    model.reelgraph_tokenizer = tokenizer
    return model


def _load_tiny_autoencoder(path: Path, dtype: Any) -> Any:
    from diffusers import AutoencoderTiny

    return AutoencoderTiny.from_pretrained(path, dtype=dtype, local_files_only=True)


def local_source(ref: ModelRef, folder: Path | None, progress: ProgressCallback | None) -> Path:
    """The local folder or file for ``ref``, downloading a hub id into the models folder."""
    if not ref.is_hub_id:
        path = Path(ref.source)
        if not path.exists():
            raise ModelError(f"the model {ref.name} is gone: {path} does not exist")
        return path
    subfolder = "LLM" if ref.kind == LANGUAGE_MODEL else "diffusers" if ref.kind == CHECKPOINT else ref.kind
    target = (folder if folder is not None else models_folder()) / subfolder / ref.source.replace("/", "--")
    if (target / "model_index.json").is_file() or (target / "config.json").is_file():
        return target
    return download(ref.source, target, progress)


def download(repo_id: str, target: Path, progress: ProgressCallback | None) -> Path:
    """Fetch a hub repository into ``target`` with progress; a clear message when offline."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    bar = _progress_bar_class(progress, repo_id) if progress is not None else None
    try:
        snapshot_download(repo_id, local_dir=target, tqdm_class=bar,
                          allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model", "tokenizer*"])
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, OSError, HfHubHTTPError) as error:
        raise ModelError(
            f"cannot download {repo_id}: the model hub is out of reach ({_first_line(error)}). "
            f"Download it on a connected machine and put the folder at {target}, or pick a local model"
        ) from None
    return target


def _progress_bar_class(progress: ProgressCallback, label: str) -> Any:
    from tqdm.auto import tqdm

    class DownloadBar(tqdm):  # type: ignore[misc]
        def update(self, count: float | None = 1) -> bool | None:
            shown = super().update(count)
            if self.total:
                progress(min(1.0, self.n / self.total), f"downloading {label}")
            return shown

    return DownloadBar


def _check_weight_files(source: Path) -> None:
    """Read every .safetensors header first: a damaged file is named, not a stack trace."""
    if source.suffix == ".ckpt" or source.suffix in (".pt", ".pth"):
        _check_pickled_weights(source)
        return
    files = [source] if source.is_file() else sorted(source.rglob("*.safetensors"))
    for path in files:
        if path.suffix == ".safetensors":
            read_safetensors_header(path)


def _check_pickled_weights(path: Path) -> None:
    """``.ckpt`` files are pickles; open them only with torch's weights-only loader,
    which refuses any that would run code."""
    import pickle

    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        raise ModelError(
            f"{path.name} cannot be opened safely: it is damaged or holds more than weights "
            f"({_first_line(error)}); prefer a .safetensors file"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
