"""What a stroke, a fill, an import or a clear does to the live sketch canvas's
pixels, and how each one is undone.

The canvas has two layers of plain numpy arrays (see ``desktop/live_canvas_widget.py``):
``ink`` (uint8 H×W×4, straight alpha, transparent = paper) that the pen and the fill
draw into, and an optional ``base`` (uint8 H×W×3, opaque) holding an imported picture
on white paper. The eraser clears ink only, so it uncovers the base, as in any paint
app with a background layer.

Undo keeps only what changed: a stroke or a fill stores the rectangle of ink it
touched, before and after (a few KB for a line, not a 1 MB snapshot); a clear, an
import or a new canvas size store both layers whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QImage, QUndoCommand

if TYPE_CHECKING:
    from desktop.live_canvas_widget import LiveCanvasWidget

PEN = "pen"
ERASER = "eraser"
FILL = "fill"
TOOLS = (PEN, ERASER, FILL)
#: The share of the brush a feather-light touch still draws, so a line never vanishes.
LIGHTEST_TOUCH = 0.15
#: How far (per colour channel, 0–255) a pixel may differ from the clicked one and
#: still be filled: wide enough for the soft edge inside a line, not across it.
FILL_TOLERANCE = 40
PAPER = 255


def pressure_width(size: float, pressure: float) -> float:
    """The pen's width at a pressure from 0 to 1: a light touch draws a thin line and
    full pressure (a mouse) the brush size."""
    pressure = min(1.0, max(0.0, pressure))
    return max(0.5, size * (LIGHTEST_TOUCH + (1.0 - LIGHTEST_TOUCH) * pressure))


@dataclass(frozen=True)
class Region:
    """A rectangle of the canvas: rows ``top:bottom``, columns ``left:right``."""

    top: int
    left: int
    bottom: int
    right: int

    def of(self, array: np.ndarray) -> np.ndarray:
        return array[self.top : self.bottom, self.left : self.right]


def wrap_pixels(array: np.ndarray, image_format: QImage.Format) -> QImage:
    """A QImage that QPainter draws through straight into ``array``'s buffer; the
    caller keeps both the array and the QImage alive while it is in use."""
    height, width = array.shape[:2]
    return QImage(array.data, width, height, array.strides[0], image_format)


def changed_region(before: np.ndarray, after: np.ndarray) -> Region | None:
    """The smallest rectangle outside which ``before`` and ``after`` are equal; None
    when nothing changed."""
    changed = np.any(before != after, axis=2)
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(changed.any(axis=0))
    return Region(int(rows[0]), int(columns[0]), int(rows[-1]) + 1, int(columns[-1]) + 1)


def on_paper(ink: np.ndarray, base: np.ndarray | None) -> np.ndarray:
    """What the creator sees (ink over the base, or over white paper), uint8 H×W×3."""
    alpha = ink[:, :, 3:4].astype(np.uint16)
    under = base.astype(np.uint16) if base is not None else np.uint16(PAPER)
    return ((ink[:, :, :3] * alpha + under * (255 - alpha) + 127) // 255).astype(np.uint8)


def flood_fill(ink: np.ndarray, base: np.ndarray | None, x: int, y: int, colour: tuple[int, int, int],
               tolerance: int = FILL_TOLERANCE) -> bool:
    """Fill the area around (x, y) that looks alike, as the creator sees it, with
    ``colour``, in place; False when (x, y) is off the canvas.

    The area itself takes the colour (clicking a line recolours it). A one-pixel rim
    around it is filled under the ink already there, so the fill reaches beneath the
    soft edge of the lines around it and leaves no pale seam.
    """
    import cv2

    height, width = ink.shape[:2]
    if not (0 <= x < width and 0 <= y < height):
        return False
    visible = np.ascontiguousarray(on_paper(ink, base))
    mask = np.zeros((height + 2, width + 2), dtype=np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
    difference = (tolerance,) * 3
    cv2.floodFill(visible, mask, (int(x), int(y)), (0, 0, 0), difference, difference, flags)
    area = mask[1:-1, 1:-1]
    rim = (cv2.dilate(area, np.ones((3, 3), dtype=np.uint8)) > 0) & (area == 0)
    kept = ink[rim].astype(np.uint16)
    alpha = kept[:, 3:4]
    under = np.asarray(colour, dtype=np.uint16)
    ink[rim, :3] = ((kept[:, :3] * alpha + under * (255 - alpha) + 127) // 255).astype(np.uint8)
    ink[rim, 3] = 255
    ink[area > 0] = (*colour, 255)
    return True


def fitted(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """``picture`` (uint8 RGB, RGBA or grey) scaled to fit width×height, centred on white
    paper: the base layer an imported picture becomes (uint8 H×W×3)."""
    import cv2

    if picture.ndim == 2:
        picture = np.repeat(picture[:, :, None], 3, axis=2)
    if picture.shape[2] == 4:
        picture = on_paper(picture, None)
    picture = np.ascontiguousarray(picture[:, :, :3])
    scale = min(width / picture.shape[1], height / picture.shape[0])
    size = (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale)))
    shrinking = scale < 1.0
    scaled = cv2.resize(picture, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    paper = np.full((height, width, 3), PAPER, dtype=np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    paper[top : top + size[1], left : left + size[0]] = scaled
    return paper


def resized_layers(ink: np.ndarray, base: np.ndarray | None, width: int,
                   height: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Both layers at a new canvas size, the drawing scaled with them."""
    import cv2

    if ink.shape[:2] == (height, width):
        return ink.copy(), None if base is None else base.copy()
    new_ink = cv2.resize(ink, (width, height), interpolation=cv2.INTER_AREA)
    new_base = None if base is None else cv2.resize(base, (width, height), interpolation=cv2.INTER_AREA)
    return new_ink, new_base


class InkEdit(QUndoCommand):
    """A stroke or a fill: the rectangle of ink it changed, before and after. It is
    pushed after the pixels are drawn, so its first redo has nothing to do."""

    def __init__(self, canvas: "LiveCanvasWidget", region: Region, before: np.ndarray, after: np.ndarray,
                 text: str) -> None:
        super().__init__(text)
        self.canvas, self.region = canvas, region
        self.before, self.after = before.copy(), after.copy()
        self._drawn = True

    def redo(self) -> None:
        if self._drawn:
            self._drawn = False
            return
        self.canvas.restore_region(self.region, self.after)

    def undo(self) -> None:
        self.canvas.restore_region(self.region, self.before)


class LayersEdit(QUndoCommand):
    """A clear, an imported base or a new canvas size: both layers, before and after."""

    def __init__(self, canvas: "LiveCanvasWidget", before: tuple[np.ndarray, np.ndarray | None],
                 after: tuple[np.ndarray, np.ndarray | None], text: str) -> None:
        super().__init__(text)
        self.canvas, self.before, self.after = canvas, before, after

    def redo(self) -> None:
        self.canvas.restore_layers(*self.after)

    def undo(self) -> None:
        self.canvas.restore_layers(*self.before)
