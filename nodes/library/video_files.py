"""Video files in a graph: load a clip (any container PyAV reads) and save one
(H.264/AAC MP4, VP9/Opus WebM, or a PNG sequence).

The work is done by :mod:`nodes.media_files`; these nodes add what a graph needs:
a cache key that follows the file on disk, the output folder, names that never
overwrite an earlier render, progress and cancellation.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from nodes.library.image import _safe_prefix
from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import AUDIO, FLOAT, INT, STRING, VIDEO, Audio, Video, describe_value

SAVE_FORMATS = ("mp4", "webm", "png")
#: Rates a creator may convert a clip to with video.Load's ``fps``.
MAX_FPS = 240.0
#: The rate silence is made at for a clip without sound.
SILENCE_RATE = 48000


def file_fingerprint(constants: Mapping[str, Any]) -> Any:
    """Load again when the file on disk changes (its size or modification time)."""
    path = constants.get("path")
    if not isinstance(path, str):
        return secrets.token_hex(8)  # a linked path: cannot tell, so always load
    try:
        status = os.stat(Path(path).expanduser())
    except OSError:
        return "missing"
    return (status.st_size, status.st_mtime_ns)


def parse_fps(text: Any) -> float | None:
    """'source' (or empty) -> None (keep the file's rate); '24', '29.97', '30000/1001' -> the rate.
    ValueError with the reason otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"the frame rate must be 'source' or a number, not {describe_value(text)}")
    cleaned = text.strip().lower()
    if cleaned in ("", "source"):
        return None
    try:
        if "/" in cleaned:
            top, bottom = cleaned.split("/", 1)
            rate = float(top) / float(bottom)
        else:
            rate = float(cleaned)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"the frame rate {text!r} is not 'source' or a number such as 24 or 29.97") from None
    if not (math.isfinite(rate) and 0 < rate <= MAX_FPS):
        raise ValueError(f"the frame rate {text!r} must be above 0 and at most {MAX_FPS:g}")
    return rate


