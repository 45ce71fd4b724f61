"""Groups (frames): a titled, coloured rectangle drawn behind the nodes.

Dragging a group by its title moves the nodes inside it; its bottom-right corner
resizes it; a double-click on its title renames it in place. Like every item,
a group never edits the document: the view does, and the scene rebuilds the
group items when the document's groups change.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QLineEdit, QStyleOptionGraphicsItem, QWidget

from desktop import graph_style as style
from desktop.graph_items import static_text

if TYPE_CHECKING:
    from desktop.graph_scene import GraphScene
    from desktop.graph_view import GraphView


class GroupItem(QGraphicsItem):
    """A titled frame behind nodes; moving it moves the nodes inside."""

    def __init__(self, canvas: "GraphScene", index: int, group: dict[str, Any]) -> None:
        super().__init__()
        self.canvas = canvas
        self.index = index
        self.title = str(group.get("title", ""))
        self.colour = QColor(str(group.get("color", style.ACCENT.name())))
        if not self.colour.isValid():
            self.colour = QColor(style.ACCENT)
        x, y, width, height = (float(value) for value in group["rect"])
        self.selected = False
        self.setZValue(-100)
        self.setPos(x, y)
        self.set_size(width, height)

    def set_size(self, width: float, height: float) -> None:
        self.prepareGeometryChange()
        self.rect = QRectF(0, 0, max(80.0, width), max(style.GROUP_TITLE + 20, height))
        self._bounds = self.rect.adjusted(-2, -2, 2, 2)
        self._text: QStaticText | None = None

    def scene_rect(self) -> QRectF:
        return self.rect.translated(self.pos())

    def title_rect(self) -> QRectF:
        return QRectF(self.pos().x(), self.pos().y(), self.rect.width(), style.GROUP_TITLE)

    def resize_handle_rect(self) -> QRectF:
        corner = self.scene_rect().bottomRight()
        return QRectF(corner.x() - 18, corner.y() - 18, 18, 18)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setPen(style.NO_PEN)
        painter.setBrush(style.brush(style.name(style.translucent(self.colour, 26))))
        painter.drawRoundedRect(self.rect, 8, 8)
        bar = QRectF(0, 0, self.rect.width(), style.GROUP_TITLE)
        painter.setBrush(style.brush(style.name(style.translucent(self.colour, 64))))
        painter.drawRoundedRect(bar, 8, 8)
        outline = style.pen(style.ACCENT.name(), 2.0) if self.selected else \
            style.pen(style.name(style.translucent(self.colour, 130)), 1.5)
        painter.setPen(outline)
        painter.setBrush(style.NO_BRUSH)
        painter.drawRoundedRect(self.rect, 8, 8)
        if self.canvas.far:
            return
        if self._text is None:
            metrics = style.fonts().group_metrics
            shown = metrics.elidedText(self.title, Qt.TextElideMode.ElideRight, self.rect.width() - 24)
            self._text = static_text(shown)
        painter.setFont(style.fonts().group)
        painter.setPen(style.pen(style.TEXT.name()))
        painter.drawStaticText(QPointF(12, (style.GROUP_TITLE - style.fonts().group_metrics.height()) / 2), self._text)
        corner = self.rect.bottomRight()
        painter.setPen(style.pen(style.name(style.translucent(self.colour, 160)), 1.5))
        for step in (6.0, 11.0):
            painter.drawLine(QPointF(corner.x() - step, corner.y() - 3), QPointF(corner.x() - 3, corner.y() - step))


class GroupTitleEditor(QLineEdit):
    """Renames a group in place: Enter (or clicking elsewhere) keeps the new title, Esc cancels."""

    def __init__(self, view: "GraphView", group: GroupItem, done: Callable[[], None]) -> None:
        super().__init__(group.title, view.viewport())
        self.view, self.index, self.done = view, group.index, done
        self._finished = False
        font = QFont(style.fonts().group)
        font.setPixelSize(max(9, round(font.pixelSize() * view.zoom())))
        self.setFont(font)
        self.setStyleSheet("QLineEdit { background: #12151a; color: #e6ebf2; border: 1px solid #00ffea;"
                           " border-radius: 4px; padding: 0 6px; }")
        area = view.mapFromScene(group.title_rect()).boundingRect()
        self.setGeometry(area.adjusted(4, 3, -4, -3))
        self.editingFinished.connect(self.commit)
        self.installEventFilter(self)
        self.selectAll()
        self.show()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def commit(self) -> None:
        if self._finished:
            return
        self._finished = True
        document = self.view.document
        title = self.text().strip()
        groups = document.graph.groups
        if self.index < len(groups) and title and title != groups[self.index].get("title"):
            groups = copy.deepcopy(document.graph.groups)
            groups[self.index]["title"] = title
            document.set_groups(groups, "Rename group")
        self.close_editor()

    def cancel(self) -> None:
        self._finished = True
        self.close_editor()

    def close_editor(self) -> None:
        self.hide()
        self.deleteLater()
        self.done()
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.cancel()
            return True
        return super().eventFilter(watched, event)
