"""Checking a project's meaning: every problem at once, each naming the track, the
clip and the fix, so a render never starts on a timeline that cannot come out right.

Checked: the timeline's rate and size; unique track and clip ids; clip times and
speeds; sources (missing files, files without the stream the track needs, unknown
graphs, nodes and outputs, outputs of the wrong type, broken graphs); ``out`` past
the end of a source whose length is known; overlaps on one track (allowed only as
a crossfade of exactly that length); transitions and fades longer than their clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from nodes.graph import Graph
from nodes.timeline import (
    CROSSFADE, MAX_SPEED, Clip, FileSource, GraphSource, ImageSource, Project, ProjectProblem, Track,
)
from nodes.types import AUDIO, IMAGE, VIDEO

#: Output types a graph may hand to each kind of track.
VIDEO_TRACK_TYPES = (VIDEO, IMAGE)
AUDIO_TRACK_TYPES = (AUDIO, VIDEO)
MAX_FPS = 240.0
MAX_SIDE = 8192
MIN_GAIN_DB, MAX_GAIN_DB = -96.0, 24.0


@dataclass(frozen=True)
class SourceFacts:
    """What is known about a clip's source before rendering: its length in source
    seconds (None: endless, like a still, or not known until a graph runs) and streams."""

    length: float | None
    has_video: bool = True
    has_audio: bool = True
    #: The picture's (width, height), when known before rendering.
    size: tuple[int, int] | None = None


Prober = Callable[[str], Any]


def validate_project(
    project: Project,
    registry: Any = None,
    *,
    lengths: Mapping[str, float] | None = None,
    probe: Prober | None = None,
    facts: Mapping[str, SourceFacts] | None = None,
) -> list[ProjectProblem]:
    """Every problem in ``project``. ``registry`` enables the graph checks; ``lengths``
    (clip id -> source seconds) adds what is known once graph outputs are computed;
    ``probe`` reads a media file's facts (default: ``nodes.media_files.probe``);
    ``facts`` are those :func:`source_facts` already found (files are not read again)."""
    problems: list[ProjectProblem] = []
    timeline = project.timeline
    if not 0 < timeline.fps <= MAX_FPS:
        problems.append(ProjectProblem(f"the timeline's fps {timeline.fps:g} is out of range",
                                       fix=f"use a rate between 1 and {MAX_FPS:g}, such as 24 or 30",
                                       code="bad-timeline"))
    for side, value in (("width", timeline.width), ("height", timeline.height)):
        if value > MAX_SIDE:
            problems.append(ProjectProblem(f"the timeline's {side} {value} is larger than {MAX_SIDE}",
                                           fix="use the frame size of the episode, such as 1280×720",
                                           code="bad-timeline"))
    for index, marker in enumerate(timeline.markers):
        if marker.time < 0:
            problems.append(ProjectProblem(f"marker #{index + 1} ({marker.name!r}) is at {marker.time:g} s",
                                           fix="markers sit at 0 s or later", code="bad-marker"))
    _check_ids(project, problems)
    if facts is None:
        facts = source_facts(project, registry, probe, problems)
    for track in timeline.tracks():
        for clip in track.clips:
            _check_clip(project, track, clip, facts.get(clip.id), _source_length(clip, facts.get(clip.id), lengths),
                        registry, problems)
        known = {clip.id: _length(clip, facts.get(clip.id), lengths) for clip in track.clips}
        _check_track_timing(track, known, timeline.fps, problems)
    if registry is not None:
        _check_graphs(project, registry, problems)
    return problems


def source_facts(project: Project, registry: Any = None, probe: Prober | None = None,
                 problems: list[ProjectProblem] | None = None) -> dict[str, SourceFacts]:
    """Facts about each clip's source (clip id -> facts); files are probed once each."""
    problems = problems if problems is not None else []
    probed: dict[str, Any] = {}
    facts: dict[str, SourceFacts] = {}
    for track, clip in project.timeline.clips():
        source = clip.source
        if isinstance(source, ImageSource):
            path = project.resolve(source.path)
            if not path.is_file():
                problems.append(_missing(track, clip, source.path, project))
                continue
            try:
                facts[clip.id] = SourceFacts(None, True, False, picture_size(path))
            except (OSError, ValueError) as error:
                problems.append(ProjectProblem(f"cannot read the picture {source.path}: {error}", track.id, clip.id,
                                               "replace it with a PNG or JPEG that opens", "unreadable-file"))
        elif isinstance(source, FileSource):
            path = str(project.resolve(source.path))
            if path not in probed:
                probed[path] = _probe(path, probe)
            info = probed[path]
            if info is None:
                problems.append(_missing(track, clip, source.path, project))
            elif isinstance(info, Exception):
                problems.append(ProjectProblem(f"cannot read {source.path}: {info}", track.id, clip.id,
                                               "replace the file with one that plays, or remove the clip",
                                               "unreadable-file"))
            else:
                facts[clip.id] = SourceFacts(info.duration or None, info.has_video, info.has_audio,
                                             (info.width, info.height) if info.has_video else None)
        elif isinstance(source, GraphSource):
            output_type = graph_output_type(project, source, registry)
            # the length of a graph's output is known once the graph has run
            facts[clip.id] = SourceFacts(None, output_type in (VIDEO, IMAGE, None), output_type in (AUDIO, VIDEO, None))
    return facts


