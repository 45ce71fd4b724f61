"""The tracks' QGraphicsView: turns mouse and wheel into gestures, zoom and scroll.

A press on a clip's body selects it and starts a move; near its left or right edge
(the cursor turns into a sizing arrow there) it starts a trim; on empty space it
starts a box selection; the middle button pans. The wheel scrolls along the time
(Shift+wheel: up and down the tracks), Ctrl+wheel zooms around the mouse. Keys go
to the :class:`~desktop.timeline_view.TimelineView` that owns the canvas.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsView, QLabel, QWidget

from desktop import timeline_style as style
from desktop.timeline_gestures import BoxSelectGesture, Gesture, MoveClipsGesture, PanGesture, TrimGesture
from desktop.timeline_items import ClipItem
from desktop.timeline_scene import TimelineScene
from desktop.timeline_time import timecode

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
#: Wheel zoom: the factor per notch (120 units of angle delta).
WHEEL_ZOOM = 1.2


class TimelineCanvas(QGraphicsView):
    #: A refusal or tip for the status bar.
    hint = Signal(str)
    #: The visible part moved (scroll, zoom, resize): the ruler and headers follow.
    viewChanged = Signal()

    def __init__(self, scene: TimelineScene, keys: Callable[[QKeyEvent], bool], owned_key: Callable[[QKeyEvent], bool],
                 parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.timeline_scene = scene
        self._keys = keys
        self._owned_key = owned_key
        self.snapping = True
        self._gesture: Gesture | None = None
        self._mouse = QPoint(0, 0)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setObjectName("timelineTracks")
        self.drag_time = QLabel(self.viewport())
        self.drag_time.setObjectName("timelineDragTime")
        self.drag_time.setVisible(False)

    # ----- where things are -------------------------------------------------------------------------
    def left_scene_x(self) -> float:
        """The scene x at the viewport's left edge."""
        return self.mapToScene(QPoint(0, 0)).x()

    def top_scene_y(self) -> float:
        return self.mapToScene(QPoint(0, 0)).y()

    def scroll_by(self, dx: int, dy: int) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + dx)
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + dy)

    def scroll_to_x(self, scene_x: float) -> None:
        """Scroll so ``scene_x`` is at the viewport's left edge."""
        bar = self.horizontalScrollBar()
        bar.setValue(bar.value() + round(scene_x - self.left_scene_x()))

    def zoom_at(self, pixels_per_second: float, anchor_x: float | None = None) -> None:
        """Zoom, keeping the time under ``anchor_x`` (viewport pixels) in place."""
        scene = self.timeline_scene
        anchor_x = self.viewport().width() / 2 if anchor_x is None else anchor_x
        fixed = scene.time_of(self.left_scene_x() + anchor_x)
        scene.set_pixels_per_second(pixels_per_second)
        self.scroll_to_x(scene.x_of(fixed) - anchor_x)
        self.viewChanged.emit()

    def edge_at(self, item: ClipItem, scene_pos: QPointF) -> str | None:
        """Which edge of ``item`` a press at ``scene_pos`` grabs, if any."""
        local = scene_pos.x() - item.x()
        reach = min(style.EDGE_GRAB, item.width / 3)
        if local <= reach:
            return "start"
        if item.width - local <= reach:
            return "end"
        return None

    def show_drag_time(self, seconds: float | None) -> None:
        """The time of what is being dragged, in a small label by the mouse."""
        if seconds is None:
            self.drag_time.setVisible(False)
            return
        self.drag_time.setText(timecode(seconds, self.timeline_scene.document.project.timeline.fps))
        self.drag_time.adjustSize()
        where = self._mouse
        x = min(max(4, where.x() + 14), self.viewport().width() - self.drag_time.width() - 4)
        y = min(max(4, where.y() - self.drag_time.height() - 10), self.viewport().height() - self.drag_time.height())
        self.drag_time.move(x, y)
        self.drag_time.setVisible(True)
        self.drag_time.raise_()

    # ----- mouse ---------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.cancel_gesture()
        view_pos = self._mouse = event.position().toPoint()
        scene_pos = self.mapToScene(view_pos)
        button, modifiers = event.button(), event.modifiers()
        event.accept()
        if button == Qt.MouseButton.MiddleButton:
            self._gesture = PanGesture(self, view_pos)
            return
        if button != Qt.MouseButton.LeftButton:
            return
        scene = self.timeline_scene
        item = scene.clip_at(scene_pos)
        if item is None:
            if not modifiers & (CTRL | SHIFT):
                scene.select([])
            self._gesture = BoxSelectGesture(self, scene_pos, bool(modifiers & (CTRL | SHIFT)))
            return
        edge = None if modifiers & (CTRL | SHIFT) else self.edge_at(item, scene_pos)
        if edge is not None:
            scene.select([item.clip_id])
            self._gesture = TrimGesture(self, item, edge, scene_pos)
            return
        select_on_click = False
        if modifiers & CTRL:
            if item.selected:
                scene.select([clip_id for clip_id in scene.selected_ids if clip_id != item.clip_id])
                return
            scene.select([*scene.selected_ids, item.clip_id])
        elif modifiers & SHIFT:
            scene.select([*scene.selected_ids, item.clip_id])
        elif not item.selected:
            scene.select([item.clip_id])
        else:
            select_on_click = len(scene.selected_ids) > 1
        self._gesture = MoveClipsGesture(self, view_pos, scene_pos, list(scene.selected_ids), item, select_on_click)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        view_pos = self._mouse = event.position().toPoint()
        scene_pos = self.mapToScene(view_pos)
        if self._gesture is not None:
            self._gesture.move(view_pos, scene_pos)
            event.accept()
            return
        item = self.timeline_scene.clip_at(scene_pos)
        sizing = item is not None and self.edge_at(item, scene_pos) is not None
        self.viewport().setCursor(Qt.CursorShape.SizeHorCursor if sizing else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        view_pos = event.position().toPoint()
        gesture, self._gesture = self._gesture, None
        if gesture is not None:
            scene_pos = self.mapToScene(view_pos)
            gesture.move(view_pos, scene_pos)
            gesture.release(view_pos, scene_pos)
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.mousePressEvent(event)

    def cancel_gesture(self) -> None:
        if self._gesture is not None:
            gesture, self._gesture = self._gesture, None
            gesture.cancel()

    @property
    def dragging(self) -> bool:
        return self._gesture is not None

    def dragged_clips(self) -> tuple[str, ...]:
        """The clips the gesture under way holds on to (none when no drag is under way)."""
        return self._gesture.clip_ids if self._gesture is not None else ()

    def focusOutEvent(self, event: Any) -> None:
        if event.reason() != Qt.FocusReason.PopupFocusReason:
            self.cancel_gesture()
        super().focusOutEvent(event)

    # ----- wheel, keys, size ------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        if event.modifiers() & CTRL:
            steps = (delta.y() or delta.x()) / 120.0
            if steps:
                self.zoom_at(self.timeline_scene.pixels_per_second * WHEEL_ZOOM ** steps, event.position().x())
        elif event.modifiers() & SHIFT:
            self.scroll_by(0, -(delta.y() or delta.x()))
        else:
            self.scroll_by(-(delta.x() or delta.y()), 0)
        event.accept()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and (
                self._owned_key(event) or (event.key() == Qt.Key.Key_Escape and self._gesture is not None)):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._gesture is not None:
            self.cancel_gesture()
            event.accept()
            return
        if self._keys(event):
            event.accept()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.timeline_scene.minimum_width = float(self.viewport().width())
        self.timeline_scene.minimum_height = float(self.viewport().height())
        self.timeline_scene.update_extent()
        self.viewChanged.emit()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.viewChanged.emit()
