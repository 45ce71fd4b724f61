"""Far out, every node as a plain filled rectangle, all drawn by one item.

Below ``graph_style.FAR_SCALE`` the node items stop painting (the scene flags them
``ItemHasNoContents``, so Qt skips them without a call into Python) and this layer
draws them all with one ``drawRects`` per colour. The rectangles are gathered
again only after something changed (a move, the selection, a run state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from desktop import graph_style as style
from desktop.graph_links import EXTENT

if TYPE_CHECKING:
    from desktop.graph_scene import GraphScene


class OverviewLayer(QGraphicsItem):
    def __init__(self, canvas: "GraphScene") -> None:
        super().__init__()
        self.canvas = canvas
        self._fills: list[tuple[QBrush, list[QRectF]]] | None = None
        self._empty = QPainterPath()
        self.setZValue(-5)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setVisible(False)

    def boundingRect(self) -> QRectF:
        return QRectF(-EXTENT, -EXTENT, 2 * EXTENT, 2 * EXTENT)

    def shape(self) -> QPainterPath:
        return self._empty

    def invalidate(self) -> None:
        if self._fills is not None:
            self._fills = None
            if self.isVisible():
                self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._fills is None:
            by_brush: dict[int, tuple[QBrush, list[QRectF]]] = {}
            for item in self.canvas.items_by_id.values():
                fill = item.far_brush()
                entry = by_brush.get(id(fill))
                if entry is None:
                    entry = by_brush[id(fill)] = (fill, [])
                pos = item.pos()
                entry[1].append(QRectF(pos.x(), pos.y(), item.width, item.height))
            self._fills = list(by_brush.values())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(style.NO_PEN)
        for fill, rects in self._fills:
            painter.setBrush(fill)
            painter.drawRects(rects)
