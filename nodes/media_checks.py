"""Checks that catch a broken render before anyone sees it: how long, how large and what
shape a clip is, whether it has sound, and whether it has black stretches, frozen
pictures or silent sound, held against what the creator expects.

The same measurements run on a clip in memory (:func:`check_video`, the video.Check
node) and on a file, streamed a frame at a time (:func:`check_file`, which export runs
on each rendered file and writes beside it with :meth:`CheckReport.to_text`).

How the measurements decide (the thresholds are ffmpeg's blackdetect and freezedetect
defaults, near enough):

- A frame is black when 98 % of its pixels are no brighter than 32 of 255 in every
  channel and nothing in it stands out (brighter than 64 once averaged down to the
  measuring size): white lettering on a black title card is not a black frame.
- A frame is frozen when its mean change from the frame before is below a quarter of
  one level of 255 (codec noise on a still is below that; a slow pan is above). A
  stretch of black is reported as black only, not also as frozen.
- Sound is silent when its RMS level is below -60 dBFS; a 0.1-second window quieter than
  -50 dBFS counts towards ``silent_seconds``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable

import numpy as np

from nodes.clip_editing import parse_aspect
from nodes.spec import NodeFailure
from nodes.types import Audio, Video

#: Frames are measured at most this wide (averaged down): enough to see a still picture
#: or a black frame, and cheap for a long file.
ANALYSIS_WIDTH = 320
BLACK_LEVEL = 32
BLACK_SHARE = 0.98
VISIBLE_LEVEL = 64
FROZEN_CHANGE = 0.25
#: Frozen stretches shorter than this (a frame repeated by a rate conversion) count
#: towards the longest one but are not listed.
LISTED_FROZEN_SECONDS = 0.5
SILENT_DB = -60.0
QUIET_WINDOW_DB = -50.0
QUIET_WINDOW_SECONDS = 0.1
#: Levels are reported no lower than this (digital silence has no finite level).
FLOOR_DB = -120.0
MAX_LISTED = 50
ASPECT_TOLERANCE = 0.01
COMMON_ASPECTS = {"16:9": 16 / 9, "9:16": 9 / 16, "4:3": 4 / 3, "3:4": 3 / 4, "1:1": 1.0, "4:5": 4 / 5,
                  "21:9": 64 / 27, "2:1": 2.0, "1.85:1": 1.85, "2.39:1": 2.39, "3:2": 1.5, "2:3": 2 / 3}
AUDIO_ANALYSIS_RATE = 16000

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Expectations:
    """What a good clip looks like. Zero or empty means "any" for the duration limits
    and the aspect; a negative seconds limit means no limit on black or frozen pictures."""

    min_duration: float = 0.0
    max_duration: float = 0.0
    aspect: str = ""
    require_audio: bool = False
    max_black_seconds: float = -1.0
    max_frozen_seconds: float = -1.0

    def __post_init__(self) -> None:
        if self.aspect.strip():
            parse_aspect(self.aspect)  # a ValueError in words when it is not an aspect


@dataclass(frozen=True)
class Stretch:
    """A span of the clip, in seconds from its start."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{self.start:.2f}–{self.end:.2f} s"


