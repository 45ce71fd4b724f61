"""Reading and writing media files through PyAV: the one layer every video and audio
part of Reelgraph (nodes, timeline, export, checks) goes through.

Why one layer: containers and codecs disagree about where time starts, how many
frames there are and what a damaged file looks like. Here that is settled once:

- Times are seconds from the start of the file (the container's start time), so a
  frame and the sound under it are found at the same number.
- Frames come out as ``uint8`` RGB arrays, one at a time (:func:`read_frames` never
  holds a whole file); sound comes out as float32 channels × samples in -1..1.
- A file that cannot be read (missing, empty, garbage, cut short, a codec PyAV
  cannot decode) raises :class:`MediaError`, a :class:`NodeFailure` naming the file,
  never a PyAV exception or a silently short result.

Writing is :class:`VideoWriter` (H.264/AAC MP4, VP9/Opus WebM, or a PNG sequence)
and :func:`write_audio_file`. Both write beside the target and rename into place
when done, so a crash or an error never leaves a half-written file under the name.

Import everything from here. To keep each file to one job, :func:`probe` and its
checks live in :mod:`nodes.media_probe` and the writers in :mod:`nodes.media_writer`;
this module reads (frames, sound, short clips) and re-exports the rest.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterator

import numpy as np

from nodes.media_errors import MediaError, channel_layout, reason
from nodes.media_probe import MediaInfo, declared_duration, display_name, file_origin, open_media, \
    picture_stream, probe
from nodes.media_writer import AUDIO_CODECS, AUDIO_FILE_FORMATS, PRESETS, VIDEO_CODECS, VideoWriter, \
    write_audio_file
from nodes.types import Audio, Video

#: A clip :func:`load_video` holds in memory may not be larger than this.
MAX_LOADED_BYTES = 4 * 1024**3
#: Sound decoded before a span's start and thrown away: decoders (AAC's overlapping
#: windows, Opus's pre-roll) and the resampler need it to settle, or a span read on
#: its own would not match the same stretch of the whole file.
AUDIO_PREROLL = 0.2
#: Where two timestamps count as the same moment (float rounding of rational times).
TIME_EPSILON = 1e-4


def _check_range(path: Any, start: float, end: float | None) -> None:
    if not (math.isfinite(start) and start >= 0):
        raise MediaError(f"the start time {start} for {display_name(path)} must be 0 or more seconds")
    if end is not None and not (math.isfinite(end) and end > start):
        raise MediaError(f"the end time {end} for {display_name(path)} must come after the start ({start} s)")


def _decode(container: Any, stream: Any, path: Any) -> Iterator[Any]:
    """Decoded frames of one stream, with decoding errors turned into MediaError."""
    import av

    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                yield frame
    except av.error.FFmpegError as error:
        raise MediaError(f"cannot decode {display_name(path)}: it is damaged ({reason(error)})") from None


def _rgb(frame: Any, size: tuple[int, int] | None, converter: Any) -> np.ndarray:
    """One decoded frame as RGB, through ``converter`` (a VideoReformatter kept per stream)."""
    options: dict[str, Any] = {"format": "rgb24"}
    if size is not None and size != (frame.width, frame.height):
        options["width"], options["height"] = size
        options["interpolation"] = "AREA" if size[0] * size[1] < frame.width * frame.height else "BICUBIC"
    if frame.color_range == 2:  # full-range (JPEG) video: tell the converter, or blacks lift
        options["src_color_range"] = 2
        options["dst_color_range"] = 2
    return converter.reformat(frame, **options).to_ndarray()


def read_frames(path: str | os.PathLike[str], start: float = 0.0, end: float | None = None,
                fps: float | None = None, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """The pictures of ``path`` from ``start`` to ``end`` seconds, one uint8 RGB array
    (height × width × 3) at a time, decoded as they are asked for.

    With ``fps`` the frames follow a new timeline at that rate, starting at ``start``:
    each output frame is the source frame on screen at its time (frames are dropped
    going down in rate, repeated going up), so the clip keeps its length.
    ``size=(width, height)`` scales every frame."""
    _check_range(path, start, end)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise MediaError(f"the frame rate {fps} for {display_name(path)} must be a positive number")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise MediaError(f"the frame size {size} for {display_name(path)} must be a positive (width, height)")
    size = None if size is None else (int(size[0]), int(size[1]))
    info = probe(path)
    if not info.has_video:
        raise MediaError(f"{display_name(path)} has no pictures, only sound")
    return _frames(path, start, end, fps, size, info, RgbFrames())


def read_decoded_frames(path: str | os.PathLike[str], start: float = 0.0, end: float | None = None,
                        fps: float | None = None) -> Iterator[Any]:
    """Like :func:`read_frames`, but the decoded ``av.VideoFrame`` objects themselves, unconverted
    (a frame repeated to fill a higher rate comes again as the same object). For callers that
    can hand a frame to an encoder as it is, or convert it only when they need pixels
    (:class:`RgbFrames`)."""
    _check_range(path, start, end)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise MediaError(f"the frame rate {fps} for {display_name(path)} must be a positive number")
    info = probe(path)
    if not info.has_video:
        raise MediaError(f"{display_name(path)} has no pictures, only sound")
    return _frames(path, start, end, fps, None, info, None)


class RgbFrames:
    """Decoded frames as RGB arrays, through one scaler context for the whole stream (a new
    one per frame costs ~2 ms at 720p)."""

    def __init__(self) -> None:
        from av.video.reformatter import VideoReformatter

        self.converter = VideoReformatter()

    def __call__(self, frame: Any, size: tuple[int, int] | None) -> np.ndarray:
        return _rgb(frame, size, self.converter)


def _frames(path: Any, start: float, end: float | None, fps: float | None,
            size: tuple[int, int] | None, info: MediaInfo, convert: "RgbFrames | None") -> Iterator[Any]:
    container = open_media(path)
    try:
        stream = picture_stream(container)
        stream.thread_type = "AUTO"
        origin = file_origin(container)
        if start > 0:
            _seek(container, stream, origin + start)
        frame_step = 1.0 / info.fps if info.fps > 0 else 0.0
        # a stream that changes size midway still gives frames of one size: the first
        size = size or (info.width, info.height)
        timed = _timed(_decode(container, stream, path), origin, frame_step)
        if fps is None:
            for frame, moment in timed:
                if moment < start - TIME_EPSILON:
                    continue
                if end is not None and moment >= end - TIME_EPSILON:
                    break
                yield frame if convert is None else convert(frame, size)
            return
        yield from _retimed(timed, start, end, fps, frame_step, size, convert)
    finally:
        container.close()


def _timed(frames: Iterator[Any], origin: float, frame_step: float) -> Iterator[tuple[Any, float]]:
    """Frames with their time in seconds from the origin; a frame without a timestamp
    (raw streams) follows the one before it by one frame."""
    previous: float | None = None
    for frame in frames:
        moment = _frame_time(frame, origin)
        if moment is None:
            moment = 0.0 if previous is None else previous + frame_step
        previous = moment
        yield frame, moment


def _seek(container: Any, stream: Any, moment: float) -> None:
    """Jump to the last key frame at or before ``moment`` (seconds, container time).
    A file that cannot seek is decoded from its start instead; the frames before the
    span are skipped either way, so only the speed differs."""
    import av

    try:
        container.seek(int(moment / stream.time_base), stream=stream, backward=True)
    except av.error.FFmpegError:
        try:
            container.seek(0, backward=True)
        except av.error.FFmpegError:
            pass


def _frame_time(frame: Any, origin: float) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base) - origin


def _retimed(frames: Iterator[tuple[Any, float]], start: float, end: float | None, fps: float,
             frame_step: float, size: tuple[int, int] | None, convert: "RgbFrames | None") -> Iterator[Any]:
    """Frames on a timeline at ``fps`` from ``start``: slot k (at start + k/fps) shows
    the source frame on screen then, the last one that began at or before it (the
    first frame also covers any slot before it). Without ``convert`` the decoded frames
    themselves come out (a repeat is the same frame again); with it, arrays (a repeat is a copy)."""
    slot = 0
    shown: Any = None
    shown_rgb: np.ndarray | None = None
    shown_time = 0.0
    repeated = False

    def due(before: float) -> bool:
        moment = start + slot / fps
        return moment < before - TIME_EPSILON and (end is None or moment < end - TIME_EPSILON)

    def picture() -> Any:
        """The frame on screen for this slot: converted once, copied when it comes again."""
        nonlocal shown_rgb, repeated
        if convert is None:
            return shown
        if shown_rgb is None:
            shown_rgb, repeated = convert(shown, size), False
        item = shown_rgb.copy() if repeated else shown_rgb
        repeated = True
        return item

    for frame, moment in frames:
        if shown is None and due(moment):
            shown, shown_time = frame, moment
        while due(moment):
            yield picture()
            slot += 1
        if end is not None and start + slot / fps >= end - TIME_EPSILON:
            return
        shown, shown_rgb, shown_time = frame, None, moment
    if shown is None:
        return
    length = float(shown.duration * shown.time_base) if shown.duration and shown.time_base else frame_step
    last = shown_time + (length or frame_step)
    if end is not None:
        last = min(last, end)
    while due(last):
        yield picture()
        slot += 1


def read_audio(path: str | os.PathLike[str], start: float = 0.0, end: float | None = None,
               rate: int = 48000, channels: int = 2) -> Audio:
    """The sound of ``path`` from ``start`` to ``end`` seconds, converted to ``rate`` Hz
    and ``channels`` channels (PyAV's resampler down-mixes; mono is copied to every
    channel at full level, as the mixer and the video nodes do).

    Sample 0 is the moment ``start``: a stream that begins late is preceded by
    silence, so the sound stays in step with the pictures of the same file. The
    padding some codecs add after the last sample is cut off at the stream's end."""
    import av

    _check_range(path, start, end)
    if not (isinstance(rate, int) and 1000 <= rate <= 768000):
        raise MediaError(f"the sample rate {rate} for {display_name(path)} must be a whole number of Hz, "
                         "1000 to 768000")
    if not (isinstance(channels, int) and 1 <= channels <= 16):
        raise MediaError(f"the channel count {channels} for {display_name(path)} must be 1 to 16")
    info = probe(path)
    if not info.has_audio:
        raise MediaError(f"{display_name(path)} has no sound")
    if info.audio_channels == 1 and channels > 1:
        return spread_mono(read_audio(path, start, end, rate, 1), channels)
    container = open_media(path)
    try:
        stream = container.streams.audio[0]
        origin = file_origin(container)
        declared = declared_duration(container, stream, origin)
        if declared is not None:
            end = declared if end is None else min(end, declared)
            if end <= start:
                return Audio(np.zeros((channels, 0), np.float32), rate)
        if start > 0:
            _seek(container, stream, origin + max(0.0, start - AUDIO_PREROLL))
        first = int(round(start * rate))
        last = None if end is None else int(round(end * rate))
        resampler = av.AudioResampler(format="fltp", layout=channel_layout(channels), rate=rate)
        chunks: list[np.ndarray] = []
        begun: int | None = None  # where the decoded run starts, in samples at ``rate``
        gathered = 0
        try:
            for frame in _decode(container, stream, path):
                if begun is None:
                    begun = int(round((_frame_time(frame, origin) or 0.0) * rate))
                if last is not None and begun + gathered >= last + rate // 20:
                    break
                for piece in resampler.resample(frame):
                    chunks.append(piece.to_ndarray().reshape(channels, -1))
                    gathered += chunks[-1].shape[1]
            for piece in resampler.resample(None):
                chunks.append(piece.to_ndarray().reshape(channels, -1))
        except av.error.FFmpegError as error:
            raise MediaError(f"cannot convert the sound of {display_name(path)} ({reason(error)})") from None
        if begun is None:
            raise MediaError(f"{display_name(path)} has a sound stream with no sound in it")
        samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
        offset = begun - first
        if offset > 0:
            samples = np.concatenate([np.zeros((channels, offset), np.float32), samples], axis=1)
        elif offset < 0:
            samples = samples[:, -offset:]
        if last is not None:
            samples = samples[:, : last - first]
        return Audio(np.ascontiguousarray(samples, dtype=np.float32), rate)
    finally:
        container.close()


