"""Pictures from prompts, pictures and sketches, on the local GPU (or the CPU).

Nodes that start from a picture (image-to-image, inpaint, sketch, upscale) take their
size from it. Diffusion models work on sides that are multiples of 8, so the picture
loses up to 7 pixels at its right and bottom edges (never resized: an inpainted
picture still lines up with the original); pictures under 64 or over 4096 pixels a
side are refused with the fix in the message.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from nodes.generation import (
    IMAGE_FAMILIES, SCHEDULERS, StepReporter, check_sizes, download_progress, generator, require_family,
    require_multiple_of, to_pil, to_uint8_images, use_scheduler,
)
from nodes.library.core import SEED_MAX
from nodes.library.image import as_image
from nodes.models import ModelRef
from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import CONTROLNET, FLOAT, IMAGE, IMAGES, INT, MASK, MODEL, STRING

SCHEDULER_NAMES = tuple(SCHEDULERS)
MIN_SIDE = 64
MAX_SIDE = 4096
STILLS_ONLY = "paint still pictures (it is a video model)"
SIZE_RULE = (f"The size comes from the picture: sides that are not a multiple of 8 lose up to 7 pixels at the "
             f"right and bottom edges; {MIN_SIDE} to {MAX_SIDE} pixels a side.")
STRENGTH_RULE = ("Strength 0 keeps the picture, 1 repaints it from scratch; the model runs strength × steps "
                 "steps (rounded down).")


def prompt_inputs(pictures: Sequence[Input] = ()) -> list[Input]:
    """The inputs every generation node shares; ``pictures`` go right after the model."""
    return [
        Input("model", MODEL),
        *pictures,
        Input("prompt", STRING, default="", multiline=True),
        Input("negative", STRING, default="", multiline=True, optional=True),
        Input("seed", INT, default=0, min=0, max=SEED_MAX, widget="seed"),
        Input("steps", INT, default=20, min=1, max=150),
        Input("cfg", FLOAT, default=7.0, min=0.0, max=30.0, step=0.1),
        Input("scheduler", STRING, default="default", choices=SCHEDULER_NAMES),
    ]


def strength_input(default: float, description: str = STRENGTH_RULE) -> Input:
    return Input("strength", FLOAT, default=default, min=0.0, max=1.0, step=0.01, description=description)


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


class DenoisingReporter(StepReporter):
    """A StepReporter that counts the steps the pipeline really runs, so progress ends
    at 1.0: image-to-image runs only strength × steps of them, and two-stage schedulers
    (Heun) twice as many. The pipeline knows the count once its loop has begun."""

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        self.steps = max(1, int(getattr(pipe, "num_timesteps", 0) or self.steps))
        return super().__call__(pipe, step, timestep, tensors)


def generators(seed: int | Sequence[int]) -> Any:
    """One generator for one seed; a list of them, one per picture, for a batch of seeds
    (each picture then gets the noise its seed alone would give)."""
    if isinstance(seed, int):
        return generator(seed)
    return [generator(one) for one in seed]


def encoded_prompt(ctx: Any, model: ModelRef, pipe: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """Swap ``prompt``/``negative_prompt`` for embeddings the model service keeps, so a
    prompt that did not change is not encoded again (the live canvas paints the same
    prompt on every stroke). The same tensors the pipeline would make: same pixels."""
    embeddings = getattr(ctx.models, "prompt_embeddings", None)
    if embeddings is None or not isinstance(arguments.get("prompt"), str):
        return arguments
    found = embeddings(model, pipe, ctx.device, arguments["prompt"], arguments.get("negative_prompt") or "",
                       float(arguments.get("guidance_scale", 0.0)) > 1.0)
    if found is None:
        return arguments
    rest = {name: value for name, value in arguments.items() if name not in ("prompt", "negative_prompt")}
    return {**rest, **found}


def denoise(ctx: Any, model: ModelRef, pipe: Any, scheduler: str, steps: int, seed: int | Sequence[int], what: str,
            **arguments: Any) -> list[np.ndarray]:
    """Run ``pipe`` with progress, previews and cancellation between steps; uint8 pictures.
    A list of seeds paints one picture per seed in one batched call."""
    use_scheduler(pipe, scheduler)
    reporter = DenoisingReporter(ctx, steps, model.family, decoder_for(ctx, model))
    arguments = encoded_prompt(ctx, model, pipe, arguments)
    if not isinstance(seed, int):
        arguments["num_images_per_prompt"] = len(seed)

    def paint() -> Any:
        return pipe(
            num_inference_steps=steps, generator=generators(seed), output_type="np",
            callback_on_step_end=reporter, callback_on_step_end_tensor_inputs=["latents"], **arguments,
        ).images

    return to_uint8_images(ctx.models.run_guarded(ctx.device, model, paint, what))


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
    require_family(model, IMAGE_FAMILIES, STILLS_ONLY)
    require_multiple_of(width, "width")
    require_multiple_of(height, "height")
    pipe = ctx.models.pipeline(model, ctx.device, "text2img", progress=download_progress(ctx))
    images = denoise(ctx, model, pipe, scheduler, steps, seed, f"a {width}×{height} picture",
                     prompt=prompt, negative_prompt=negative or None, guidance_scale=cfg, width=width, height=height,
                     num_images_per_prompt=batch)
    return images[0], images


# ----- starting from a picture -------------------------------------------------------------
def working_picture(image: Any, what: str) -> np.ndarray:
    """The RGB part of ``image`` with both sides cut down to a multiple of 8 (SIZE_RULE)."""
    picture = as_image(image, what)[:, :, :3]
    height, width = picture.shape[:2]
    if min(width, height) < MIN_SIDE:
        raise NodeFailure(f"the {what} is {width}×{height}; the model needs at least {MIN_SIDE} pixels a side "
                          "(enlarge it first, e.g. with image.Resize)")
    if max(width, height) > MAX_SIDE:
        raise NodeFailure(f"the {what} is {width}×{height}; the model paints at most {MAX_SIDE} pixels a side "
                          "(shrink it first, e.g. with image.Resize)")
    return np.ascontiguousarray(picture[: height - height % 8, : width - width % 8])


def require_a_step(strength: float, steps: int) -> None:
    """diffusers runs int(steps × strength) steps; none at all is an error, said in words."""
    if int(steps * strength) >= 1:
        return
    enough_steps = math.ceil(1 / strength)
    while int(enough_steps * strength) < 1:
        enough_steps += 1
    enough_strength = math.ceil(100 / steps) / 100
    raise NodeFailure(
        f"a strength of {strength:g} over {steps} steps leaves no step to run ({steps} × {strength:g} is "
        f"under 1); raise the strength to {enough_strength:g} or the steps to {enough_steps}"
    )


def unchanged(ctx: Any, picture: np.ndarray) -> np.ndarray:
    """Nothing to repaint (strength 0, an empty mask): the picture as it is, progress done."""
    ctx.progress(1.0)
    return picture


def repaint(ctx: Any, model: ModelRef, picture: np.ndarray, prompt: str, negative: str, seed: int | Sequence[int],
            steps: int, cfg: float, scheduler: str, strength: float) -> list[np.ndarray]:
    """Image-to-image: noise the picture by ``strength`` and denoise it towards the prompt
    (one picture per seed when given several)."""
    count = 1 if isinstance(seed, int) else len(seed)
    if strength == 0:
        return [unchanged(ctx, picture)] * count
    require_a_step(strength, steps)
    pipe = ctx.models.pipeline(model, ctx.device, "img2img", progress=download_progress(ctx))
    height, width = picture.shape[:2]
    what = f"a {width}×{height} picture" if count == 1 else f"{count} {width}×{height} pictures"
    return denoise(ctx, model, pipe, scheduler, steps, seed, what, prompt=prompt, negative_prompt=negative or None,
                   guidance_scale=cfg, image=to_pil(picture), strength=strength)


@node("diffusion.ImageToImage", category="diffusion",
      description="Repaints a picture towards a prompt, keeping its layout and colours as much as the strength "
                  f"allows. {STRENGTH_RULE} {SIZE_RULE}",
      inputs=[*prompt_inputs([Input("image", IMAGE)]), strength_input(0.6)],
      outputs=[Output("image", IMAGE)], gpu=True)
def image_to_image(ctx: Any, model: ModelRef, image: np.ndarray, prompt: str, seed: int, steps: int, cfg: float,
                   scheduler: str, strength: float, negative: str = "") -> np.ndarray:
    require_family(model, IMAGE_FAMILIES, STILLS_ONLY)
    picture = working_picture(image, "image")
    return repaint(ctx, model, picture, prompt, negative, seed, steps, cfg, scheduler, strength)[0]


def matching_mask(mask: Any, image: np.ndarray, picture: np.ndarray) -> np.ndarray:
    """The mask as uint8 H×W, checked against the picture's size and cut like it."""
    if isinstance(mask, np.ndarray) and mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.ndim != 2:
        described = getattr(mask, "shape", type(mask).__name__)
        raise NodeFailure(f"the mask is not a uint8 height × width mask (got {described})")
    if mask.shape != image.shape[:2]:
        raise NodeFailure(
            f"the mask is {mask.shape[1]}×{mask.shape[0]} but the picture is {image.shape[1]}×{image.shape[0]}; "
            "a mask must be the size of its picture (paint it on this picture, or resize both alike)"
        )
    return np.ascontiguousarray(mask[: picture.shape[0], : picture.shape[1]])


