"""Movement for stills: the Ken Burns pan and zoom across a picture, easing curves, and
fades, as numbers per frame, so the KenBurns and TitleCard nodes and the timeline's
image clips move alike.

Ken Burns frames are sampled with ``cv2.warpAffine`` at sub-pixel positions, so a slow
move glides instead of stepping a whole pixel at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

EASINGS = ("ease_in_out", "linear", "ease_in", "ease_out")


def eased(progress: np.ndarray, easing: str) -> np.ndarray:
    """0..1 progress through a move, shaped: ease_in_out starts and ends gently (a half cosine)."""
    if easing == "ease_in_out":
        return 0.5 - 0.5 * np.cos(np.pi * progress)
    if easing == "ease_in":
        return progress * progress
    if easing == "ease_out":
        return 1.0 - (1.0 - progress) ** 2
    return progress


def fade_levels(count: int, fps: float, fade_in: float, fade_out: float) -> np.ndarray:
    """How visible something is in each of ``count`` frames (0..1): rising over the first
    ``fade_in`` seconds and falling over the last ``fade_out``, judged at each frame's middle."""
    middles = (np.arange(count) + 0.5) / fps
    level = np.ones(count)
    if fade_in > 0:
        level = np.minimum(level, middles / fade_in)
    if fade_out > 0:
        level = np.minimum(level, (count / fps - middles) / fade_out)
    return np.clip(level, 0.0, 1.0)


@dataclass(frozen=True)
class Move:
    """Per frame: the zoom (1 = as much of the picture as the frame's shape allows) and
    where the view is centred, as shares (0..1) of the picture's width and height."""

    zooms: np.ndarray
    centres_x: np.ndarray
    centres_y: np.ndarray


def ken_burns_windows(image_width: int, image_height: int, width: int, height: int, move: Move) -> np.ndarray:
    """Per frame the part of the picture shown, as (left, top, scale) in picture pixels:
    at zoom 1 the largest window of the frame's shape, smaller by the zoom, centred as
    asked but moved in where it would leave the picture."""
    if image_width * height > image_height * width:
        base_width, base_height = image_height * width / height, float(image_height)
    else:
        base_width, base_height = float(image_width), image_width * height / width
    window_width, window_height = base_width / move.zooms, base_height / move.zooms
    left = np.clip(move.centres_x * image_width - window_width / 2, 0.0, image_width - window_width)
    top = np.clip(move.centres_y * image_height - window_height / 2, 0.0, image_height - window_height)
    return np.stack([left, top, window_width / width], axis=1)


def ken_burns_frames(picture: np.ndarray, move: Move, frames: np.ndarray,
                     step: Callable[[], None] | None = None) -> None:
    """Fill ``frames`` (count × height × width × channels) with ``move`` across ``picture``."""
    import cv2

    height, width = frames.shape[1:3]
    # Sampling far below the picture's resolution would alias: shrink it first (once,
    # averaging pixels) to just the detail the most zoomed-in frame needs.
    closest = Move(move.zooms.max(keepdims=True), np.full(1, 0.5), np.full(1, 0.5))
    finest = ken_burns_windows(picture.shape[1], picture.shape[0], width, height, closest)[0, 2]
    if finest > 1.0:
        picture = cv2.resize(picture, (max(1, round(picture.shape[1] / finest)),
                                       max(1, round(picture.shape[0] / finest))), interpolation=cv2.INTER_AREA)
    windows = ken_burns_windows(picture.shape[1], picture.shape[0], width, height, move)
    for index, (left, top, scale) in enumerate(windows):
        # Frame pixel (u, v) samples the picture at (left + (u + ½)·scale − ½, ...): pixel centres line up.
        to_picture = np.array([[scale, 0.0, left + 0.5 * scale - 0.5], [0.0, scale, top + 0.5 * scale - 0.5]])
        cv2.warpAffine(picture, to_picture, (width, height), dst=frames[index],
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        if step is not None:
            step()
