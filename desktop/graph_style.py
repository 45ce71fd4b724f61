"""How the graph editor looks: colours, sizes, fonts, pens and brushes, made once.

Painting a thousand nodes must not build a thousand QColors, pens or fonts per
frame, so everything the canvas paints with lives here, shared by every item.
Fonts and metrics need a running QGuiApplication, so they are made on first use.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QGuiApplication, QPen

from nodes.types import ANY, SOCKET_COLOURS

#: Below this scale the canvas draws plain rectangles and straight links, no text.
FAR_SCALE = 0.4
MIN_SCALE = 0.002
MAX_SCALE = 4.0

NODE_MIN_WIDTH = 190.0
NODE_MAX_WIDTH = 340.0
HEADER = 28.0
ROW = 22.0
PAD = 6.0
CORNER = 7.0
SOCKET_RADIUS = 5.0
#: How close (in scene units, at 100 %) a press must be to a socket to grab it.
SOCKET_GRAB = 10.0
PREVIEW_MAX_HEIGHT = 150.0
REROUTE_WIDTH = 36.0
REROUTE_HEIGHT = 16.0
GROUP_TITLE = 34.0
GRID = 32.0

BACKGROUND = QColor("#14171c")
GRID_MINOR = QColor("#191d23")
GRID_MAJOR = QColor("#1f242c")
NODE_BODY = QColor("#1e232b")
NODE_HEADER = QColor("#282e38")
NODE_OUTLINE = QColor("#343c48")
FIELD = QColor("#161a20")
TEXT = QColor("#dfe5ee")
TEXT_DIM = QColor("#8893a3")
TEXT_FAINT = QColor("#5b6472")
ACCENT = QColor("#00ffea")
ERROR = QColor("#ff4d6a")
DONE = QColor("#3ddc84")
CACHED = QColor("#7b93ff")
QUEUED = QColor("#8893a3")
BYPASS = QColor("#b06cff")
UNKNOWN = QColor("#ff8a4d")

NO_PEN = QPen(Qt.PenStyle.NoPen)
NO_BRUSH = QBrush(Qt.BrushStyle.NoBrush)


def translucent(colour: QColor, alpha: int) -> QColor:
    result = QColor(colour)
    result.setAlpha(alpha)
    return result


def over_background(colour: QColor, opacity: float) -> QColor:
    """``colour`` at ``opacity`` over the canvas background, as an opaque colour: Qt
    draws opaque lines many times faster than translucent ones."""
    return QColor(round(colour.red() * opacity + BACKGROUND.red() * (1 - opacity)),
                  round(colour.green() * opacity + BACKGROUND.green() * (1 - opacity)),
                  round(colour.blue() * opacity + BACKGROUND.blue() * (1 - opacity)))


def _pen(colour: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    result = QPen(colour, width, style)
    result.setCapStyle(Qt.PenCapStyle.RoundCap)
    return result


# What every node paints with, made once (a paint only picks among these).
BODY_BRUSH = QBrush(NODE_BODY)
HEADER_BRUSH = QBrush(NODE_HEADER)
UNKNOWN_HEADER = translucent(UNKNOWN, 90)
UNKNOWN_HEADER_BRUSH = QBrush(UNKNOWN_HEADER)
FIELD_BRUSH = QBrush(FIELD)
CHEVRON_BRUSH = QBrush(TEXT_DIM)
BYPASS_BRUSH = QBrush(translucent(BYPASS, 60))
TEXT_PEN = QPen(TEXT)
DIM_PEN = QPen(TEXT_DIM)
OUTLINE_PEN = _pen(NODE_OUTLINE, 1.0)
SELECTED_PEN = _pen(ACCENT, 2.0)
ERROR_OUTLINE_PEN = _pen(ERROR, 2.5)
RUNNING_OUTLINE_PEN = _pen(translucent(ACCENT, 150), 1.5)
BYPASS_OUTLINE_PEN = _pen(BYPASS, 1.5, Qt.PenStyle.DashLine)
QUEUED_PEN = _pen(QUEUED, 2.0, Qt.PenStyle.DotLine)
RING_BACK_PEN = _pen(translucent(ACCENT, 60), 3.0)
RING_PEN = _pen(ACCENT, 3.0)
ERROR_BRUSH = QBrush(ERROR)
WHITE_PEN = _pen(QColor("#ffffff"), 2.2)
ACCENT_BRUSH = QBrush(ACCENT)
RUNNING_BRUSH = QBrush(QColor("#00b3a4"))
BYPASSED_FAR_BRUSH = QBrush(QColor("#5a3a80"))


@lru_cache(maxsize=None)
def socket_colour(socket_type: str) -> QColor:
    """The colour of a socket type; a pack's own types get a stable colour of their own."""
    known = SOCKET_COLOURS.get(socket_type)
    if known:
        return QColor(known)
    return QColor.fromHsv(zlib.crc32(socket_type.encode("utf-8")) % 360, 150, 235)