@node("diffusion.Inpaint", category="diffusion",
      description="Repaints the masked part of a picture (mask 255 = repaint) towards a prompt. Pixels outside "
                  "the mask are kept exactly; a soft mask edge blends the two. The mask must be the picture's "
                  f"size. {STRENGTH_RULE} {SIZE_RULE}",
      inputs=[*prompt_inputs([Input("image", IMAGE), Input("mask", MASK)]), strength_input(1.0)],
      outputs=[Output("image", IMAGE)], gpu=True)
def inpaint(ctx: Any, model: ModelRef, image: np.ndarray, mask: np.ndarray, prompt: str, seed: int, steps: int,
            cfg: float, scheduler: str, strength: float, negative: str = "") -> np.ndarray:
    from PIL import Image

    require_family(model, IMAGE_FAMILIES, STILLS_ONLY)
    picture = working_picture(image, "image")
    selection = matching_mask(mask, image, picture)
    if strength == 0 or not selection.any():
        return unchanged(ctx, picture)
    require_a_step(strength, steps)
    pipe = ctx.models.pipeline(model, ctx.device, "inpaint", progress=download_progress(ctx))
    height, width = picture.shape[:2]
    painted = denoise(ctx, model, pipe, scheduler, steps, seed, f"inpainting a {width}×{height} picture",
                      prompt=prompt, negative_prompt=negative or None, guidance_scale=cfg, image=to_pil(picture),
                      mask_image=Image.fromarray(selection), width=width, height=height, strength=strength)[0]
    weight = selection[:, :, None].astype(np.float32) / 255.0
    return (picture * (1.0 - weight) + painted * weight + 0.5).astype(np.uint8)


