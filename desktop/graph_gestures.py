"""What a mouse drag on the canvas does, one small class per kind of drag.

The view starts a gesture on a press (pan, move nodes, move or resize a group,
drag a link, box select), feeds it the moves, and lets it finish on release. Every
lasting change goes through the document, so one drag is one undo step.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath, QTransform
from PySide6.QtWidgets import QGraphicsRectItem

from desktop import graph_fitting as fitting
from desktop import graph_style as style
from desktop.document import ConnectionRefused
from desktop.graph_groups import GroupItem
from desktop.graph_links import PendingLink
from desktop.graph_scene import SocketRef
from nodes.graph import is_link

if TYPE_CHECKING:
    from desktop.graph_view import GraphView

#: A press that moves less than this (in pixels) is a click, not a drag.
CLICK_SLOP = 3


class Gesture:
    def __init__(self, view: "GraphView") -> None:
        self.view = view
        self.scene = view.graph_scene
        self.document = view.document

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        """The mouse moved with the button held."""

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        """The button came up: make the change."""

    def cancel(self) -> None:
        """Forget the drag (focus lost, Esc): nothing changes."""


class PanGesture(Gesture):
    """Middle button, or space + left button: the canvas follows the hand."""

    def __init__(self, view: "GraphView", view_pos: QPoint) -> None:
        super().__init__(view)
        self.last = view_pos
        view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        delta = view_pos - self.last
        self.last = view_pos
        self.view.scroll_by(-delta.x(), -delta.y())

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        self.cancel()

    def cancel(self) -> None:
        self.view.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self.view.space_held
                                       else Qt.CursorShape.ArrowCursor)


class MoveNodesGesture(Gesture):
    """Drag selected nodes; a lone unlinked node dropped onto a link is inserted into it."""

    def __init__(self, view: "GraphView", view_pos: QPoint, scene_pos: QPointF, node_ids: list[str]) -> None:
        super().__init__(view)
        self.press_view, self.press_scene = view_pos, scene_pos
        nodes = self.document.graph.nodes
        self.start = {node_id: (nodes[node_id].pos[0], nodes[node_id].pos[1]) for node_id in node_ids}
        self.drag = self.document.new_drag()
        self.started = False
        self.lone = node_ids[0] if len(node_ids) == 1 and not self.scene.links.touching(node_ids[0]) else None

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        if not self.started and (view_pos - self.press_view).manhattanLength() < CLICK_SLOP:
            return
        self.started = True
        dx, dy = scene_pos.x() - self.press_scene.x(), scene_pos.y() - self.press_scene.y()
        nodes = self.document.graph.nodes
        self.document.move_nodes({node_id: (x + dx, y + dy) for node_id, (x, y) in self.start.items()
                                  if node_id in nodes}, self.drag)
        if self.lone is not None:
            self.scene.links.set_highlighted(fitting.link_to_insert_into(self.scene, self.lone))

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        target = self.scene.links.highlighted
        self.scene.links.set_highlighted(None)
        if self.started and self.lone is not None and target is not None:
            if self.document.insert_on_link(self.lone, *target):
                self.view.hint.emit("Inserted into the link")

    def cancel(self) -> None:
        self.scene.links.set_highlighted(None)
        if self.started:
            nodes = self.document.graph.nodes
            self.document.move_nodes({node_id: pos for node_id, pos in self.start.items() if node_id in nodes},
                                     self.drag)


class MoveGroupGesture(Gesture):
    """Drag a group by its title (its nodes come along) or resize it by its corner.

    Items follow the mouse without touching the document; the release makes one
    undo step that moves the nodes and the frame together.
    """

    def __init__(self, view: "GraphView", view_pos: QPoint, scene_pos: QPointF, group: GroupItem,
                 resize: bool) -> None:
        super().__init__(view)
        self.press_view, self.press_scene = view_pos, scene_pos
        self.group, self.resize = group, resize
        self.rect = group.scene_rect()
        self.node_ids = [] if resize else self.scene.nodes_inside(self.rect)
        nodes = self.document.graph.nodes
        self.start = {node_id: (nodes[node_id].pos[0], nodes[node_id].pos[1]) for node_id in self.node_ids}
        self.delta = (0.0, 0.0)
        self.started = False

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        if not self.started and (view_pos - self.press_view).manhattanLength() < CLICK_SLOP:
            return
        self.started = True
        dx, dy = scene_pos.x() - self.press_scene.x(), scene_pos.y() - self.press_scene.y()
        self.delta = (dx, dy)
        if self.resize:
            self.group.set_size(self.rect.width() + dx, self.rect.height() + dy)
            return
        self.group.setPos(self.rect.x() + dx, self.rect.y() + dy)
        for node_id, (x, y) in self.start.items():
            item = self.scene.items_by_id.get(node_id)
            if item is not None:
                item.setPos(x + dx, y + dy)
                self.scene.links.node_changed(node_id)

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        if not self.started:
            return
        dx, dy = self.delta
        groups = copy.deepcopy(self.document.graph.groups)
        x, y, width, height = self.rect.x(), self.rect.y(), self.rect.width(), self.rect.height()
        if self.resize:
            groups[self.group.index]["rect"] = [x, y, self.group.rect.width(), self.group.rect.height()]
            self.document.set_groups(groups, "Resize group")
            return
        groups[self.group.index]["rect"] = [x + dx, y + dy, width, height]
        stack = self.document.undo_stack
        stack.beginMacro("Move group")
        self.document.move_nodes({node_id: (nx + dx, ny + dy) for node_id, (nx, ny) in self.start.items()})
        self.document.set_groups(groups, "Move group")
        stack.endMacro()

    def cancel(self) -> None:
        self.group.setPos(self.rect.x(), self.rect.y())
        self.group.set_size(self.rect.width(), self.rect.height())
        for node_id, (x, y) in self.start.items():
            item = self.scene.items_by_id.get(node_id)
            if item is not None:
                item.setPos(x, y)
                self.scene.links.node_changed(node_id)


class LinkGesture(Gesture):
    """Drag from a socket to a socket to connect.

    From an output, or from an input that is already linked (which lifts that link
    off to re-route or detach it), the loose end is an input end; from a free input
    the loose end is an output end. Dropped on a node's body, the first fitting
    socket is used; dropped on empty canvas, the palette opens for a node to
    connect (or, for a lifted link, the link is removed).
    """

    def __init__(self, view: "GraphView", socket: SocketRef) -> None:
        super().__init__(view)
        self.lifted: tuple[str, str] | None = None
        graph = self.document.graph
        value = None if socket.output else graph.nodes[socket.node_id].inputs.get(socket.name)
        if socket.output:
            self.source: tuple[str, str] | None = (socket.node_id, socket.name)
            self.reader: tuple[str, str] | None = None
            self.anchor, self.type = socket.point, socket.type
        elif is_link(value) and value[0] in self.scene.items_by_id:
            self.lifted = (socket.node_id, socket.name)
            self.source, self.reader = (value[0], value[1]), None
            source_item = self.scene.items_by_id[value[0]]
            self.anchor = source_item.output_points.get(value[1], QPointF()) + source_item.pos()
            self.type = source_item.output_types.get(value[1], socket.type)
            self.scene.links.set_lifted(self.lifted)
        else:
            self.source, self.reader = None, (socket.node_id, socket.name)
            self.anchor, self.type = socket.point, socket.type
        self.pending = PendingLink(self.type)
        self.scene.addItem(self.pending)
        self.move(QPoint(), socket.point)

    @property
    def from_output(self) -> bool:
        return self.source is not None

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        end = scene_pos
        hit = self.scene.socket_at(scene_pos, self.view.socket_reach())
        if hit is not None and hit.output != self.from_output:
            end = hit.point
        if self.from_output:
            self.pending.set_ends(self.anchor, end)
        else:
            self.pending.set_ends(end, self.anchor)

    def _finish(self) -> None:
        self.scene.removeItem(self.pending)
        self.scene.links.set_lifted(None)

    def cancel(self) -> None:
        self._finish()

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        self._finish()
        hit = self.scene.socket_at(scene_pos, self.view.socket_reach())
        node = self.scene.node_at(scene_pos) if hit is None else None
        if hit is not None and hit.output == self.from_output:
            side = "an input (left side)" if self.from_output else "an output (right side)"
            self.view.hint.emit(f"Drop the link on {side} of a node")
            return
        if self.from_output:
            if hit is not None:
                target: tuple[str, str] | None = (hit.node_id, hit.name)
            elif node is not None and node.node_id != self.source[0]:
                target = fitting.pick_input(self.scene, node.node_id, self.type)
                if target is None:
                    self.view.hint.emit(f"{node.title} has no input that takes {self.type}")
                    return
            elif node is not None:
                return
            else:
                if self.lifted is not None:
                    self.document.disconnect(*self.lifted)
                    self.view.hint.emit("Link removed")
                else:
                    self.view.open_palette(view_pos, from_output=(self.source[0], self.source[1], self.type))
                return
            self._connect(self.source, target)
        else:
            if hit is not None:
                source: tuple[str, str] | None = (hit.node_id, hit.name)
            elif node is not None and node.node_id != self.reader[0]:
                source = fitting.pick_output(self.scene, node.node_id, self.type)
                if source is None:
                    self.view.hint.emit(f"{node.title} has no output that gives {self.type}")
                    return
            elif node is not None:
                return
            else:
                self.view.open_palette(view_pos, into_input=(self.reader[0], self.reader[1], self.type))
                return
            self._connect(source, self.reader)

    def _connect(self, source: tuple[str, str], target: tuple[str, str]) -> None:
        if self.lifted == target:
            return
        try:
            self.document.check_connection(source[0], source[1], target[0], target[1])
        except ConnectionRefused as refusal:
            self.view.hint.emit(str(refusal))
            return
        if self.lifted is None:
            self.document.connect(source[0], source[1], target[0], target[1])
            return
        stack = self.document.undo_stack
        stack.beginMacro("Move link")
        self.document.disconnect(*self.lifted)
        self.document.connect(source[0], source[1], target[0], target[1])
        stack.endMacro()


class BoxSelectGesture(Gesture):
    """Drag on empty canvas: select the nodes the box touches (Ctrl or Shift adds)."""

    def __init__(self, view: "GraphView", view_pos: QPoint, scene_pos: QPointF, additive: bool) -> None:
        super().__init__(view)
        self.press_view, self.press_scene = view_pos, scene_pos
        self.initial = set(self.scene.selected_set) if additive else set()
        self.band: QGraphicsRectItem | None = None

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        if self.band is None:
            if (view_pos - self.press_view).manhattanLength() < CLICK_SLOP:
                return
            self.band = QGraphicsRectItem()
            self.band.setZValue(2000)
            self.band.setPen(style.pen(style.ACCENT.name(), 1.0, Qt.PenStyle.DashLine, cosmetic=True))
            self.band.setBrush(style.brush(style.name(style.translucent(style.ACCENT, 28))))
            self.scene.addItem(self.band)
        rect = QRectF(self.press_scene, scene_pos).normalized()
        self.band.setRect(rect)
        area = QPainterPath()
        area.addRect(rect)
        with self.scene.batch_selection():
            self.scene.setSelectionArea(area, Qt.ItemSelectionOperation.ReplaceSelection,
                                        Qt.ItemSelectionMode.IntersectsItemShape, QTransform())
            for node_id in self.initial:
                item = self.scene.items_by_id.get(node_id)
                if item is not None:
                    item.setSelected(True)

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        self.cancel()

    def cancel(self) -> None:
        if self.band is not None:
            self.scene.removeItem(self.band)
            self.band = None
