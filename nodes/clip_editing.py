"""Editing clips as plain values: fitting frames to a size, re-timing them to a frame
rate, blending two of them, and keeping each clip's sound lined up with its pictures.

The video editing nodes are thin over these, and the timeline's export can use the
same pieces, so a crossfade looks the same in a graph and on the timeline. Nothing
here changes a clip it is given (inputs are shared with the output cache and other
nodes): results are written into frames allocated for them, once, and a clip is held
to a memory budget before its frames are allocated: a typo in a duration is a
message, not a machine that starts swapping.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from nodes.spec import NodeFailure
from nodes.types import Audio, Video, describe_value

#: The most memory one clip's frames may take; longer work belongs on the timeline,
#: which streams its frames to the encoder.
MAX_CLIP_BYTES = 8 * 1024**3
#: How a picture of another shape is made to fit a frame.
FIT_MODES = ("letterbox", "fill", "stretch")
BLACK = (0, 0, 0)


def as_video(value: Any, what: str = "video") -> Video:
    """Check that a linked value is a clip with at least one frame; say so in words when not."""
    if not isinstance(value, Video):
        raise NodeFailure(f"the {what} is not a video clip (got {describe_value(value)})")
    if len(value.frames) == 0:
        raise NodeFailure(f"the {what} is empty: it has no frames")
    return value


def new_frames(count: int, height: int, width: int, channels: int = 3) -> np.ndarray:
    """Room for a clip's frames, refused with a message when it would not fit the budget."""
    if count < 1:
        raise NodeFailure("the clip would have no frames; make it at least one frame long")
    if height < 1 or width < 1:
        raise NodeFailure(f"a frame of {width}×{height} pixels cannot be made; both sides must be at least 1")
    size = count * height * width * channels
    if size > MAX_CLIP_BYTES:
        raise NodeFailure(
            f"a clip of {count} frames at {width}×{height} would take {size / 1024**3:.1f} GiB of memory, more "
            f"than the {MAX_CLIP_BYTES / 1024**3:.0f} GiB one clip may hold; make it shorter or smaller, or put "
            "the pieces on the timeline, which streams them")
    return np.empty((count, height, width, channels), dtype=np.uint8)


def frame_count(seconds: float, fps: float, what: str) -> int:
    """How many frames last ``seconds`` at ``fps``: at least one, or a message saying why not."""
    if not seconds > 0:
        raise NodeFailure(f"the {what} is {describe_value(seconds)} seconds; it must be longer than 0")
    if not fps > 0:
        raise NodeFailure(f"the frame rate is {describe_value(fps)}; it must be above 0")
    count = round(seconds * fps)
    if count < 1:
        raise NodeFailure(f"the {what} of {seconds:g} s is shorter than one frame at {fps:g} fps "
                          f"(one frame lasts {1 / fps:.3g} s)")
    return count


def finished(video: Video) -> Video:
    """Mark a clip's frames and samples read-only: from here on they are shared with the
    cache and every later node, and a node that tried to change them would change them
    for everyone."""
    video.frames.flags.writeable = False
    if video.audio is not None:
        video.audio.samples.flags.writeable = False
    return video


def parse_aspect(text: str) -> float:
    """'16:9', '9/16', '4x3' or '1.85' -> width ÷ height; ValueError with words otherwise."""
    cleaned = text.strip().replace(" ", "")
    parts = re.split(r"[:/x×]", cleaned)
    try:
        if len(parts) == 2:
            ratio = float(parts[0]) / float(parts[1])
        elif len(parts) == 1:
            ratio = float(parts[0])
        else:
            raise ValueError(cleaned)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not an aspect ratio; write it as width:height, such as 16:9 or 9:16") from None
    if not (math.isfinite(ratio) and 0.01 <= ratio <= 100):
        raise ValueError(f"{text!r} is not a usable aspect ratio; write it as width:height, such as 16:9 or 9:16")
    return ratio


# ----- fitting pictures into frames ----------------------------------------------------------

@dataclass(frozen=True)
class Placement:
    """Where a picture lands in a frame: the part of the picture used (x, y, width,
    height) and the part of the frame it covers."""

    source: tuple[int, int, int, int]
    target: tuple[int, int, int, int]


