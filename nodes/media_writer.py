"""Writing media files through PyAV: videos (H.264/AAC MP4, VP9/Opus WebM, PNG
sequences) and sound files (WAV, FLAC, AAC).

Import these from :mod:`nodes.media_files`, the one media layer; they live here
only to keep each file to one job. Everything is written beside its target and
renamed into place when finished, so a crash, a cancelled render or an error never
leaves a half-written file under the name a creator sees.
"""

from __future__ import annotations

import math
import numbers
import os
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from nodes.media_errors import MediaError, channel_layout, reason
from nodes.types import Audio

VIDEO_CODECS = ("h264", "vp9", "png")
AUDIO_CODECS = ("aac", "opus")
AUDIO_FILE_FORMATS = ("wav", "flac", "aac")
#: Sample rates the Opus encoder takes; others are resampled to 48 kHz.
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)
#: Bits per second per channel (up to two) for the lossy sound codecs: transparent for voice and music.
BIT_RATES = {"aac": 96_000, "libopus": 64_000}
#: H.264/VP9 speed presets, by x264's names (VP9 maps them onto its cpu-used levels).
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def _read_umask() -> int:
    """The process's umask, read once at import (setting it to read it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _temporary_beside(target: Path, suffix: str) -> Path:
    """A fresh hidden name next to ``target`` to write into before renaming."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{suffix}", dir=target.parent)
    os.close(handle)
    return Path(name)


def _publish(temporary: Path, target: Path) -> None:
    """Rename a finished temporary file (or folder) onto its target, with the usual
    permissions rather than the owner-only ones temporary files are made with."""
    os.chmod(temporary, (0o777 if temporary.is_dir() else 0o666) & ~_UMASK)
    os.replace(temporary, target)


def _remove(path: Path) -> None:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def _as_samples(samples: Any, channels: int, what: str) -> np.ndarray:
    """Sound given to a writer as float32 ``channels`` × n, mono/stereo converted,
    refusing what cannot be sound (NaN, wrong shape)."""
    array = np.asarray(samples)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise MediaError(f"the sound for {what} must be float samples, channels × samples, "
                         f"not {array.dtype} {array.shape}")
    if array.shape[0] != channels:
        if array.shape[0] == 1:
            array = np.repeat(array, channels, axis=0)
        elif channels == 1:
            array = array.mean(axis=0, keepdims=True)
        elif array.shape[0] > channels:
            array = array[:channels]
        else:
            raise MediaError(f"the sound for {what} has {array.shape[0]} channels; {channels} were expected")
    if not np.isfinite(array).all():
        raise MediaError(f"the sound for {what} holds NaN or infinite samples; it was computed wrongly upstream")
    return np.ascontiguousarray(np.clip(array, -1.0, 1.0), dtype=np.float32)


