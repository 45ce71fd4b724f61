"""Exporting a project's timeline to a video file, frame by frame.

::

    result = render_project(Project.load("episode.json"), "low", "output/episode.mp4",
                            progress=print, cancel=token)
    result.check.ok, result.check_path     # the check of the written file, and its JSON report

The graphs the timeline uses run first, through the shared :class:`Executor` (only
the outputs clips use; the cache makes a second export instant). Then each export
frame is composed from the clips on screen (``gpu.timeline_frames``) and the sound
mixed a second at a time (``gpu.timeline_audio``), both written as they are made:
memory does not grow with the length of the timeline. The file appears under its
name only when it is complete; a cancelled or failed export leaves nothing behind.
Finally ``nodes.media_checks.check_file`` checks the result against the preset
(size, rate, length, sound) and its report is written beside it as
``<file>.check.json``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gpu.timeline_audio import AudioMixer
from gpu.timeline_frames import FrameCompositor
from nodes.context import Cancelled, CancelToken
from nodes.problems import WorkflowError
from nodes.spec import NodeFailure
from nodes.timeline import GraphSource, Project, ProjectError, ProjectProblem
from nodes.timeline_validation import SourceFacts, clip_lengths, source_facts, validate_project
from nodes.types import Audio, Video

AUDIO_RATE = 48000
AUDIO_CHANNELS = 2


@dataclass(frozen=True)
class ExportPreset:
    """An export format from the production plan."""

    name: str
    width: int
    height: int
    fps: float
    #: x264 quality (lower is better) and speed.
    crf: int
    encoder_preset: str
    #: How clips that choose no fit meet the frame: letterbox (bars) or fill (crop).
    fit: str = "letterbox"
    #: The longest export the preset allows, in seconds (None: any length).
    max_seconds: float | None = None


PRESETS = {
    "low": ExportPreset("low", 1280, 720, 24.0, 23, "veryfast"),
    "high": ExportPreset("high", 1920, 1080, 30.0, 20, "medium"),
    "social": ExportPreset("social", 1080, 1920, 30.0, 21, "fast", fit="fill", max_seconds=15.0),
}


class RenderError(Exception):
    """An export that could not be finished: a graph failed, a source could not be read,
    the file could not be written. The message says which and why."""


@dataclass(frozen=True)
class RenderProgress:
    """What an export is doing: stage "graphs", "frames" or "check", how far along."""

    stage: str
    done: int
    total: int
    elapsed: float
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


ProgressCallback = Callable[[RenderProgress], None]


@dataclass
class RenderResult:
    path: Path
    preset: ExportPreset
    frames: int
    #: Timeline seconds exported: [start, end).
    start: float
    end: float
    elapsed: float
    #: The check's report (``nodes.media_checks.CheckReport``) and where its JSON went.
    check: Any = None
    check_path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Written, and the check (when it ran) passed."""
        return self.check is None or bool(self.check.passed)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0


def render_project(
    project: Project,
    preset: str | ExportPreset,
    output: str | Path,
    *,
    time_range: tuple[float, float] | None = None,
    fit: str | None = None,
    executor: Any = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    check: bool = True,
) -> RenderResult:
    """Export ``project``'s timeline to ``output`` with ``preset`` ("low", "high", "social").

    ``time_range`` exports timeline seconds [start, end) only; ``fit`` overrides the
    preset's fit mode. Raises ProjectError (the project cannot be rendered as it is),
    RenderError (something failed on the way) or Cancelled (``cancel`` was set; no file
    is left)."""
    chosen = PRESETS[preset] if isinstance(preset, str) else preset
    cancel = cancel or CancelToken()
    began = time.perf_counter()
    report = _Reporter(progress, began)
    output = Path(output)
    owned = executor is None
    if executor is None:
        from gpu.executor import Executor

        executor = Executor(output_dir=output.parent, previews=False)
    try:
        span = _wanted_span(time_range, chosen, project)
        problems: list[ProjectProblem] = []
        facts = source_facts(project, executor.registry, problems=problems)
        problems += validate_project(project, executor.registry, facts=facts)
        if problems:
            raise ProjectError(problems, project.name or "project")
        values, source_lengths = compute_graph_outputs(project, executor, cancel, report, span)
    finally:
        if owned:
            executor.close()
    lengths = _timeline_lengths(project, facts, source_lengths)
    warnings: list[str] = []
    start, end = _export_span(project, lengths, time_range, chosen, warnings)
    frame_count = max(1, round((end - start) * chosen.fps))
    sizes = picture_sizes(project, facts, values)
    path = _write(project, chosen, output, values, lengths, sizes, start, frame_count, fit or chosen.fit, cancel,
                  report)
    result = RenderResult(path, chosen, frame_count, start, start + frame_count / chosen.fps,
                          time.perf_counter() - began, warnings=warnings)
    if check:
        report("check", 0, 1, "checking the file")
        result.check, result.check_path = check_export(
            path, chosen, frame_count, _has_sound(project, lengths, result.start, result.end))
        report("check", 1, 1, "checked")
    result.elapsed = time.perf_counter() - began
    return result