def graph_output_type(project: Project, source: GraphSource, registry: Any) -> str | None:
    """The socket type of a graph output, or None when it cannot be known (no registry, unknown node)."""
    graph = project.graphs.get(source.graph)
    graph_node = graph.nodes.get(source.node) if graph is not None else None
    spec = registry.get(graph_node.type) if graph_node is not None and registry is not None else None
    if spec is None:
        return None
    for output in spec.outputs:
        if output.name == source.output:
            return output.type
    return None


def clip_lengths(project: Project, facts: Mapping[str, SourceFacts],
                 lengths: Mapping[str, float] | None = None) -> dict[str, float | None]:
    """Timeline seconds each clip lasts (None: not known yet)."""
    return {clip.id: _length(clip, facts.get(clip.id), lengths) for _, clip in project.timeline.clips()}


# ----- the checks ---------------------------------------------------------------------------
def _check_ids(project: Project, problems: list[ProjectProblem]) -> None:
    seen_tracks: set[str] = set()
    seen_clips: dict[str, str] = {}
    for track in project.timeline.tracks():
        if track.id in seen_tracks:
            problems.append(ProjectProblem("two tracks share this id", track.id,
                                           fix="give every track its own id", code="duplicate-id"))
        seen_tracks.add(track.id)
        for clip in track.clips:
            if clip.id in seen_clips:
                problems.append(ProjectProblem(f"clip id {clip.id!r} is also used on track {seen_clips[clip.id]!r}",
                                               track.id, clip.id, "give every clip its own id", "duplicate-id"))
            seen_clips.setdefault(clip.id, track.id)


def _check_clip(project: Project, track: Track, clip: Clip, facts: SourceFacts | None, source_length: float | None,
                registry: Any, problems: list[ProjectProblem]) -> None:
    def bad(message: str, fix: str, code: str = "bad-clip") -> None:
        problems.append(ProjectProblem(message, track.id, clip.id, fix, code))

    if clip.start < 0:
        bad(f"starts at {clip.start:g} s, before the timeline begins", "set 'start' to 0 or later")
    if clip.source_in < 0:
        bad(f"'in' is {clip.source_in:g} s", "set 'in' to 0 or later")
    if clip.source_out is not None and clip.source_out <= clip.source_in:
        bad(f"'out' ({clip.source_out:g} s) is not after 'in' ({clip.source_in:g} s)",
            "set 'out' later than 'in', or null to play to the end of the source")
    if not 0 < clip.speed <= MAX_SPEED:
        bad(f"speed {clip.speed:g} is out of range", f"use a speed above 0 and at most {MAX_SPEED:g} (1 = normal)")
    if not MIN_GAIN_DB <= clip.gain_db <= MAX_GAIN_DB:
        bad(f"gain {clip.gain_db:g} dB is out of range", f"use {MIN_GAIN_DB:g} to +{MAX_GAIN_DB:g} dB")
    for name, value in (("fade_in", clip.fade_in), ("fade_out", clip.fade_out)):
        if value < 0:
            bad(f"'{name}' is {value:g} s", f"set '{name}' to 0 or more seconds")
    for transition in (clip.transition_in, clip.transition_out):
        if transition is not None and transition.duration <= 0:
            bad(f"the {transition.kind.replace('_', ' ')} lasts {transition.duration:g} s",
                "give it a duration above 0 seconds, or remove it")
        if transition is not None and track.is_audio and transition.kind != CROSSFADE:
            bad(f"an audio clip cannot {transition.kind.replace('_', ' ')}",
                "use 'fade_in' and 'fade_out' (seconds) on audio clips")
    source = clip.source
    if isinstance(source, ImageSource):
        if track.is_audio:
            bad(f"a still image ({source.path}) cannot play on an audio track", "move the clip to a video track")
        if clip.source_out is None:
            bad("a still has no length of its own", "set 'out' to how many seconds it shows (with 'in' 0)")
    if facts is not None and isinstance(source, FileSource):
        if track.is_audio and not facts.has_audio:
            bad(f"{source.path} has no sound", "put a file with an audio stream on audio tracks", "no-audio")
        if not track.is_audio and not facts.has_video:
            bad(f"{source.path} has no pictures", "put it on an audio track instead", "no-video")
    if isinstance(source, GraphSource):
        _check_graph_source(project, track, clip, source, registry, problems)
    length = clip.length(source_length)
    if source_length is not None and clip.source_out is not None \
            and clip.source_out > source_length + _half_frame(project.timeline.fps):
        bad(f"'out' {clip.source_out:g} s is past the end of the source ({source_length:.3f} s long)",
            f"set 'out' to at most {source_length:.3f}, or null for the end of the source", "out-past-end")
    elif source_length is not None and clip.source_in >= source_length:
        bad(f"'in' {clip.source_in:g} s is past the end of the source ({source_length:.3f} s long)",
            f"set 'in' below {source_length:.3f}", "out-past-end")
    if length is not None and length > 0:
        fades = sum(t.duration for t in (clip.transition_in, clip.transition_out) if t is not None)
        if fades > length + 1e-9:
            bad(f"its transitions last {fades:g} s but the clip lasts only {length:.3f} s",
                "shorten the transitions or lengthen the clip")
        if clip.fade_in + clip.fade_out > length + 1e-9:
            bad(f"fade_in + fade_out ({clip.fade_in + clip.fade_out:g} s) is longer than the clip ({length:.3f} s)",
                "shorten the fades")


