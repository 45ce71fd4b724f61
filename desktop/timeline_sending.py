"""Send to timeline: a node's video, picture or sound becomes a clip of the project.

The clip does not hold the computed frames: it names an output of a graph stored in
the project (``GraphSource``), and the export (``gpu.timeline_render``) runs that graph
again through the shared Executor, where the output cache usually answers at once. So
the workflow is stored as it is now, a snapshot that later edits in the graph editor
do not change; sending a second output of the same workflow reuses the stored graph,
so an export runs it once for both clips.

The whole gesture (store the graph, maybe add a track, add the clip) is one undo step.
No widgets here: the graph editor's context menu and the viewer's button call these.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from desktop.timeline_document import ProjectDocument
from nodes.graph import Graph
from nodes.timeline import AUDIO_KINDS, GraphSource, ImageSource, Track
from nodes.timeline_edits import STILL_LENGTH, TimelineEditRefused
from nodes.types import AUDIO, IMAGE, VIDEO, Audio, Video

#: Output types a node can send to the timeline.
SENDABLE_TYPES = (VIDEO, IMAGE, AUDIO)
#: Overlaps shorter than this (rounding) do not count when looking for a free place.
TOLERANCE = 1e-6


def sendable_outputs(registry: Any, graph: Graph, node_id: str) -> list[tuple[str, str]]:
    """(output name, socket type) of each output of the node a timeline can play, in the
    node's order; empty for a node the registry does not know."""
    node = graph.nodes.get(node_id)
    spec = registry.get(node.type) if node is not None else None
    if spec is None:
        return []
    return [(output.name, output.type) for output in spec.outputs if output.type in SENDABLE_TYPES]


def send_output_to_timeline(document: ProjectDocument, graph: Graph, node_id: str, output: str, value: Any,
                            at: float | None = None, graph_id: str | None = None, *,
                            audio_kind: str = "effects") -> str:
    """Put ``value`` (the computed ``output`` of ``node_id`` in ``graph``) on the timeline
    and return the new clip's id.

    A video or picture goes on the first video track, a sound on the first audio track
    of ``audio_kind`` ("effects", "voice" or "music"); the track is made when there is
    none. The clip starts at ``at`` (seconds; on the first such track free there, else
    on a new one) or, without ``at``, where the first track's last clip ends. It is as
    long as the value: a video's frames at its rate, a sound's samples at its rate, a
    picture STILL_LENGTH seconds. ``graph_id`` names the stored graph when the project
    has no equal one; otherwise an equal stored graph is reused, or a fresh id
    ("graph1", "graph2" ...) is taken. Raises TimelineEditRefused (nothing changes)
    when the value is nothing a timeline plays or ``at`` is before 0."""
    if audio_kind not in AUDIO_KINDS:
        raise ValueError(f"an audio track is one of {', '.join(AUDIO_KINDS)}, not {audio_kind!r}")
    if node_id not in graph.nodes:
        raise KeyError(node_id)
    sound, length = _kind_and_length(value, node_id, output)
    if at is not None and at < 0:
        raise TimelineEditRefused("A clip cannot start before 0 s.")
    node = graph.nodes[node_id]
    label = f"{node.title or node.type} · {output}"
    with _one_step(document, f"Send {label} to the timeline"):
        stored = _store_graph(document, graph, graph_id)
        track_id, start = _place(document, sound, audio_kind, at, length)
        clip_id = document.add_clip(track_id, GraphSource(stored, node_id, output), start, source_out=length,
                                    name=label)
    if isinstance(value, (Video, Audio)):  # a still has no end of its own: it may be trimmed longer
        document.set_known_lengths({clip_id: length})
    return clip_id


