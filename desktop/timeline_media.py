"""Thumbnails and waveforms for the timeline, made off the GUI thread and remembered.

Decoding a frame or a minute of sound takes milliseconds to seconds; the timeline
repaints many times a second. So clips only *ask* :class:`MediaLoader` for what
they want to draw (a frame at a source second, a still, the loudness of a source);
an answer not made yet is queued for a few worker threads and the clip draws
without it. Workers take the newest request first (what is on screen now), hand
results back through a queue that a GUI-thread timer drains, and never touch a
widget, so a view closed mid-decode has nothing to crash on.

Sound is read once per source as a peak envelope (:class:`Peaks`, a few hundred
buckets a second); every zoom level draws from it by taking the loudest bucket
under each pixel column, so zooming never reads the file again. Files are read
through ``nodes.media_files`` (the readers the renderer uses), stills through
``gpu.timeline_frames.load_picture``, graph outputs from the values handed to
:meth:`MediaLoader.set_values`.
"""

from __future__ import annotations

import math
import os
import queue
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from desktop.pictures import to_qimage
from desktop.preload import import_modules
from desktop.timeline_workers import Dropped, Failed, WorkerPool
from nodes.timeline import Clip, GraphSource, ImageSource, Project
from nodes.types import Audio, Video

#: What a job is asked and remembered by: (kind, media, ...), kind "facts", "peaks", "still" or "frame".
Key = tuple[Any, ...]
#: Thumbnails kept in memory (about 20 kB each at the timeline's row height).
THUMBNAIL_MEMORY = 1500
#: Sound is read for the envelope at this rate, mono, a block at a time (never a whole long file at once).
ENVELOPE_RATE = 8000
ENVELOPE_BLOCK = 30.0
#: Envelope buckets per second: fine for short sources, coarser for long ones (an hour is 180,000 buckets).
BUCKETS_SHORT, BUCKETS_LONG, LONG_SOURCE = 200.0, 50.0, 600.0
POLL_MILLISECONDS = 25
#: Source seconds searched back for a picture when one is asked for past a file's last frame.
LOOK_BACK = 1.0


@dataclass(frozen=True)
class Media:
    """What a clip shows, as a cache key: a version of a file, or one computed graph value."""

    kind: str  # "file" | "image" | "value"
    path: str = ""
    stamp: tuple[int, int] = (0, 0)
    clip_id: str = ""
    value_id: int = 0


@dataclass(frozen=True)
class MediaFacts:
    """What a source holds, as far as drawing it goes."""

    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    duration: float = 0.0
    still: bool = False

    @property
    def aspect(self) -> float:
        return self.width / self.height if self.width > 0 and self.height > 0 else 16 / 9


