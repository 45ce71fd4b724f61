"""The graph editor: a QGraphicsView over a WorkflowDocument.

The view turns mouse and keyboard into document edits (add, connect, move,
delete, bypass, collapse, align, group, copy/paste) and never touches the Graph
itself; the scene repaints from the document's signals, so undo and redo show
up on the canvas by themselves. Drags are gestures (``desktop/graph_gestures.py``).

Keys (when the canvas has focus): Tab or double-click on empty canvas opens the
palette; Delete; Ctrl+B bypass; Alt+C collapse; Ctrl+C / Ctrl+V / Ctrl+D copy,
paste, duplicate; Ctrl+A select all; Ctrl+G group; Ctrl+Shift+Left / Up align
left / top; F fit; Ctrl+Z / Ctrl+Shift+Z undo / redo; space + drag or the middle
button pans; the wheel zooms around the cursor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent, QDropEvent, QKeyEvent, QMouseEvent, QPainter, QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsView, QWidget

from desktop import graph_fitting as fitting
from desktop import graph_style as style
from desktop.document import WorkflowDocument
from desktop.graph_gestures import (
    BoxSelectGesture, Gesture, LinkGesture, MoveGroupGesture, MoveNodesGesture, PanGesture,
)
from desktop.graph_edits import CanvasEdits
from desktop.graph_groups import GroupTitleEditor
from desktop.graph_items import RerouteItem
from desktop.graph_minimap import Minimap
from desktop.graph_scene import GraphScene
from desktop.palette import NodePalette

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier
#: Keys the canvas keeps for itself while focused, even if a window action uses them too.
CANVAS_KEYS = {
    (Qt.Key.Key_Delete, 0), (Qt.Key.Key_Backspace, 0), (Qt.Key.Key_B, CTRL), (Qt.Key.Key_C, ALT),
    (Qt.Key.Key_C, CTRL), (Qt.Key.Key_V, CTRL), (Qt.Key.Key_D, CTRL), (Qt.Key.Key_A, CTRL), (Qt.Key.Key_G, CTRL),
    (Qt.Key.Key_F, 0), (Qt.Key.Key_Left, CTRL | SHIFT), (Qt.Key.Key_Up, CTRL | SHIFT),
}


class GraphView(CanvasEdits, QGraphicsView):
    #: Ids of the selected nodes, in document order.
    selectionChangedIds = Signal(list)
    #: A refusal or tip for the status bar.
    hint = Signal(str)
    #: A node body was double-clicked: the inspector focuses it.
    nodeActivated = Signal(str)
    #: Files were dropped on the canvas (a workflow or a PNG carrying one).
    filesDropped = Signal(list)

    def __init__(self, document: WorkflowDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.graph_scene = GraphScene(document, self)
        self.setScene(self.graph_scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setBackgroundBrush(style.BACKGROUND)
        self.space_held = False
        self._gesture: Gesture | None = None
        self._cursor: QPoint | None = None
        self._palette_request: tuple[QPointF, tuple[str, str, str] | None, tuple[str, str, str] | None] | None = None
        self._fitted_once = False
        self._last_selection: list[str] = []
        self.node_palette = NodePalette(document.registry, self)
        self.node_palette.chosen.connect(self._palette_chosen)
        self.node_palette.dismissed.connect(self._palette_dismissed)
        self.minimap = Minimap(self)
        self.minimap.setVisible(bool(self.graph_scene.items_by_id))
        self.graph_scene.nodeSelectionChanged.connect(self._selection_changed)
        self.graph_scene.contentChanged.connect(self._content_changed)
        self._title_editor: GroupTitleEditor | None = None
        document.reset.connect(self._document_reset)

    # ----- the contract --------------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        chosen = self.graph_scene.selected_set
        return [node_id for node_id in self.document.graph.nodes if node_id in chosen]

    def select(self, node_ids: list[str]) -> None:
        self.graph_scene.select_ids(list(node_ids))

    def fit_all(self) -> None:
        """Zoom and scroll so every node and group is in view (never past 100 %)."""
        content = self.graph_scene.content_rect()
        if content.isNull():
            self.setTransform(QTransform())
            self.centerOn(0, 0)
        else:
            margin = max(content.width(), content.height()) * 0.03 + 30
            self.fitInView(content.adjusted(-margin, -margin, margin, margin), Qt.AspectRatioMode.KeepAspectRatio)
            scale = min(max(self.zoom(), style.MIN_SCALE), 1.0)
            self.setTransform(QTransform.fromScale(scale, scale))
            self.centerOn(content.center())
        self._transform_changed()

    def set_run_state(self, node_id: str, state: str, fraction: float | None = None,
                      preview: np.ndarray | None = None, message: str = "") -> None:
        """Show how a node's run goes: state in idle/queued/running/cached/done/error."""
        self.graph_scene.set_run_state(node_id, state, fraction, preview, message)

    def clear_run_states(self) -> None:
        self.graph_scene.clear_run_states()

    def add_node_at_cursor(self, type_name: str) -> str:
        """Add a node where the mouse is (the middle of the view if it is elsewhere) and select it."""
        point = self.cursor_scene_pos()
        node_id = self.document.add_node(type_name, (round(point.x() - 24), round(point.y() - 14)))
        self.select([node_id])
        return node_id

    # ----- zoom and scroll -----------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, scale: float, anchor: QPoint | None = None) -> None:
        """Zoom to ``scale``, keeping the scene point under ``anchor`` (view pixels) in place."""
        scale = min(max(scale, style.MIN_SCALE), style.MAX_SCALE)
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        fixed = self.mapToScene(anchor)
        self.setTransform(QTransform.fromScale(scale, scale))
        moved = self.mapFromScene(fixed) - anchor
        self.scroll_by(moved.x(), moved.y())
        self._transform_changed()

    def scroll_by(self, dx: int, dy: int) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + dx)
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + dy)

    def _transform_changed(self) -> None:
        self.graph_scene.set_far(self.zoom() < style.FAR_SCALE)
        self.minimap.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() or event.angleDelta().x()
        if steps:
            self.set_zoom(self.zoom() * (1.0015 ** steps), event.position().toPoint())
        event.accept()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.minimap.update()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        area = self.viewport().geometry()
        self.minimap.move(area.right() - self.minimap.width() - 10, area.bottom() - self.minimap.height() - 10)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._fitted_once:
            self._fitted_once = True
            self.fit_all()

    def socket_reach(self) -> float:
        """How far (scene units) from a socket a press still grabs it: about 8 pixels, at least 10 units."""
        return max(style.SOCKET_GRAB, 8.0 / max(self.zoom(), 1e-6))

    def cursor_scene_pos(self) -> QPointF:
        cursor = self._cursor
        if cursor is None or not self.viewport().rect().contains(cursor):
            cursor = self.viewport().rect().center()
        return self.mapToScene(cursor)

    # ----- mouse ---------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.node_palette.dismiss()
        if self._gesture is not None:
            self._gesture.cancel()
            self._gesture = None
        view_pos = event.position().toPoint()
        self._cursor = view_pos
        scene_pos = self.mapToScene(view_pos)
        button, modifiers = event.button(), event.modifiers()
        event.accept()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self.space_held):
            self._gesture = PanGesture(self, view_pos)
            return
        if button != Qt.MouseButton.LeftButton:
            return
        scene = self.graph_scene
        socket = None if scene.far else scene.socket_at(scene_pos, self.socket_reach())
        if socket is not None:
            self._gesture = LinkGesture(self, socket)
            return
        node = scene.node_at(scene_pos)
        if node is not None:
            local = scene_pos - node.pos()
            if (not isinstance(node, RerouteItem) and not scene.far and not modifiers
                    and node.collapse_toggle_rect().contains(local)):
                self.document.set_collapsed([node.node_id], not node.collapsed)
                return
            scene.select_group(None)
            if modifiers & CTRL:
                node.setSelected(not node.isSelected())
                if not node.isSelected():
                    return
            elif modifiers & SHIFT:
                node.setSelected(True)
            elif not node.isSelected():
                self.select([node.node_id])
            scene.raise_item(node)
            self._gesture = MoveNodesGesture(self, view_pos, scene_pos, self.selected_ids())
            return
        group = scene.group_handle_at(scene_pos) or scene.group_at_title(scene_pos)
        if group is not None:
            if not modifiers & (CTRL | SHIFT):
                self.select([])
            scene.select_group(group.index)
            resize = group.resize_handle_rect().contains(scene_pos)
            self._gesture = MoveGroupGesture(self, view_pos, scene_pos, group, resize)
            return
        scene.select_group(None)
        additive = bool(modifiers & (CTRL | SHIFT))
        if not additive:
            self.select([])
        self._gesture = BoxSelectGesture(self, view_pos, scene_pos, additive)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        view_pos = event.position().toPoint()
        self._cursor = view_pos
        if self._gesture is not None:
            self._gesture.move(view_pos, self.mapToScene(view_pos))
            event.accept()
            return
        if not self.space_held:
            over_socket = not self.graph_scene.far and \
                self.graph_scene.socket_at(self.mapToScene(view_pos), self.socket_reach()) is not None
            self.viewport().setCursor(Qt.CursorShape.CrossCursor if over_socket else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        view_pos = event.position().toPoint()
        gesture, self._gesture = self._gesture, None
        if gesture is not None:
            gesture.move(view_pos, self.mapToScene(view_pos))
            gesture.release(view_pos, self.mapToScene(view_pos))
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._gesture is not None:
            self._gesture.cancel()
            self._gesture = None
        event.accept()
        if event.button() != Qt.MouseButton.LeftButton:
            return
        view_pos = event.position().toPoint()
        scene_pos = self.mapToScene(view_pos)
        scene = self.graph_scene
        node = scene.node_at(scene_pos)
        if node is not None:
            local = scene_pos - node.pos()
            if not isinstance(node, RerouteItem) and local.y() < style.HEADER:
                self.document.set_collapsed([node.node_id], not node.collapsed)
            else:
                self.nodeActivated.emit(node.node_id)
            return
        group = scene.group_at_title(scene_pos)
        if group is not None:
            self.rename_group(group.index)
            return
        link = None if scene.far else scene.links.link_at(scene_pos, max(6.0, 6.0 / self.zoom()))
        if link is not None:
            self.add_reroute(link, scene_pos)
            return
        self.open_palette(view_pos)

    def leaveEvent(self, event: Any) -> None:
        self._cursor = None
        super().leaveEvent(event)

    def focusOutEvent(self, event: Any) -> None:
        if self._gesture is not None and event.reason() != Qt.FocusReason.PopupFocusReason:
            self._gesture.cancel()
            self._gesture = None
        super().focusOutEvent(event)

    # ----- keyboard ------------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) \
                and not event.modifiers() & (CTRL | ALT):
            self.open_palette()
            return True
        if event.type() == QEvent.Type.ShortcutOverride and (
                _combo(event) in CANVAS_KEYS or (event.key() == Qt.Key.Key_Escape and self._gesture is not None)):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, modifiers = event.key(), event.modifiers()
        combo = _combo(event)
        actions = {
            (Qt.Key.Key_Delete, 0): self.delete_selection,
            (Qt.Key.Key_Backspace, 0): self.delete_selection,
            (Qt.Key.Key_B, CTRL): self.toggle_bypass_selection,
            (Qt.Key.Key_C, ALT): self.toggle_collapse_selection,
            (Qt.Key.Key_C, CTRL): self.copy_selection,
            (Qt.Key.Key_V, CTRL): self.paste,
            (Qt.Key.Key_D, CTRL): self.duplicate_selection,
            (Qt.Key.Key_A, CTRL): lambda: self.select(list(self.document.graph.nodes)),
            (Qt.Key.Key_G, CTRL): self.group_selection,
            (Qt.Key.Key_F, 0): self.fit_all,
            (Qt.Key.Key_Left, CTRL | SHIFT): lambda: self.align_selection("left"),
            (Qt.Key.Key_Up, CTRL | SHIFT): lambda: self.align_selection("top"),
            (Qt.Key.Key_Z, CTRL): self.document.undo_stack.undo,
            (Qt.Key.Key_Z, CTRL | SHIFT): self.document.undo_stack.redo,
            (Qt.Key.Key_Y, CTRL): self.document.undo_stack.redo,
        }
        action = actions.get(combo)
        if action is not None:
            action()
            event.accept()
            return
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if key == Qt.Key.Key_Escape and self._gesture is not None:
            self._gesture.cancel()
            self._gesture = None
            event.accept()
            return
        if not modifiers & ~Qt.KeyboardModifier.KeypadModifier and key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.set_zoom(self.zoom() * 1.25)
        elif not modifiers & ~Qt.KeyboardModifier.KeypadModifier and key == Qt.Key.Key_Minus:
            self.set_zoom(self.zoom() / 1.25)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.space_held = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # ----- the palette ---------------------------------------------------------------------------
    def open_palette(self, view_pos: QPoint | None = None, from_output: tuple[str, str, str] | None = None,
                     into_input: tuple[str, str, str] | None = None) -> None:
        """Open the node palette at ``view_pos``; with a link end given, only nodes that fit it."""
        if view_pos is None:
            view_pos = self._cursor if self._cursor is not None and self.viewport().rect().contains(self._cursor) \
                else self.viewport().rect().center()
        self._palette_request = (self.mapToScene(view_pos), from_output, into_input)
        accepts = prefer = None
        caption = ""
        if from_output is not None:
            accepts, prefer = fitting.takes(from_output[2])
            caption = f"Nodes that take {from_output[2]}"
        elif into_input is not None:
            accepts, prefer = fitting.gives(into_input[2])
            caption = f"Nodes that give {into_input[2]}"
        self.node_palette.popup(self.viewport().mapTo(self, view_pos), accepts, caption, prefer)

    def _palette_chosen(self, type_name: str) -> None:
        request, self._palette_request = self._palette_request, None
        self.setFocus(Qt.FocusReason.PopupFocusReason)
        if request is None:
            self.add_node_at_cursor(type_name)
            return
        point, from_output, into_input = request
        stack = self.document.undo_stack
        stack.beginMacro(f"Add {type_name}")
        node_id = self.document.add_node(type_name, (round(point.x() - 24), round(point.y() - 14)))
        try:
            if from_output is not None:
                target = fitting.pick_input(self.graph_scene, node_id, from_output[2])
                if target is not None:
                    self.document.connect(from_output[0], from_output[1], *target)
            elif into_input is not None:
                source = fitting.pick_output(self.graph_scene, node_id, into_input[2])
                if source is not None:
                    self.document.connect(*source, into_input[0], into_input[1])
        except ValueError as refusal:
            self.hint.emit(str(refusal))
        finally:
            stack.endMacro()
        self.select([node_id])

    def _palette_dismissed(self) -> None:
        self._palette_request = None
        self.setFocus(Qt.FocusReason.PopupFocusReason)

    # ----- following the document and the scene --------------------------------------------------
    def _document_reset(self) -> None:
        if self._gesture is not None:
            self._gesture.cancel()
            self._gesture = None
        self.node_palette.dismiss()
        if self._title_editor is not None:
            self._title_editor.cancel()
        self.fit_all()

    def _selection_changed(self) -> None:
        selection = self.selected_ids()
        if selection != self._last_selection:
            self._last_selection = selection
            self.selectionChangedIds.emit(selection)

    def _content_changed(self) -> None:
        self.minimap.setVisible(bool(self.graph_scene.items_by_id))

    # ----- files dropped on the canvas -----------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: Any) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths)
        else:
            super().dropEvent(event)


def _combo(event: QKeyEvent) -> tuple[int, Any]:
    modifiers = event.modifiers() & (CTRL | SHIFT | ALT)
    return event.key(), (modifiers if modifiers else 0)