def light_lines_on_dark(sketch: np.ndarray) -> np.ndarray:
    """Scribble and lineart ControlNets want light lines on a dark ground; a sketch drawn
    dark on light (mostly bright) is inverted for them."""
    return 255 - sketch if sketch.mean() > 127.5 else sketch


@node("diffusion.SketchToImage", category="diffusion",
      description="Turns a sketch into a picture. With a ControlNet (scribble, lineart) the sketch's lines guide "
                  "a fresh painting by 'control_strength'; a sketch drawn dark on light is inverted for it. "
                  "Without one, the sketch is repainted image-to-image by 'strength' (which only then counts). "
                  f"{SIZE_RULE}",
      inputs=[*prompt_inputs([Input("sketch", IMAGE), Input("controlnet", CONTROLNET, optional=True)]),
              Input("control_strength", FLOAT, default=1.0, min=0.0, max=2.0, step=0.05,
                    description="How firmly the ControlNet holds the painting to the sketch's lines."),
              strength_input(0.8, "Without a ControlNet: " + STRENGTH_RULE)],
      outputs=[Output("image", IMAGE)], gpu=True)
def sketch_to_image(ctx: Any, model: ModelRef, sketch: np.ndarray, prompt: str, seed: int, steps: int, cfg: float,
                    scheduler: str, control_strength: float, strength: float, negative: str = "",
                    controlnet: ModelRef | None = None) -> np.ndarray:
    return paint_sketch(ctx, model, sketch, prompt, negative, seed, steps, cfg, scheduler, control_strength,
                        strength, controlnet)[0]