def send_picture_to_timeline(document: ProjectDocument, path: str | Path, at: float | None = None,
                             name: str = "") -> str:
    """Put a picture file (a pinned live sketch result, say) on the first video track free at
    ``at`` (or at the end of the first video track) for STILL_LENGTH seconds; one undo step."""
    if at is not None and at < 0:
        raise TimelineEditRefused("A clip cannot start before 0 s.")
    with _one_step(document, f"Add {Path(path).name} to the timeline"):
        track_id, start = _place(document, False, "effects", at, STILL_LENGTH)
        clip_id = document.add_clip(track_id, ImageSource(str(path)), start, source_out=STILL_LENGTH,
                                    name=name or Path(path).stem)
    return clip_id


@contextmanager
def _one_step(document: ProjectDocument, text: str) -> Iterator[None]:
    """The edits inside make one undo step; when one is refused, those already made are taken back
    and leave nothing to redo."""
    stack = document.undo_stack
    steps_before = stack.index()
    stack.beginMacro(text)
    try:
        yield
    except BaseException:
        stack.endMacro()
        if stack.index() > steps_before:
            _drop_last_step(document)
        raise
    stack.endMacro()


def stored_graph_id(document: ProjectDocument, graph: Graph) -> str | None:
    """The id of a graph in the project that computes what ``graph`` computes, if any."""
    wanted = computation(graph)
    return next((graph_id for graph_id, stored in document.project.graphs.items()
                 if computation(stored) == wanted), None)


def computation(graph: Graph) -> dict[str, Any]:
    """What a graph computes: each node's type, inputs and bypass. Where nodes sit on the
    canvas, their titles and the groups do not change an output, so they do not count."""
    return {node_id: (node.type, node.inputs, node.bypass) for node_id, node in graph.nodes.items()}


# ----- inside --------------------------------------------------------------------------------
def _kind_and_length(value: Any, node_id: str, output: str) -> tuple[bool, float]:
    """(is it sound, source seconds) of a value a timeline can play."""
    if isinstance(value, Video):
        return False, value.duration
    if isinstance(value, Audio):
        return True, value.duration
    if isinstance(value, np.ndarray) and value.ndim in (2, 3):
        return False, STILL_LENGTH
    what = "nothing yet (run the graph first)" if value is None else f"a {type(value).__name__}"
    raise TimelineEditRefused(f"Output {output!r} of node {node_id!r} is {what}, not a video, picture or sound.")


def _store_graph(document: ProjectDocument, graph: Graph, graph_id: str | None) -> str:
    graphs = document.project.graphs
    if graph_id is not None and graph_id in graphs and computation(graphs[graph_id]) == computation(graph):
        return graph_id
    existing = stored_graph_id(document, graph)
    if existing is not None:
        return existing
    return document.add_graph(graph, graph_id)


def _place(document: ProjectDocument, sound: bool, audio_kind: str, at: float | None,
           length: float) -> tuple[str, float]:
    """(track id, start): see send_output_to_timeline; adds a track when it must."""
    timeline = document.project.timeline
    tracks = [track for track in timeline.audio_tracks if track.kind == audio_kind] if sound \
        else list(timeline.video_tracks)
    if at is None:
        if not tracks:
            return document.add_track(audio_kind if sound else "video"), 0.0
        return tracks[0].id, _track_end(document, tracks[0])
    for track in tracks:
        if _free(document, track, at, at + length):
            return track.id, at
    return document.add_track(audio_kind if sound else "video"), at


def _track_end(document: ProjectDocument, track: Track) -> float:
    return max((document.clip_end(clip.id) for clip in track.clips), default=0.0)


def _free(document: ProjectDocument, track: Track, start: float, end: float) -> bool:
    return all(document.clip_end(clip.id) <= start + TOLERANCE or clip.start >= end - TOLERANCE
               for clip in track.clips)


def _drop_last_step(document: ProjectDocument) -> None:
    """Take back a half-made send: undo the step just closed, then drop it, so there is
    nothing to redo (QUndoStack deletes an obsolete step when asked to redo it, without redoing it)."""
    stack = document.undo_stack
    stack.undo()
    step = stack.command(stack.index())
    if step is not None:
        step.setObsolete(True)
        stack.redo()
