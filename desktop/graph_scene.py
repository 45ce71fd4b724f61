"""The canvas scene: one item per node and group, one layer for all links, kept in
step with a WorkflowDocument through its signals (so undo and redo repaint too).

The scene never edits the document; the view does, through the document's
methods. The scene answers the view's questions (which socket, node, group or
link is here?) and holds the per-node run state the main window reports.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from desktop import graph_style as style
from desktop.document import WorkflowDocument
from desktop.graph_groups import GroupItem
from desktop.graph_items import NodeItem, RerouteItem
from desktop.graph_links import LinkLayer
from desktop.graph_overview import OverviewLayer
from nodes.graph import is_link

REROUTE_TYPE = "core.Reroute"


@dataclass(frozen=True)
class SocketRef:
    """A socket on the canvas: ``output`` tells which side it is on."""

    node_id: str
    name: str
    output: bool
    type: str
    point: QPointF


class GraphScene(QGraphicsScene):
    #: Nodes or groups appeared, went or moved: overviews (the minimap) redraw.
    contentChanged = Signal()
    #: The set of selected nodes changed (once per batch, not once per item).
    nodeSelectionChanged = Signal()

    def __init__(self, document: WorkflowDocument, parent: Any = None) -> None:
        super().__init__(parent)
        self.document = document
        self.items_by_id: dict[str, NodeItem] = {}
        self.group_items: list[GroupItem] = []
        self.selected_set: set[str] = set()
        self.selected_group: int | None = None
        #: Far out the canvas draws plain rectangles and straight links (set by the view).
        self.far = False
        self._top_z = 0.0
        self._selection_batch = 0
        self._selection_pending = False
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setSceneRect(QRectF(-4.0e6, -4.0e6, 8.0e6, 8.0e6))
        self.links = LinkLayer(self)
        self.addItem(self.links)
        self.overview = OverviewLayer(self)
        self.addItem(self.overview)
        document.nodeAdded.connect(self._node_added)
        document.nodeRemoved.connect(self._node_removed)
        document.inputChanged.connect(self._input_changed)
        document.fieldChanged.connect(self._field_changed)
        document.groupsChanged.connect(self._rebuild_groups)
        document.reset.connect(self.rebuild)
        self.selectionChanged.connect(self._selection_changed)
        self.rebuild()

    # ----- building ----------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Show the document from scratch (open, new)."""
        with self.batch_selection():
            for item in self.items_by_id.values():
                self.removeItem(item)
        self.items_by_id.clear()
        self.links.clear()
        self.links.begin_bulk()
        graph = self.document.graph
        for node_id, node in graph.nodes.items():
            self._add_item(node_id, node)
        for node_id, node in graph.nodes.items():
            for name, source, output in node.links():
                self.links.set_link(node_id, name, source, output)
        self.links.end_bulk()
        self.selected_group = None
        self._rebuild_groups()
        self.contentChanged.emit()

    def _add_item(self, node_id: str, node: Any) -> NodeItem:
        spec = self.document.registry.get(node.type)
        item_class = RerouteItem if node.type == REROUTE_TYPE else NodeItem
        item = item_class(self, node_id, node, spec)
        if self.far:
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
        self.addItem(item)
        self.items_by_id[node_id] = item
        return item

    def _rebuild_groups(self) -> None:
        for item in self.group_items:
            self.removeItem(item)
        self.group_items = []
        for index, group in enumerate(self.document.graph.groups):
            if _is_group(group):
                item = GroupItem(self, index, group)
                item.selected = index == self.selected_group
                self.addItem(item)
                self.group_items.append(item)
        if self.selected_group is not None and self.selected_group >= len(self.document.graph.groups):
            self.selected_group = None
        self.contentChanged.emit()

    # ----- following the document ----------------------------------------------------------------
    def _node_added(self, node_id: str) -> None:
        node = self.document.graph.nodes[node_id]
        self._add_item(node_id, node)
        for name, source, output in node.links():
            self.links.set_link(node_id, name, source, output)
        self.links.node_changed(node_id)
        self.contentChanged.emit()

    def _node_removed(self, node_id: str) -> None:
        item = self.items_by_id.pop(node_id, None)
        if item is not None:
            item.setSelected(False)
            self.removeItem(item)
        for link in self.links.touching(node_id):
            if link.reader == node_id:
                self.links.remove_link(link.reader, link.name)
        self.links.node_changed(node_id)
        self.overview.invalidate()
        self.contentChanged.emit()

    def _input_changed(self, node_id: str, name: str) -> None:
        node = self.document.graph.nodes[node_id]
        value = node.inputs.get(name)
        if is_link(value):
            self.links.set_link(node_id, name, value[0], value[1])
        else:
            self.links.remove_link(node_id, name)
        item = self.items_by_id.get(node_id)
        if item is not None:
            item.relayout(node)
            item.update()
            self.links.node_changed(node_id)
            for link in self.links.touching(node_id):
                reader = self.items_by_id.get(link.reader)
                if isinstance(reader, RerouteItem):
                    reader.update()

    def _field_changed(self, node_id: str, name: str) -> None:
        item = self.items_by_id.get(node_id)
        if item is None:
            return
        node = self.document.graph.nodes[node_id]
        if name == "pos":
            item.setPos(node.pos[0], node.pos[1])
            self.links.node_changed(node_id)
            self.overview.invalidate()
            self.contentChanged.emit()
        elif name in ("title", "collapsed", "bypass"):
            item.relayout(node)
            item.update()
            self.links.node_changed(node_id)

    def _selection_changed(self) -> None:
        if self._selection_batch:
            self._selection_pending = True
            return
        now = {item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)}
        changed = now ^ self.selected_set
        if changed:
            self.selected_set = now
            self.links.refresh_for(changed)
            self.overview.invalidate()
            self.nodeSelectionChanged.emit()

    @contextmanager
    def batch_selection(self) -> Iterator[None]:
        """Select or deselect many items with one selection-changed report at the end."""
        self._selection_batch += 1
        try:
            yield
        finally:
            self._selection_batch -= 1
            if not self._selection_batch and self._selection_pending:
                self._selection_pending = False
                self._selection_changed()

    def select_ids(self, node_ids: list[str]) -> None:
        with self.batch_selection():
            self.clearSelection()
            for node_id in node_ids:
                item = self.items_by_id.get(node_id)
                if item is not None:
                    item.setSelected(True)

    def set_far(self, far: bool) -> None:
        """Switch between full nodes and plain rectangles (the view decides by its scale)."""
        if far == self.far:
            return
        self.far = far
        for item in self.items_by_id.values():
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, far)
        self.overview.invalidate()
        self.overview.setVisible(far)
        self.links.update()
        for group in self.group_items:
            group.update()

    def overview_changed(self) -> None:
        self.overview.invalidate()

    # ----- questions the view asks --------------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem | None:
        return self.items_by_id.get(node_id)

    def node_at(self, point: QPointF) -> NodeItem | None:
        for item in self.items(point):
            if isinstance(item, NodeItem):
                return item
        return None

    def socket_at(self, point: QPointF, reach: float) -> SocketRef | None:
        """The socket nearest to ``point`` within ``reach``; a reroute's middle is its body."""
        area = QRectF(point.x() - reach, point.y() - reach, 2 * reach, 2 * reach)
        best: SocketRef | None = None
        best_distance = reach
        for item in self.items(area, Qt.ItemSelectionMode.IntersectsItemBoundingRect):
            if not isinstance(item, NodeItem):
                continue
            local = point - item.pos()
            if isinstance(item, RerouteItem):
                middle = item.centre()
                if math.hypot(local.x() - middle.x(), local.y() - middle.y()) < 6:
                    continue
            elif item.collapsed and item.rect.contains(local) and 14 < local.x() < item.width - 14:
                continue
            for output, points, types in ((False, item.input_points, item.input_types),
                                          (True, item.output_points, item.output_types)):
                for name, socket in points.items():
                    distance = math.hypot(local.x() - socket.x(), local.y() - socket.y())
                    if distance < best_distance:
                        best_distance = distance
                        best = SocketRef(item.node_id, name, output, types[name], socket + item.pos())
                    if item.collapsed:
                        break
        return best

    def group_at_title(self, point: QPointF) -> GroupItem | None:
        for item in reversed(self.group_items):
            if item.title_rect().contains(point):
                return item
        return None

    def group_handle_at(self, point: QPointF) -> GroupItem | None:
        for item in reversed(self.group_items):
            if item.resize_handle_rect().contains(point):
                return item
        return None

    def nodes_inside(self, rect: QRectF) -> list[str]:
        """Ids of nodes whose middle lies in ``rect`` (what a group carries along)."""
        return [node_id for node_id, item in self.items_by_id.items()
                if rect.contains(item.pos() + item.rect.center())]

    def content_rect(self) -> QRectF:
        """Everything drawn: nodes and groups (not the link layer's endless bounds)."""
        left = top = math.inf
        right = bottom = -math.inf
        for item in self.items_by_id.values():
            pos = item.pos()
            x, y = pos.x(), pos.y()
            left, top = min(left, x), min(top, y)
            right, bottom = max(right, x + item.width), max(bottom, y + item.height)
        for group in self.group_items:
            rect = group.scene_rect()
            left, top = min(left, rect.left()), min(top, rect.top())
            right, bottom = max(right, rect.right()), max(bottom, rect.bottom())
        if left == math.inf:
            return QRectF()
        return QRectF(left, top, right - left, bottom - top)

    def select_group(self, index: int | None) -> None:
        self.selected_group = index
        for item in self.group_items:
            if item.selected != (item.index == index):
                item.selected = item.index == index
                item.update()

    def raise_item(self, item: NodeItem) -> None:
        self._top_z += 1
        item.setZValue(self._top_z)

    # ----- run state ---------------------------------------------------------------------------
    def set_run_state(self, node_id: str, state: str, fraction: float | None = None,
                      preview: np.ndarray | None = None, message: str = "") -> None:
        item = self.items_by_id.get(node_id)
        if item is None:
            return
        item.set_run_state(state, fraction, preview, message)

    def clear_run_states(self) -> None:
        for node_id, item in self.items_by_id.items():
            if item.state != "idle" or item.preview is not None:
                item.set_run_state("idle", None, None, "")

    # ----- background ---------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, style.BACKGROUND)
        scale = painter.worldTransform().m11()
        if scale < 0.3:
            return
        step = style.GRID if scale >= 0.6 else style.GRID * 4
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        minor, major = [], []
        x = left
        while x < rect.right():
            (major if round(x / step) % 4 == 0 else minor).append((x, True))
            x += step
        y = top
        while y < rect.bottom():
            (major if round(y / step) % 4 == 0 else minor).append((y, False))
            y += step
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for lines, colour in ((minor, style.GRID_MINOR), (major, style.GRID_MAJOR)):
            painter.setPen(style.pen(colour.name(), 1.0, cosmetic=True))
            for value, vertical in lines:
                if vertical:
                    painter.drawLine(QPointF(value, rect.top()), QPointF(value, rect.bottom()))
                else:
                    painter.drawLine(QPointF(rect.left(), value), QPointF(rect.right(), value))


def _is_group(group: Any) -> bool:
    if not isinstance(group, dict):
        return False
    rect = group.get("rect")
    return (isinstance(rect, list) and len(rect) == 4
            and all(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                    for value in rect))