def _check_graph_source(project: Project, track: Track, clip: Clip, source: GraphSource, registry: Any,
                        problems: list[ProjectProblem]) -> None:
    def bad(message: str, fix: str) -> None:
        problems.append(ProjectProblem(message, track.id, clip.id, fix, "bad-graph-source"))

    graph = project.graphs.get(source.graph)
    if graph is None:
        known = ", ".join(repr(graph_id) for graph_id in project.graphs) or "none"
        bad(f"its source names graph {source.graph!r}, which the project does not have",
            f"use one of the project's graphs ({known})")
        return
    graph_node = graph.nodes.get(source.node)
    if graph_node is None:
        bad(f"its source names node {source.node!r}, which graph {source.graph!r} does not have",
            f"use one of its nodes ({', '.join(repr(node_id) for node_id in list(graph.nodes)[:12])})")
        return
    spec = registry.get(graph_node.type) if registry is not None else None
    if spec is None:
        return  # unknown node types are reported by the graph checks
    names = [output.name for output in spec.outputs]
    output_type = graph_output_type(project, source, registry)
    if output_type is None:
        bad(f"node {source.node!r} ({graph_node.type}) has no output {source.output!r}",
            f"use one of its outputs: {', '.join(names) or 'none'}")
        return
    allowed = AUDIO_TRACK_TYPES if track.is_audio else VIDEO_TRACK_TYPES
    if output_type not in allowed:
        bad(f"output {source.output!r} of node {source.node!r} is {output_type}, which "
            f"{'an audio' if track.is_audio else 'a video'} track cannot play",
            f"use an output of type {' or '.join(allowed)}")
    if output_type == IMAGE and clip.source_out is None:
        bad("a still has no length of its own", "set 'out' to how many seconds it shows (with 'in' 0)")


def _check_track_timing(track: Track, lengths: Mapping[str, float | None], fps: float,
                        problems: list[ProjectProblem]) -> None:
    problems.extend(problem for _, _, problem in timing_problems(track, lengths, fps))


