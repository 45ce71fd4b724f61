"""What a mouse drag on the tracks does, one small class per kind of drag.

The canvas starts a gesture on a press (move clips, trim an edge, box select, pan),
feeds it the moves and lets it finish on release. While the drag is under way only
the items move; the release makes ONE document call (one undo step). When the
document refuses, the items go back to where the document has them and the reason
goes out through the view's ``hint``.

Dragged edges snap (when snapping is on) to clip edges, markers, the playhead and 0
within :data:`~desktop.timeline_style.SNAP_PIXELS`; the snap line shows where.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtWidgets import QGraphicsRectItem

from desktop import timeline_style as style
from desktop.timeline_items import ClipItem
from desktop.timeline_scene import Row
from nodes.timeline import ImageSource
from nodes.timeline_edits import TimelineEditRefused

if TYPE_CHECKING:
    from desktop.timeline_canvas import TimelineCanvas

#: A press that moves less than this (in pixels) is a click, not a drag.
CLICK_SLOP = 3
EPSILON = 1e-9


def nearest_snap(edges: Iterable[float], points: list[float], threshold: float) -> tuple[float, float] | None:
    """(shift, point): the smallest shift that puts one of ``edges`` on one of ``points``,
    when it is within ``threshold`` seconds; None when none is that close."""
    best: tuple[float, float] | None = None
    for edge in edges:
        for point in points:
            shift = point - edge
            if abs(shift) <= threshold and (best is None or abs(shift) < abs(best[0])):
                best = (shift, point)
    return best


class Gesture:
    #: The clips the drag holds on to: if one goes (undo from a menu), the drag is cancelled.
    clip_ids: tuple[str, ...] = ()

    def __init__(self, canvas: "TimelineCanvas") -> None:
        self.canvas = canvas
        self.scene = canvas.timeline_scene
        self.document = canvas.timeline_scene.document

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        """The mouse moved with the button held."""

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        """The button came up: make the change."""

    def cancel(self) -> None:
        """Forget the drag (focus lost, Esc): nothing changes."""

    def snap_points(self, exclude: Iterable[str]) -> list[float]:
        points = self.document.snap_points(exclude)
        points.append(self.scene.playhead)
        return points

    def snap_threshold(self) -> float:
        return style.SNAP_PIXELS / self.scene.pixels_per_second if self.canvas.snapping else -1.0

    def refused(self, refusal: TimelineEditRefused) -> None:
        self.scene.layout_items()
        self.canvas.hint.emit(str(refusal))


class MoveClipsGesture(Gesture):
    """Drag the selected clips along the time (all by the same seconds) and up or down
    (all by the same number of rows, video clips staying on video tracks and sound on
    audio tracks)."""

    def __init__(self, canvas: "TimelineCanvas", view_pos: QPoint, scene_pos: QPointF, clip_ids: list[str],
                 grabbed: ClipItem, select_on_click: bool) -> None:
        super().__init__(canvas)
        self.press_view, self.press_scene = view_pos, scene_pos
        self.items = {clip_id: self.scene.items_by_id[clip_id] for clip_id in clip_ids}
        self.clip_ids = tuple(clip_ids)
        self.grabbed = grabbed
        self.select_on_click = select_on_click
        self.started = False
        self.points = self.snap_points(clip_ids)
        self.moves: dict[str, tuple[float, str]] = {}
        self.rows = list(self.scene.rows)
        self.own_rows = {clip_id: self.scene.rows_by_track[item.look.track_id] for clip_id, item in self.items.items()}
        # every clip moves by the same rows and stays among its own sort of tracks
        self.lowest_shift = max(self._group(row)[0] - row.index for row in self.own_rows.values())
        self.highest_shift = min(self._group(row)[1] - row.index for row in self.own_rows.values())

    def _group(self, row: Row) -> tuple[int, int]:
        """The first and last row index of the rows of ``row``'s sort (video or audio)."""
        same = [other.index for other in self.rows if other.audio == row.audio]
        return min(same), max(same)

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        if not self.started and (view_pos - self.press_view).manhattanLength() < CLICK_SLOP:
            return
        if not self.started:
            self.started = True
            for item in self.items.values():
                item.dragging = True
                item.setZValue(item.zValue() + 10000)  # over the clips it passes
        shift = self.scene.time_of(scene_pos.x() - self.press_scene.x())
        earliest = min(item.look.start for item in self.items.values())
        shift = max(shift, -earliest)
        edges = [edge for item in self.items.values()
                 for edge in (item.look.start + shift, item.look.start + item.look.length + shift)]
        snapped = nearest_snap(edges, self.points, self.snap_threshold())
        if snapped is not None and earliest + shift + snapped[0] >= -EPSILON:
            shift += snapped[0]
            self.scene.show_snap(snapped[1])
        else:
            self.scene.show_snap(None)
        target = self.scene.nearest_row(scene_pos.y())
        own = self.own_rows[self.grabbed.clip_id]
        rows_shift = 0 if target is None else min(max(target.index - own.index, self.lowest_shift), self.highest_shift)
        self.moves = {}
        for clip_id, item in self.items.items():
            row = self.rows[self.own_rows[clip_id].index + rows_shift]
            start = max(0.0, item.look.start + shift)
            self.moves[clip_id] = (start, row.track_id)
            item.setPos(self.scene.x_of(start), row.top + style.CLIP_INSET)
        self.canvas.show_drag_time(self.moves[self.grabbed.clip_id][0])

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        self._finish()
        if not self.started:
            if self.select_on_click:
                self.scene.select([self.grabbed.clip_id])
            return
        changed = {clip_id: move for clip_id, move in self.moves.items()
                   if abs(move[0] - self.items[clip_id].look.start) > EPSILON
                   or move[1] != self.items[clip_id].look.track_id}
        if not changed:
            self.scene.layout_items()
            return
        try:
            self.document.move_clips(self.moves)
        except TimelineEditRefused as refusal:
            self.refused(refusal)

    def cancel(self) -> None:
        self._finish()
        self.scene.layout_items()

    def _finish(self) -> None:
        self.scene.show_snap(None)
        self.canvas.show_drag_time(None)
        for item in self.items.values():
            item.dragging = False
            if self.started:
                item.setZValue(item.zValue() - 10000)


