"""The time ruler over the tracks: ticks and time codes that adapt to the zoom, the
markers with their names, and the playhead's head. Pressing or dragging on it
scrubs: the playhead follows the mouse, on whole frames, and ``scrubbed`` tells the
player where to show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPolygonF, QWheelEvent
from PySide6.QtWidgets import QToolTip, QWidget

from desktop import timeline_style as style
from desktop.timeline_time import on_frame, tick_label, tick_steps, tick_times

if TYPE_CHECKING:
    from desktop.timeline_canvas import TimelineCanvas

#: Rows of the ruler (pixels from its top): marker flags, then labels, then ticks.
MARKER_ROW = 13.0
MAJOR_TICK = 14.0
MINOR_TICK = 6.0
PLAYHEAD_HEAD = 10.0
#: Room for one tick label (the widest is ``h:mm:ss``).
LABEL_WIDTH = 80.0


class TimelineRuler(QWidget):
    #: The creator pressed or dragged on the ruler: the playhead is now at this second.
    scrubbed = Signal(float)

    def __init__(self, canvas: "TimelineCanvas", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.scene = canvas.timeline_scene
        self.scrubbing = False
        self.setObjectName("timelineRuler")
        self.setFixedHeight(style.RULER_HEIGHT)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        canvas.viewChanged.connect(self.update)

    def x_of(self, seconds: float) -> float:
        return self.scene.x_of(seconds) - self.canvas.left_scene_x()

    def time_of(self, x: float) -> float:
        return self.scene.time_of(x + self.canvas.left_scene_x())

    # ----- painting ---------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        width, height = float(self.width()), float(self.height())
        painter.fillRect(self.rect(), style.RULER_FILL)
        painter.fillRect(QRectF(0, height - 1, width, 1), style.HEADER_LINE)
        scene = self.scene
        fps = scene.document.project.timeline.fps
        major, minor = tick_steps(scene.pixels_per_second, fps)
        first, last = self.time_of(-80), self.time_of(width + 4)
        painter.setPen(style.pen(style.RULER_TICK.name()))
        if minor < major:
            for seconds in tick_times(first, last, minor):
                x = round(self.x_of(seconds)) + 0.5
                painter.drawLine(QPointF(x, height - MINOR_TICK), QPointF(x, height))
        fonts = style.fonts()
        painter.setFont(fonts.ruler)
        for seconds in tick_times(first, last, major):
            x = round(self.x_of(seconds)) + 0.5
            painter.setPen(style.pen(style.RULER_TICK.name()))
            painter.drawLine(QPointF(x, height - MAJOR_TICK), QPointF(x, height))
            painter.setPen(style.pen(style.RULER_TEXT.name()))
            painter.drawText(QRectF(x + 4, MARKER_ROW - 1, LABEL_WIDTH, height - MARKER_ROW - 2),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             tick_label(seconds, major, fps))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_markers(painter, width)
        self._paint_playhead(painter, height)
        painter.end()

    def _paint_markers(self, painter: QPainter, width: float) -> None:
        fonts = style.fonts()
        painter.setFont(fonts.small)
        markers = sorted(self.scene.document.project.timeline.markers, key=lambda marker: marker.time)
        for index, marker in enumerate(markers):
            x = self.x_of(marker.time)
            following = self.x_of(markers[index + 1].time) if index + 1 < len(markers) else width + 200
            if x < -200 or x > width + 10:
                continue
            colour = style.marker_colour(marker.color)
            painter.setPen(style.NO_PEN)
            painter.setBrush(style.brush(colour.name()))
            painter.drawPolygon(QPolygonF([QPointF(x - 4, 1), QPointF(x + 4, 1), QPointF(x + 4, 7),
                                           QPointF(x, 11), QPointF(x - 4, 7)]))
            room = following - x - 14
            if marker.name and room > 16:
                painter.setPen(style.pen(colour.name()))
                text = fonts.small_metrics.elidedText(marker.name, Qt.TextElideMode.ElideRight, room)
                painter.drawText(QRectF(x + 7, 0, room, MARKER_ROW), Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_playhead(self, painter: QPainter, height: float) -> None:
        x = round(self.x_of(self.scene.playhead)) + 0.5
        if x < -10 or x > self.width() + 10:
            return
        top = height - PLAYHEAD_HEAD - 4
        painter.setPen(style.NO_PEN)
        painter.setBrush(style.brush(style.ACCENT.name()))
        painter.drawPolygon(QPolygonF([QPointF(x - 6, top), QPointF(x + 6, top), QPointF(x + 6, top + 6),
                                       QPointF(x, top + PLAYHEAD_HEAD), QPointF(x - 6, top + 6)]))
        painter.setPen(style.PLAYHEAD_PEN)
        painter.drawLine(QPointF(x, top + PLAYHEAD_HEAD), QPointF(x, height))

    # ----- scrubbing --------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self.canvas.setFocus(Qt.FocusReason.MouseFocusReason)
        self.scrubbing = True
        self._scrub(event.position().x(), pressed=True)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.scrubbing:
            self._scrub(event.position().x())
            event.accept()
            return
        marker = self._marker_near(event.position().x())
        if marker:
            QToolTip.showText(event.globalPosition().toPoint(), marker, self)
        else:
            QToolTip.hideText()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.scrubbing:
            self._scrub(event.position().x())
            self.scrubbing = False
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        """As over the tracks (the ruler's x is the tracks' x): scroll, Ctrl+wheel zooms there."""
        self.canvas.wheelEvent(event)

    def _scrub(self, x: float, pressed: bool = False) -> None:
        """Move the playhead to the frame under ``x``; a drag only says so when it changes frame."""
        seconds = on_frame(max(0.0, self.time_of(x)), self.scene.document.project.timeline.fps)
        if pressed or seconds != self.scene.playhead:
            self.scrubbed.emit(seconds)

    def _marker_near(self, x: float) -> str:
        for marker in self.scene.document.project.timeline.markers:
            if abs(self.x_of(marker.time) - x) <= 5:
                return f"{marker.name or 'Marker'} — {marker.time:.2f} s"
        return ""

