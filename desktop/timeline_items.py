"""What the timeline draws for each clip, and the playhead and snap lines over them.

A clip is one QGraphicsItem that paints itself: its body in its track's colour, the
name on a label strip, thumbnails along a picture (or the still, repeated), the
waveform of its sound (a band at the foot of a video file that carries sound),
fades and transitions as ramps, and a red hatch with the reason when its file
cannot be read. It only paints the part of itself that is exposed and only asks
the media loader for what that part needs, so a long clip zoomed in costs the
same as a short one.

Items never change the document: the scene sets them from it, and moves them
while a drag is under way (the document changes on release).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from desktop import timeline_style as style
from desktop.timeline_media import Media, MediaFacts
from nodes.timeline import CROSSFADE, Clip, FileSource, GraphSource, ImageSource, Transition

if TYPE_CHECKING:
    from desktop.timeline_scene import TimelineScene

#: Source seconds a thumbnail may stand for, finest first: a zoom picks the first that
#: covers one thumbnail's width, so zooming a little reuses the pictures already made.
THUMBNAIL_STEPS = (0.04, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)
#: At most this many thumbnails are drawn in one paint of one clip.
MAX_THUMBNAILS = 120
#: Waveform heights are levels to this power: quiet speech and music stay readable next to
#: loud effects (-20 dB draws at a third of the height, not a tenth), loud parts still peak.
WAVE_GAMMA = 0.5


@dataclass
class ClipLook:
    """What a clip item shows, copied from the document when it changes."""

    clip_id: str
    track_id: str
    kind: str
    label: str
    start: float
    length: float
    source_in: float
    speed: float
    gain_db: float
    fade_in: float
    fade_out: float
    transition_in: Transition | None
    transition_out: Transition | None
    media: Media | None
    graph_source: bool
    muted: bool
    audio_row: bool


def clip_label(clip: Clip) -> str:
    """The name shown on a clip: its own, else where it comes from."""
    if clip.name:
        return clip.name
    source = clip.source
    if isinstance(source, (FileSource, ImageSource)):
        return source.path.replace("\\", "/").rsplit("/", 1)[-1]
    if isinstance(source, GraphSource):
        return f"{source.graph} › {source.node}"
    return clip.id


def thumbnail_step(source_seconds_per_thumbnail: float) -> float:
    return next((step for step in THUMBNAIL_STEPS if step >= source_seconds_per_thumbnail), THUMBNAIL_STEPS[-1])


def shown_level(levels: np.ndarray, gain_db: float = 0.0) -> np.ndarray:
    """Levels (0..1) after the clip's gain, as drawn heights (0..1)."""
    return np.clip(levels * 10 ** (gain_db / 20.0), 0.0, 1.0) ** WAVE_GAMMA