class _Reporter:
    def __init__(self, callback: ProgressCallback | None, began: float) -> None:
        self.callback, self.began = callback, began

    def __call__(self, stage: str, done: int, total: int, message: str = "") -> None:
        if self.callback is not None:
            self.callback(RenderProgress(stage, done, total, time.perf_counter() - self.began, message))


# ----- before the frames: graph outputs, lengths, sizes, the span ----------------------------------
def _wanted_span(time_range: tuple[float, float] | None, preset: ExportPreset,
                 project: Project) -> tuple[float, float]:
    """The timeline seconds the export can reach, before the lengths of graph outputs are known."""
    start, end = (0.0, math.inf) if time_range is None else (float(time_range[0]), float(time_range[1]))
    if time_range is not None and not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
        raise ProjectError([ProjectProblem(f"the range {start:g}..{end:g} s is empty or negative",
                                           fix="give START and END in seconds, START before END",
                                           code="bad-range")], project.name or "project")
    if preset.max_seconds is not None:
        end = min(end, start + preset.max_seconds)
    return start, end


def compute_graph_outputs(project: Project, executor: Any, cancel: CancelToken, report: Callable[..., None],
                          span: tuple[float, float] = (0.0, math.inf)) -> tuple[dict[str, Any], dict[str, float]]:
    """Run what the timeline's graph clips in ``span`` need (one run per graph) and return
    each clip's value (clip id -> Video, picture or Audio) and source length in seconds.
    Clips surely outside the span are left out, so exporting a few seconds of an episode
    does not wait for the graphs of the rest."""
    wanted: dict[str, list[tuple[str, GraphSource]]] = {}
    for _, clip in project.timeline.clips():
        length = clip.length()
        outside = clip.start >= span[1] or (length is not None and clip.start + length <= span[0])
        if isinstance(clip.source, GraphSource) and not outside:
            wanted.setdefault(clip.source.graph, []).append((clip.id, clip.source))
    values: dict[str, Any] = {}
    lengths: dict[str, float] = {}
    for done, (graph_id, sources) in enumerate(wanted.items()):
        report("graphs", done, len(wanted), f"running graph {graph_id!r}")
        targets = sorted({source.node for _, source in sources})
        try:
            result = executor.run(project.graphs[graph_id], targets, cancel)
        except WorkflowError as error:
            raise ProjectError([ProjectProblem(f"{problem.where()}: {problem.message}", fix=problem.fix,
                                               code="bad-graph", graph=graph_id) for problem in error.problems],
                               project.name or "project") from None
        if result.cancelled or cancel.cancelled:
            raise Cancelled(cancel.reason or "cancelled")
        if result.errors:
            failures = "; ".join(str(error) for error in result.errors.values())
            raise RenderError(f"graph {graph_id!r} failed: {failures}")
        for clip_id, source in sources:
            value = result.outputs.get(source.node, {}).get(source.output)
            values[clip_id] = value
            if isinstance(value, Video):
                lengths[clip_id] = value.duration
            elif isinstance(value, Audio):
                lengths[clip_id] = value.duration
            elif not isinstance(value, np.ndarray):
                raise RenderError(f"graph {graph_id!r} node {source.node!r} output {source.output!r} gave "
                                  f"{type(value).__name__}, not a video, picture or sound")
    if wanted:
        report("graphs", len(wanted), len(wanted), "graphs done")
    return values, lengths


def _timeline_lengths(project: Project, facts: dict[str, SourceFacts],
                      source_lengths: dict[str, float]) -> dict[str, float | None]:
    """Each clip's timeline seconds; the timing checks run again now that graph outputs have lengths."""
    problems = validate_project(project, None, lengths=source_lengths, facts=facts)
    if problems:
        raise ProjectError(problems, project.name or "project")
    return clip_lengths(project, facts, source_lengths)


def _export_span(project: Project, lengths: dict[str, float | None], time_range: tuple[float, float] | None,
                 preset: ExportPreset, warnings: list[str]) -> tuple[float, float]:
    ends = [clip.start + (lengths.get(clip.id) or 0.0) for _, clip in project.timeline.clips()]
    total = max(ends, default=0.0)
    if total <= 0:
        raise ProjectError([ProjectProblem("the timeline is empty: there is nothing to export",
                                           fix="put clips on a track", code="empty-timeline")],
                           project.name or "project")
    start, end = (0.0, total) if time_range is None else (float(time_range[0]), float(time_range[1]))
    if start >= total:
        raise ProjectError([ProjectProblem(f"the range starts at {start:g} s, after the timeline ends ({total:.3f} s)",
                                           fix=f"start before {total:.3f} s", code="bad-range")],
                           project.name or "project")
    if end > total + 1e-9:
        warnings.append(f"the range ends at {end:g} s, after the timeline ({total:.3f} s); exporting to its end")
        end = total
    if preset.max_seconds is not None and end - start > preset.max_seconds:
        warnings.append(f"the {preset.name} preset exports at most {preset.max_seconds:g} s; exporting "
                        f"{start:g}..{start + preset.max_seconds:g} s of {end - start:.3f} s (choose which part "
                        "with --range)")
        end = start + preset.max_seconds
    return start, end