class _SoundTrack:
    """One audio stream being encoded: numbered by samples, so its time never drifts."""

    def __init__(self, container: Any, codec: str, rate: int, channels: int) -> None:
        stream_rate = rate if codec != "libopus" or rate in OPUS_RATES else 48000
        self.container = container
        self.rate = rate
        self.channels = channels
        self.stream = container.add_stream(codec, rate=stream_rate)
        if codec in BIT_RATES:
            self.stream.bit_rate = BIT_RATES[codec] * min(channels, 2)
        self.stream.layout = channel_layout(channels)
        formats = [item.name for item in (self.stream.codec_context.codec.audio_formats or [])]
        self.stream.format = "fltp" if "fltp" in formats or not formats else formats[0]
        self.written = 0
        self._converter: Any = None
        self._converter_rate = 0
        self._converter_fed = 0

    def write(self, samples: np.ndarray, source_rate: int | None = None) -> None:
        """Encode the next samples; at ``source_rate`` they are converted first."""
        if source_rate is not None and source_rate != self.rate:
            self._convert(samples, source_rate)
            return
        self._flush_converter()
        self._encode(samples)

    def _convert(self, samples: np.ndarray, source_rate: int) -> None:
        import av

        if self._converter is None or self._converter_rate != source_rate:
            self._flush_converter()
            self._converter = av.AudioResampler(format="fltp", layout=channel_layout(self.channels), rate=self.rate)
            self._converter_rate, self._converter_fed = source_rate, 0
        for begin in range(0, samples.shape[1], 1 << 15):
            piece = np.ascontiguousarray(samples[:, begin : begin + (1 << 15)])
            frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=channel_layout(self.channels))
            frame.sample_rate = source_rate
            frame.time_base = Fraction(1, source_rate)
            frame.pts = self._converter_fed
            self._converter_fed += piece.shape[1]
            for converted in self._converter.resample(frame):
                self._encode(converted.to_ndarray().reshape(self.channels, -1))

    def _flush_converter(self) -> None:
        if self._converter is not None:
            for converted in self._converter.resample(None):
                self._encode(converted.to_ndarray().reshape(self.channels, -1))
            self._converter = None

    def _encode(self, samples: np.ndarray) -> None:
        import av

        for begin in range(0, samples.shape[1], 1 << 15):
            piece = np.ascontiguousarray(samples[:, begin : begin + (1 << 15)], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=channel_layout(self.channels))
            frame.sample_rate = self.rate
            frame.time_base = Fraction(1, self.rate)
            frame.pts = self.written
            self.written += piece.shape[1]
            for packet in self.stream.encode(frame):
                self.container.mux(packet)

    def finish(self, until: int | None = None) -> None:
        """Flush everything; with ``until``, pad with silence to that many samples first."""
        self._flush_converter()
        if until is not None and self.written < until:
            self._encode(np.zeros((self.channels, until - self.written), np.float32))
        for packet in self.stream.encode(None):
            self.container.mux(packet)


