"""How the timeline looks: sizes, colours, pens, brushes and fonts, made once.

The timeline repaints while the playhead moves (many times a second during
playback), so nothing it paints with is built per frame: every item, the ruler
and the track headers pick among these. Colours follow ``desktop/theme.py``; the
accent (#00ffea) marks what is active: the selection, the playhead, snapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QGuiApplication, QPen

from desktop import theme

# ----- sizes (pixels) ---------------------------------------------------------------------------
HEADER_WIDTH = 176
RULER_HEIGHT = 32
VIDEO_ROW = 74
AUDIO_ROW = 56
#: The line between the video tracks and the audio tracks.
GROUP_GAP = 6
#: Free space below the last track, so a clip can be dropped past it and seen.
BOTTOM_SPACE = 28
#: Space left of second 0, so the first clip's edge can be grabbed.
LEFT_PAD = 16.0
CLIP_INSET = 3.0
CLIP_RADIUS = 4.0
LABEL_HEIGHT = 17.0
#: The band of sound drawn at the foot of a video clip whose file carries sound.
SOUND_BAND = 16.0
#: How near an edge (pixels) a press grabs it to trim.
EDGE_GRAB = 7.0
#: How near (pixels) a dragged edge is pulled onto a snap point.
SNAP_PIXELS = 8.0
#: Below this width a clip is drawn without its texts and pictures.
NARROW = 18.0

# ----- zoom (pixels per second) -----------------------------------------------------------------
MIN_PIXELS_PER_SECOND = 0.2
MAX_PIXELS_PER_SECOND = 2400.0
DEFAULT_PIXELS_PER_SECOND = 60.0
ZOOM_STEP = 1.25

# ----- colours ----------------------------------------------------------------------------------
ACCENT = QColor(theme.ACCENT)
BACKGROUND = QColor("#111418")
ROW_FILL = QColor("#15191e")
ROW_FILL_ALTERNATE = QColor("#13171b")
ROW_LINE = QColor("#1f242b")
GROUP_LINE = QColor("#0b0d10")
GRID_LINE = QColor("#181c22")
HEADER_FILL = QColor("#1a1e24")
HEADER_FILL_ALTERNATE = QColor("#181c21")
HEADER_LINE = QColor("#262c34")
RULER_FILL = QColor("#161a1f")
RULER_TICK = QColor("#3a424d")
RULER_TEXT = QColor("#8a94a0")
TEXT = QColor("#e9eef3")
TEXT_DIM = QColor(theme.TEXT_DIM)
ERROR = QColor(theme.ERROR)
SNAP = QColor("#ffd84d")
MARKER = QColor("#ffb84d")
SHADOW = QColor(0, 0, 0, 150)

#: The colour of each kind of track: what its clips, header strip and waveforms are tinted with.
KIND_COLOURS = {
    "video": QColor("#4d86d9"),
    "graph": QColor("#21b3a6"),
    "voice": QColor("#43c46f"),
    "music": QColor("#a477f2"),
    "effects": QColor("#ef9a3c"),
}
KIND_NAMES = {"video": "Video", "voice": "Voice", "music": "Music", "effects": "Effects"}

NO_PEN = QPen(Qt.PenStyle.NoPen)


def mixed(colour: QColor, other: QColor, amount: float) -> QColor:
    """``colour`` moved ``amount`` (0..1) of the way towards ``other``, opaque."""
    return QColor(round(colour.red() + (other.red() - colour.red()) * amount),
                  round(colour.green() + (other.green() - colour.green()) * amount),
                  round(colour.blue() + (other.blue() - colour.blue()) * amount))


def translucent(colour: QColor, alpha: int) -> QColor:
    result = QColor(colour)
    result.setAlpha(alpha)
    return result


@dataclass(frozen=True)
class ClipColours:
    """What a clip of one kind is painted with (made once per kind)."""

    body: QBrush
    label: QBrush
    outline: QPen
    wave_peak: QBrush
    wave_rms: QBrush
    strip: QBrush


@lru_cache(maxsize=None)
def clip_colours(kind: str) -> ClipColours:
    tint = KIND_COLOURS.get(kind, KIND_COLOURS["video"])
    return ClipColours(
        body=QBrush(mixed(tint, BACKGROUND, 0.68)),
        label=QBrush(mixed(tint, BACKGROUND, 0.38)),
        outline=pen(mixed(tint, BACKGROUND, 0.15).name(), 1.0),
        wave_peak=QBrush(mixed(tint, QColor("#ffffff"), 0.25)),
        wave_rms=QBrush(mixed(tint, QColor("#ffffff"), 0.55)),
        strip=QBrush(tint),
    )


@lru_cache(maxsize=None)
def marker_colour(colour: str) -> QColor:
    """A marker's own colour when it names one QColor reads, else the markers' amber."""
    chosen = QColor(colour) if colour else QColor()
    return chosen if chosen.isValid() else MARKER


@lru_cache(maxsize=None)
def pen(colour: str, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    """A shared pen; ``colour`` is a name QColor reads ("#rrggbb" or "#aarrggbb")."""
    result = QPen(QColor(colour), width, style)
    result.setCosmetic(True)
    return result


@lru_cache(maxsize=None)
def brush(colour: str, style: Qt.BrushStyle = Qt.BrushStyle.SolidPattern) -> QBrush:
    return QBrush(QColor(colour), style)


def name(colour: QColor) -> str:
    return colour.name(QColor.NameFormat.HexArgb)


SELECTED_PEN = pen(ACCENT.name(), 2.0)
PLAYHEAD_PEN = pen(ACCENT.name(), 1.0)
SNAP_PEN = pen(SNAP.name(), 1.0, Qt.PenStyle.DashLine)
TEXT_PEN = QPen(TEXT)
DIM_PEN = QPen(TEXT_DIM)
ERROR_PEN = pen(ERROR.name(), 1.5)
ERROR_HATCH = brush(name(translucent(ERROR, 110)), Qt.BrushStyle.BDiagPattern)
ERROR_FILL = brush(name(translucent(ERROR, 40)))
TRANSITION_FILL = brush("#38ffffff")
TRANSITION_PEN = pen("#c8ffffff", 1.0)
FADE_FILL = brush("#a0000000")
FADE_PEN = pen("#d0ffffff", 1.0)
WAITING_HATCH = brush("#14ffffff", Qt.BrushStyle.BDiagPattern)


@dataclass
class Fonts:
    label: QFont
    small: QFont
    ruler: QFont
    timecode: QFont
    header: QFont
    label_metrics: QFontMetricsF
    small_metrics: QFontMetricsF
    ruler_metrics: QFontMetricsF
    header_metrics: QFontMetricsF


_fonts: Fonts | None = None


def fonts() -> Fonts:
    """The timeline's fonts, sized in pixels so rows keep their shape on any screen."""
    global _fonts
    if _fonts is None:
        base = QGuiApplication.font()

        def sized(pixels: int, weight: QFont.Weight = QFont.Weight.Normal, family: str = "") -> QFont:
            font = QFont(base)
            if family:
                font.setFamilies([family, "monospace"])
                font.setStyleHint(QFont.StyleHint.Monospace)
            font.setPixelSize(pixels)
            font.setWeight(weight)
            return font

        label, small = sized(11, QFont.Weight.DemiBold), sized(10)
        ruler, timecode = sized(10, family="DejaVu Sans Mono"), sized(14, QFont.Weight.DemiBold, "DejaVu Sans Mono")
        header = sized(12, QFont.Weight.DemiBold)
        _fonts = Fonts(label, small, ruler, timecode, header, QFontMetricsF(label), QFontMetricsF(small),
                       QFontMetricsF(ruler), QFontMetricsF(header))
    return _fonts
