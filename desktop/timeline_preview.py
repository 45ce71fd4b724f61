"""What playback needs from a project, made off the GUI thread: graph outputs, clip
lengths, and the same FrameCompositor and AudioMixer the export uses, so what the
monitor shows and plays is what the file will hold.

A clip that cannot be prepared (its graph fails, its file is missing) is left out
of the preview, so it shows black and plays silence, and a problem names it and
says why; the rest of the timeline still plays. :class:`FrameWorker` composes the
frame for the latest time asked for on a thread of its own, dropping the times it
did not reach.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from desktop.timeline_audio_output import CHANNELS, RATE
from gpu.timeline_audio import AudioMixer
from gpu.timeline_frames import FrameCompositor
from gpu.timeline_render import picture_sizes, compute_graph_outputs
from nodes.context import Cancelled, CancelToken
from nodes.timeline import FileSource, GraphSource, ImageSource, Project, ProjectError, Timeline, Track
from nodes.timeline_validation import clip_lengths, source_facts

#: How clips that choose no fit meet the preview frame: as the "low" and "high" exports do.
PREVIEW_FIT = "letterbox"
#: A jump of at most this many frames is played through (files stay in step); longer ones seek.
STEP_THROUGH = 4


def preview_size(width: int, height: int, preview_height: int) -> tuple[int, int]:
    """The preview frame: ``preview_height`` high (never above the timeline), the timeline's aspect, even sides."""
    height_wanted = max(2, min(preview_height, height) // 2 * 2)
    width_wanted = max(2, round(height_wanted * width / max(1, height) / 2) * 2)
    return width_wanted, height_wanted


def frame_index(seconds: float, fps: float) -> int:
    """The frame showing at ``seconds`` (a hair of tolerance, so 0.5 s at 24 fps is frame 12)."""
    return max(0, int(math.floor(seconds * fps + 1e-6)))


@dataclass
class Preview:
    """One preparation of a project for playback."""

    project: Project
    fps: float
    frame_size: tuple[int, int]
    duration: float
    compositor: FrameCompositor
    mixer: AudioMixer
    #: Clip id -> the computed output of its graph (Video, picture or Audio).
    values: dict[str, Any] = field(default_factory=dict)
    #: Sentences naming the clips left out and why.
    problems: list[str] = field(default_factory=list)
    #: (start, end, source is a file) of every video clip drawn, to know when a jump must seek.
    video_spans: list[tuple[float, float, bool]] = field(default_factory=list)
    #: Clip id -> source seconds of the graph outputs that have a length (videos, sound).
    source_lengths: dict[str, float] = field(default_factory=dict)

    def streams_at(self, time: float) -> bool:
        """Whether a file clip (decoded as a stream, in order) is on screen at ``time``."""
        return any(start <= time < end and streamed for start, end, streamed in self.video_spans)


def prepare_preview(project: Project, executor: Any, cancel: CancelToken, frame_size: tuple[int, int],
                    fallback_lengths: Mapping[str, float]) -> Preview:
    """Prepare ``project`` (a copy nobody else edits) for playback at ``frame_size``.

    ``fallback_lengths`` (clip id -> timeline seconds, as the timeline draws them)
    count toward the duration for clips whose length cannot be known here.
    Raises Cancelled when ``cancel`` is set."""
    timeline = project.timeline
    if not (0 < timeline.fps <= 240 and timeline.width > 0 and timeline.height > 0):
        raise ValueError(f"its frame rate ({timeline.fps:g} fps) or size ({timeline.width}×{timeline.height}) "
                         "is out of range")
    problems: list[str] = []
    left_out: set[str] = set()
    facts = source_facts(project, executor.registry)
    for track, clip in project.timeline.clips():
        if isinstance(clip.source, (FileSource, ImageSource)) and clip.id not in facts:
            left_out.add(clip.id)
            problems.append(f"Clip {_name(clip)} is left out: {_file_problem(project, clip.source.path)}")
    values, source_lengths = _graph_values(project, executor, cancel, left_out, problems)
    lengths = clip_lengths(project, facts, source_lengths)
    sizes = picture_sizes(project, facts, values)
    for track in project.timeline.video_tracks:
        for clip in track.clips:
            if clip.id not in sizes and clip.id not in left_out:
                left_out.add(clip.id)
                why = (f"the file {clip.source.path} has no pictures" if isinstance(clip.source, FileSource)
                       else "the size of its picture is not known")
                problems.append(f"Clip {_name(clip)} is left out: {why}")
    duration = max((clip.start + (lengths.get(clip.id) or fallback_lengths.get(clip.id, 0.0))
                    for _, clip in project.timeline.clips()), default=0.0)
    playable = _without(project, left_out)
    compositor = FrameCompositor(playable, values, lengths, sizes, frame_size, project.timeline.fps, PREVIEW_FIT)
    mixer = AudioMixer(playable, values, lengths, RATE, CHANNELS)
    spans = [(clip.start, clip.start + (lengths.get(clip.id) or 0.0),
              isinstance(clip.source, FileSource) and clip.id not in values)
             for track in playable.timeline.video_tracks if not track.muted for clip in track.clips]
    return Preview(playable, project.timeline.fps, frame_size, duration, compositor, mixer, values, problems, spans,
                   source_lengths)


def _graph_values(project: Project, executor: Any, cancel: CancelToken, left_out: set[str],
                  problems: list[str]) -> tuple[dict[str, Any], dict[str, float]]:
    """Each graph clip's output, one run per graph through the shared executor (its cache
    makes a second preparation cheap); a graph that fails leaves out only its own clips."""
    by_graph: dict[str, list[Any]] = {}
    for _, clip in project.timeline.clips():
        if isinstance(clip.source, GraphSource):
            by_graph.setdefault(clip.source.graph, []).append(clip)
    values: dict[str, Any] = {}
    lengths: dict[str, float] = {}
    for graph_id, clips in by_graph.items():
        names = ", ".join(_name(clip) for clip in clips)
        shown = f"Clip{'s' if len(clips) > 1 else ''} {names} {'are' if len(clips) > 1 else 'is'} left out"
        if graph_id not in project.graphs:
            left_out.update(clip.id for clip in clips)
            problems.append(f"{shown}: the project has no graph {graph_id!r}")
            continue
        part = Project(Timeline(project.timeline.fps, project.timeline.width, project.timeline.height,
                                video_tracks=[Track("graph clips", clips=clips)]),
                       {graph_id: project.graphs[graph_id]}, project.name, folder=project.folder)
        try:
            graph_values, graph_lengths = compute_graph_outputs(part, executor, cancel, _quiet)
        except Cancelled:
            raise
        except ProjectError as error:
            left_out.update(clip.id for clip in clips)
            problems.append(f"{shown}: graph {graph_id!r} cannot run: "
                            + "; ".join(str(problem) for problem in error.problems))
        except Exception as error:  # RenderError, or a node that broke in a way nobody foresaw
            left_out.update(clip.id for clip in clips)
            problems.append(f"{shown}: {error}")
        else:
            values.update(graph_values)
            lengths.update(graph_lengths)
        cancel.raise_if_cancelled()
    return values, lengths


def _quiet(*progress: Any) -> None:
    """Playback shows no progress while graphs run; the frame appears when they are done."""


def _without(project: Project, clip_ids: set[str]) -> Project:
    """A copy of ``project`` without the clips that cannot play."""
    playable = copy.copy(project)
    timeline = playable.timeline = copy.copy(project.timeline)
    timeline.video_tracks = [_track_without(track, clip_ids) for track in project.timeline.video_tracks]
    timeline.audio_tracks = [_track_without(track, clip_ids) for track in project.timeline.audio_tracks]
    return playable


def _track_without(track: Track, clip_ids: set[str]) -> Track:
    kept = copy.copy(track)
    kept.clips = [clip for clip in track.clips if clip.id not in clip_ids]
    return kept


def _name(clip: Any) -> str:
    return f"{clip.name!r} ({clip.id})" if clip.name else repr(clip.id)


def _file_problem(project: Project, path: str) -> str:
    if not project.resolve(path).is_file():
        return f"the file {path} does not exist (looked in {project.resolve(path).parent})"
    return f"the file {path} cannot be read"


# ----- composing frames off the GUI thread -------------------------------------------------------
Deliver = Callable[[np.ndarray, float], None]


class FrameWorker:
    """One thread that composes the frame for the latest time asked for.

    Asking again before it is done replaces the request, so a slow frame makes the
    next ones drop instead of piling up. The compositor is only ever touched on this
    thread: a new :class:`Preview` is handed over and picked up between frames."""

    def __init__(self, deliver: Deliver, report: Callable[[str], None]) -> None:
        self.deliver, self.report = deliver, report
        self._condition = threading.Condition()
        self._wanted: int | None = None
        self._incoming: Preview | None = None
        self._stopping = False
        self._preview: Preview | None = None
        self._last_index: int | None = None
        self._last_frame: np.ndarray | None = None
        self._thread = threading.Thread(target=self._run, name="reelgraph-playback-frames", daemon=True)
        self._thread.start()

    def use(self, preview: Preview) -> None:
        with self._condition:
            self._incoming = preview
            self._condition.notify()

    def request(self, index: int) -> None:
        with self._condition:
            self._wanted = index
            self._condition.notify()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self._thread.join()
        for preview in (self._preview, self._incoming):
            if preview is not None:
                preview.compositor.close()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and self._wanted is None:
                    self._condition.wait()
                if self._stopping:
                    return
                index, self._wanted = self._wanted, None
                incoming, self._incoming = self._incoming, None
            if incoming is not None:
                if self._preview is not None:
                    self._preview.compositor.close()
                self._preview, self._last_index = incoming, None
            if self._preview is None:
                continue
            frame = self._compose(self._preview, index)
            self.deliver(frame, index / self._preview.fps)

    def _compose(self, preview: Preview, index: int) -> np.ndarray:
        if index == self._last_index and self._last_frame is not None:
            return self._last_frame
        fps, compositor = preview.fps, preview.compositor
        time = index / fps
        try:
            if preview.streams_at(time + 0.5 / fps):
                last = self._last_index
                if last is not None and last < index <= last + STEP_THROUGH:
                    for skipped in range(last + 1, index):  # decoded and dropped, so the files stay in step
                        compositor.frame(skipped / fps)
                elif last != index - 1:
                    compositor.forget_streams()  # the files reopen at the new time
            frame = compositor.frame(time)
        except Exception as error:  # a file that stops decoding: black, and say so once
            compositor.close()
            self._drop_failing(preview, time, error)
            width, height = preview.frame_size
            frame = np.zeros((height, width, 3), np.uint8)
        self._last_index, self._last_frame = index, frame
        return frame

    def _drop_failing(self, preview: Preview, time: float, error: Exception) -> None:
        """Leave out the file and still clips on screen when their pictures cannot be read."""
        middle = time + 0.5 / preview.fps
        failing = [span.clip for spans in preview.compositor.tracks for span in spans
                   if span.start <= middle < span.end and span.clip.id not in preview.values]
        preview.compositor.leave_out({clip.id for clip in failing})
        names = ", ".join(_name(clip) for clip in failing) or "a clip"
        self.report(f"Clip {names} is not shown from {time:.2f} s: {error}")


# ----- preparing off the GUI thread --------------------------------------------------------------
Prepared = Callable[[int, "Preview | None", str], None]


class PreviewBuilder:
    """One thread that prepares the latest snapshot of the project asked for.

    A new request cancels the preparation in flight (graphs stop at their next
    step; what they finished stays in the executor's cache for the next try) and
    replaces any request still waiting. ``deliver(generation, preview, problem)`` is
    called on this thread: a Preview, or None and a sentence when it failed."""

    def __init__(self, executor: Any, deliver: Prepared) -> None:
        self.executor, self.deliver = executor, deliver
        self._condition = threading.Condition()
        self._job: tuple[int, Project, tuple[int, int], Mapping[str, float]] | None = None
        self._cancel: CancelToken | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="reelgraph-playback-prepare", daemon=True)
        self._thread.start()

    def build(self, generation: int, project: Project, frame_size: tuple[int, int],
              fallback_lengths: Mapping[str, float]) -> None:
        with self._condition:
            self._job = (generation, project, frame_size, fallback_lengths)
            if self._cancel is not None:
                self._cancel.cancel("the timeline changed")
            self._condition.notify()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            if self._cancel is not None:
                self._cancel.cancel("playback closed")
            self._condition.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and self._job is None:
                    self._condition.wait()
                if self._stopping:
                    return
                (generation, project, frame_size, fallback), self._job = self._job, None  # type: ignore[misc]
                cancel = self._cancel = CancelToken()
            try:
                preview = prepare_preview(project, self.executor, cancel, frame_size, fallback)
            except Cancelled:
                continue
            except Exception as error:  # a project state nobody foresaw: playback says so, the app goes on
                self._hand(generation, None, f"Playback cannot show this timeline: {error}")
            else:
                self._hand(generation, preview, "")

    def _hand(self, generation: int, preview: Preview | None, problem: str) -> None:
        with self._condition:
            if self._stopping:
                if preview is not None:
                    preview.compositor.close()
                return
        self.deliver(generation, preview, problem)
