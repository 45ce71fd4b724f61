"""One QUndoCommand per timeline edit, so every change can be undone and redone.

A timeline edit is made by a pure function (``nodes/timeline_edits.py``) on the live
timeline; the command keeps copies of what the edit touched — the clip lists of the
tracks it changed, and the rows of tracks or the markers when those change — from
before and after, and puts one or the other back. Copies, not diffs: an edit touches
one or two tracks, so this costs little and cannot drift from what the edit did.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from PySide6.QtGui import QUndoCommand

from nodes.timeline import Clip, Marker, Timeline, Track
from nodes.timeline_edits import find_track

if TYPE_CHECKING:
    from desktop.timeline_document import ProjectDocument
    from nodes.graph import Graph


@dataclass
class TimelineState:
    """What an edit may change, as copies: clip lists by track id, and (when the edit
    adds or removes tracks) the rows of tracks, and (when it edits markers) the markers."""

    clips: dict[str, list[Clip]]
    video_tracks: list[Track] | None = None
    audio_tracks: list[Track] | None = None
    markers: list[Marker] | None = None

    def same_as(self, other: "TimelineState") -> bool:
        def rows(tracks: list[Track] | None) -> list[int] | None:
            return None if tracks is None else [id(track) for track in tracks]

        return ({track_id: [clip.to_dict() for clip in clips] for track_id, clips in self.clips.items()}
                == {track_id: [clip.to_dict() for clip in clips] for track_id, clips in other.clips.items()}
                and rows(self.video_tracks) == rows(other.video_tracks)
                and rows(self.audio_tracks) == rows(other.audio_tracks)
                and self.markers == other.markers)


def capture(timeline: Timeline, track_ids: Iterable[str], *, rows: bool = False,
            markers: bool = False) -> TimelineState:
    """Copies of the parts of ``timeline`` an edit of ``track_ids`` (and rows, markers) may change.
    Track rows keep the same Track objects (their clips are saved by id when they change)."""
    return TimelineState(
        {track_id: copy.deepcopy(find_track(timeline, track_id).clips) for track_id in dict.fromkeys(track_ids)},
        list(timeline.video_tracks) if rows else None,
        list(timeline.audio_tracks) if rows else None,
        copy.deepcopy(timeline.markers) if markers else None,
    )


def restore(timeline: Timeline, state: TimelineState) -> None:
    """Put a captured state back (as fresh copies, so the state can be restored again)."""
    if state.video_tracks is not None:
        timeline.video_tracks = list(state.video_tracks)
    if state.audio_tracks is not None:
        timeline.audio_tracks = list(state.audio_tracks)
    for track_id, clips in state.clips.items():
        find_track(timeline, track_id).clips = copy.deepcopy(clips)
    if state.markers is not None:
        timeline.markers = copy.deepcopy(state.markers)


class TimelineEdit(QUndoCommand):
    """An edit already made on the timeline: redo puts the after-state back, undo the before-state."""

    def __init__(self, document: "ProjectDocument", text: str, before: TimelineState, after: TimelineState) -> None:
        super().__init__(text)
        self.document, self.before, self.after = document, before, after

    def redo(self) -> None:
        self.document._restore(self.after)

    def undo(self) -> None:
        self.document._restore(self.before)


class SetGraph(QUndoCommand):
    """Stores, replaces or (with ``graph`` None) removes one of the project's graphs."""

    def __init__(self, document: "ProjectDocument", text: str, graph_id: str, graph: "Graph | None") -> None:
        super().__init__(text)
        self.document, self.graph_id = document, graph_id
        self.after = graph
        self.before = document.project.graphs.get(graph_id)

    def redo(self) -> None:
        self.document._put_graph(self.graph_id, self.after)

    def undo(self) -> None:
        self.document._put_graph(self.graph_id, self.before)


class SetTrackFields(QUndoCommand):
    """Changes a track's own fields (name, muted, gain_db); its clips are untouched."""

    def __init__(self, document: "ProjectDocument", text: str, track_id: str, fields: dict[str, object]) -> None:
        super().__init__(text)
        self.document, self.track_id = document, track_id
        track = find_track(document.project.timeline, track_id)
        self.after = dict(fields)
        self.before = {name: getattr(track, name) for name in fields}

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)

    def _apply(self, fields: dict[str, object]) -> None:
        track = find_track(self.document.project.timeline, self.track_id)
        for name, value in fields.items():
            setattr(track, name, value)
        self.document.changed.emit()
