"""The column left of the tracks: each track's name, its kind in its colour, and a
toggle that mutes it (hides a video track, silences an audio track). Rows line up
with the canvas's rows and scroll with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPolygonF, QWheelEvent
from PySide6.QtWidgets import QWidget

from desktop import timeline_style as style
from desktop.timeline_scene import Row

if TYPE_CHECKING:
    from desktop.timeline_canvas import TimelineCanvas

TOGGLE = 22.0
STRIP = 4.0


class TrackHeaders(QWidget):
    #: The creator clicked a track's mute toggle: (track id, muted wanted).
    muteToggled = Signal(str, bool)

    def __init__(self, canvas: "TimelineCanvas", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.scene = canvas.timeline_scene
        self.setObjectName("timelineHeaders")
        self.setFixedWidth(style.HEADER_WIDTH)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        canvas.viewChanged.connect(self.update)
        self.scene.rowsChanged.connect(self.update)

    def row_rect(self, row: Row) -> QRectF:
        return QRectF(0, row.top - self.canvas.top_scene_y(), self.width(), row.height)

    def toggle_rect(self, row: Row) -> QRectF:
        area = self.row_rect(row)
        return QRectF(area.right() - TOGGLE - 10, area.center().y() - TOGGLE / 2, TOGGLE, TOGGLE)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), style.BACKGROUND)
        fonts = style.fonts()
        rows = self.scene.rows
        for row in rows:
            area = self.row_rect(row)
            if area.bottom() < 0 or area.top() > self.height():
                continue
            painter.fillRect(area, style.HEADER_FILL if row.index % 2 == 0 else style.HEADER_FILL_ALTERNATE)
            painter.fillRect(QRectF(0, area.bottom() - 1, area.width(), 1), style.HEADER_LINE)
            colour = style.KIND_COLOURS.get(row.kind, style.KIND_COLOURS["video"])
            painter.fillRect(QRectF(0, area.top() + 1, STRIP, area.height() - 2), colour if not row.muted
                             else style.mixed(colour, style.BACKGROUND, 0.6))
            text_room = area.width() - STRIP - 12 - TOGGLE - 16
            painter.setFont(fonts.header)
            painter.setPen(style.DIM_PEN if row.muted else style.TEXT_PEN)
            name = fonts.header_metrics.elidedText(row.name, Qt.TextElideMode.ElideRight, text_room)
            middle = area.center().y()
            painter.drawText(QRectF(STRIP + 10, middle - 17, text_room, 17),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, name)
            painter.setFont(fonts.small)
            painter.setPen(style.pen(colour.name()))
            kind = style.KIND_NAMES.get(row.kind, row.kind.title())
            details = kind if row.name == row.track_id else f"{kind} · {row.track_id}"
            painter.drawText(QRectF(STRIP + 10, middle + 1, text_room, 15),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, details)
            self._paint_toggle(painter, row)
        audio = next((row for row in rows if row.audio), None)
        if audio is not None and audio.index > 0:
            top = audio.top - style.GROUP_GAP - self.canvas.top_scene_y()
            painter.fillRect(QRectF(0, top, self.width(), style.GROUP_GAP), style.GROUP_LINE)
        painter.fillRect(QRectF(self.width() - 1, 0, 1, self.height()), style.HEADER_LINE)
        painter.end()

    def _paint_toggle(self, painter: QPainter, row: Row) -> None:
        """A speaker (audio) or an eye (video); crossed out and red when muted."""
        box = self.toggle_rect(row)
        painter.setPen(style.pen(style.HEADER_LINE.name()) if not row.muted else style.pen(style.ERROR.name()))
        painter.setBrush(style.brush("#151a20") if not row.muted else style.brush(style.name(
            style.translucent(style.ERROR, 40))))
        painter.drawRoundedRect(box, 4, 4)
        colour = style.ERROR if row.muted else style.TEXT_DIM
        painter.setPen(style.pen(colour.name(), 1.4))
        painter.setBrush(style.brush(colour.name()) if row.audio else style.brush("#00000000"))
        centre = box.center()
        if row.audio:
            x, y = centre.x() - 5, centre.y()
            painter.drawPolygon(QPolygonF([QPointF(x, y - 2.5), QPointF(x + 3, y - 2.5), QPointF(x + 7, y - 6),
                                           QPointF(x + 7, y + 6), QPointF(x + 3, y + 2.5), QPointF(x, y + 2.5)]))
            if not row.muted:
                painter.setBrush(style.brush("#00000000"))
                wave = QPainterPath()
                wave.moveTo(x + 9.5, y - 3.5)
                wave.quadTo(x + 12, y, x + 9.5, y + 3.5)
                painter.drawPath(wave)
        else:
            eye = QPainterPath()
            eye.moveTo(centre.x() - 7, centre.y())
            eye.quadTo(centre.x(), centre.y() - 7, centre.x() + 7, centre.y())
            eye.quadTo(centre.x(), centre.y() + 7, centre.x() - 7, centre.y())
            painter.drawPath(eye)
            painter.setBrush(style.brush(colour.name()))
            painter.drawEllipse(centre, 2.2, 2.2)
        if row.muted:
            painter.drawLine(QPointF(box.left() + 5, box.bottom() - 5), QPointF(box.right() - 5, box.top() + 5))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        point = event.position()
        for row in self.scene.rows:
            if self.toggle_rect(row).contains(point):
                self.muteToggled.emit(row.track_id, not row.muted)
                event.accept()
                return
        self.canvas.setFocus(Qt.FocusReason.MouseFocusReason)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """The wheel over the headers moves up and down the tracks."""
        delta = event.angleDelta()
        self.canvas.scroll_by(0, -(delta.y() or delta.x()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        over = any(self.toggle_rect(row).contains(event.position()) for row in self.scene.rows)
        self.setCursor(Qt.CursorShape.PointingHandCursor if over else Qt.CursorShape.ArrowCursor)
        row = next((row for row in self.scene.rows if self.toggle_rect(row).contains(event.position())), None)
        self.setToolTip("" if row is None else ("Unmute" if row.muted else "Mute") + f" track {row.name}")