@dataclass(frozen=True)
class CheckReport:
    """What the check measured, and each expectation the clip failed, in words."""

    source: str
    duration: float
    frame_count: int
    width: int
    height: int
    fps: float
    has_audio: bool
    audio_rate: int = 0
    audio_channels: int = 0
    audio_duration: float = 0.0
    audio_peak_db: float | None = None
    audio_rms_db: float | None = None
    silent_seconds: float = 0.0
    black_seconds: float = 0.0
    black_stretches: tuple[Stretch, ...] = ()
    longest_frozen_seconds: float = 0.0
    frozen_stretches: tuple[Stretch, ...] = ()
    expectations: Expectations = field(default_factory=Expectations)
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def aspect(self) -> str:
        return aspect_name(self.width, self.height)

    @property
    def silent_audio(self) -> bool | None:
        """True when the sound is silent throughout; None when there is no sound."""
        if not self.has_audio:
            return None
        return self.audio_rms_db is None or self.audio_rms_db < SILENT_DB

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-able data (see :meth:`to_text` for the file export writes)."""
        data = asdict(self)
        data.update(passed=self.passed, aspect=self.aspect, resolution=f"{self.width}×{self.height}",
                    silent_audio=self.silent_audio, problems=list(self.problems))
        for key in ("black_stretches", "frozen_stretches"):
            data[key] = [[round(item.start, 3), round(item.end, 3)] for item in getattr(self, key)]
        for key in ("duration", "fps", "audio_duration", "silent_seconds", "black_seconds",
                    "longest_frozen_seconds"):
            data[key] = round(data[key], 3)
        return data

    def to_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def summary(self) -> str:
        """One line for a log or a queue entry."""
        verdict = "passed" if self.passed else "failed: " + "; ".join(self.problems)
        return (f"{self.source}: {self.duration:.2f} s, {self.width}×{self.height} ({self.aspect}), "
                f"{self.fps:g} fps, {'sound' if self.has_audio else 'no sound'}; {verdict}")


def aspect_name(width: int, height: int) -> str:
    """'16:9' for 1920×1080 and for 854×480 (within 1 %), '683:384' spelled as '1.779:1'."""
    if width <= 0 or height <= 0:
        return "none"
    ratio = width / height
    for name, common in COMMON_ASPECTS.items():
        if abs(ratio / common - 1) <= ASPECT_TOLERANCE:
            return name
    divisor = math.gcd(width, height)
    if max(width, height) // divisor <= 32:
        return f"{width // divisor}:{height // divisor}"
    return f"{ratio:.3f}:1"


# ----- measuring --------------------------------------------------------------------------------

class PictureMeasure:
    """Black and frozen stretches, measured one frame at a time (a file never needs to be
    held whole)."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.count = 0
        self.black_frames = 0
        self.black: list[Stretch] = []
        self.frozen: list[Stretch] = []
        self.longest_frozen = 0
        self._previous: np.ndarray | None = None
        self._black_since: int | None = None
        self._frozen_since: int | None = None

    def add(self, frame: np.ndarray) -> None:
        import cv2

        picture = frame[:, :, :3]
        if picture.shape[1] > ANALYSIS_WIDTH:
            height = max(1, round(picture.shape[0] * ANALYSIS_WIDTH / picture.shape[1]))
            picture = cv2.resize(picture, (ANALYSIS_WIDTH, height), interpolation=cv2.INTER_AREA)
        else:
            picture = np.ascontiguousarray(picture)
        index = self.count
        brightest = picture.max(axis=2)
        black = float((brightest <= BLACK_LEVEL).mean()) >= BLACK_SHARE and int(brightest.max()) <= VISIBLE_LEVEL
        if black:
            self.black_frames += 1
            if self._black_since is None:
                self._black_since = index
        else:
            self._close_black(index)
        previous = self._previous
        repeats = (not black and previous is not None and previous.shape == picture.shape
                   and float(cv2.absdiff(picture, previous).mean()) < FROZEN_CHANGE)
        if repeats:
            if self._frozen_since is None:
                self._frozen_since = index - 1
        else:
            self._close_frozen(index)
        self._previous = None if black else picture
        self.count += 1

    def finish(self) -> None:
        self._close_black(self.count)
        self._close_frozen(self.count)

    def _close_black(self, end: int) -> None:
        if self._black_since is not None:
            if len(self.black) < MAX_LISTED:
                self.black.append(Stretch(self._black_since / self.fps, end / self.fps))
            self._black_since = None

    def _close_frozen(self, end: int) -> None:
        if self._frozen_since is not None:
            frames = end - self._frozen_since
            self.longest_frozen = max(self.longest_frozen, frames)
            if frames / self.fps >= LISTED_FROZEN_SECONDS and len(self.frozen) < MAX_LISTED:
                self.frozen.append(Stretch(self._frozen_since / self.fps, end / self.fps))
            self._frozen_since = None


@dataclass(frozen=True)
class SoundLevels:
    peak_db: float
    rms_db: float
    quiet_seconds: float


def decibels(amplitude: float) -> float:
    return round(max(FLOOR_DB, 20 * math.log10(amplitude)) if amplitude > 0 else FLOOR_DB, 1)


def sound_levels(samples: np.ndarray, rate: int) -> SoundLevels:
    """Peak and RMS level of channels × samples, and how many seconds are quiet, measured
    in blocks so a long soundtrack is never copied whole."""
    window = max(1, round(QUIET_WINDOW_SECONDS * rate))
    quiet_below = 10 ** (QUIET_WINDOW_DB / 10)  # a mean square
    block = window * 100
    peak, squares, quiet_samples = 0.0, 0.0, 0
    total = samples.shape[1]
    for begin in range(0, total, block):
        piece = samples[:, begin : begin + block].astype(np.float64)
        if piece.size == 0:
            break
        peak = max(peak, float(np.abs(piece).max()))
        power = (piece * piece).mean(axis=0)
        squares += float(power.sum())
        whole = len(power) // window * window
        windows = power[:whole].reshape(-1, window).mean(axis=1)
        quiet_samples += int((windows < quiet_below).sum()) * window
        if whole < len(power) and power[whole:].mean() < quiet_below:
            quiet_samples += len(power) - whole
    rms = math.sqrt(squares / total) if total else 0.0
    return SoundLevels(decibels(peak), decibels(rms), quiet_samples / rate)


