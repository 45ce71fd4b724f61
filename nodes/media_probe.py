"""What is in a media file, and whether it can be trusted: :func:`probe` and the
checks behind it (missing, empty, not media, an unknown codec, cut short).

Import these from :mod:`nodes.media_files`, the one media layer; they live here
only to keep each file to one job. The helpers that open a file and settle where
its time starts are shared with the readers in :mod:`nodes.media_files`.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodes.media_errors import MediaError, reason

#: How far before its declared end a stream may stop before the file counts as cut short.
TRUNCATION_TOLERANCE = 0.5
#: The stream disposition FFmpeg gives cover art (AV_DISPOSITION_ATTACHED_PIC).
ATTACHED_PICTURE = 0x400


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` finds in a file. Video fields are 0/"" when it has no picture,
    audio fields 0/"" when it has no sound."""

    duration: float
    width: int
    height: int
    fps: float
    frame_count: int
    video_codec: str
    has_audio: bool
    audio_rate: int
    audio_channels: int
    audio_codec: str

    @property
    def has_video(self) -> bool:
        return bool(self.video_codec)


# ----- reading ---------------------------------------------------------------------------------

def display_name(path: str | os.PathLike[str]) -> str:
    return Path(path).name or str(path)


def open_media(path: str | os.PathLike[str]) -> Any:
    """Open ``path`` for reading, turning every way it can fail into a MediaError."""
    import av

    file_path = Path(path).expanduser()
    if not file_path.exists():
        raise MediaError(f"media file not found: {file_path}")
    if file_path.is_dir():
        raise MediaError(f"{file_path} is a folder, not a media file")
    try:
        size = file_path.stat().st_size
    except OSError as error:
        raise MediaError(f"cannot read {file_path.name}: {error.strerror or error}") from None
    if size == 0:
        raise MediaError(f"{file_path.name} is empty (0 bytes); it was never written or was cut off")
    try:
        return av.open(str(file_path), "r", metadata_errors="ignore")
    except av.error.FFmpegError as error:
        raise MediaError(
            f"cannot read {file_path.name}: it is damaged, cut short or not a media file "
            f"({reason(error)})"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise MediaError(f"cannot read {file_path.name}: {error}") from None


def file_origin(container: Any) -> float:
    """Seconds at which the file starts; times in this module count from here."""
    start = container.start_time
    return start / 1_000_000 if start is not None and start > -(2**62) else 0.0


def stream_time(stream: Any, value: int | None) -> float | None:
    if value is None:
        return None
    return float(value * stream.time_base)


def _decodable(stream: Any, path: Any) -> None:
    """Refuse a stream PyAV has no decoder for, naming the codec where the file says one."""
    context = stream.codec_context
    if context is None or not getattr(context, "codec", None):
        tag = getattr(stream.codec_context, "codec_tag", "") if stream.codec_context is not None else ""
        described = f" (tagged {tag!r})" if tag and tag.strip("\x00") else ""
        raise MediaError(
            f"cannot read the {stream.type} in {display_name(path)}: its codec{described} is unknown to Reelgraph's "
            "decoder; convert the file to H.264/AAC MP4 or WebM first"
        )


def picture_stream(container: Any) -> Any:
    """The first video stream that moves: cover art in a song (an "attached picture")
    is not the file's pictures."""
    for stream in container.streams.video:
        if not int(stream.disposition) & ATTACHED_PICTURE:
            return stream
    return None


def _video_rate(stream: Any) -> float:
    for rate in (stream.average_rate, getattr(stream, "guessed_rate", None), stream.base_rate):
        if rate:
            value = float(rate)
            if 0 < value <= 1000:
                return value
    return 0.0


def _stream_end(container: Any, stream: Any, origin: float) -> float | None:
    """Where the stream's data really ends (seconds from the origin), from its last
    packets; None when that cannot be told cheaply. Reads a few packets, not the file."""
    import av

    declared = declared_duration(container, stream, origin)
    if declared is None:
        return None
    target = origin + max(0.0, declared - 2.0)
    end: float | None = None
    try:
        container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            if packet.pts is None and packet.dts is None:
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            finish = float((stamp + (packet.duration or 0)) * packet.time_base) - origin
            end = finish if end is None else max(end, finish)
    except av.error.FFmpegError:
        return end
    return end


def declared_duration(container: Any, stream: Any, origin: float) -> float | None:
    if stream.duration is not None and stream.duration > 0:
        start = stream_time(stream, stream.start_time)
        start = origin if start is None else start
        return float(stream.duration * stream.time_base) + start - origin
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    return None


def _refuse_truncated(container: Any, streams: list[Any], origin: float, path: Any) -> dict[int, float]:
    """Compare where each stream's data really ends with the length the file declares.

    A stream that declares its own length must reach it; streams that do not (WebM,
    Matroska) must together reach the container's length, since one of them may
    rightly be shorter than the other. Returns where each stream's data ends, by index."""
    unlabelled: list[float | None] = []
    found: dict[int, float] = {}
    for stream in streams:
        end = _stream_end(container, stream, origin)
        if end is not None:
            found[stream.index] = end
        if stream.duration is not None and stream.duration > 0:
            _require_reaches(path, stream.type, declared_duration(container, stream, origin), end)
        else:
            unlabelled.append(end)
    if unlabelled and container.duration and container.duration > 0:
        ends = [end for end in unlabelled if end is not None]
        _require_reaches(path, "data", container.duration / 1_000_000, max(ends) if ends else None)
    return found


def _refuse_cut_by_layout(format_name: str, path: Any) -> None:
    """Formats whose readers take the length from what is there (WAV, Ogg) never look
    cut short; their own layout can tell: a WAV's data chunk says how long it is, and
    an Ogg stream's last page is marked as the end."""
    file_path = Path(path).expanduser()
    names = set(format_name.split(","))
    try:
        with open(file_path, "rb") as stream:
            if "wav" in names:
                missing = _wav_bytes_missing(stream, file_path.stat().st_size)
                if missing > 0:
                    raise MediaError(f"{display_name(path)} is cut short: {missing} bytes of its sound are "
                                     "missing; it was truncated while copying or writing, so export or copy it again")
            elif "ogg" in names:
                size = file_path.stat().st_size
                stream.seek(max(0, size - 65536))
                tail = stream.read()
                page = tail.rfind(b"OggS")
                while page > 0 and page + 5 < len(tail) and tail[page + 4] != 0:  # "OggS" inside data
                    page = tail.rfind(b"OggS", 0, page)
                if page < 0 or page + 27 > len(tail) or not tail[page + 5] & 0x04:
                    raise MediaError(f"{display_name(path)} is cut short: its last page is not the end of the "
                                     "stream; it was truncated while copying or writing, so export or copy it again")
    except OSError as error:
        raise MediaError(f"cannot read {display_name(path)}: {error.strerror or error}") from None


def _wav_bytes_missing(stream: Any, size: int) -> int:
    """How many bytes a RIFF WAV's data chunk declares beyond the end of the file (0
    when complete, or when the size was never filled in, as streaming writers leave it)."""
    header = stream.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return 0
    position = 12
    while position + 8 <= size:
        stream.seek(position)
        chunk = stream.read(8)
        if len(chunk) < 8:
            return 0
        length = int.from_bytes(chunk[4:8], "little")
        if chunk[:4] == b"data":
            if length in (0, 0xFFFFFFFF):
                return 0
            return max(0, position + 8 + length - size)
        position += 8 + length + (length & 1)
    return 0


def _require_reaches(path: Any, what: str, declared: float | None, end: float | None) -> None:
    if declared is None or declared <= 0:
        return
    tolerance = min(TRUNCATION_TOLERANCE, declared / 4)
    if end is None or end < declared - tolerance:
        raise MediaError(
            f"{display_name(path)} is cut short: its {what} should last {declared:.2f} s but the file ends before "
            "that; it was truncated while copying or writing, so export or copy it again"
        )


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """What is in a media file: its size, rate, length and codecs.

    Raises :class:`MediaError` for a file that is missing, empty, not media, has no
    stream at all, uses a codec that cannot be decoded, or was cut short (its data
    ends well before the length its header declares).

    Answers are remembered while the file keeps its size and modification time, so
    readers that probe before every piece they read (the timeline reads sound a
    block at a time) open the file once, not twice, per piece."""
    key = _file_key(path)
    if key is not None:
        with _PROBED_LOCK:
            known = _PROBED.get(key)
            if known is not None:
                _PROBED.move_to_end(key)
                return known
    container = open_media(path)
    try:
        info = _probe_open(container, path)
    finally:
        container.close()
    if key is not None:
        with _PROBED_LOCK:
            _PROBED[key] = info
            while len(_PROBED) > PROBE_MEMORY:
                _PROBED.popitem(last=False)
    return info


#: How many files' probe answers are remembered.
PROBE_MEMORY = 256
_PROBED: "OrderedDict[tuple[Any, ...], MediaInfo]" = OrderedDict()
_PROBED_LOCK = threading.Lock()


def _file_key(path: str | os.PathLike[str]) -> tuple[Any, ...] | None:
    """What identifies one version of a file: where it is, its size and times."""
    try:
        file_path = Path(path).expanduser().resolve()
        status = file_path.stat()
    except (OSError, RuntimeError):
        return None
    if not file_path.is_file():
        return None
    return (str(file_path), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _probe_open(container: Any, path: Any) -> MediaInfo:
    video = picture_stream(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise MediaError(f"{display_name(path)} holds neither pictures nor sound")
    origin = file_origin(container)
    for stream in (video, audio):
        if stream is not None:
            _decodable(stream, path)
    duration = container.duration / 1_000_000 if container.duration and container.duration > 0 else 0.0
    width = height = frame_count = 0
    fps = 0.0
    video_codec = ""
    if video is not None:
        width, height = int(video.codec_context.width), int(video.codec_context.height)
        if width <= 0 or height <= 0:
            raise MediaError(f"{display_name(path)} is damaged: its video stream has no picture size")
        fps = _video_rate(video)
        video_codec = video.codec_context.name
        video_duration = declared_duration(container, video, origin)
        if video_duration is not None:
            duration = max(duration, video_duration) if not duration else duration
    ends = _refuse_truncated(container, [stream for stream in (video, audio) if stream is not None], origin, path)
    _refuse_cut_by_layout(container.format.name, path)
    if video is not None:
        frame_count = int(video.frames or 0)
        if frame_count <= 0 and fps > 0:
            # no count in the header (WebM, Matroska): the span the pictures' data covers
            first = stream_time(video, video.start_time)
            covered = ends.get(video.index)
            if covered is not None and first is not None:
                frame_count = max(1, round((covered - (first - origin)) * fps))
            elif duration > 0:
                frame_count = max(1, round(duration * fps))
    return MediaInfo(
        duration=float(duration),
        width=width,
        height=height,
        fps=fps,
        frame_count=frame_count,
        video_codec=video_codec,
        has_audio=audio is not None,
        audio_rate=int(audio.codec_context.sample_rate) if audio is not None else 0,
        audio_channels=int(audio.codec_context.channels) if audio is not None else 0,
        audio_codec=audio.codec_context.name if audio is not None else "",
    )