@dataclass(frozen=True)
class Peaks:
    """How loud a source is over time: the peak and RMS level (0..1) of each bucket."""

    peak: np.ndarray
    rms: np.ndarray
    per_second: float

    def columns(self, first_second: float, seconds_per_column: float, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Peak and RMS for ``count`` pixel columns, the first starting at source second
        ``first_second``: the loudest bucket under each column (silence past the end)."""
        size = len(self.peak)
        if count <= 0 or size == 0:
            return np.zeros(max(count, 0), np.float32), np.zeros(max(count, 0), np.float32)
        edges = (first_second + seconds_per_column * np.arange(count + 1)) * self.per_second
        starts = np.clip(np.floor(edges[:-1]).astype(np.int64), 0, size)
        ends = np.clip(np.maximum(np.floor(edges[1:]).astype(np.int64), starts + 1), 0, size)
        inside = starts < ends
        peak, rms = np.zeros(count, np.float32), np.zeros(count, np.float32)
        if inside.any():
            pairs = np.column_stack([starts[inside], ends[inside]]).ravel()
            padded_peak, padded_rms = np.append(self.peak, 0.0), np.append(self.rms, 0.0)
            peak[inside] = np.maximum.reduceat(padded_peak, pairs)[::2]
            rms[inside] = np.maximum.reduceat(padded_rms, pairs)[::2]
        return peak, rms


def envelope(samples: np.ndarray, rate: float, per_second: float) -> tuple[np.ndarray, np.ndarray]:
    """Peak and RMS per bucket of ``samples`` (channels × samples), loudest channel."""
    mono = np.abs(samples).max(axis=0) if samples.ndim == 2 else np.abs(samples)
    width = max(1, int(round(rate / per_second)))
    count = math.ceil(len(mono) / width)
    if count == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    padded = np.zeros(count * width, np.float32)
    padded[: len(mono)] = mono
    buckets = padded.reshape(count, width)
    return (np.minimum(buckets.max(axis=1), 1.0).astype(np.float32),
            np.minimum(np.sqrt((buckets ** 2).mean(axis=1)), 1.0).astype(np.float32))


def buckets_per_second(duration: float) -> float:
    return BUCKETS_SHORT if duration < LONG_SOURCE else BUCKETS_LONG


def media_for(project: Project, clip: Clip, values: dict[str, Any]) -> Media | None:
    """The cache key of what ``clip`` shows; None for a graph output not computed yet."""
    source = clip.source
    if isinstance(source, GraphSource):
        value = values.get(clip.id)
        return None if value is None else Media("value", clip_id=clip.id, value_id=id(value))
    path = project.resolve(source.path)
    try:
        status = os.stat(path)
        stamp = (status.st_mtime_ns, status.st_size)
    except OSError:
        stamp = (0, -1)  # missing: probing says so
    return Media("image" if isinstance(source, ImageSource) else "file", str(path), stamp)


def value_facts(value: Any) -> MediaFacts | None:
    """What a computed graph output holds (None for a value the timeline cannot show)."""
    if isinstance(value, Video):
        height, width = value.frames.shape[1:3]
        return MediaFacts(True, value.audio is not None, width, height, value.duration)
    if isinstance(value, np.ndarray) and value.ndim in (2, 3):
        return MediaFacts(True, False, value.shape[1], value.shape[0], still=True)
    if isinstance(value, Audio):
        return MediaFacts(False, True, duration=value.duration)
    return None


def scaled(picture: np.ndarray, height: int) -> QImage:
    """A picture at ``height`` pixels, its shape kept, as a QImage that owns its pixels."""
    import cv2

    width = max(1, round(picture.shape[1] * height / max(1, picture.shape[0])))
    interpolation = cv2.INTER_AREA if height < picture.shape[0] else cv2.INTER_LINEAR
    return to_qimage(cv2.resize(np.ascontiguousarray(picture), (width, height), interpolation=interpolation))


class MediaLoader(QObject):
    """Answers what clips draw from memory, and makes what is missing in the background."""

    #: Something new arrived (a thumbnail, an envelope, what a file holds, a failure): repaint.
    changed = Signal()

    def __init__(self, parent: QObject | None = None, workers: int = 2) -> None:
        super().__init__(parent)
        # first imports on a worker thread next to Qt's event processing can crash (desktop/preload.py)
        import_modules(("av", "cv2", "PIL.Image", "nodes.library.image", "nodes.media_files"))
        self.pool = WorkerPool(min(workers, os.cpu_count() or 1))
        self._values: dict[str, Any] = {}
        self._facts: dict[Media, MediaFacts] = {}
        self._problems: dict[Media, str] = {}
        self._thumbnails: "OrderedDict[Key, QImage]" = OrderedDict()
        self._stills: dict[Key, QImage] = {}
        self._peaks: dict[Media, Peaks] = {}
        self._asked: set[Key] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MILLISECONDS)
        self._timer.timeout.connect(self._collect)
        pool = self.pool
        self.destroyed.connect(lambda *_: pool.stop())

    # ----- graph outputs -------------------------------------------------------------------------
    def set_values(self, values: dict[str, Any]) -> None:
        """Computed graph outputs by clip id (Video, picture array or Audio); replaces older ones."""
        self._values.update(values)
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        return self._values

    def forget_values(self) -> None:
        """Drop the graph outputs (another project was opened: its clip ids mean other things)."""
        self._values = {}
        self.changed.emit()

    # ----- what clips ask -----------------------------------------------------------------------
    def facts(self, media: Media) -> MediaFacts | None:
        """What ``media`` holds; None while it is being found out (or when it cannot be read)."""
        if media.kind == "value":
            return value_facts(self._values.get(media.clip_id))
        known = self._facts.get(media)
        if known is None and media not in self._problems:
            self._ask(("facts", media), lambda: facts_job(media))
        return known

    def problem(self, media: Media) -> str | None:
        """Why ``media`` cannot be shown (missing, damaged), or None."""
        return self._problems.get(media)

    def thumbnail(self, media: Media, time: float, height: int) -> QImage | None:
        """The picture at source second ``time``, ``height`` pixels high (None until decoded)."""
        key = ("frame", media, round(time, 4), height)
        image = self._thumbnails.get(key)
        if image is not None:
            self._thumbnails.move_to_end(key)
            return None if image.isNull() else image
        facts = self.facts(media)
        if facts is not None and facts.has_video and media not in self._problems:
            value = self._values.get(media.clip_id)
            self._ask(key, lambda: frame_job(media, value, facts, time, height))
        return None

    def still(self, media: Media, height: int) -> QImage | None:
        """A still (file or computed picture) at ``height`` pixels (None until loaded)."""
        key = ("still", media, height)
        image = self._stills.get(key)
        if image is None and media not in self._problems:
            value = self._values.get(media.clip_id)
            self._ask(key, lambda: still_job(media, value, height))
        return None if image is None or image.isNull() else image

    def peaks(self, media: Media) -> Peaks | None:
        """The loudness envelope of ``media``'s sound (None until read)."""
        known = self._peaks.get(media)
        if known is None and media not in self._problems:
            facts = self.facts(media)
            if facts is not None and facts.has_audio:
                value = self._values.get(media.clip_id)
                self._ask(("peaks", media), lambda: envelope_job(media, value, facts))
        return known

    @property
    def busy(self) -> bool:
        """Whether anything asked for is still being made."""
        return bool(self._asked)

    def shutdown(self) -> None:
        self._timer.stop()
        self.pool.stop()

    # ----- the GUI side of the queue --------------------------------------------------------------
    def _ask(self, key: Key, job: Callable[[], Any]) -> None:
        if key in self._asked:
            return
        self._asked.add(key)
        self.pool.submit(key, job)
        if not self._timer.isActive():
            self._timer.start()

    def _collect(self) -> None:
        arrived = False
        while True:
            try:
                key, result = self.pool.results.get_nowait()
            except queue.Empty:
                break
            self._asked.discard(key)
            if isinstance(result, Dropped):
                continue
            arrived = True
            self._store(key, result)
        if not self._asked:
            self._timer.stop()
        if arrived:
            self.changed.emit()

    def _store(self, key: Key, result: Any) -> None:
        """Keep what a job made; keys are (kind, media, ...) as asked."""
        kind, media = key[0], key[1]
        if isinstance(result, Failed):
            self._problems[media] = result.message
        elif kind == "facts":
            self._facts[media] = result
        elif kind == "peaks":
            self._peaks[media] = result
        elif kind == "still":
            self._stills[key] = QImage() if result is None else result  # empty: nothing to show, not asked again
        else:
            self._thumbnails[key] = QImage() if result is None else result
            while len(self._thumbnails) > THUMBNAIL_MEMORY:
                self._thumbnails.popitem(last=False)


# ----- jobs (worker threads: no widgets, no document, only what they were handed) ---------------
def facts_job(media: Media) -> MediaFacts:
    if media.kind == "image":
        return MediaFacts(True, False, still=True)
    from nodes.media_files import probe

    info = probe(media.path)
    return MediaFacts(info.has_video, info.has_audio, info.width, info.height, info.duration)


def frame_job(media: Media, value: Any, facts: MediaFacts, time: float, height: int) -> QImage | None:
    if media.kind == "value":
        if not isinstance(value, Video):
            return None
        index = min(len(value.frames) - 1, max(0, int(time * value.fps)))
        return scaled(value.frames[index], height)
    from nodes.media_files import read_frames

    width = max(1, round(height * facts.aspect))
    frame = _first_frame(read_frames(media.path, max(0.0, time), None, size=(width, height)))
    if frame is None and time > 0:  # past the last frame (lengths are rounded): the last one before it
        frame = _last_frame(read_frames(media.path, max(0.0, time - LOOK_BACK), time, size=(width, height)))
    return None if frame is None else to_qimage(frame)


def _first_frame(frames: Iterator[np.ndarray]) -> np.ndarray | None:
    try:
        return next(frames, None)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


def _last_frame(frames: Iterator[np.ndarray]) -> np.ndarray | None:
    last = None
    for last in frames:
        pass
    return last


def still_job(media: Media, value: Any, height: int) -> QImage | None:
    if media.kind == "value":
        picture = value.frames[0] if isinstance(value, Video) else value
        return scaled(picture, height) if isinstance(picture, np.ndarray) else None
    from gpu.timeline_frames import load_picture

    return scaled(load_picture(Path(media.path)), height)


def envelope_job(media: Media, value: Any, facts: MediaFacts) -> Peaks:
    if media.kind == "value":
        sound = value.audio if isinstance(value, Video) else value
        if not isinstance(sound, Audio):
            return Peaks(np.zeros(0, np.float32), np.zeros(0, np.float32), BUCKETS_SHORT)
        per_second = buckets_per_second(sound.duration)
        return Peaks(*envelope(sound.samples, sound.rate, per_second), per_second)
    from nodes.media_files import read_audio

    per_second = buckets_per_second(facts.duration)
    peaks, levels = [], []
    start = 0.0
    while start < max(facts.duration, ENVELOPE_BLOCK / 2):
        block = read_audio(media.path, start, start + ENVELOPE_BLOCK, rate=ENVELOPE_RATE, channels=1)
        if block.samples.shape[1] == 0:
            break
        peak, rms = envelope(block.samples, ENVELOPE_RATE, per_second)
        peaks.append(peak)
        levels.append(rms)
        start += ENVELOPE_BLOCK
    if not peaks:
        return Peaks(np.zeros(0, np.float32), np.zeros(0, np.float32), per_second)
    return Peaks(np.concatenate(peaks), np.concatenate(levels), per_second)