def _judge(report: CheckReport) -> tuple[str, ...]:
    """Each expectation the report falls short of, in words a creator can act on."""
    expected = report.expectations
    problems = []
    if report.frame_count == 0:
        problems.append("it has no frames")
    if expected.min_duration > 0 and report.duration < expected.min_duration:
        problems.append(f"it lasts {report.duration:.2f} s, shorter than the {expected.min_duration:g} s expected")
    if expected.max_duration > 0 and report.duration > expected.max_duration:
        problems.append(f"it lasts {report.duration:.2f} s, longer than the {expected.max_duration:g} s allowed")
    if expected.aspect.strip() and report.height > 0:
        wanted = parse_aspect(expected.aspect)
        if abs(report.width / report.height / wanted - 1) > ASPECT_TOLERANCE:
            problems.append(f"it is {report.width}×{report.height} ({report.aspect}), not the "
                            f"{expected.aspect.strip()} expected")
    if expected.require_audio and not report.has_audio:
        problems.append("it has no sound, and sound is required")
    elif expected.require_audio and report.silent_audio:
        problems.append(f"its sound is silent throughout ({report.audio_rms_db:g} dBFS RMS), and sound is required")
    if 0 <= expected.max_black_seconds < report.black_seconds:
        where = ", ".join(str(item) for item in report.black_stretches[:3])
        problems.append(f"it has {report.black_seconds:.2f} s of black frames ({where}), more than the "
                        f"{expected.max_black_seconds:g} s allowed")
    if 0 <= expected.max_frozen_seconds < report.longest_frozen_seconds:
        longest = max(report.frozen_stretches, key=lambda item: item.seconds, default=None)
        where = f" ({longest})" if longest is not None else ""
        problems.append(f"its picture stands still for {report.longest_frozen_seconds:.2f} s{where}, more than "
                        f"the {expected.max_frozen_seconds:g} s allowed")
    return tuple(problems)


def _measured(source: str, frames: Iterable[np.ndarray], fps: float, duration: float | None,
              audio: Callable[[], Audio | None], expectations: Expectations, total: int,
              progress: Progress | None) -> CheckReport:
    pictures = PictureMeasure(fps)
    width = height = 0
    every = max(1, total // 100)
    for frame in frames:
        height, width = frame.shape[:2]
        pictures.add(frame)
        if progress is not None and pictures.count % every == 0:
            progress(min(0.95, pictures.count / max(total, 1)))
    pictures.finish()
    sound = audio()
    levels = sound_levels(sound.samples, sound.rate) if sound is not None else None
    report = CheckReport(
        source=source, duration=duration if duration is not None else pictures.count / fps,
        frame_count=pictures.count, width=width, height=height, fps=fps, has_audio=sound is not None,
        audio_rate=sound.rate if sound is not None else 0, audio_channels=sound.channels if sound is not None else 0,
        audio_duration=sound.duration if sound is not None else 0.0,
        audio_peak_db=levels.peak_db if levels else None, audio_rms_db=levels.rms_db if levels else None,
        silent_seconds=levels.quiet_seconds if levels else 0.0,
        black_seconds=pictures.black_frames / fps, black_stretches=tuple(pictures.black),
        longest_frozen_seconds=pictures.longest_frozen / fps, frozen_stretches=tuple(pictures.frozen),
        expectations=expectations)
    if progress is not None:
        progress(1.0)
    return replace(report, problems=_judge(report))


def check_video(video: Video, expectations: Expectations = Expectations(), progress: Progress | None = None,
                source: str = "clip") -> CheckReport:
    """Measure a clip in memory and hold it to ``expectations``."""
    if not isinstance(video, Video):
        raise NodeFailure(f"the video is not a video clip (got {type(video).__name__})")
    return _measured(source, iter(video.frames), video.fps, None, lambda: video.audio, expectations,
                     len(video.frames), progress)


def check_file(path: str | os.PathLike[str], expectations: Expectations = Expectations(),
               progress: Progress | None = None) -> CheckReport:
    """Measure a media file, streaming its frames, and hold it to ``expectations``. A file
    that cannot be read (missing, damaged, cut short, no pictures) is a failed report
    saying why, so export can write it beside the file like any other."""
    from nodes import media_files

    name = os.fspath(path)
    try:
        info = media_files.probe(path)
        if not info.has_video:
            raise NodeFailure(f"{os.path.basename(name)} has no pictures, only sound")
        fps = info.fps or 24.0

        def sound() -> Audio | None:
            if not info.has_audio:
                return None
            return media_files.read_audio(path, rate=AUDIO_ANALYSIS_RATE, channels=1)

        report = _measured(name, media_files.read_frames(path), fps, info.duration, sound, expectations,
                           info.frame_count, progress)
    except NodeFailure as error:  # media_files raises MediaError, a NodeFailure, for unreadable files
        return CheckReport(source=name, duration=0.0, frame_count=0, width=0, height=0, fps=0.0, has_audio=False,
                           expectations=expectations, problems=(f"it cannot be read: {error}",))
    if info.has_audio:  # measured as mono at a low rate; report the file's own sound format
        report = replace(report, audio_rate=info.audio_rate, audio_channels=info.audio_channels)
    return report