@lru_cache(maxsize=None)
def socket_pen(socket_type: str) -> QPen:
    return _pen(socket_colour(socket_type), 2.0)


@lru_cache(maxsize=None)
def socket_brush(socket_type: str) -> QBrush:
    return QBrush(socket_colour(socket_type))


@lru_cache(maxsize=None)
def pen(colour: str, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine, cosmetic: bool = False) -> QPen:
    """A shared pen; ``colour`` is a name QColor reads ("#rrggbb" or "#aarrggbb")."""
    result = QPen(QColor(colour), width, style)
    result.setCosmetic(cosmetic)
    result.setCapStyle(Qt.PenCapStyle.RoundCap)
    return result


@lru_cache(maxsize=None)
def brush(colour: str) -> QBrush:
    return QBrush(QColor(colour))


def name(colour: QColor) -> str:
    """The "#aarrggbb" name the pen/brush caches key on."""
    return colour.name(QColor.NameFormat.HexArgb)


#: Node header accents by category (the type of what it makes reads better, but a
#: category keeps related nodes the same colour).
CATEGORY_COLOURS = {
    "core": "#9aa5b5",
    "math": "#a8e05f",
    "text": "#f5c16c",
    "image": "#00ffea",
    "model": "#b48cff",
    "diffusion": "#8c9eff",
    "video": "#ff9f43",
}


@lru_cache(maxsize=None)
def category_colour(category: str) -> QColor:
    known = CATEGORY_COLOURS.get(category.split("/", 1)[0])
    if known:
        return QColor(known)
    return QColor.fromHsv(zlib.crc32(category.encode("utf-8")) % 360, 110, 220)


@lru_cache(maxsize=None)
def far_brush(category: str) -> QBrush:
    """The fill of a node drawn as a plain rectangle far out: its category, darkened."""
    tint = category_colour(category)
    return QBrush(QColor(
        (tint.red() + 2 * NODE_HEADER.red()) // 3,
        (tint.green() + 2 * NODE_HEADER.green()) // 3,
        (tint.blue() + 2 * NODE_HEADER.blue()) // 3,
    ))


@lru_cache(maxsize=None)
def accent_line(category: str) -> QColor:
    """The line under a node's header: its category colour, a little muted (opaque)."""
    tint = category_colour(category)
    return QColor(*(round(a * 0.6 + b * 0.4) for a, b in ((tint.red(), NODE_HEADER.red()),
                                                           (tint.green(), NODE_HEADER.green()),
                                                           (tint.blue(), NODE_HEADER.blue()))))


@dataclass
class Fonts:
    title: QFont
    row: QFont
    badge: QFont
    group: QFont
    title_metrics: QFontMetricsF
    row_metrics: QFontMetricsF
    badge_metrics: QFontMetricsF
    group_metrics: QFontMetricsF


_fonts: Fonts | None = None


def fonts() -> Fonts:
    """The canvas fonts, sized in pixels so nodes keep their shape on any screen."""
    global _fonts
    if _fonts is None:
        base = QGuiApplication.font()

        def sized(pixels: int, weight: QFont.Weight = QFont.Weight.Normal) -> QFont:
            font = QFont(base)
            font.setPixelSize(pixels)
            font.setWeight(weight)
            font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
            return font

        title, row, badge, group = (sized(12, QFont.Weight.DemiBold), sized(11), sized(9, QFont.Weight.Bold),
                                    sized(20, QFont.Weight.DemiBold))
        _fonts = Fonts(title, row, badge, group, QFontMetricsF(title), QFontMetricsF(row),
                       QFontMetricsF(badge), QFontMetricsF(group))
    return _fonts


_widths: dict[tuple[int, str], float] = {}


def text_width(metrics: QFontMetricsF, text: str) -> float:
    """Width of ``text``; remembered, since a big graph repeats the same labels."""
    key = (id(metrics), text)
    width = _widths.get(key)
    if width is None:
        if len(_widths) > 20000:
            _widths.clear()
        width = _widths[key] = metrics.horizontalAdvance(text)
    return width


def link_colour_type(output_type: str, input_type: str) -> str:
    """The type a link is coloured by: what flows, or what is wanted when that is ANY."""
    return input_type if output_type == ANY else output_type
