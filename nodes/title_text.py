"""Lettering for title cards: text laid out in a frame (wrapped to fit, aligned, placed)
and drawn once as a coverage mask, which the card then colours and fades.

Pillow draws the letters with FreeType, anti-aliased. With no font file given, Pillow's
own bundled font (Aileron) is used, so a title card renders on any machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nodes.spec import NodeFailure

ALIGNMENTS = ("center", "left", "right")
POSITIONS = ("middle", "top", "bottom")
#: Space kept free around the text, as a share of the frame's shorter side.
MARGIN_SHARE = 0.06
LINE_SPACING_SHARE = 0.25


def load_font(path: str, size: int) -> Any:
    """The font file at ``path`` at ``size`` pixels, or Pillow's bundled font when no path is given."""
    from PIL import ImageFont

    if not path.strip():
        font = ImageFont.load_default(size=size)
        if not isinstance(font, ImageFont.FreeTypeFont):
            raise NodeFailure("this Pillow was built without FreeType, so it cannot draw text at a chosen size; "
                              "install Pillow from PyPI (pip install --force-reinstall pillow)")
        return font
    file_path = Path(path).expanduser()
    if not file_path.is_file():
        raise NodeFailure(f"font file not found: {file_path}")
    try:
        return ImageFont.truetype(str(file_path), size)
    except OSError as error:
        raise NodeFailure(f"cannot read the font {file_path.name}: it is damaged or not a TrueType/OpenType "
                          f"font ({error})") from None


def wrapped(text: str, font: Any, room: float, measure: Any) -> str:
    """The text with each paragraph broken between words so that lines fit ``room`` pixels
    (a single word wider than that stays whole; the caller says it does not fit)."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and measure(candidate, font=font) > room:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)


def text_mask(text: str, width: int, height: int, font: Any, align: str, position: str) -> np.ndarray:
    """How much each pixel of a ``width``×``height`` frame is covered by the text (0..255),
    wrapped within the margins, aligned left, centre or right and placed at the top,
    middle or bottom. Text that cannot fit is refused with a message, never cut off."""
    from PIL import Image, ImageDraw

    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    margin = round(min(width, height) * MARGIN_SHARE)
    spacing = round(font.size * LINE_SPACING_SHARE)
    lines = wrapped(text, font, width - 2 * margin, draw.textlength)
    anchor_x = {"left": margin, "center": width / 2, "right": width - margin}[align]
    anchor = {"left": "la", "center": "ma", "right": "ra"}[align]
    left, top, right, bottom = draw.multiline_textbbox((anchor_x, 0), lines, font=font, anchor=anchor,
                                                       align=align, spacing=spacing)
    if right - left > width - 2 * margin or bottom - top > height - 2 * margin:
        raise NodeFailure(f"the text needs {right - left:.0f}×{bottom - top:.0f} pixels at font size {font.size}, "
                          f"more than the {width - 2 * margin}×{height - 2 * margin} inside the card's margins; "
                          "use a smaller font size or less text")
    y = {"top": margin - top, "middle": (height - (bottom - top)) / 2 - top,
         "bottom": height - margin - bottom}[position]
    draw.multiline_text((anchor_x, y), lines, fill=255, font=font, anchor=anchor, align=align, spacing=spacing)
    return np.asarray(mask)
