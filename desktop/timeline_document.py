"""The project being edited on the timeline: a Project plus an undo stack, and the
signals the timeline view, the monitor and the player follow.

Every public edit is one undo step (``desktop/timeline_commands.py``) made by a pure
function of ``nodes/timeline_edits.py``; an edit that cannot be done raises
:class:`TimelineEditRefused` with the sentence to show, and changes nothing.

The document also answers "how long is this clip?" for the views: file sources are
probed once (again only when the file changes), graph outputs are as long as the
player last computed them (:meth:`ProjectDocument.set_known_lengths`, remembered by
source, so a later clip that reuses an id does not inherit another source's length),
and a source whose length cannot be known yet is drawn as if it lasted
:data:`DEFAULT_UNKNOWN_LENGTH` seconds. That guess is never written into the project:
edits keep such a clip's ``out`` null, so it still runs to the real end once known.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from desktop.timeline_commands import SetGraph, SetTrackFields, TimelineEdit, TimelineState, capture, restore
from nodes import timeline_edits as edits
from nodes.graph import Graph
from nodes.timeline import AUDIO_KINDS, Clip, FileSource, GraphSource, ImageSource, Marker, Project, Source, Track
from nodes.timeline_edits import EITHER, PICTURE, SOUND, STILL_LENGTH, TimelineEditRefused
from nodes.timeline_validation import graph_output_type
from nodes.types import AUDIO, IMAGE

#: Seconds drawn for a clip whose source length is not known yet.
DEFAULT_UNKNOWN_LENGTH = 5.0
#: A clip starting this late in a source of unknown length is still drawn this long (source seconds).
SHORTEST_GUESS = 1.0
TRACK_KINDS = ("video", *AUDIO_KINDS)

Result = TypeVar("Result")


class ProjectDocument(QObject):
    #: Any timeline content changed (an edit, undo, redo, newly known lengths).
    changed = Signal()
    #: The whole project was replaced (new, open): views rebuild.
    reset = Signal()
    pathChanged = Signal(str)

    def __init__(self, project: Project | None = None, parent: QObject | None = None, *,
                 registry: Any = None) -> None:
        """``registry`` lets the document tell a graph's picture outputs from its sound
        outputs, so they can only be placed on tracks that play them."""
        super().__init__(parent)
        self.project = project if project is not None else Project()
        self.path: Path | None = None
        self.registry = registry
        self.undo_stack = QUndoStack(self)
        #: source (as its JSON) -> seconds, learned from computed graph outputs.
        self._known_lengths: dict[str, float] = {}
        #: (file, modification time, size) -> what probing found (None: not a readable media file).
        self._probed: dict[tuple[str, int, int], Any] = {}

    # ----- whole documents --------------------------------------------------------------
    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def replace(self, project: Project, path: Path | None = None) -> None:
        """Show another project (new, open, recover); the undo history starts afresh."""
        self.project = project
        self.path = Path(path) if path is not None else None
        self._known_lengths = {}
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.reset.emit()
        self.changed.emit()
        self.pathChanged.emit(str(self.path) if self.path else "")

    def open(self, path: Path) -> None:
        """Open a project file; ProjectError (naming every problem) leaves the current project as it was."""
        self.replace(Project.load(path), Path(path))

    def save(self, path: Path | None = None) -> Path:
        """Write the project atomically (to ``path``, else where it came from) and mark it saved."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("this project has not been saved yet: choose where to save it")
        folder = target.resolve().parent
        if folder != self.project.folder.resolve() and self._rebased_paths(folder):
            return self._save_elsewhere(target, folder)
        written = self.project.save(target)
        self.project.folder = folder  # no media path reads differently from there: the undo history stays good
        self.path = target
        self.undo_stack.setClean()
        self.pathChanged.emit(str(target))
        return written

    def _rebased_paths(self, folder: Path) -> dict[str, str]:
        """Relative media paths that must read differently from ``folder`` to reach the same files
        (old -> new); empty when there are none (graph sources, absolute paths, the same folder)."""
        changes: dict[str, str] = {}
        for _, clip in self.project.timeline.clips():
            source = clip.source
            if isinstance(source, (FileSource, ImageSource)) and not Path(source.path).expanduser().is_absolute():
                original = self.project.resolve(source.path)
                moved = os.path.relpath(original, folder) if _same_drive(original, folder) else str(original)
                if moved != source.path:
                    changes[source.path] = moved
        return changes

    def _save_elsewhere(self, target: Path, folder: Path) -> Path:
        """Save into another folder when relative media paths must change to point at the same
        files from there: the project is reopened from the new file (its undo history starts
        afresh, since older steps hold paths relative to the old folder). ProjectError when the
        project cannot be rebuilt (nothing is written then)."""
        changes = self._rebased_paths(folder)
        rebased = Project.from_dict(self.project.to_dict(), str(target), folder)
        rebased.graphs = self.project.graphs
        for _, clip in rebased.timeline.clips():
            if isinstance(clip.source, (FileSource, ImageSource)) and clip.source.path in changes:
                clip.source.path = changes[clip.source.path]
        written = rebased.save(target)
        self.replace(rebased, target)
        return written

    # ----- reading -------------------------------------------------------------------
    def find_clip(self, clip_id: str) -> tuple[Track, Clip]:
        return edits.find_clip(self.project.timeline, clip_id)

    def track(self, track_id: str) -> Track:
        return edits.find_track(self.project.timeline, track_id)

    def source_length(self, clip_id: str) -> float | None:
        """Seconds of the clip's source (None: a still, or not known until its graph runs)."""
        source = self.find_clip(clip_id)[1].source
        known = self._known_lengths.get(_source_key(source))
        return known if known is not None else self._source_length(source)

    def clip_length(self, clip_id: str) -> float:
        """Timeline seconds the clip lasts as drawn."""
        return self._clip_length(self.find_clip(clip_id)[1], self.source_length(clip_id))

    def clip_end(self, clip_id: str) -> float:
        return self.find_clip(clip_id)[1].start + self.clip_length(clip_id)

    def duration(self) -> float:
        """Where the last clip ends (0 for an empty timeline)."""
        return max((clip.start + length for clip, length in self._clips_with_lengths()), default=0.0)

    def snap_points(self, exclude: Iterable[str] = ()) -> list[float]:
        """Times an edge snaps to: 0, clip starts and ends (but those of ``exclude``), markers."""
        return edits.snap_points(self.project.timeline, self.lengths(), exclude)

    def lengths(self) -> dict[str, float]:
        """Clip id -> timeline seconds, for every clip."""
        return {clip.id: length for clip, length in self._clips_with_lengths()}

    def set_known_lengths(self, lengths: dict[str, float]) -> None:
        """Source seconds of clips learned elsewhere (graph outputs once computed); not an edit.
        Remembered for the clip's source, so every clip showing it (both halves of a split) knows
        it, and a later clip that gets a freed id does not; ids of clips gone are ignored."""
        sources = {clip.id: _source_key(clip.source) for _, clip in self.project.timeline.clips()}
        news = {sources[clip_id]: float(seconds) for clip_id, seconds in lengths.items()
                if clip_id in sources and self._known_lengths.get(sources[clip_id]) != float(seconds)}
        if news:
            self._known_lengths.update(news)
            self.changed.emit()

    # ----- edits (each one undoable) -------------------------------------------------------
    def add_track(self, kind: str) -> str:
        """Add an empty track ("video", "voice", "music" or "effects") above the others of its sort."""
        if kind not in TRACK_KINDS:
            raise ValueError(f"a track is one of {', '.join(TRACK_KINDS)}, not {kind!r}")
        timeline = self.project.timeline
        track_id = edits.new_track_id(timeline, kind != "video")

        def add() -> None:
            rows = timeline.audio_tracks if kind in AUDIO_KINDS else timeline.video_tracks
            rows.append(Track(track_id, kind))

        self._edit(f"Add {kind} track", [], add, rows=True)
        return track_id

    def set_track(self, track_id: str, **fields: Any) -> None:
        """Rename, mute or set the gain of a track (one undo step: "Mute track", "Rename track" ...)."""
        track = self.track(track_id)
        allowed = {"name": str, "muted": bool, "gain_db": (int, float)}
        for name, value in fields.items():
            if name not in allowed or isinstance(value, bool) is not (allowed[name] is bool) \
                    or not isinstance(value, allowed[name]):
                raise TimelineEditRefused(f"A track's {name!r} cannot be set to {value!r}.")
        if "gain_db" in fields and not track.is_audio:
            raise TimelineEditRefused("Only audio tracks have a gain.")
        changed = {name: value for name, value in fields.items() if getattr(track, name) != value}
        if not changed:
            return
        if set(changed) == {"muted"}:
            text = "Mute track" if changed["muted"] else "Unmute track"
        else:
            text = "Rename track" if set(changed) == {"name"} else "Change track"
        self.undo_stack.push(SetTrackFields(self, text, track_id, changed))

    def add_clip(self, track_id: str, source: Source, start: float, *, source_in: float = 0.0,
                 source_out: float | None = None, name: str = "") -> str:
        """Place a source on a track; a still without an out point shows for STILL_LENGTH seconds."""
        if isinstance(source, ImageSource) and source_out is None:
            source_out = source_in + STILL_LENGTH
        clip = Clip(edits.new_clip_id(self.project.timeline), source, float(start), float(source_in), source_out,
                    name=name)
        lengths = {**self.lengths(), clip.id: self._clip_length(clip, self._source_length(source))}
        self._edit("Add clip", [track_id], lambda: edits.add_clip(self.project.timeline, track_id, clip, lengths,
                                                                   self._placement), known_track=track_id)
        return clip.id

    def move_clips(self, moves: dict[str, tuple[float, str]]) -> None:
        """Move clips (clip id -> (new start, track id)) as one step."""
        tracks = [self.find_clip(clip_id)[0].id for clip_id in moves] + [track_id for _, track_id in moves.values()]
        for track_id in tracks:
            self._known_track(track_id)
        text = "Move clip" if len(moves) == 1 else f"Move {len(moves)} clips"
        self._edit(text, tracks, lambda: edits.move_clips(self.project.timeline, moves, self.lengths(),
                                                           self._placement))

    def trim_clip(self, clip_id: str, edge: str, time: float) -> None:
        """Drag a clip's "start" or "end" edge to timeline second ``time`` (stops at the source's ends)."""
        track, _ = self.find_clip(clip_id)
        self._edit("Trim clip", [track.id], lambda: edits.trim_clip(
            self.project.timeline, clip_id, edge, time, self.lengths(), self.source_length(clip_id)))

    def split_clip(self, clip_id: str, time: float) -> str:
        """Cut a clip in two at ``time``; returns the new right-hand clip's id."""
        track, _ = self.find_clip(clip_id)
        return self._edit("Split clip", [track.id], lambda: edits.split_clip(
            self.project.timeline, clip_id, time, self.lengths()))

    def delete_clips(self, clip_ids: Iterable[str], ripple: bool = False) -> None:
        """Remove clips; ``ripple`` closes the gaps they leave on their own tracks."""
        chosen = list(dict.fromkeys(clip_ids))
        if not chosen:
            return
        tracks = [self.find_clip(clip_id)[0].id for clip_id in chosen]
        text = ("Ripple delete" if ripple else "Delete") + (" clip" if len(chosen) == 1 else f" {len(chosen)} clips")
        self._edit(text, tracks, lambda: edits.delete_clips(self.project.timeline, chosen, self.lengths(), ripple))

    def set_clip(self, clip_id: str, **fields: Any) -> None:
        """Change name, gain_db, fade_in, fade_out, speed, transition_in, transition_out or fit."""
        track, _ = self.find_clip(clip_id)
        text = "Rename clip" if set(fields) == {"name"} else \
            f"Change {next(iter(fields)).replace('_', ' ')}" if len(fields) == 1 else "Change clip"
        self._edit(text, [track.id], lambda: edits.set_clip_fields(self.project.timeline, clip_id, fields,
                                                                    self.lengths()))

    def add_marker(self, time: float, name: str = "") -> None:
        if time < 0:
            raise TimelineEditRefused("A marker cannot sit before 0 s.")
        markers = self.project.timeline.markers

        def add() -> None:
            index = next((i for i, marker in enumerate(markers) if marker.time > time), len(markers))
            markers.insert(index, Marker(float(time), name))

        self._edit("Add marker", [], add, markers=True)

    def remove_marker(self, index: int) -> None:
        markers = self.project.timeline.markers
        if not 0 <= index < len(markers):
            raise IndexError(f"there is no marker #{index + 1}")
        def remove() -> None:
            del markers[index]

        self._edit("Remove marker", [], remove, markers=True)

    def add_graph(self, graph: Graph, graph_id: str | None = None) -> str:
        """Store a snapshot of ``graph`` among the project's graphs (one undo step) and return its id:
        ``graph_id`` when given and free, else the next free ``graph1``, ``graph2`` ..."""
        graphs = self.project.graphs
        if graph_id is None or graph_id in graphs:
            base = graph_id or "graph"
            number = 1 if graph_id is None else 2
            while f"{base}{number}" in graphs:
                number += 1
            graph_id = f"{base}{number}"
        self.undo_stack.push(SetGraph(self, f"Add graph {graph_id}", graph_id, copy.deepcopy(graph)))
        return graph_id

    def remove_graph(self, graph_id: str) -> None:
        """Take a graph out of the project (one undo step); refused while a clip still shows one of its outputs."""
        if graph_id not in self.project.graphs:
            raise KeyError(f"the project has no graph {graph_id!r}")
        users = [clip.id for _, clip in self.project.timeline.clips()
                 if isinstance(clip.source, GraphSource) and clip.source.graph == graph_id]
        if users:
            raise TimelineEditRefused(f"Graph {graph_id!r} is still used by clip(s) {', '.join(users)}.")
        self.undo_stack.push(SetGraph(self, f"Remove graph {graph_id}", graph_id, None))

    # ----- for the commands only -----------------------------------------------------------
    def _put_graph(self, graph_id: str, graph: Graph | None) -> None:
        # another version of the graph may make outputs of other lengths: the player tells again
        self._known_lengths = {key: seconds for key, seconds in self._known_lengths.items()
                               if json.loads(key).get("graph") != graph_id}
        if graph is None:
            self.project.graphs.pop(graph_id, None)
        else:
            self.project.graphs[graph_id] = graph
        self.changed.emit()

    def _restore(self, state: TimelineState) -> None:
        restore(self.project.timeline, state)
        self.changed.emit()

    # ----- inside -------------------------------------------------------------------------
    def _edit(self, text: str, track_ids: list[str], change: Callable[[], Result], *, rows: bool = False,
              markers: bool = False, known_track: str | None = None) -> Result:
        """Make ``change`` on the live timeline and push it as one undo step (none when it changed nothing);
        when it raises, the timeline is put back as it was."""
        if known_track is not None:
            self._known_track(known_track)
        timeline = self.project.timeline
        before = capture(timeline, track_ids, rows=rows, markers=markers)
        try:
            result = change()
        except BaseException:
            if not capture(timeline, track_ids, rows=rows, markers=markers).same_as(before):
                restore(timeline, before)
            raise
        after = capture(timeline, track_ids, rows=rows, markers=markers)
        if not after.same_as(before):
            self.undo_stack.push(TimelineEdit(self, text, before, after))
        return result

    def _known_track(self, track_id: str) -> None:
        try:
            self.track(track_id)
        except KeyError:
            raise TimelineEditRefused(f"There is no track {track_id!r}.") from None

    def _clips_with_lengths(self) -> Iterable[tuple[Clip, float]]:
        for _, clip in self.project.timeline.clips():
            yield clip, self._clip_length(clip, self.source_length(clip.id))

    @staticmethod
    def _clip_length(clip: Clip, source_length: float | None) -> float:
        """As long as the clip plays; a source of unknown length is taken to last DEFAULT_UNKNOWN_LENGTH
        seconds, so the parts of a split (or a start-trim) still add up to what was drawn before."""
        if clip.speed <= 0:
            return DEFAULT_UNKNOWN_LENGTH
        length = clip.length(source_length)
        if length is None:
            length = clip.length(max(DEFAULT_UNKNOWN_LENGTH, clip.source_in + SHORTEST_GUESS))
        return DEFAULT_UNKNOWN_LENGTH if length is None else length

    def _source_length(self, source: Source) -> float | None:
        if isinstance(source, FileSource):
            info = self._probe(source.path)
            return info.duration if info is not None and info.duration > 0 else None
        return None

    def _probe(self, path: str) -> Any:
        """The file's MediaInfo, probed once per version of the file; None when missing or unreadable."""
        resolved = self.project.resolve(path)
        try:
            status = os.stat(resolved)
        except OSError:
            return None
        key = (str(resolved), status.st_mtime_ns, status.st_size)
        if key not in self._probed:
            from nodes.media_files import probe

            try:
                self._probed[key] = probe(resolved)
            except Exception:  # MediaError, or whatever a damaged file provokes: drawn with the default length
                self._probed[key] = None
        return self._probed[key]

    def _placement(self, clip: Clip) -> str:
        """Where a clip may go: pictures on video tracks, sound on audio tracks."""
        source = clip.source
        if isinstance(source, ImageSource):
            return PICTURE
        if isinstance(source, FileSource):
            info = self._probe(source.path)
            if info is not None and info.has_video != info.has_audio:
                return PICTURE if info.has_video else SOUND
            return EITHER
        if isinstance(source, GraphSource) and self.registry is not None:
            output_type = graph_output_type(self.project, source, self.registry)
            return PICTURE if output_type == IMAGE else SOUND if output_type == AUDIO else EITHER
        return EITHER


def _source_key(source: Source) -> str:
    """A source as text: known lengths are remembered per source, not per clip id."""
    return json.dumps(source.to_dict(), sort_keys=True)


def _same_drive(path: Path, folder: Path) -> bool:
    return os.path.splitdrive(str(path.resolve()))[0] == os.path.splitdrive(str(folder))[0]