class ClipItem(QGraphicsItem):
    """One clip on its track's row, drawn to scale."""

    def __init__(self, canvas: "TimelineScene", look: ClipLook) -> None:
        super().__init__()
        self.canvas = canvas
        self.look = look
        self.width = 1.0
        self.height = 1.0
        self.selected = False
        self.dragging = False
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.setAcceptHoverEvents(False)

    @property
    def clip_id(self) -> str:
        return self.look.clip_id

    def set_look(self, look: ClipLook) -> None:
        self.look = look
        self.setToolTip(self._tooltip())
        self.update()

    def set_geometry(self, x: float, y: float, width: float, height: float) -> None:
        if (width, height) != (self.width, self.height):
            self.prepareGeometryChange()
            self.width, self.height = max(1.0, width), height
        self.setPos(x, y)

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(-1, -1, self.width + 2, self.height + 2)

    def problem(self) -> str | None:
        media = self.look.media
        return None if media is None else self.canvas.loader.problem(media)

    def _tooltip(self) -> str:
        look = self.look
        text = f"{look.label}\n{look.start:.2f} s – {look.start + look.length:.2f} s ({look.length:.2f} s)"
        if look.speed != 1.0:
            text += f" at {look.speed:g}×"
        return text

    # ----- painting --------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        look = self.look
        colours = style.clip_colours(look.kind)
        rect = QRectF(0, 0, self.width, self.height)
        exposed = option.exposedRect.intersected(rect)
        if look.muted:
            painter.setOpacity(0.45)
        body = QPainterPath()
        body.addRoundedRect(rect, style.CLIP_RADIUS, style.CLIP_RADIUS)
        painter.setPen(style.NO_PEN)
        painter.setBrush(colours.body)
        painter.drawPath(body)
        problem = self.problem()
        if self.width >= style.NARROW:
            painter.save()
            painter.setClipPath(body)
            painter.fillRect(QRectF(0, 0, self.width, style.LABEL_HEIGHT), colours.label)
            content = QRectF(0, style.LABEL_HEIGHT, self.width, self.height - style.LABEL_HEIGHT)
            if problem is not None:
                self._paint_problem(painter, content, problem)
            else:
                self._paint_media(painter, content, exposed)
            self._paint_ramps(painter, content)
            painter.restore()
            self._paint_label(painter, problem)
        if self.selected:
            painter.setPen(style.SELECTED_PEN)
        elif problem is not None:
            painter.setPen(style.ERROR_PEN)
        else:
            painter.setPen(colours.outline)
        painter.setBrush(style.brush("#00000000"))
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), style.CLIP_RADIUS, style.CLIP_RADIUS)

    def _paint_label(self, painter: QPainter, problem: str | None) -> None:
        fonts = style.fonts()
        look = self.look
        badge = f"{look.speed:g}×" if look.speed != 1.0 else ""
        room = self.width - 12 - (fonts.small_metrics.horizontalAdvance(badge) + 6 if badge else 0)
        if room > 10:
            painter.setFont(fonts.label)
            painter.setPen(style.ERROR_PEN if problem is not None else style.TEXT_PEN)
            text = fonts.label_metrics.elidedText(look.label, Qt.TextElideMode.ElideRight, room)
            painter.drawText(QRectF(6, 0, room, style.LABEL_HEIGHT),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        if badge and self.width > 40:
            painter.setFont(fonts.small)
            painter.setPen(style.DIM_PEN)
            painter.drawText(QRectF(0, 0, self.width - 6, style.LABEL_HEIGHT),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, badge)

    def _paint_problem(self, painter: QPainter, content: QRectF, problem: str) -> None:
        painter.fillRect(content, style.ERROR_FILL)
        painter.fillRect(content, style.ERROR_HATCH)
        fonts = style.fonts()
        painter.setFont(fonts.small)
        painter.setPen(style.TEXT_PEN)
        text = fonts.small_metrics.elidedText(f"Unreadable: {problem}", Qt.TextElideMode.ElideRight,
                                              max(0.0, self.width - 12))
        painter.drawText(content.adjusted(6, 2, -6, -2), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         text)

    def _paint_media(self, painter: QPainter, content: QRectF, exposed: QRectF) -> None:
        look = self.look
        loader = self.canvas.loader
        media = look.media
        if media is None:  # a graph output not computed yet
            painter.fillRect(content, style.WAITING_HATCH)
            if self.width > 90 and content.height() > 20:
                fonts = style.fonts()
                painter.setFont(fonts.small)
                painter.setPen(style.DIM_PEN)
                painter.drawText(content.adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignVCenter, "not computed yet")
            return
        facts = loader.facts(media)
        if facts is None:
            painter.fillRect(content, style.WAITING_HATCH)
            return
        if look.audio_row:
            self._paint_wave(painter, content, exposed, media)
            return
        band = facts.has_audio and not facts.still and content.height() > 2 * style.SOUND_BAND
        pictures = content.adjusted(0, 0, 0, -style.SOUND_BAND) if band else content
        self._paint_pictures(painter, pictures, exposed, media, facts)
        if band:
            strip = QRectF(content.left(), pictures.bottom(), content.width(), style.SOUND_BAND)
            painter.fillRect(strip, style.brush("#a0101318"))
            self._paint_wave(painter, strip, exposed, media)

    def _paint_pictures(self, painter: QPainter, area: QRectF, exposed: QRectF, media: Media,
                        facts: MediaFacts) -> None:
        """Thumbnails side by side from the clip's in point (a still: the picture repeated),
        made at the screen's pixel density and only for the exposed part."""
        if not facts.has_video or area.height() < 4:
            return
        loader = self.canvas.loader
        device = painter.device()
        density = device.devicePixelRatioF() if device is not None else 1.0
        pixels = max(1, round(area.height() * density))
        left, right = max(area.left(), exposed.left()), min(area.right(), exposed.right())
        if facts.still:
            image = loader.still(media, pixels)
            if image is None:
                return
            step = max(8.0, image.width() / density)
            first = max(0, math.floor((left - area.left()) / step))
            for index in range(first, min(first + MAX_THUMBNAILS, math.ceil((right - area.left()) / step) + 1)):
                painter.drawImage(QRectF(area.left() + index * step, area.top(), step, area.height()), image)
            return
        look = self.look
        step = max(8.0, area.height() * facts.aspect)
        pixels_per_second = self.canvas.pixels_per_second
        quantum = thumbnail_step(step / pixels_per_second * look.speed)
        last_time = max(0.0, facts.duration - 0.05) if facts.duration > 0 else math.inf
        first = max(0, math.floor((left - area.left()) / step))
        end = min(first + MAX_THUMBNAILS, math.ceil((right - area.left()) / step) + 1)
        for index in range(first, end):
            source_time = look.source_in + index * step / pixels_per_second * look.speed
            wanted = min(math.floor(source_time / quantum) * quantum, last_time)
            image = loader.thumbnail(media, wanted, pixels)
            if image is not None:
                x = area.left() + index * step
                painter.drawImage(QRectF(x, area.top(), image.width() / density, area.height()), image)
                painter.fillRect(QRectF(x, area.top(), 1, area.height()), style.brush("#50000000"))

    def _paint_wave(self, painter: QPainter, area: QRectF, exposed: QRectF, media: Media) -> None:
        peaks = self.canvas.loader.peaks(media)
        if peaks is None:
            return
        look = self.look
        left = max(area.left(), math.floor(exposed.left()))
        right = min(area.right(), math.ceil(exposed.right()))
        count = int(right - left)
        if count <= 0:
            return
        pixels_per_second = self.canvas.pixels_per_second
        first_second = look.source_in + (left - area.left()) / pixels_per_second * look.speed
        peak, rms = peaks.columns(first_second, look.speed / pixels_per_second, count)
        middle, half = area.center().y(), area.height() / 2 - 1
        colours = style.clip_colours(look.kind)
        painter.setPen(style.NO_PEN)
        for levels, brush in ((peak, colours.wave_peak), (rms, colours.wave_rms)):
            heights = shown_level(levels, look.gain_db) * half
            top = [QPointF(left + index + 0.5, middle - value) for index, value in enumerate(heights.tolist())]
            bottom = [QPointF(point.x(), 2 * middle - point.y()) for point in reversed(top)]
            painter.setBrush(brush)
            painter.drawPolygon(QPolygonF(top + bottom))

    def _paint_ramps(self, painter: QPainter, content: QRectF) -> None:
        """Fades and transitions as ramps: dark where the clip is faded (to black or to
        silence), light with a cross where it crossfades into the clip before."""
        look = self.look
        pixels_per_second = self.canvas.pixels_per_second
        top, bottom = content.top(), content.bottom()
        opening = [(look.fade_in, False)] if look.fade_in > 0 else []
        closing = [(look.fade_out, False)] if look.fade_out > 0 else []
        if look.transition_in is not None:
            opening.append((look.transition_in.duration, look.transition_in.kind == CROSSFADE))
        if look.transition_out is not None:
            closing.append((look.transition_out.duration, False))
        for seconds, cross in opening:
            width = min(self.width, seconds * pixels_per_second)
            self._ramp(painter, QRectF(0, top, width, bottom - top), cross, rising=True)
        for seconds, cross in closing:
            width = min(self.width, seconds * pixels_per_second)
            self._ramp(painter, QRectF(self.width - width, top, width, bottom - top), cross, rising=False)

    @staticmethod
    def _ramp(painter: QPainter, area: QRectF, cross: bool, rising: bool) -> None:
        if area.width() < 2:
            return
        low, high = (area.bottomLeft(), area.topRight()) if rising else (area.topLeft(), area.bottomRight())
        if cross:
            painter.fillRect(area, style.TRANSITION_FILL)
            painter.setPen(style.TRANSITION_PEN)
            painter.drawLine(area.bottomLeft(), area.topRight())
            painter.drawLine(area.topLeft(), area.bottomRight())
            return
        corner = area.topLeft() if rising else area.topRight()
        painter.setPen(style.NO_PEN)
        painter.setBrush(style.FADE_FILL)
        painter.drawPolygon(QPolygonF([low, high, corner]))
        painter.setPen(style.FADE_PEN)
        painter.drawLine(low, high)


class LineItem(QGraphicsItem):
    """A vertical line over every track (the playhead, the snap line): moving it repaints
    only the thin strips it leaves and enters, not the whole view."""

    def __init__(self, pen_width: float, pen: QPen, z: float) -> None:
        super().__init__()
        self.pen = pen
        self.length = 100.0
        self.half = pen_width / 2 + 1
        self.setZValue(z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_length(self, length: float) -> None:
        if length != self.length:
            self.prepareGeometryChange()
            self.length = length

    def boundingRect(self) -> QRectF:
        return QRectF(-self.half, 0, 2 * self.half, self.length)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setPen(self.pen)
        painter.drawLine(QPointF(0, 0), QPointF(0, self.length))