def load_video(path: str | os.PathLike[str], start: float = 0.0, end: float | None = None,
               fps: float | None = None, with_audio: bool = True) -> Video:
    """A short clip of ``path`` in memory, with its sound (at the file's own rate, mono
    or stereo) cut to the same span, and followed by silence where the file's sound
    stops before its pictures. Refuses a clip too large to hold: use
    :func:`read_frames` to stream a long one."""
    info = probe(path)
    if not info.has_video:
        raise MediaError(f"{display_name(path)} has no pictures, only sound")
    rate = fps if fps is not None else (info.fps or 24.0)
    span = (end if end is not None else info.duration) - start
    expected = max(1, int(math.ceil(span * rate))) * info.width * info.height * 3
    if expected > MAX_LOADED_BYTES:
        raise MediaError(
            f"{display_name(path)} from {start:g} s is too long to load at once (about {expected / 1024**3:.1f} GB of "
            "frames); choose a shorter span with start and end"
        )
    frames = list(read_frames(path, start, end, fps=fps))
    if not frames:
        raise MediaError(f"{display_name(path)} has no frames between {start:g} s and "
                         f"{'the end' if end is None else f'{end:g} s'}")
    stacked = np.stack(frames)
    del frames
    audio = None
    if with_audio and info.has_audio:
        audio = read_audio(path, start, start + len(stacked) / rate,
                           rate=info.audio_rate, channels=min(2, max(1, info.audio_channels)))
        wanted = int(round(len(stacked) / rate * audio.rate))
        if audio.samples.shape[1] < wanted:  # the sound stops before the pictures: silence after it
            audio = Audio(np.pad(audio.samples, ((0, 0), (0, wanted - audio.samples.shape[1]))), audio.rate)
    return Video(stacked, float(rate), audio)