def _check_fps(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    value = constants.get("fps")
    if isinstance(value, str):
        try:
            parse_fps(value)
        except ValueError as error:
            yield "fps", str(error), "write 'source' to keep the file's rate, or a number such as 24"


def span_end(start: float, end: float) -> float | None:
    """The node inputs' end (0 = to the end of the file) as media_files takes it."""
    if end == 0:
        return None
    if end <= start:
        raise NodeFailure(f"the end ({end:g} s) must come after the start ({start:g} s); 0 means the end of the file")
    return end


@node("video.Load", category="video",
      description="Loads a video clip (MP4, WebM, MOV, MKV, AVI, ... any file PyAV reads) with its sound, from "
                  "'start' to 'end' seconds (end 0 = the whole file). 'fps' converts the frame rate by dropping or "
                  "repeating frames ('source' keeps it). A clip without sound gives silence of its length.",
      inputs=[Input("path", STRING, default="", widget="file"),
              Input("start", FLOAT, default=0.0, min=0.0, max=86400.0, step=0.1),
              Input("end", FLOAT, default=0.0, min=0.0, max=86400.0, step=0.1,
                    description="Seconds into the file to stop at; 0 loads to the end."),
              Input("fps", STRING, default="source",
                    description="'source' keeps the file's frame rate; a number (24, 29.97) converts to it.")],
      outputs=[Output("video", VIDEO), Output("audio", AUDIO), Output("fps", FLOAT), Output("frame_count", INT)],
      fingerprint=file_fingerprint, check=_check_fps, uses_all_cores=True)
def load(ctx: Any, path: str, start: float = 0.0, end: float = 0.0, fps: str = "source") -> tuple[Any, ...]:
    from nodes.media_files import load_video

    if not path:
        raise NodeFailure("no file chosen; pick a video file for 'path'")
    try:
        rate = parse_fps(fps)
    except ValueError as error:
        raise NodeFailure(str(error)) from None
    ctx.check_cancelled()
    clip = load_video(Path(path).expanduser(), start, span_end(start, end), fps=rate, with_audio=True)
    audio = clip.audio
    if audio is None:
        audio = Audio(np.zeros((2, int(round(clip.duration * SILENCE_RATE))), np.float32), SILENCE_RATE)
    ctx.progress(1.0)
    return clip, audio, float(clip.fps), int(len(clip.frames))


def as_video(value: Any) -> Video:
    if not isinstance(value, Video):
        raise NodeFailure(f"the video input is not a video (got {type(value).__name__})")
    if len(value.frames) == 0:
        raise NodeFailure("the video has no frames; there is nothing to save")
    return value


def claim_name(directory: Path, stem: str, suffix: str, finished: Path | None, digits: int = 5) -> Path:
    """Give ``finished`` (a file written beside) the first free ``stem_00001suffix`` name,
    by hard link, so two savers never take the same name and nothing is overwritten.
    With ``finished`` None, claim an empty folder of that name (for a PNG sequence)."""
    number = 1
    prefix = f"{stem}_"
    for entry in os.scandir(directory):
        tail = entry.name[len(prefix):]
        if entry.name.startswith(prefix):
            digits_part = tail[: len(tail) - len(suffix)] if suffix and tail.endswith(suffix) else tail
            if digits_part.isdigit():
                number = max(number, int(digits_part) + 1)
    while True:
        candidate = directory / f"{stem}_{number:0{digits}d}{suffix}"
        try:
            if finished is None:
                candidate.mkdir()
            else:
                os.link(finished, candidate)
            return candidate
        except FileExistsError:
            number += 1


@node("video.Save", category="video",
      description="Saves the video in the output folder, never over an earlier file: MP4 (H.264 + AAC sound, plays "
                  "everywhere), WebM (VP9 + Opus) or a folder of PNG frames (sound as audio.wav inside). 'crf' is the "
                  "quality: lower is better and larger; 18-23 is good for H.264, 28-36 for VP9. An odd width or "
                  "height is padded by one pixel for MP4, which needs even sides.",
      inputs=[Input("video", VIDEO),
              Input("filename_prefix", STRING, default="reelgraph"),
              Input("format", STRING, default="mp4", choices=SAVE_FORMATS),
              Input("crf", INT, default=20, min=0, max=63),
              Input("audio", AUDIO, optional=True,
                    description="Sound to use instead of the video's own.")],
      outputs=[Output("path", STRING)], output=True, uses_all_cores=True)
def save(ctx: Any, video: Video, filename_prefix: str = "reelgraph", format: str = "mp4", crf: int = 20,
         audio: Audio | None = None) -> str:
    import tempfile

    from nodes.media_files import VideoWriter, resample_audio

    video = as_video(video)
    if format == "mp4" and crf > 51:
        raise NodeFailure(f"crf {crf} is beyond H.264's range (0-51); use 18-23 for good quality")
    sound = audio if audio is not None else video.audio
    if sound is not None and not isinstance(sound, Audio):
        raise NodeFailure(f"the audio input is not sound (got {type(sound).__name__})")
    if sound is not None and sound.channels > 2:
        sound = resample_audio(sound, sound.rate, 2)
    if sound is not None and format != "png" and not 8000 <= sound.rate <= 96000:
        sound = resample_audio(sound, 48000)
    prefix = _safe_prefix(filename_prefix)
    folder = Path(ctx.output_dir) / prefix.parent
    folder.mkdir(parents=True, exist_ok=True)
    frames = video.frames
    height, width = int(frames.shape[1]), int(frames.shape[2])
    options = {"codec": {"mp4": "h264", "webm": "vp9", "png": "png"}[format], "crf": crf,
               "audio_rate": sound.rate if sound is not None else None,
               "audio_channels": sound.channels if sound is not None else 2}
    if format == "png":
        target = claim_name(folder, prefix.name, "", None)
        try:
            _write(ctx, VideoWriter(target, width, height, video.fps, **options), frames, sound, video.fps)
        except BaseException:
            if target.is_dir() and not any(target.iterdir()):
                target.rmdir()
            raise
        return str(target)
    suffix = f".{format}"
    handle, name = tempfile.mkstemp(prefix=f".{prefix.name}.", suffix=suffix, dir=folder)
    os.close(handle)
    finished = Path(name)
    try:
        _write(ctx, VideoWriter(finished, width, height, video.fps, **options), frames, sound, video.fps)
        return str(claim_name(folder, prefix.name, suffix, finished))
    finally:
        finished.unlink(missing_ok=True)


def _write(ctx: Any, writer: Any, frames: np.ndarray, sound: Audio | None, fps: float) -> None:
    """Feed frames and the sound under them in step, reporting progress per frame.
    The video ends with its pictures: sound past the last frame is left off, and a
    shorter sound is followed by silence (the writer pads it)."""
    with writer:
        fed = 0
        for index, frame in enumerate(frames):
            writer.write_frame(frame)
            if sound is not None:
                until = min(sound.samples.shape[1], int(round((index + 1) / fps * sound.rate)))
                if until > fed:
                    writer.write_audio(sound.samples[:, fed:until])
                    fed = until
            ctx.progress((index + 1) / (len(frames) + 1))
    ctx.progress(1.0)