def _whole(value: Any) -> bool:
    """A whole number (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _rate_fraction(fps: float) -> Fraction:
    """29.97 -> 30000/1001: the exact rates cameras and players use."""
    exact = Fraction(fps).limit_denominator(1001)
    return exact if abs(float(exact) - fps) < 1e-6 else Fraction(fps).limit_denominator(100000)


class VideoWriter:
    """Writes frames (and sound) into a video file, one frame at a time.

    ``codec`` is "h264" (an MP4: yuv420p, AAC sound, the index at the front so it
    plays while downloading), "vp9" (a WebM with Opus sound) or "png" (a folder of
    numbered PNGs, ``frame_000001.png`` ..., with the sound as ``audio.wav`` in it).
    ``crf`` is the quality (lower is better; default 20 for H.264, 32 for VP9).

    Frames must be ``height × width × 3`` uint8 (an alpha channel is dropped).
    H.264 in yuv420p needs even sides: an odd width or height is padded by one
    copied edge pixel (``frame_size`` says what was written).

    Sound is numbered by samples, never by the clock: sample n plays at n / rate
    seconds, frame k at k / fps, however the two are fed. At close the sound is
    padded with silence to the length of the pictures.

    The file appears under ``path`` only when :meth:`close` succeeds; an error
    inside a ``with`` block (or :meth:`abort`) leaves nothing behind.
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float, *,
                 codec: str = "h264", crf: int | None = None, preset: str = "medium",
                 audio_rate: int | None = 48000, audio_channels: int = 2, audio_codec: str | None = None) -> None:
        self.path = Path(path).expanduser()
        if codec not in VIDEO_CODECS:
            raise MediaError(f"cannot write {self.path.name}: the codec {codec!r} is not one of "
                             f"{', '.join(VIDEO_CODECS)}")
        self._closed = True  # until it is open: nothing to clean up if the arguments are refused
        self._converter: Any = None
        if not (_whole(width) and _whole(height) and 1 <= width <= 16384 and 1 <= height <= 16384):
            raise MediaError(f"cannot write {self.path.name}: the size {width}×{height} must be 1 to 16384 "
                             "pixels a side")
        if not (math.isfinite(fps) and 0 < fps <= 1000):
            raise MediaError(f"cannot write {self.path.name}: the frame rate {fps} must be above 0 and at most 1000")
        if preset not in PRESETS:
            raise MediaError(f"cannot write {self.path.name}: the preset {preset!r} is not one of {', '.join(PRESETS)}")
        if audio_codec is None:
            audio_codec = "opus" if codec == "vp9" else "aac"
        if audio_codec not in AUDIO_CODECS:
            raise MediaError(f"cannot write {self.path.name}: the sound codec {audio_codec!r} is not aac or opus")
        if codec == "vp9" and audio_codec != "opus" and audio_rate is not None:
            raise MediaError(f"cannot write {self.path.name}: a WebM holds Opus sound, not {audio_codec.upper()}")
        limit = {"h264": 51, "vp9": 63}.get(codec)
        if crf is not None and limit is not None and not (_whole(crf) and 0 <= crf <= limit):
            raise MediaError(f"cannot write {self.path.name}: crf {crf} is outside {codec.upper()}'s range, "
                             f"0 to {limit}")
        if audio_rate is not None and not (_whole(audio_rate) and 8000 <= audio_rate <= 192000):
            raise MediaError(f"cannot write {self.path.name}: the sample rate {audio_rate} must be 8000 to 192000 Hz")
        if not (_whole(audio_channels) and 1 <= audio_channels <= 8):
            raise MediaError(f"cannot write {self.path.name}: {audio_channels} sound channels (1 to 8 allowed)")
        width, height, audio_channels = int(width), int(height), int(audio_channels)
        audio_rate = None if audio_rate is None else int(audio_rate)
        self.width, self.height, self.fps, self.codec = width, height, float(fps), codec
        self.audio_rate, self.audio_channels = audio_rate, audio_channels
        self.frames_written = 0
        self._pad = (width % 2, height % 2) if codec == "h264" else (0, 0)
        self.frame_size = (width + self._pad[0], height + self._pad[1])
        self._closed = False
        self._container: Any = None
        self._sound: _SoundTrack | None = None
        self._sound_container: Any = None
        self._video_stream: Any = None
        self._rate = _rate_fraction(self.fps)
        if codec == "png":
            self._open_sequence()
        else:
            self._open_container(crf, preset, audio_codec)

    # -- setting up --

    def _open_container(self, crf: int | None, preset: str, audio_codec: str) -> None:
        import av

        suffix = self.path.suffix.lower() or (".mp4" if self.codec == "h264" else ".webm")
        muxer = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}.get(suffix)
        mismatched = (self.codec == "vp9" and muxer in ("mp4", "mov")) or (self.codec == "h264" and muxer == "webm")
        if muxer is None or mismatched:
            wanted = ".mp4" if self.codec == "h264" else ".webm"
            raise MediaError(f"cannot write {self.codec.upper()} into {self.path.name}; name it {wanted}")
        self._temporary = _temporary_beside(self.path, suffix)
        options = {"movflags": "+faststart"} if muxer in ("mp4", "mov") else {}
        try:
            self._container = av.open(str(self._temporary), "w", format=muxer, options=options)
            if self.codec == "h264":
                stream = self._container.add_stream("libx264", rate=self._rate, options={
                    "crf": str(20 if crf is None else int(crf)), "preset": preset})
            else:
                speed = PRESETS.index(preset)
                stream = self._container.add_stream("libvpx-vp9", rate=self._rate, options={
                    "crf": str(32 if crf is None else int(crf)), "b": "0", "row-mt": "1",
                    "deadline": "realtime" if speed <= 2 else "good",
                    "cpu-used": str(max(0, min(8, 8 - speed)))})
            stream.width, stream.height = self.frame_size
            stream.pix_fmt = "yuv420p"
            context = stream.codec_context
            context.thread_type = "AUTO"  # frame threads, as the ffmpeg command line uses (slices only cost quality)
            context.colorspace = 1  # BT.709, written into the stream so players agree
            context.color_primaries = 1
            context.color_trc = 1
            context.color_range = 1
            self._frame_time_base = Fraction(1, 1) / self._rate
            stream.time_base = self._frame_time_base
            context.time_base = self._frame_time_base
            self._video_stream = stream
            if self.audio_rate is not None:
                self._sound = _SoundTrack(self._container, "aac" if audio_codec == "aac" else "libopus",
                                          self.audio_rate, self.audio_channels)
        except (av.error.FFmpegError, ValueError) as error:
            self.abort()
            raise MediaError(f"cannot start writing {self.path.name}: {reason(error)}") from None

    def _open_sequence(self) -> None:
        import av

        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise MediaError(f"cannot write the PNG sequence {self.path.name}: something is already there")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent))
        if self.audio_rate is not None:
            try:
                self._sound_container = av.open(str(self._temporary / "audio.wav"), "w", format="wav")
                self._sound = _SoundTrack(self._sound_container, "pcm_s16le", self.audio_rate, self.audio_channels)
            except (av.error.FFmpegError, ValueError) as error:
                self.abort()
                raise MediaError(f"cannot start writing {self.path.name}: {reason(error)}") from None

    # -- writing --

    def write_frame(self, frame: np.ndarray) -> None:
        """Add the next picture (``height × width × 3`` uint8; RGBA loses its alpha)."""
        import av

        self._require_open()
        array = np.asarray(frame)
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
            raise MediaError(f"a frame for {self.path.name} must be uint8 height × width × 3, "
                             f"not {array.dtype} {array.shape}")
        if array.shape[:2] != (self.height, self.width):
            raise MediaError(f"a frame for {self.path.name} is {array.shape[1]}×{array.shape[0]}, but the video is "
                             f"{self.width}×{self.height}; resize it first")
        if array.shape[2] == 4:
            array = array[:, :, :3]
        if self.codec == "png":
            self._write_png(array)
            return
        if self._pad != (0, 0):
            array = np.pad(array, ((0, self._pad[1]), (0, self._pad[0]), (0, 0)), mode="edge")
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
        self._encode(self._scaler().reformat(picture, format="yuv420p", dst_colorspace=1, dst_color_range=1))

    def write_decoded_frame(self, frame: Any) -> None:
        """Add a frame straight from a decoder (``nodes.media_files.read_decoded_frames``): it goes
        to the encoder as YUV, scaled to the video's size and converted to BT.709 limited range
        only where it is not already, so an untouched source frame skips the trip through RGB."""
        self._require_open()
        if self.codec == "png" or self._pad != (0, 0):
            raise MediaError(f"{self.path.name} takes pictures as arrays (write_frame), not decoded frames")
        options: dict[str, Any] = {"format": "yuv420p", "width": self.width, "height": self.height,
                                   "dst_colorspace": 1, "dst_color_range": 1}
        if (frame.width, frame.height) != (self.width, self.height):
            options["interpolation"] = "AREA" if frame.width * frame.height > self.width * self.height else "BICUBIC"
        if frame.color_range == 2:  # full-range source: say so, or its blacks lift
            options["src_color_range"] = 2
        picture = self._scaler().reformat(frame, **options)
        # A decoded frame remembers its type in the source (I, P, B); x264 would obey it as an order.
        picture.pict_type = 0  # let the encoder choose, as for any other picture
        self._encode(picture)

    def _scaler(self) -> Any:
        if self._converter is None:  # one scaler context for the whole file (a new one per frame costs ~2 ms)
            from av.video.reformatter import VideoReformatter

            self._converter = VideoReformatter()
        return self._converter

    def _encode(self, picture: Any) -> None:
        import av

        picture.pts = self.frames_written
        picture.time_base = self._frame_time_base
        try:
            for packet in self._video_stream.encode(picture):
                self._container.mux(packet)
        except av.error.FFmpegError as error:
            raise MediaError(f"cannot write {self.path.name}: {reason(error)}") from None
        self.frames_written += 1

    def _write_png(self, array: np.ndarray) -> None:
        import cv2

        self.frames_written += 1
        target = self._temporary / f"frame_{self.frames_written:06d}.png"
        if not cv2.imwrite(str(target), cv2.cvtColor(array, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 3]):
            raise MediaError(f"cannot write {target.name} in {self.path.name}; is the disk full?")

    def write_audio(self, samples: np.ndarray | Audio, rate: int | None = None) -> None:
        """Add the next stretch of sound: float32 channels × samples in -1..1 (or an
        :class:`Audio`). Mono is spread to stereo and stereo mixed to mono; sound at
        another ``rate`` (or an Audio at its own) is converted to the writer's rate by
        one resampler that runs across calls, so pieces join without clicks or drift."""
        import av

        self._require_open()
        if self._sound is None:
            raise MediaError(f"{self.path.name} was opened without sound (audio_rate=None)")
        if isinstance(samples, Audio):
            rate, samples = samples.rate, samples.samples
        source_rate = self._sound.rate if rate is None else rate
        if not (isinstance(source_rate, int) and 1000 <= source_rate <= 768000):
            raise MediaError(f"the sound for {self.path.name} has a sample rate of {source_rate}; 1000 to 768000 Hz")
        try:
            self._sound.write(_as_samples(samples, self.audio_channels, self.path.name), source_rate)
        except av.error.FFmpegError as error:
            raise MediaError(f"cannot write the sound of {self.path.name}: {reason(error)}") from None

    @property
    def audio_samples_written(self) -> int:
        return self._sound.written if self._sound is not None else 0

    # -- finishing --

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        import av

        if self._closed:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise MediaError(f"nothing was written to {self.path.name}: it has no frames")
        try:
            if self._sound is not None:
                self._sound.finish(until=int(round(self.frames_written / float(self._rate) * self._sound.rate)))
            if self._video_stream is not None:
                for packet in self._video_stream.encode(None):
                    self._container.mux(packet)
            for container in (self._container, self._sound_container):
                if container is not None:
                    container.close()
        except av.error.FFmpegError as error:
            self.abort()
            raise MediaError(f"cannot finish {self.path.name}: {reason(error)}") from None
        self._closed = True
        if self.codec == "png" and self.path.is_dir():
            self.path.rmdir()  # empty, checked when opened
        _publish(self._temporary, self.path)
        return self.path

    def abort(self) -> None:
        """Stop and remove what was written; the target is left as it was."""
        self._closed = True
        for container in (self._container, self._sound_container):
            if container is not None:
                try:
                    container.close()
                except Exception:  # closing a broken file may fail too; it is deleted next
                    pass
        self._container = self._sound_container = None
        temporary = getattr(self, "_temporary", None)
        if temporary is not None:
            _remove(temporary)

    def __del__(self) -> None:
        # a writer dropped without close() or abort() leaves no hidden half-file behind
        if not getattr(self, "_closed", True):
            try:
                self.abort()
            except Exception:  # during interpreter shutdown anything may be gone already
                pass

    def _require_open(self) -> None:
        if self._closed:
            raise MediaError(f"{self.path.name} is already closed")

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_audio_file(path: str | os.PathLike[str], audio: Audio, format: str = "wav") -> Path:
    """Save sound as WAV (16-bit), FLAC (16-bit, lossless) or AAC (in an .m4a), written
    beside the target and renamed into place."""
    import av

    target = Path(path).expanduser()
    if format not in AUDIO_FILE_FORMATS:
        raise MediaError(f"cannot write {target.name}: the format {format!r} is not one of "
                         f"{', '.join(AUDIO_FILE_FORMATS)}")
    if not isinstance(audio, Audio):
        raise MediaError(f"cannot write {target.name}: the sound is a {type(audio).__name__}, not audio")
    if audio.samples.shape[1] == 0:
        raise MediaError(f"cannot write {target.name}: the sound is empty (0 samples)")
    samples = _as_samples(audio.samples, audio.channels, target.name)
    if audio.channels > 8:
        raise MediaError(f"cannot write {target.name}: {audio.channels} channels (at most 8)")
    muxer, codec = {"wav": ("wav", "pcm_s16le"), "flac": ("flac", "flac"), "aac": ("ipod", "aac")}[format]
    temporary = _temporary_beside(target, target.suffix or f".{format}")
    try:
        options = {"movflags": "+faststart"} if muxer == "ipod" else {}
        with av.open(str(temporary), "w", format=muxer, options=options) as container:
            track = _SoundTrack(container, codec, audio.rate, audio.channels)
            track.write(samples)
            track.finish()
        _publish(temporary, target)
    except av.error.FFmpegError as error:
        _remove(temporary)
        raise MediaError(f"cannot write {target.name}: {reason(error)}") from None
    except BaseException:
        _remove(temporary)
        raise
    return target