class TrimGesture(Gesture):
    """Drag a clip's left or right edge; the left edge takes the source with it."""

    def __init__(self, canvas: "TimelineCanvas", item: ClipItem, edge: str, scene_pos: QPointF) -> None:
        super().__init__(canvas)
        self.item, self.edge = item, edge
        self.clip_ids = (item.clip_id,)
        self.press_scene = scene_pos
        self.started = False
        look = item.look
        self.start, self.end = look.start, look.start + look.length
        fps = self.document.project.timeline.fps or 24.0
        frame = 1.0 / fps
        _, clip = self.document.find_clip(look.clip_id)
        still = isinstance(clip.source, ImageSource)
        source_length = self.document.source_length(look.clip_id)
        if edge == "start":
            self.lowest = 0.0 if still else max(0.0, look.start - look.source_in / look.speed)
            self.highest = self.end - min(frame, look.length)
        else:
            self.lowest = self.start + min(frame, look.length)
            self.highest = math.inf if still or source_length is None else \
                max(self.lowest, look.start + (source_length - look.source_in) / look.speed)
        self.points = self.snap_points([look.clip_id])
        self.time = self.start if edge == "start" else self.end

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        self.started = True
        self.item.dragging = True
        original = self.start if self.edge == "start" else self.end
        wanted = original + self.scene.time_of(scene_pos.x() - self.press_scene.x())
        snapped = nearest_snap([wanted], self.points, self.snap_threshold())
        if snapped is not None and self.lowest - EPSILON <= snapped[1] <= self.highest + EPSILON:
            wanted = snapped[1]
            self.scene.show_snap(snapped[1])
        else:
            self.scene.show_snap(None)
        self.time = min(max(wanted, self.lowest), self.highest)
        start, end = (self.time, self.end) if self.edge == "start" else (self.start, self.time)
        self.item.set_geometry(self.scene.x_of(start), self.item.y(), self.scene.x_of(end - start), self.item.height)
        self.canvas.show_drag_time(self.time)

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        self._finish()
        original = self.start if self.edge == "start" else self.end
        if not self.started or abs(self.time - original) < EPSILON:
            self.scene.layout_items()
            return
        try:
            self.document.trim_clip(self.item.clip_id, self.edge, self.time)
        except TimelineEditRefused as refusal:
            self.refused(refusal)

    def cancel(self) -> None:
        self._finish()
        self.scene.layout_items()

    def _finish(self) -> None:
        self.item.dragging = False
        self.scene.show_snap(None)
        self.canvas.show_drag_time(None)


class BoxSelectGesture(Gesture):
    """Drag on empty track space: select the clips the box touches."""

    def __init__(self, canvas: "TimelineCanvas", scene_pos: QPointF, additive: bool) -> None:
        super().__init__(canvas)
        self.origin = scene_pos
        self.before = list(self.scene.selected_ids) if additive else []
        self.box = QGraphicsRectItem()
        self.box.setPen(style.pen(style.ACCENT.name()))
        self.box.setBrush(style.brush(style.name(style.translucent(style.ACCENT, 36))))
        self.box.setZValue(1e6 + 1)
        self.box.setVisible(False)
        self.scene.addItem(self.box)

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        area = QRectF(self.origin, scene_pos).normalized()
        self.box.setRect(area)
        self.box.setVisible(True)
        self.scene.select(self.before + self.scene.clips_in(area))

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        self.cancel()

    def cancel(self) -> None:
        if self.box.scene() is not None:
            self.scene.removeItem(self.box)


class PanGesture(Gesture):
    """Middle button: the tracks follow the hand."""

    def __init__(self, canvas: "TimelineCanvas", view_pos: QPoint) -> None:
        super().__init__(canvas)
        self.last = view_pos
        canvas.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        delta = view_pos - self.last
        self.last = view_pos
        self.canvas.scroll_by(-delta.x(), -delta.y())

    def release(self, view_pos: QPoint, scene_pos: QPointF) -> None:
        self.cancel()

    def cancel(self) -> None:
        self.canvas.viewport().setCursor(Qt.CursorShape.ArrowCursor)