def timing_problems(track: Track, lengths: Mapping[str, float | None],
                    fps: float) -> Iterator[tuple[str | None, str, ProjectProblem]]:
    """Overlaps on one track are mistakes, except a crossfade of exactly the overlap.

    Yields (earlier clip id, clip id, problem); the earlier id is None for a crossfade
    that has no clip before it. The timeline editor refuses edits by the same rule."""
    tolerance = _half_frame(fps)
    ordered = sorted(track.clips, key=lambda clip: clip.start)
    previous: Clip | None = None
    previous_end: float | None = None
    for clip in ordered:
        crossfade = clip.transition_in if clip.transition_in is not None and \
            clip.transition_in.kind == CROSSFADE else None
        overlap = None if previous_end is None else previous_end - clip.start
        earlier = previous.id if previous is not None else None
        if previous is not None and overlap is not None and overlap > tolerance:
            if crossfade is None:
                yield earlier, clip.id, ProjectProblem(
                    f"overlaps clip {previous.id!r} by {overlap:.3f} s", track.id, clip.id,
                    f"move it to start at {previous_end:.3f} s, move it to another track, or give it a "
                    f'"transition_in": {{"kind": "crossfade", "duration": {overlap:.3f}}}', "overlap")
            elif abs(overlap - crossfade.duration) > tolerance:
                yield earlier, clip.id, ProjectProblem(
                    f"overlaps clip {previous.id!r} by {overlap:.3f} s but its crossfade lasts "
                    f"{crossfade.duration:g} s", track.id, clip.id,
                    f"start it at {previous_end - crossfade.duration:.3f} s so the clips overlap for the crossfade",
                    "overlap")
            elif (previous_length := lengths.get(previous.id)) is not None and crossfade.duration > previous_length:
                yield earlier, clip.id, ProjectProblem(
                    f"its crossfade ({crossfade.duration:g} s) is longer than clip {previous.id!r} "
                    f"({previous_length:.3f} s)", track.id, clip.id, "shorten the crossfade", "overlap")
        elif crossfade is not None and (previous is None or overlap is not None):
            before = f"clip {previous.id!r}" if previous is not None else "any clip"
            fix = (f"start it at {previous_end - crossfade.duration:.3f} s" if previous_end is not None
                   else "put it after another clip on this track, or use fade_from_black")
            yield earlier, clip.id, ProjectProblem(
                f"has a crossfade of {crossfade.duration:g} s but does not overlap {before}", track.id, clip.id,
                fix, "crossfade-without-overlap")
        length = lengths.get(clip.id)
        end = None if length is None else clip.start + length
        if end is None or previous_end is None or end >= previous_end:
            previous, previous_end = clip, end
        if length is None:
            previous_end = None


def _check_graphs(project: Project, registry: Any, problems: list[ProjectProblem]) -> None:
    """Each graph the timeline uses must be valid as far as the used outputs need."""
    from nodes.validation import validate

    used: dict[str, set[str]] = {}
    for _, clip in project.timeline.clips():
        source = clip.source
        if isinstance(source, GraphSource) and source.graph in project.graphs \
                and source.node in project.graphs[source.graph].nodes:
            used.setdefault(source.graph, set()).add(source.node)
    for graph_id, node_ids in used.items():
        graph = project.graphs[graph_id]
        report = validate(graph, registry, sorted(ancestors(graph, node_ids)))
        for problem in report.errors:
            problems.append(ProjectProblem(f"{problem.where()}: {problem.message}", fix=problem.fix,
                                           code=problem.code or "bad-graph", graph=graph_id))


def ancestors(graph: Graph, node_ids: Iterable[str]) -> set[str]:
    """The nodes ``node_ids`` need, themselves included."""
    needed: set[str] = set()
    stack = [node_id for node_id in node_ids if node_id in graph.nodes]
    while stack:
        node_id = stack.pop()
        if node_id in needed:
            continue
        needed.add(node_id)
        stack.extend(source for _, source, _ in graph.nodes[node_id].links() if source in graph.nodes)
    return needed


def _half_frame(fps: float) -> float:
    """How far apart two times may be and still fall on the same frame (a 24 fps frame for a bad rate)."""
    return 0.5 / fps if 0 < fps <= MAX_FPS else 0.5 / 24.0


def _source_length(clip: Clip, facts: SourceFacts | None, lengths: Mapping[str, float] | None) -> float | None:
    if lengths is not None and clip.id in lengths:
        return lengths[clip.id]
    return facts.length if facts is not None else None


def _length(clip: Clip, facts: SourceFacts | None, lengths: Mapping[str, float] | None) -> float | None:
    return clip.length(_source_length(clip, facts, lengths))


def _missing(track: Track, clip: Clip, path: str, project: Project) -> ProjectProblem:
    return ProjectProblem(f"the file {path} does not exist (looked in {project.resolve(path).parent})",
                          track.id, clip.id, "put the file there or correct the path (relative paths start at "
                          "the project file's folder)", "missing-file")


def _probe(path: str, probe: Prober | None) -> Any:
    """A file's MediaInfo, None when it does not exist, or the exception that reading it raised."""
    import os

    if not os.path.isfile(path):
        return None
    if probe is None:
        from nodes.media_files import probe as media_probe

        probe = media_probe
    try:
        return probe(path)
    except Exception as error:  # MediaError, or anything a damaged file provokes
        return error


def picture_size(path: Any) -> tuple[int, int]:
    """A still file's upright (width, height), read from its header without decoding it;
    OSError or ValueError when it is not a picture."""
    from PIL import Image

    with Image.open(path) as opened:
        width, height = opened.size
        turned = opened.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        return (height, width) if turned else (width, height)