def paint_sketch(ctx: Any, model: ModelRef, sketch: np.ndarray, prompt: str, negative: str, seed: int | Sequence[int],
                 steps: int, cfg: float, scheduler: str, control_strength: float, strength: float,
                 controlnet: ModelRef | None) -> list[np.ndarray]:
    """What SketchToImage does, for one seed or a batch of them in one pipeline call
    (the live canvas's variations)."""
    require_family(model, IMAGE_FAMILIES, STILLS_ONLY)
    picture = working_picture(sketch, "sketch")
    if controlnet is None:
        return repaint(ctx, model, picture, prompt, negative, seed, steps, cfg, scheduler, strength)
    pipe = ctx.models.pipeline(model, ctx.device, "text2img", controlnet=controlnet,
                               progress=download_progress(ctx))
    height, width = picture.shape[:2]
    return denoise(ctx, model, pipe, scheduler, steps, seed, f"a {width}×{height} picture from a sketch",
                   prompt=prompt, negative_prompt=negative or None, guidance_scale=cfg,
                   image=to_pil(light_lines_on_dark(picture)), width=width, height=height,
                   controlnet_conditioning_scale=control_strength)


def upscaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """Each side times ``scale``, rounded to the nearest multiple of 8; refused past MAX_SIDE."""
    target = tuple(max(8, int(side * scale / 8 + 0.5) * 8) for side in (width, height))
    if max(target) > MAX_SIDE:
        largest = math.floor(MAX_SIDE / max(width, height) * 100) / 100
        advice = f"lower the scale to {largest:g} or less" if largest >= 1 else "shrink the picture first"
        raise NodeFailure(f"upscaling {width}×{height} by {scale:g} gives {target[0]}×{target[1]}, over the "
                          f"{MAX_SIDE} pixels a side a model can paint; {advice}")
    if min(target) < MIN_SIDE:
        raise NodeFailure(f"upscaling {width}×{height} by {scale:g} gives {target[0]}×{target[1]}, under the "
                          f"{MIN_SIDE} pixels a side a model needs; raise the scale")
    return target[0], target[1]


@node("diffusion.Upscale", category="diffusion",
      description="Enlarges a picture and repaints the new detail (a 'hires fix'): Lanczos resize by 'scale', "
                  "then image-to-image at a low strength with the same checkpoint, so any SD checkpoint works and "
                  "no upscaling model is needed. Each side becomes side × scale rounded to the nearest multiple "
                  f"of 8, at most {MAX_SIDE} pixels. Strength 0 gives the plain resize. {STRENGTH_RULE}",
      inputs=[*prompt_inputs([Input("image", IMAGE)]),
              Input("scale", FLOAT, default=2.0, min=1.0, max=4.0, step=0.25),
              strength_input(0.35)],
      outputs=[Output("image", IMAGE)], gpu=True)
def upscale(ctx: Any, model: ModelRef, image: np.ndarray, prompt: str, seed: int, steps: int, cfg: float,
            scheduler: str, scale: float, strength: float, negative: str = "") -> np.ndarray:
    import cv2

    require_family(model, IMAGE_FAMILIES, STILLS_ONLY)
    source = np.ascontiguousarray(as_image(image)[:, :, :3])
    width, height = upscaled_size(source.shape[1], source.shape[0], scale)
    enlarged = cv2.resize(source, (width, height), interpolation=cv2.INTER_LANCZOS4)
    return repaint(ctx, model, enlarged, prompt, negative, seed, steps, cfg, scheduler, strength)[0]
