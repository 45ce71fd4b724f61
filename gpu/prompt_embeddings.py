"""Encoded prompts, kept per text encoder, so a prompt that did not change is not run
through the text encoder again.

The live sketch canvas paints the same prompt on every stroke; at one denoising step
the text encoder is a real share of each picture. The embeddings are exactly what the
pipeline would compute itself (its own ``encode_prompt``, one picture per prompt; the
pipeline repeats them for a batch), so the pixels do not change.

Entries live as long as their text encoder: a model dropped from the model cache
takes its prompts with it. The key holds the model's LoRA stack (a LoRA may change
the text encoder), the device, both prompts and whether guidance wants the negative.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any, Hashable

from nodes.models import ModelRef

#: Prompts kept per text encoder: a creator goes back and forth between a few.
PROMPTS_PER_ENCODER = 32

SD_NAMES = ("prompt_embeds", "negative_prompt_embeds")
SDXL_NAMES = ("prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds")


def embedding_names(pipe: Any) -> tuple[str, ...] | None:
    """What ``pipe.encode_prompt`` returns, for the Stable Diffusion pipelines whose
    return we know (SD 1.x/2.x and SDXL, with or without ControlNet); None otherwise."""
    name = type(pipe).__name__
    if not callable(getattr(pipe, "encode_prompt", None)) or getattr(pipe, "text_encoder", None) is None:
        return None
    if name.startswith("StableDiffusionXL"):
        return SDXL_NAMES
    if name.startswith("StableDiffusion"):
        return SD_NAMES
    return None


class PromptEmbeddings:
    """Encoded prompts by text encoder; thread-safe."""

    def __init__(self, per_encoder: int = PROMPTS_PER_ENCODER) -> None:
        self.per_encoder = per_encoder
        self._by_encoder: "weakref.WeakKeyDictionary[Any, OrderedDict[Hashable, dict[str, Any]]]" = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()
        self.encoded = self.reused = 0

    def arguments(self, ref: ModelRef, pipe: Any, device: str, prompt: str, negative: str,
                  guidance: bool) -> dict[str, Any] | None:
        """Pipeline arguments (``prompt_embeds=...``) for the prompt, encoded now or
        reused; None when this pipeline must be handed the prompt as text."""
        names = embedding_names(pipe)
        if names is None:
            return None
        key = (ref.loras, device, prompt, negative, guidance)
        encoder = pipe.text_encoder
        with self._lock:
            kept = self._by_encoder.get(encoder)
            found = kept.get(key) if kept is not None else None
            if found is not None:
                kept.move_to_end(key)  # type: ignore[union-attr]
                self.reused += 1
                return dict(found)
        found = encode(pipe, names, device, prompt, negative, guidance)
        with self._lock:
            kept = self._by_encoder.setdefault(encoder, OrderedDict())
            kept[key] = found
            while len(kept) > self.per_encoder:
                kept.popitem(last=False)
            self.encoded += 1
        return dict(found)


def encode(pipe: Any, names: tuple[str, ...], device: str, prompt: str, negative: str,
           guidance: bool) -> dict[str, Any]:
    """The pipeline's own encoding of one prompt (and its negative when guided)."""
    import torch

    with torch.no_grad():
        encoded = pipe.encode_prompt(prompt=prompt, device=torch.device(device), num_images_per_prompt=1,
                                     do_classifier_free_guidance=guidance, negative_prompt=negative or None)
    return {name: value for name, value in zip(names, encoded) if value is not None}
