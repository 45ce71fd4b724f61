"""Pictures from prompts, pictures and sketches, on the local GPU (or the CPU)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nodes.generation import (
    IMAGE_FAMILIES, SCHEDULERS, StepReporter, check_sizes, download_progress, generator, require_family,
    require_multiple_of, to_uint8_images, use_scheduler,
)
from nodes.library.core import SEED_MAX
from nodes.models import ModelRef
from nodes.spec import Input, Output, node
from nodes.types import FLOAT, IMAGE, IMAGES, INT, MODEL, STRING

SCHEDULER_NAMES = tuple(SCHEDULERS)


def prompt_inputs() -> list[Input]:
    return [
        Input("model", MODEL),
        Input("prompt", STRING, default="", multiline=True),
        Input("negative", STRING, default="", multiline=True, optional=True),
        Input("seed", INT, default=0, min=0, max=SEED_MAX, widget="seed"),
        Input("steps", INT, default=20, min=1, max=150),
        Input("cfg", FLOAT, default=7.0, min=0.0, max=30.0, step=0.1),
        Input("scheduler", STRING, default="default", choices=SCHEDULER_NAMES),
    ]


def decoder_for(ctx: Any, model: ModelRef) -> Any:
    """Decode step previews with a tiny autoencoder when the models folder has one."""
    if not getattr(ctx, "previews", False):
        return None
    import torch

    tiny = ctx.models.tiny_autoencoder(model.family, ctx.device, ctx.models.dtype(ctx.device, model))
    if tiny is None:
        return None

    def decode(latents: Any) -> np.ndarray:
        with torch.no_grad():
            picture = tiny.decode(latents[:1].to(tiny.dtype)).sample[0]
        return ((picture.float().clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).to(torch.uint8).cpu().numpy()

    return decode


@node("diffusion.TextToImage", category="diffusion",
      description="Paints a picture from a prompt with a diffusion model (SD 1.5, SDXL, ...). "
                  "The same seed and settings give the same picture.",
      inputs=[*prompt_inputs(),
              Input("width", INT, default=512, min=64, max=4096, step=8),
              Input("height", INT, default=512, min=64, max=4096, step=8),
              Input("batch", INT, default=1, min=1, max=16)],
      outputs=[Output("image", IMAGE), Output("images", IMAGES)], gpu=True, check=check_sizes)
def text_to_image(ctx: Any, model: ModelRef, prompt: str, seed: int, steps: int, cfg: float, scheduler: str,
                  width: int, height: int, batch: int, negative: str = "") -> tuple[np.ndarray, list[np.ndarray]]:
    require_family(model, IMAGE_FAMILIES, "paint still pictures (it is a video model)")
    require_multiple_of(width, "width")
    require_multiple_of(height, "height")
    pipe = ctx.models.pipeline(model, ctx.device, "text2img", progress=download_progress(ctx))
    use_scheduler(pipe, scheduler)
    reporter = StepReporter(ctx, steps, model.family, decoder_for(ctx, model))

    def paint() -> Any:
        return pipe(
            prompt=prompt, negative_prompt=negative or None, num_inference_steps=steps, guidance_scale=cfg,
            width=width, height=height, num_images_per_prompt=batch, generator=generator(seed),
            output_type="np", callback_on_step_end=reporter, callback_on_step_end_tensor_inputs=["latents"],
        ).images

    images = to_uint8_images(ctx.models.run_guarded(ctx.device, model, paint, f"a {width}×{height} picture"))
    return images[0], images