def placement(source_width: int, source_height: int, width: int, height: int, mode: str) -> Placement:
    """How a ``source_width``×``source_height`` picture fits a ``width``×``height`` frame:
    'letterbox' shows all of it, centred, with bars; 'fill' covers the frame and crops
    the overflow evenly; 'stretch' ignores the shape."""
    whole = (0, 0, source_width, source_height)
    if mode == "stretch" or source_width * height == source_height * width:
        return Placement(whole, (0, 0, width, height))
    if mode == "letterbox":
        scale = min(width / source_width, height / source_height)
        shown_width = min(width, max(1, round(source_width * scale)))
        shown_height = min(height, max(1, round(source_height * scale)))
        return Placement(whole, ((width - shown_width) // 2, (height - shown_height) // 2, shown_width, shown_height))
    if mode != "fill":
        raise ValueError(f"unknown fit mode {mode!r}; use one of {', '.join(FIT_MODES)}")
    if source_width * height > source_height * width:  # wider than the frame: crop the sides
        kept = min(source_width, max(1, round(source_height * width / height)))
        return Placement(((source_width - kept) // 2, 0, kept, source_height), (0, 0, width, height))
    kept = min(source_height, max(1, round(source_width * height / width)))
    return Placement((0, (source_height - kept) // 2, source_width, kept), (0, 0, width, height))


def place(picture: np.ndarray, frame: np.ndarray, where: Placement) -> None:
    """Draw ``picture`` into ``frame`` (same channel count) as ``where`` says, scaling it
    with area averaging when it shrinks and bicubic when it grows. Bars are left as
    they are: fill the frame first."""
    import cv2

    x, y, width, height = where.source
    region = picture[y : y + height, x : x + width]
    left, top, shown_width, shown_height = where.target
    target = frame[top : top + shown_height, left : left + shown_width]
    if region.shape[:2] == target.shape[:2]:
        target[...] = region
        return
    shrinking = shown_width * shown_height < width * height
    cv2.resize(region, (shown_width, shown_height), dst=target,
               interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def with_channels(picture: np.ndarray, channels: int) -> np.ndarray:
    """The picture with 3 (RGB) or 4 (RGBA, opaque where it had no alpha) channels."""
    if picture.shape[-1] == channels:
        return picture
    if channels == 3:
        return picture[..., :3]
    opaque = np.full(picture.shape[:-1] + (1,), 255, dtype=np.uint8)
    return np.concatenate([picture, opaque], axis=-1)


def fitted_picture(picture: np.ndarray, width: int, height: int, mode: str, colour: tuple[int, ...] = BLACK,
                   channels: int = 3) -> np.ndarray:
    """One picture fitted to a frame, as a new array (or the picture itself when it already fits)."""
    picture = with_channels(picture, channels)
    if picture.shape[:2] == (height, width):
        return picture
    frame = np.empty((height, width, channels), dtype=np.uint8)
    draw_fitted(picture, frame, placement(picture.shape[1], picture.shape[0], width, height, mode), colour)
    return frame


def draw_fitted(picture: np.ndarray, frame: np.ndarray, where: Placement, colour: tuple[int, ...]) -> None:
    """Place the picture in ``frame`` and paint the bars it leaves uncovered in ``colour``."""
    left, top, width, height = where.target
    if (width, height) != (frame.shape[1], frame.shape[0]):
        paint = (tuple(colour) + (255,))[: frame.shape[2]]
        frame[:top] = paint
        frame[top + height :] = paint
        frame[top : top + height, :left] = paint
        frame[top : top + height, left + width :] = paint
    place(with_channels(picture, frame.shape[2]), frame, where)


# ----- frame rates ---------------------------------------------------------------------------

def retimed_length(count: int, fps: float, new_fps: float) -> int:
    """How many frames a clip of ``count`` frames at ``fps`` has at ``new_fps`` (same duration)."""
    return max(1, round(count * new_fps / fps))


def retime_indices(count: int, fps: float, new_fps: float) -> np.ndarray:
    """For each frame at ``new_fps``, the source frame showing at its middle (frames are
    repeated or dropped, never blended, so no ghosting)."""
    if fps == new_fps:
        return np.arange(count)
    length = retimed_length(count, fps, new_fps)
    middles = (np.arange(length) + 0.5) * (fps / new_fps)
    return np.minimum(np.floor(middles).astype(np.int64), count - 1)


def write_conformed(video: Video, out: np.ndarray, mode: str, colour: tuple[int, ...] = BLACK,
                    fps: float | None = None, step: Any = None) -> int:
    """Write ``video`` into ``out`` (frames × height × width × channels) at ``fps``,
    fitted to the frame size as ``mode`` says; returns how many frames it wrote. ``step``
    is called after each frame (progress, cancellation)."""
    fps = video.fps if fps is None else fps
    indices = retime_indices(len(video.frames), video.fps, fps)
    height, width, channels = out.shape[1:]
    source_height, source_width = video.frames.shape[1:3]
    where = placement(source_width, source_height, width, height, mode)
    for position, index in enumerate(indices[: len(out)]):
        draw_fitted(video.frames[index], out[position], where, colour)
        if step is not None:
            step()
    return min(len(indices), len(out))


def blend_into(first: np.ndarray, second: np.ndarray, weight: float, out: np.ndarray) -> None:
    """``out`` = ``first`` × (1 − weight) + ``second`` × weight, rounded."""
    import cv2

    cv2.addWeighted(first, 1.0 - weight, second, weight, 0.0, dst=out)


# ----- sound ----------------------------------------------------------------------------------

def sample_at(seconds: float, rate: int) -> int:
    return round(seconds * rate)


def soundtrack_format(videos: Iterable[Video]) -> tuple[int, int] | None:
    """The rate and channel count of the first clip that has sound; None when none has."""
    for video in videos:
        if video.audio is not None:
            return video.audio.rate, video.audio.channels
    return None


def converted_samples(audio: Audio, rate: int, channels: int, start: float, length: int) -> np.ndarray:
    """``length`` samples of ``audio`` from ``start`` seconds, at ``rate`` and with
    ``channels``: trimmed, or padded with silence where the sound is shorter. Rates are
    converted by the media layer's resampler; mono is copied to every channel, many
    channels are averaged into mono, other counts take the source channels in turn."""
    source_rate = audio.rate
    offset = sample_at(start, source_rate)
    piece = audio.samples[:, offset : offset + math.ceil(length * source_rate / rate) + 1]
    if source_rate != rate:
        from nodes.media_files import resample_audio

        piece = resample_audio(Audio(np.ascontiguousarray(piece), source_rate), rate).samples
    piece = piece[:, :length]
    piece = _with_audio_channels(piece, channels)
    if piece.shape[1] < length:
        piece = np.pad(piece, ((0, 0), (0, length - piece.shape[1])))
    return np.array(piece, dtype=np.float32)  # a fresh copy: callers mix into it, the input is shared


def _with_audio_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    have = samples.shape[0]
    if have == channels:
        return samples
    if have == 1:
        return np.repeat(samples, channels, axis=0)
    if channels == 1:
        return samples.mean(axis=0, keepdims=True)
    return samples[[index % have for index in range(channels)]]


def joined_soundtrack(pieces: list[tuple[Video, int, int]], fps: float, total_frames: int) -> Audio | None:
    """One soundtrack for clips laid end to end: each ``(clip, first frame, frames)`` gets
    exactly the samples its frames last (its own sound trimmed or padded with silence),
    so sound and pictures stay together however long the edit; None when no clip has sound."""
    found = soundtrack_format(video for video, _, _ in pieces)
    if found is None:
        return None
    rate, channels = found
    samples = np.zeros((channels, sample_at(total_frames / fps, rate)), dtype=np.float32)
    for video, first, count in pieces:
        if video.audio is None:
            continue
        begin, end = sample_at(first / fps, rate), sample_at((first + count) / fps, rate)
        samples[:, begin:end] = converted_samples(video.audio, rate, channels, 0.0, end - begin)
    return Audio(samples, rate)


def crossfaded_soundtrack(first: Video, second: Video, fps: float, first_frames: int, overlap_frames: int,
                          total_frames: int) -> Audio | None:
    """The two clips' sound over the crossfade: the first fades out while the second fades
    in, with equal-power curves (cosine and sine) so the loudness holds through the
    overlap; a clip without sound fades against silence. None when neither has sound."""
    found = soundtrack_format((first, second))
    if found is None:
        return None
    rate, channels = found
    total = sample_at(total_frames / fps, rate)
    first_end = sample_at(first_frames / fps, rate)
    second_start = sample_at((first_frames - overlap_frames) / fps, rate)
    samples = np.zeros((channels, total), dtype=np.float32)
    if first.audio is not None:
        samples[:, :first_end] = converted_samples(first.audio, rate, channels, 0.0, first_end)
    overlap = first_end - second_start
    progress = (np.arange(overlap, dtype=np.float64) + 0.5) / max(overlap, 1)
    samples[:, second_start:first_end] *= np.cos(progress * np.pi / 2).astype(np.float32)
    if second.audio is not None:
        incoming = converted_samples(second.audio, rate, channels, 0.0, total - second_start)
        incoming[:, :overlap] *= np.sin(progress * np.pi / 2).astype(np.float32)
        samples[:, second_start:] += incoming
    return Audio(samples, rate)


def crossfade_weights(overlap_frames: int) -> np.ndarray:
    """How much of the second clip each overlapping frame shows: evenly spaced strictly
    between 0 and 1, so neither clip's last or first frame is shown twice and an odd
    overlap has an even mix at its middle frame."""
    return (np.arange(overlap_frames) + 1.0) / (overlap_frames + 1.0)
