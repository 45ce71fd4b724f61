"""The pictures of a timeline, one export frame at a time.

Each video track is drawn over the ones before it; a clip's picture is fitted to the
export frame by its own fit mode or the preset's (letterbox, fill, stretch, as
``nodes.clip_editing`` places pictures for the video nodes). Files are decoded as a
stream while their clip is on screen (never all frames at once), stills are scaled
once, and graph outputs are already in memory.

Transitions count frames the way ``video.Crossfade`` does: over an n-frame crossfade
the incoming clip shows (k + 1) / (n + 1) of itself in its k-th frame, so neither
side's frame is shown twice and a crossfade looks the same in a graph and on the
timeline. Fades from and to black step the same way.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import cv2
import numpy as np

from nodes.clip_editing import Placement, place, placement, with_channels
from nodes.context import CancelToken
from nodes.timeline import (
    CROSSFADE, FADE_FROM_BLACK, FADE_TO_BLACK, Clip, FileSource, ImageSource, Project,
)
from nodes.types import Video


def target_size(where: Placement) -> tuple[int, int]:
    return where.target[2], where.target[3]


def fitted_patch(picture: np.ndarray, where: Placement) -> np.ndarray:
    """The part of ``picture`` the placement shows, scaled to the area it covers."""
    width, height = target_size(where)
    patch = np.empty((height, width, 3 if picture.shape[2] == 3 else 4), np.uint8)
    place(with_channels(picture, patch.shape[2]), patch, Placement(where.source, (0, 0, width, height)))
    return patch


# ----- where pictures come from ---------------------------------------------------------------
class ClipPictures:
    """The pictures of one clip, asked for in order, one per export frame while it is on screen;
    each comes at the size its placement covers."""

    def picture(self, time: float) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of decoders and buffers once the clip is over."""


class StillPictures(ClipPictures):
    """A still: scaled once, shown for every frame."""

    def __init__(self, picture: np.ndarray, where: Placement) -> None:
        self.patch = fitted_patch(picture, where)

    def picture(self, time: float) -> np.ndarray:
        return self.patch


class MemoryPictures(ClipPictures):
    """A graph's VIDEO output: frames already in memory, picked by source time."""

    def __init__(self, video: Video, clip: Clip, where: Placement, fps: float) -> None:
        self.video, self.clip, self.where = video, clip, where
        self.half_frame = 0.5 / fps
        self._last: tuple[int, np.ndarray] | None = None

    def picture(self, time: float) -> np.ndarray:
        # the source frame showing at the middle of the export frame, as clip_editing.retime_indices picks
        index = int(self.clip.source_time(time + self.half_frame) * self.video.fps)
        index = min(len(self.video.frames) - 1, max(0, index))
        if self._last is None or self._last[0] != index:
            self._last = (index, fitted_patch(self.video.frames[index], self.where))
        return self._last[1]


class StreamedPictures(ClipPictures):
    """A file, decoded as it plays: ``read_decoded_frames`` retimes it to the export rate
    over the clip's speed, so each export frame takes the next decoded frame. It becomes
    pixels (scaled to the placement, or cropped) only when it is drawn; a frame that fills
    the export frame untouched can go to the encoder as it was decoded (:meth:`decoded`)."""

    def __init__(self, path: str, clip: Clip, where: Placement, source_size: tuple[int, int], fps: float,
                 first_time: float) -> None:
        from nodes.media_files import RgbFrames, read_decoded_frames

        self.where = where
        self.cropped = where.source != (0, 0, *source_size)
        start = max(0.0, clip.source_time(first_time))
        self._frames: Iterator[Any] = read_decoded_frames(path, start, clip.source_out, fps=fps / clip.speed)
        self._rgb = RgbFrames()
        self._latest: Any = None  # the last decoded frame
        self._last: np.ndarray | None = None  # its pixels, once drawn
        self.passes_through = not self.cropped

    def decoded(self, time: float) -> Any:
        """The next decoded frame as it is (None past the clip's span of the file)."""
        frame = next(self._frames, None)
        if frame is not None:
            self._latest, self._last = frame, None
        return frame

    def picture(self, time: float) -> np.ndarray:
        frame = next(self._frames, None)
        if frame is not None:
            self._latest, self._last = frame, None
        if self._last is None and self._latest is not None:  # past the file's end: its last frame stays
            if self.cropped:
                self._last = fitted_patch(self._rgb(self._latest, None), self.where)
            else:
                self._last = self._rgb(self._latest, target_size(self.where))
        if self._last is None:  # nothing to show in the clip's span of the file
            width, height = target_size(self.where)
            self._last = np.zeros((height, width, 3), np.uint8)
        return self._last

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()


