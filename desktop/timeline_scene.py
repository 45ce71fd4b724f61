"""The tracks as a QGraphicsScene: one row per track, one item per clip, the playhead
and snap lines on top, kept in step with a ProjectDocument.

Scene units are pixels: x = seconds × ``pixels_per_second`` (zooming lays the items
out again rather than scaling the view, so names, thumbnails and waveforms keep
their size), y runs down the rows: video tracks first, the last one on top as it
covers the others in the picture, then the audio tracks in mixing order.

The scene never edits the document; the canvas does. Selection is kept here by clip
id, so it survives a rebuild (undo, redo, open).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsScene

from desktop import timeline_style as style
from desktop.timeline_document import ProjectDocument
from desktop.timeline_items import ClipItem, ClipLook, LineItem, clip_label
from desktop.timeline_media import MediaLoader, media_for
from desktop.timeline_time import tick_steps, tick_times
from nodes.timeline import GraphSource, Track

#: Empty time drawn after the last clip, so there is room to drag clips later.
TAIL_SECONDS = 30.0


@dataclass(frozen=True)
class Row:
    """Where a track is drawn."""

    track_id: str
    kind: str
    name: str
    muted: bool
    top: float
    height: float
    audio: bool
    #: Position among the rows, top first.
    index: int

    @property
    def bottom(self) -> float:
        return self.top + self.height


class TimelineScene(QGraphicsScene):
    #: The selected clip ids changed (in timeline order).
    selectionChangedIds = Signal(list)
    #: Rows were laid out again (tracks added, removed, renamed, muted): the headers repaint.
    rowsChanged = Signal()

    def __init__(self, document: ProjectDocument, loader: MediaLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self.document = document
        self.loader = loader
        self.pixels_per_second = style.DEFAULT_PIXELS_PER_SECOND
        self.rows: list[Row] = []
        self.rows_by_track: dict[str, Row] = {}
        self.items_by_id: dict[str, ClipItem] = {}
        self.selected_ids: list[str] = []
        self.playhead = 0.0
        #: The canvas's visible size: the scene is never smaller, so the playhead spans the view.
        self.minimum_width = 800.0
        self.minimum_height = 200.0
        self.content_height = 0.0
        self.playhead_line = LineItem(1.0, style.PLAYHEAD_PEN, 1e6)
        self.snap_line = LineItem(1.0, style.SNAP_PEN, 1e6 - 1)
        self.snap_line.setVisible(False)
        self.addItem(self.playhead_line)
        self.addItem(self.snap_line)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        loader.changed.connect(self.update)
        self.sync()

    # ----- time and place ---------------------------------------------------------------------------
    def x_of(self, seconds: float) -> float:
        return seconds * self.pixels_per_second

    def time_of(self, x: float) -> float:
        return x / self.pixels_per_second

    def set_pixels_per_second(self, value: float) -> None:
        value = min(max(value, style.MIN_PIXELS_PER_SECOND), style.MAX_PIXELS_PER_SECOND)
        if value != self.pixels_per_second:
            self.pixels_per_second = value
            self.layout_items()

    def row_at(self, y: float) -> Row | None:
        return next((row for row in self.rows if row.top <= y < row.bottom), None)

    def nearest_row(self, y: float) -> Row | None:
        """The row at ``y``, or the closest one above or below all of them."""
        if not self.rows:
            return None
        return self.row_at(y) or min(self.rows, key=lambda row: min(abs(row.top - y), abs(row.bottom - y)))

    def clip_at(self, point: QPointF) -> ClipItem | None:
        found = [item for item in self.items(point) if isinstance(item, ClipItem)]
        return found[0] if found else None

    def clips_in(self, area: QRectF) -> list[str]:
        return [item.clip_id for item in self.items(area) if isinstance(item, ClipItem)]

    # ----- following the document ----------------------------------------------------------------------
    def sync(self) -> None:
        """Make rows and items match the document (after any edit, undo, redo or reset)."""
        timeline = self.document.project.timeline
        self._layout_rows(list(reversed(timeline.video_tracks)), list(timeline.audio_tracks))
        lengths = self.document.lengths()
        values = self.loader.values()
        seen: set[str] = set()
        for track in timeline.tracks():
            row = self.rows_by_track[track.id]
            for order, clip in enumerate(sorted(track.clips, key=lambda item: item.start)):
                seen.add(clip.id)
                look = ClipLook(
                    clip.id, track.id, self._colour_kind(track, clip), clip_label(clip), clip.start,
                    lengths.get(clip.id, 0.0), clip.source_in, clip.speed, clip.gain_db, clip.fade_in, clip.fade_out,
                    clip.transition_in, clip.transition_out, media_for(self.document.project, clip, values),
                    isinstance(clip.source, GraphSource), track.muted, row.audio)
                item = self.items_by_id.get(clip.id)
                if item is None:
                    item = self.items_by_id[clip.id] = ClipItem(self, look)
                    self.addItem(item)
                else:
                    item.set_look(look)
                item.setZValue(order + 1)
        for clip_id in [clip_id for clip_id in self.items_by_id if clip_id not in seen]:
            self.removeItem(self.items_by_id.pop(clip_id))
        kept = [clip_id for clip_id in self.selected_ids if clip_id in self.items_by_id]
        self.layout_items()
        self.select(kept)

    def _colour_kind(self, track: Track, clip: Any) -> str:
        if track.is_audio:
            return track.kind
        return "graph" if isinstance(clip.source, GraphSource) else "video"

    def _layout_rows(self, video: list[Track], audio: list[Track]) -> None:
        rows: list[Row] = []
        top = 0.0
        for group, tracks in ((False, video), (True, audio)):
            if group and rows:
                top += style.GROUP_GAP
            for track in tracks:
                height = style.AUDIO_ROW if group else style.VIDEO_ROW
                rows.append(Row(track.id, track.kind, track.name or track.id, track.muted, top, height, group,
                                len(rows)))
                top += height
        changed = rows != self.rows
        self.rows = rows
        self.rows_by_track = {row.track_id: row for row in rows}
        self.content_height = top
        if changed:
            self.rowsChanged.emit()

    def layout_items(self) -> None:
        """Put every item where its clip is at the current zoom."""
        for item in self.items_by_id.values():
            if item.dragging:
                continue
            look = item.look
            row = self.rows_by_track[look.track_id]
            item.set_geometry(self.x_of(look.start), row.top + style.CLIP_INSET, self.x_of(look.length),
                              row.height - 2 * style.CLIP_INSET)
        self.update_extent()
        self.update()

    def update_extent(self) -> None:
        """Size the scene to the clips plus room after them (at least the visible width)."""
        end = max((item.look.start + item.look.length for item in self.items_by_id.values()), default=0.0)
        width = max(self.x_of(end + max(TAIL_SECONDS, end * 0.25)), self.minimum_width)
        height = max(self.content_height + style.BOTTOM_SPACE, self.minimum_height)
        self.setSceneRect(QRectF(-style.LEFT_PAD, 0, width + style.LEFT_PAD, height))
        for line in (self.playhead_line, self.snap_line):
            line.set_length(height)
        self.playhead_line.setPos(self.x_of(self.playhead), 0)

    # ----- selection, playhead, snap line -------------------------------------------------------------
    def select(self, clip_ids: Iterable[str]) -> None:
        wanted = [clip_id for clip_id in dict.fromkeys(clip_ids) if clip_id in self.items_by_id]
        chosen = set(wanted)
        for clip_id, item in self.items_by_id.items():
            item.set_selected(clip_id in chosen)
        ordered = sorted(wanted, key=lambda clip_id: (self.items_by_id[clip_id].look.start, clip_id))
        if ordered != self.selected_ids:
            self.selected_ids = ordered
            self.selectionChangedIds.emit(list(ordered))

    def set_playhead(self, seconds: float) -> None:
        self.playhead = max(0.0, seconds)
        self.playhead_line.setPos(self.x_of(self.playhead), 0)

    def show_snap(self, seconds: float | None) -> None:
        self.snap_line.setVisible(seconds is not None)
        if seconds is not None:
            self.snap_line.setPos(self.x_of(seconds), 0)

    # ----- the rows under the clips ---------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, style.BACKGROUND)
        for row in self.rows:
            if row.bottom < rect.top() or row.top > rect.bottom():
                continue
            fill = style.ROW_FILL if row.index % 2 == 0 else style.ROW_FILL_ALTERNATE
            painter.fillRect(QRectF(rect.left(), row.top, rect.width(), row.height), fill)
            painter.fillRect(QRectF(rect.left(), row.bottom - 1, rect.width(), 1), style.ROW_LINE)
        audio = next((row for row in self.rows if row.audio), None)
        if audio is not None and audio.index > 0:
            painter.fillRect(QRectF(rect.left(), audio.top - style.GROUP_GAP, rect.width(), style.GROUP_GAP),
                             style.GROUP_LINE)
        major, _ = tick_steps(self.pixels_per_second, self.document.project.timeline.fps)
        bottom = min(rect.bottom(), self.content_height)
        painter.setPen(style.pen(style.GRID_LINE.name()))
        for seconds in tick_times(self.time_of(rect.left()), self.time_of(rect.right()), major):
            x = round(self.x_of(seconds)) + 0.5
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, bottom))
        for marker in self.document.project.timeline.markers:
            x = self.x_of(marker.time)
            if rect.left() - 1 <= x <= rect.right() + 1:
                painter.setPen(style.pen(style.name(style.translucent(style.marker_colour(marker.color), 110)), 1.0,
                                         Qt.PenStyle.DashLine))
                painter.drawLine(QPointF(x, rect.top()), QPointF(x, bottom))
