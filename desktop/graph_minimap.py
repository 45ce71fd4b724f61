"""A small overview of the whole graph in a corner of the canvas.

The overview (groups and nodes as rectangles) is drawn once into an image and
redrawn only after the graph changed, at most ten times a second while it keeps
changing (a drag of many nodes); each paint adds the frame of what the view
shows. A click or drag on it moves the view there.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from desktop import graph_style as style

if TYPE_CHECKING:
    from desktop.graph_view import GraphView

SIZE = (210, 136)
#: Seconds between two redraws of the overview while the graph keeps changing.
THROTTLE = 0.1
MARGIN = 8.0


class Minimap(QWidget):
    def __init__(self, view: "GraphView") -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(*SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self._image: QImage | None = None
        self._content = QRectF()
        self._scale = 1.0
        self._offset = QPointF()
        self._rendered_at = 0.0
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._redraw)
        view.graph_scene.contentChanged.connect(self.invalidate)

    def invalidate(self) -> None:
        if self._image is None or self._later.isActive():
            return
        wait = THROTTLE - (time.monotonic() - self._rendered_at)
        if wait > 0:
            self._later.start(int(wait * 1000) + 1)
        else:
            self._redraw()

    def _redraw(self) -> None:
        self._image = None
        self.update()

    # ----- scene <-> minimap ---------------------------------------------------------------
    def _fit(self) -> None:
        content = self.view.graph_scene.content_rect()
        if content.isNull():
            content = QRectF(-500, -300, 1000, 600)
        content = content.adjusted(-60, -60, 60, 60)
        room_w, room_h = self.width() - 2 * MARGIN, self.height() - 2 * MARGIN
        self._scale = min(room_w / content.width(), room_h / content.height())
        self._offset = QPointF(MARGIN + (room_w - content.width() * self._scale) / 2 - content.x() * self._scale,
                               MARGIN + (room_h - content.height() * self._scale) / 2 - content.y() * self._scale)
        self._content = content

    def to_scene(self, point: QPointF) -> QPointF:
        return QPointF((point.x() - self._offset.x()) / self._scale, (point.y() - self._offset.y()) / self._scale)

    def to_minimap(self, rect: QRectF) -> QRectF:
        return QRectF(rect.x() * self._scale + self._offset.x(), rect.y() * self._scale + self._offset.y(),
                      rect.width() * self._scale, rect.height() * self._scale)

    # ----- painting ----------------------------------------------------------------------------
    def _render(self) -> QImage:
        self._fit()
        image = QImage(self.size(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        scene = self.view.graph_scene
        for group in scene.group_items:
            painter.fillRect(self.to_minimap(group.scene_rect()), style.translucent(group.colour, 60))
        by_colour: dict[str, list[QRectF]] = {}
        for item in scene.items_by_id.values():
            pos = item.pos()
            rect = QRectF(pos.x() * self._scale + self._offset.x(), pos.y() * self._scale + self._offset.y(),
                          max(1.5, item.width * self._scale), max(1.5, item.height * self._scale))
            colour = style.ERROR.name() if item.state == "error" else style.category_colour(item.category).name()
            by_colour.setdefault(colour, []).append(rect)
        painter.setPen(style.NO_PEN)
        for colour, rects in by_colour.items():
            painter.setBrush(style.brush(colour))
            painter.drawRects(rects)
        painter.end()
        return image

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._image is None:
            self._image = self._render()
            self._rendered_at = time.monotonic()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(style.pen("#343c48"))
        painter.setBrush(style.brush("#e6101318"))
        painter.drawRoundedRect(frame, 6, 6)
        painter.drawImage(0, 0, self._image)
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        shown = self.to_minimap(visible).intersected(frame.adjusted(2, 2, -2, -2))
        if not shown.isEmpty():
            painter.setPen(style.pen(style.ACCENT.name(), 1.2))
            painter.setBrush(style.brush(style.name(style.translucent(style.ACCENT, 22))))
            painter.drawRect(shown)
        painter.end()

    # ----- jumping ------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._jump(event.position())
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._jump(event.position())
            event.accept()

    def _jump(self, point: QPointF) -> None:
        if self._image is None:
            self._image = self._render()
        self.view.centerOn(self.to_scene(point))
        self.update()
