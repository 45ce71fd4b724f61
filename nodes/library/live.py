"""Nodes of the live sketch canvas's graph (``gpu/live.py`` builds and runs it).

``live.Canvas`` brings the canvas into the graph by reference (``nodes/live_canvas.py``):
its only typed-in value is ``"<canvas id>@<version>"``, so each stroke is a new cache
key without a pixel being hashed or written into the document, and the picture
arrives as a read-only view of the array the session was handed. ``live.Variations``
paints the same sketch with several seeds in one batched pipeline call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nodes.library.core import SEED_MAX
from nodes.library.diffusion import SIZE_RULE, paint_sketch, prompt_inputs, strength_input
from nodes.live_canvas import find_picture
from nodes.models import ModelRef
from nodes.spec import Input, Output, node
from nodes.types import CONTROLNET, FLOAT, IMAGE, IMAGES, INT, STRING

MAX_VARIATIONS = 16


def working_size(width: int, height: int, size: int) -> tuple[int, int]:
    """Both sides scaled so the longer one is ``size``, each a multiple of 8 (at least 64)."""
    scale = size / max(width, height)

    def scaled(side: int) -> int:
        return max(64, int(side * scale / 8 + 0.5) * 8)

    return scaled(width), scaled(height)


def on_paper(picture: np.ndarray) -> np.ndarray:
    """An RGBA canvas over white paper, as the creator sees it; RGB as it is (a view)."""
    if picture.shape[2] == 3:
        return picture
    alpha = picture[:, :, 3]
    if alpha.min() == 255:
        return picture[:, :, :3]
    weight = alpha[:, :, None].astype(np.uint16)
    return ((picture[:, :, :3] * weight + 255 * (255 - weight) + 127) // 255).astype(np.uint8)


@node("live.Canvas", category="live",
      description="The live sketch canvas's current picture, by reference (only inside a live sketch session). "
                  "A transparent canvas is shown on white paper. With a size, the picture is scaled so its longer "
                  "side is that many pixels (sides rounded to multiples of 8); 0 keeps the canvas's own size.",
      inputs=[Input("canvas", STRING, default=""),
              Input("size", INT, default=0, min=0, max=4096, step=8)],
      outputs=[Output("image", IMAGE)], light=True)
def live_canvas(ctx: Any, canvas: str, size: int) -> np.ndarray:
    picture = on_paper(find_picture(canvas))
    height, width = picture.shape[:2]
    if not size or max(width, height) == size and width % 8 == 0 and height % 8 == 0:
        return picture
    import cv2

    target = working_size(width, height, size)
    shrinking = target[0] < width
    return cv2.resize(np.ascontiguousarray(picture), target,
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


@node("live.Variations", category="live",
      description="Paints a sketch like diffusion.SketchToImage with 'count' seeds in one batched call: seed, "
                  "seed + 1, ... Each picture is the one its seed alone would give (up to rounding), so adopting "
                  f"one keeps it on the next stroke. {SIZE_RULE}",
      inputs=[*prompt_inputs([Input("sketch", IMAGE), Input("controlnet", CONTROLNET, optional=True)]),
              Input("control_strength", FLOAT, default=1.0, min=0.0, max=2.0, step=0.05),
              strength_input(0.8, "Without a ControlNet: how far the sketch is repainted."),
              Input("count", INT, default=4, min=1, max=MAX_VARIATIONS)],
      outputs=[Output("images", IMAGES)], gpu=True)
def variations(ctx: Any, model: ModelRef, sketch: np.ndarray, prompt: str, seed: int, steps: int, cfg: float,
               scheduler: str, control_strength: float, strength: float, count: int, negative: str = "",
               controlnet: ModelRef | None = None) -> list[np.ndarray]:
    seeds = [(seed + index) % (SEED_MAX + 1) for index in range(count)]
    return paint_sketch(ctx, model, sketch, prompt, negative, seeds, steps, cfg, scheduler, control_strength,
                        strength, controlnet)