# ----- the compositor ---------------------------------------------------------------------------
#: Frames composed ahead of the encoder: enough to ride over a slow decode, few enough to stay small.
AHEAD = 4
_END = object()


@dataclass
class _Failure:
    error: BaseException


@dataclass
class _Span:
    clip: Clip
    start: float
    end: float


class FrameCompositor:
    """Draws the export frames of a project in order, holding only the clips on screen."""

    def __init__(self, project: Project, values: Mapping[str, Any], lengths: Mapping[str, float | None],
                 sizes: Mapping[str, tuple[int, int]], frame_size: tuple[int, int], fps: float, fit: str) -> None:
        """``values``: clip id -> a graph output (Video or picture); ``lengths``: clip id ->
        timeline seconds; ``sizes``: clip id -> the source's (width, height); ``fit``:
        the preset's fit mode for clips that do not choose one."""
        self.project, self.values, self.sizes = project, values, sizes
        self.frame_size, self.fps, self.fit = frame_size, fps, fit
        self.tracks = [
            [_Span(clip, clip.start, clip.start + (lengths.get(clip.id) or 0.0))
             for clip in sorted(track.clips, key=lambda item: item.start)]
            for track in project.timeline.video_tracks if not track.muted
        ]
        self._open: dict[str, ClipPictures] = {}

    def frame(self, time: float) -> np.ndarray:
        """The export frame that starts at ``time``."""
        width, height = self.frame_size
        frame = np.zeros((height, width, 3), np.uint8)
        middle = time + 0.5 / self.fps
        showing = set()
        for spans in self.tracks:
            for span in spans:
                if span.start <= middle < span.end:
                    showing.add(span.clip.id)
                    self._draw(frame, span, time)
        for clip_id in [clip_id for clip_id in self._open if clip_id not in showing]:
            self._open.pop(clip_id).close()
        return frame

    def close(self) -> None:
        for pictures in self._open.values():
            pictures.close()
        self._open.clear()

    def forget_streams(self) -> None:
        """Close the files being decoded, so the next frame reopens them at its own time (a seek);
        stills stay loaded."""
        for clip_id in [clip_id for clip_id, pictures in self._open.items() if isinstance(pictures, StreamedPictures)]:
            self._open.pop(clip_id).close()

    def leave_out(self, clip_ids: set[str]) -> None:
        """Stop drawing these clips (their source broke while playing)."""
        self.tracks = [[span for span in spans if span.clip.id not in clip_ids] for spans in self.tracks]
        for clip_id in clip_ids & self._open.keys():
            self._open.pop(clip_id).close()

    def encoder_frame(self, time: float) -> Any:
        """The export frame at ``time`` for an encoder: where one file clip alone fills the
        whole frame, opaque and untouched, its decoded frame as it is (``av.VideoFrame``:
        ``VideoWriter.write_decoded_frame`` skips the trip through RGB); else :meth:`frame`."""
        middle = time + 0.5 / self.fps
        showing = [span for spans in self.tracks for span in spans if span.start <= middle < span.end]
        if len(showing) == 1:
            span = showing[0]
            where = self._placement(span.clip)
            if where.target == (0, 0, *self.frame_size) and self._envelope(span, time) == (1.0, 1.0):
                pictures = self._open.get(span.clip.id)
                if pictures is None:
                    pictures = self._open[span.clip.id] = self._pictures(span.clip, where, time)
                if isinstance(pictures, StreamedPictures) and pictures.passes_through:
                    decoded = pictures.decoded(time)
                    if decoded is not None:
                        for clip_id in [clip_id for clip_id in self._open if clip_id != span.clip.id]:
                            self._open.pop(clip_id).close()
                        return decoded
        return self.frame(time)

    def frames_ahead(self, times: Sequence[float], cancel: CancelToken, depth: int = AHEAD,
                     encoder: bool = False) -> Iterator[Any]:
        """The frames at ``times``, composed on a thread of their own up to ``depth`` frames
        ahead of the caller, so decoding and composing overlap with encoding (PyAV lets go
        of the GIL while it decodes, converts and encodes). Stops when ``cancel`` is set or
        the caller stops asking; an error while composing is raised in the caller. With
        ``encoder``, frames are :meth:`encoder_frame`'s (arrays or decoded frames)."""
        make = self.encoder_frame if encoder else self.frame
        handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
        stop = threading.Event()

        def hand(item: Any) -> bool:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def compose() -> None:
            try:
                for moment in times:
                    if cancel.cancelled or not hand(make(moment)):
                        break
            except BaseException as error:  # handed to the caller's thread, raised there
                hand(_Failure(error))
            finally:
                hand(_END)

        worker = threading.Thread(target=compose, name="reelgraph-compose", daemon=True)
        worker.start()
        try:
            while True:
                item = handoff.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield item
        finally:
            stop.set()
            worker.join()

    def _draw(self, frame: np.ndarray, span: _Span, time: float) -> None:
        where = self._placement(span.clip)
        pictures = self._open.get(span.clip.id)
        if pictures is None:
            pictures = self._open[span.clip.id] = self._pictures(span.clip, where, time)
        patch = pictures.picture(time)
        left, top, width, height = where.target
        opacity, brightness = self._envelope(span, time)
        blend(frame[top: top + height, left: left + width], patch, opacity, brightness)

    def _envelope(self, span: _Span, time: float) -> tuple[float, float]:
        """(opacity over what is below, brightness toward black) of a clip's frame."""
        clip = span.clip
        opacity = brightness = 1.0
        frames_in = round((time - span.start) * self.fps)
        frames_left = round((span.end - time) * self.fps) - 1
        opening, closing = clip.transition_in, clip.transition_out
        if opening is not None:
            weight = ramp(frames_in, opening.duration * self.fps)
            if opening.kind == CROSSFADE:
                opacity = weight
            elif opening.kind == FADE_FROM_BLACK:
                brightness *= weight
        if closing is not None and closing.kind == FADE_TO_BLACK:
            brightness *= ramp(frames_left, closing.duration * self.fps)
        return opacity, brightness

    def _placement(self, clip: Clip) -> Placement:
        width, height = self.sizes[clip.id]
        return placement(width, height, self.frame_size[0], self.frame_size[1], clip.fit or self.fit)

    def _pictures(self, clip: Clip, where: Placement, time: float) -> ClipPictures:
        value = self.values.get(clip.id)
        if isinstance(value, Video):
            return MemoryPictures(value, clip, where, self.fps)
        if isinstance(value, np.ndarray):
            return StillPictures(value, where)
        if isinstance(clip.source, ImageSource):
            return StillPictures(load_picture(self.project.resolve(clip.source.path)), where)
        if isinstance(clip.source, FileSource):
            return StreamedPictures(str(self.project.resolve(clip.source.path)), clip, where,
                                    self.sizes[clip.id], self.fps, time)
        raise ValueError(f"clip {clip.id!r} has no pictures loaded")


