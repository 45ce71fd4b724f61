"""What every generation node does alike: pick a scheduler, seed a generator, report
each denoising step (progress, a preview image, the place a cancelled run stops),
and turn pipeline output into plain uint8 arrays.

diffusers and torch are imported inside the functions: listing nodes stays instant.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from nodes.models import ModelRef
from nodes.spec import NodeFailure

#: Scheduler names a creator picks from -> (diffusers class, extra config).
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_ancestral": ("EulerAncestralDiscreteScheduler", {}),
    "dpm++_2m": ("DPMSolverMultistepScheduler", {}),
    "dpm++_2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "ddim": ("DDIMScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    # Few-step models (SD-Turbo, SDXL-Turbo, Lightning, Hyper-SD) are trained on the last
    # timesteps: "trailing" spacing starts their schedule there, as diffusers advises.
    "euler_trailing": ("EulerDiscreteScheduler", {"timestep_spacing": "trailing"}),
    "ddim_trailing": ("DDIMScheduler", {"timestep_spacing": "trailing"}),
}
VIDEO_FAMILIES = {"svd", "wan", "ltx"}
IMAGE_FAMILIES = {"sd15", "sd2", "sdxl", "flux", "unknown"}
#: Seconds between step previews: decoding one costs time the creator wants spent on steps.
PREVIEW_INTERVAL = 0.25
#: Linear maps from 4-channel latents to RGB, good enough to see a picture take shape.
LATENT_TO_RGB = {
    "sdxl": ((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068), (0.1076, 0.1111, -0.0362),
             (-0.3165, -0.2492, -0.2188)),
    "sd15": ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350), (-0.2829, 0.1762, 0.2721),
             (-0.2120, -0.2616, -0.7177)),
}


def use_scheduler(pipe: Any, name: str) -> None:
    """Switch the pipeline's scheduler, keeping the model's own settings; 'default' restores them."""
    import diffusers

    own = pipe.__dict__.setdefault("_reelgraph_own_scheduler", pipe.scheduler)
    class_name, extra = SCHEDULERS[name]
    if not class_name:
        pipe.scheduler = own
        return
    # Made once per pipeline (from_config costs ~2 ms, a real share of a one-step live
    # picture); a scheduler starts afresh at every call's set_timesteps, like the own one.
    made: dict[str, Any] = pipe.__dict__.setdefault("_reelgraph_schedulers", {})
    if name not in made:
        made[name] = getattr(diffusers, class_name).from_config(own.config, **extra)
    pipe.scheduler = made[name]


def generator(seed: int) -> Any:
    """A CPU generator: the same seed gives the same noise on every device."""
    import torch

    return torch.Generator(device="cpu").manual_seed(int(seed))


def require_family(model: ModelRef, allowed: set[str], node_words: str) -> None:
    if model.family not in allowed:
        raise NodeFailure(
            f"{model.describe()} cannot {node_words}; pick a model of another family "
            f"({', '.join(sorted(allowed - {'unknown'}))})"
        )


def require_multiple_of(value: int, what: str, factor: int = 8) -> None:
    if value % factor:
        lower = value - value % factor
        raise NodeFailure(f"the {what} {value} must be a multiple of {factor} (try {lower} or {lower + factor})")


def check_sizes(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    """Validation hook: sizes the models can work with (multiples of 8)."""
    for name in ("width", "height"):
        value = constants.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value % 8:
            lower = value - value % 8
            yield name, f"is {value}, not a multiple of 8", f"use {lower} or {lower + 8}"


def latent_preview(latents: Any, family: str) -> np.ndarray:
    """A rough RGB picture of the latents (first item, first frame), without the VAE."""
    import torch

    sample = latents[0].detach().float()
    if sample.ndim == 4:  # video latents: channels × frames × h × w
        sample = sample[:, 0]
    channels = sample.shape[0]
    if channels == 4:
        factors = torch.tensor(LATENT_TO_RGB.get(family, LATENT_TO_RGB["sd15"]), dtype=sample.dtype)
        rgb = torch.einsum("chw,cr->hwr", sample.cpu(), factors)
        rgb = (rgb + 1.0) / 2.0
    else:
        picked = sample[: min(3, channels)].cpu()
        low, high = picked.amin(), picked.amax()
        rgb = ((picked - low) / (high - low + 1e-6)).permute(1, 2, 0)
        if rgb.shape[2] < 3:
            rgb = rgb[:, :, :1].expand(-1, -1, 3)
    return (rgb.clamp(0, 1) * 255).to(torch.uint8).numpy()


class StepReporter:
    """The ``callback_on_step_end`` of a diffusers pipeline: progress per step, a preview
    at most every PREVIEW_INTERVAL seconds when someone watches, and cancellation."""

    def __init__(self, ctx: Any, steps: int, family: str, decode: Callable[[Any], np.ndarray] | None = None,
                 start: float = 0.0, span: float = 1.0) -> None:
        self.ctx = ctx
        self.steps = max(1, steps)
        self.family = family
        self.decode = decode
        self.start, self.span = start, span
        self.previews = bool(getattr(ctx, "previews", False))
        self.last_preview = 0.0
        self.preview_seconds = 0.0

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        preview = None
        now = time.perf_counter()
        latents = tensors.get("latents")
        if self.previews and latents is not None and now - self.last_preview >= PREVIEW_INTERVAL:
            preview = self.decode(latents) if self.decode else latent_preview(latents, self.family)
            self.last_preview = time.perf_counter()
            self.preview_seconds += self.last_preview - now
        self.ctx.progress(self.start + self.span * (step + 1) / self.steps, preview)
        return tensors


def to_uint8_images(images: Any) -> list[np.ndarray]:
    """Pipeline output (float arrays in 0..1, or PIL images) -> uint8 H×W×3 arrays."""
    result = []
    for image in images:
        array = np.asarray(image)
        if array.dtype != np.uint8:
            array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        result.append(np.ascontiguousarray(array[:, :, :3]))
    return result


def to_pil(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(image[:, :, :3]))


def download_progress(ctx: Any) -> Callable[[float, str], None]:
    """Show a model download as the node's progress message (the fraction stays at 0)."""

    def report(fraction: float, message: str) -> None:
        ctx.progress(0.0, None, f"{message} {int(fraction * 100)}%")

    return report