def picture_sizes(project: Project, facts: dict[str, SourceFacts],
                  values: dict[str, Any]) -> dict[str, tuple[int, int]]:
    sizes = {}
    for track in project.timeline.video_tracks:
        for clip in track.clips:
            value = values.get(clip.id)
            if isinstance(value, Video):
                sizes[clip.id] = (value.frames.shape[2], value.frames.shape[1])
            elif isinstance(value, np.ndarray):
                sizes[clip.id] = (value.shape[1], value.shape[0])
            elif clip.id in facts and facts[clip.id].size is not None:
                sizes[clip.id] = facts[clip.id].size  # type: ignore[assignment]
    return sizes


def _has_sound(project: Project, lengths: dict[str, float | None], start: float, end: float) -> bool:
    """Whether any audio clip plays in the exported span (then the file must not be silent)."""
    return any(clip.start < end and clip.start + (lengths.get(clip.id) or 0.0) > start
               for track in project.timeline.audio_tracks if not track.muted for clip in track.clips)


# ----- the frames and the sound ----------------------------------------------------------------
def _write(project: Project, preset: ExportPreset, output: Path, values: dict[str, Any],
           lengths: dict[str, float | None], sizes: dict[str, tuple[int, int]], start: float, frame_count: int,
           fit: str, cancel: CancelToken, report: Callable[..., None]) -> Path:
    from nodes.media_files import VideoWriter

    compositor = FrameCompositor(project, values, lengths, sizes, (preset.width, preset.height), preset.fps, fit)
    mixer = AudioMixer(project, values, lengths, AUDIO_RATE, AUDIO_CHANNELS)
    first_sample = round(start * AUDIO_RATE)
    chunk = max(1, round(preset.fps))  # frames between sound chunks: about a second
    writer = None
    frames = compositor.frames_ahead([start + index / preset.fps for index in range(frame_count)], cancel,
                                     encoder=True)
    try:
        writer = VideoWriter(output, preset.width, preset.height, preset.fps, codec="h264", crf=preset.crf,
                             preset=preset.encoder_preset, audio_rate=AUDIO_RATE, audio_channels=AUDIO_CHANNELS,
                             audio_codec="aac")
        mixed = 0
        report("frames", 0, frame_count, "exporting")
        for index, frame in enumerate(frames):
            if isinstance(frame, np.ndarray):
                writer.write_frame(frame)
            else:  # a source frame that fills the picture untouched: no trip through RGB
                writer.write_decoded_frame(frame)
            if (index + 1) % chunk == 0 or index + 1 == frame_count:
                wanted = round((index + 1) * AUDIO_RATE / preset.fps)
                writer.write_audio(mixer.mix(first_sample + mixed, wanted - mixed))
                mixed = wanted
                report("frames", index + 1, frame_count, "exporting")
        cancel.raise_if_cancelled()
        path = writer.close()
        writer = None
        return path
    except NodeFailure as error:  # a source that cannot be read, a file that cannot be written
        raise RenderError(str(error)) from None
    finally:
        frames.close()  # stops the composing thread before its decoders are closed
        compositor.close()
        if writer is not None:
            writer.abort()


# ----- the check -------------------------------------------------------------------------------
def check_export(path: Path, preset: ExportPreset, frame_count: int, require_audio: bool) -> tuple[Any, Path]:
    """Check the written file against what was asked for (length within a frame, the
    preset's size, rate and shape, sound where the timeline has some); the report goes
    beside the file as ``<file>.check.json``."""
    from dataclasses import replace

    from nodes.atomic_write import write_atomically
    from nodes.media_checks import Expectations, aspect_name, check_file

    seconds = frame_count / preset.fps
    expectations = Expectations(min_duration=seconds - 1.0 / preset.fps, max_duration=seconds + 1.0 / preset.fps,
                                aspect=aspect_name(preset.width, preset.height), require_audio=require_audio)
    report = check_file(path, expectations)
    wrong = []
    if report.frame_count and (report.width, report.height) != (preset.width, preset.height):
        wrong.append(f"it is {report.width}×{report.height}, not the {preset.width}×{preset.height} of the "
                     f"{preset.name} preset")
    if report.frame_count and abs(report.fps - preset.fps) > 0.01:
        wrong.append(f"it plays at {report.fps:g} fps, not the {preset.fps:g} fps of the {preset.name} preset")
    if wrong:
        report = replace(report, problems=tuple(report.problems) + tuple(wrong))
    check_path = path.with_name(path.name + ".check.json")
    write_atomically(check_path, report.to_text().encode("utf-8"))
    return report, check_path