def ramp(frames_from_edge: int, transition_frames: float) -> float:
    """The weight of a frame ``frames_from_edge`` frames into an n-frame transition:
    (k + 1) / (n + 1), then 1 (``nodes.clip_editing.crossfade_weights``)."""
    count = max(1, round(transition_frames))
    if frames_from_edge >= count:
        return 1.0
    return max(0.0, (frames_from_edge + 1.0) / (count + 1.0))


def blend(region: np.ndarray, patch: np.ndarray, opacity: float, brightness: float) -> None:
    """Draw ``patch`` (RGB, or RGBA with its own transparency) over ``region`` in place."""
    if patch.shape[2] == 4:
        alpha = patch[:, :, 3:4].astype(np.float32) * (opacity / 255.0)
        colour = patch[:, :, :3].astype(np.float32) * brightness
        region[:] = (region * (1.0 - alpha) + colour * alpha + 0.5).astype(np.uint8)
    elif opacity >= 1.0 and brightness >= 1.0:
        region[:] = patch
    elif opacity >= 1.0:
        region[:] = cv2.convertScaleAbs(patch, alpha=brightness)
    else:
        region[:] = cv2.addWeighted(region, 1.0 - opacity, patch, opacity * brightness, 0.0)


def load_picture(path: Any) -> np.ndarray:
    """A still file as RGB, or RGBA where it has transparent pixels; read by image.Load's
    function, so a still on the timeline opens exactly as it does in a graph."""
    from nodes.library.image import load

    image, mask, _, _ = load(None, str(path))
    if not mask.any():
        return image
    return np.dstack([image, 255 - mask])