def resample_audio(audio: Audio, rate: int, channels: int | None = None) -> Audio:
    """``audio`` at another sample rate and/or channel count, through PyAV's resampler
    (the same one :func:`read_audio` uses); returned as-is when nothing changes."""
    import av

    channels = audio.channels if channels is None else channels
    if not (isinstance(rate, int) and 1000 <= rate <= 768000):
        raise MediaError(f"the sample rate {rate} must be a whole number of Hz, 1000 to 768000")
    if not (isinstance(channels, int) and 1 <= channels <= 16):
        raise MediaError(f"the channel count {channels} must be 1 to 16")
    if rate == audio.rate and channels == audio.channels:
        return audio
    if audio.channels == 1 and channels > 1:
        return spread_mono(resample_audio(audio, rate, 1), channels)
    if audio.samples.shape[1] == 0:
        return Audio(np.zeros((channels, 0), np.float32), rate)
    if not np.isfinite(audio.samples).all():
        raise MediaError("the sound holds NaN or infinite samples; it was computed wrongly upstream")
    resampler = av.AudioResampler(format="fltp", layout=channel_layout(channels), rate=rate)
    pieces: list[np.ndarray] = []
    step = 1 << 16
    try:
        for begin in range(0, audio.samples.shape[1], step):
            chunk = np.ascontiguousarray(audio.samples[:, begin : begin + step])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=channel_layout(audio.channels))
            frame.sample_rate = audio.rate
            frame.pts = begin
            pieces.extend(piece.to_ndarray().reshape(channels, -1) for piece in resampler.resample(frame))
        pieces.extend(piece.to_ndarray().reshape(channels, -1) for piece in resampler.resample(None))
    except av.error.FFmpegError as error:
        raise MediaError(f"cannot convert the sound to {rate} Hz, {channels} channels ({reason(error)})") from None
    samples = np.concatenate(pieces, axis=1) if pieces else np.zeros((channels, 0), np.float32)
    wanted = int(round(audio.samples.shape[1] * rate / audio.rate))
    if samples.shape[1] < wanted:
        samples = np.pad(samples, ((0, 0), (0, wanted - samples.shape[1])))
    return Audio(np.ascontiguousarray(samples[:, :wanted], dtype=np.float32), rate)


def spread_mono(audio: Audio, channels: int) -> Audio:
    """Mono sound copied to ``channels`` channels at full level (FFmpeg's up-mix would lower it 3 dB,
    so one voice would sound quieter read from a file than mixed on the timeline)."""
    return Audio(np.ascontiguousarray(np.repeat(audio.samples, channels, axis=0), np.float32), audio.rate)


__all__ = [
    "AUDIO_CODECS", "AUDIO_FILE_FORMATS", "MediaError", "MediaInfo", "PRESETS", "VIDEO_CODECS", "VideoWriter",
    "load_video", "probe", "read_audio", "read_decoded_frames", "read_frames", "resample_audio", "spread_mono",
    "write_audio_file",
]
