"""The sound of a timeline, mixed a chunk at a time.

Every audio clip is placed by samples: timeline sample n plays source second
``in + (n / rate - start) × speed``. A clip's level is its gain and its track's,
shaped by its fades and by crossfades with its neighbours; music tracks dip by the
timeline's ducking amount while any voice clip plays (ramping down over ``attack``
before the voice starts and back up over ``release`` after it ends). Crossfades
use equal-power curves, as ``video.Crossfade`` does. The master is clipped to -1..1.

Files are read in blocks of :data:`BLOCK_SECONDS` as the mix reaches them, so an
hour of music costs a few blocks of memory, not the hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from nodes.timeline import CROSSFADE, Clip, FileSource, Project, Track
from nodes.types import Audio, Video

BLOCK_SECONDS = 10.0


def decibels_to_gain(decibels: float) -> float:
    return 10.0 ** (decibels / 20.0)


def conform(audio: Audio, rate: int, channels: int) -> np.ndarray:
    """``audio``'s samples at the mix's rate and channel count (mono copied to every channel
    at full level, as :func:`nodes.media_files.resample_audio` does)."""
    from nodes.media_files import resample_audio

    return np.ascontiguousarray(resample_audio(audio, rate, channels).samples, np.float32)


def spread(samples: np.ndarray, channels: int) -> np.ndarray:
    """Mono samples copied to ``channels`` channels; other counts are left as they are."""
    if samples.shape[0] == 1 and channels > 1:
        samples = np.repeat(samples, channels, axis=0)
    return np.ascontiguousarray(samples, np.float32)


# ----- where sound comes from ----------------------------------------------------------------------
class ClipSound:
    """Source samples of one clip, at the mix rate: ``samples(first, count)`` with silence outside."""

    def samples(self, first: int, count: int) -> np.ndarray:
        raise NotImplementedError


class MemorySound(ClipSound):
    def __init__(self, samples: np.ndarray) -> None:
        self.data = samples

    def samples(self, first: int, count: int) -> np.ndarray:
        return _window(self.data, first, count)


class FileSound(ClipSound):
    """A file's sound, decoded in blocks as the mix reaches them (the last two are kept)."""

    def __init__(self, path: str, rate: int, channels: int) -> None:
        from nodes.media_files import probe

        self.path, self.rate, self.channels = path, rate, channels
        #: Mono files are read as mono and spread at full level, like sound in memory.
        self.read_channels = 1 if probe(path).audio_channels == 1 else channels
        self.block = int(BLOCK_SECONDS * rate)
        self._blocks: dict[int, np.ndarray] = {}

    def samples(self, first: int, count: int) -> np.ndarray:
        result = np.zeros((self.channels, count), np.float32)
        position = max(first, 0)
        while position < first + count:
            index = position // self.block
            block = self._load(index)
            offset = position - index * self.block
            take = min(self.block - offset, first + count - position)
            piece = block[:, offset: offset + take]
            result[:, position - first: position - first + piece.shape[1]] = piece
            position += take
        return result

    def _load(self, index: int) -> np.ndarray:
        block = self._blocks.get(index)
        if block is None:
            from nodes.media_files import read_audio

            start = index * self.block / self.rate
            audio = read_audio(self.path, start, (index + 1) * self.block / self.rate, self.rate, self.read_channels)
            block = spread(audio.samples, self.channels)
            for old in [key for key in self._blocks if key < index - 1 or key > index + 1]:
                del self._blocks[old]
            self._blocks[index] = block
        return block


def _window(data: np.ndarray, first: int, count: int) -> np.ndarray:
    result = np.zeros((data.shape[0], count), np.float32)
    begin, end = max(first, 0), min(first + count, data.shape[1])
    if end > begin:
        result[:, begin - first: end - first] = data[:, begin:end]
    return result


# ----- the mixer -------------------------------------------------------------------------------------
@dataclass
class _Span:
    clip: Clip
    start: float
    end: float
    gain: float
    crossfade_in: float = 0.0
    crossfade_out: float = 0.0


class AudioMixer:
    """Mixes the audio tracks of a project at ``rate`` Hz, ``channels`` channels."""

    def __init__(self, project: Project, values: Mapping[str, Any], lengths: Mapping[str, float | None],
                 rate: int = 48000, channels: int = 2) -> None:
        self.project, self.rate, self.channels = project, rate, channels
        self.values = values
        self.ducking = project.timeline.ducking
        self.tracks: list[tuple[Track, list[_Span]]] = []
        for track in project.timeline.audio_tracks:
            if not track.muted:
                self.tracks.append((track, _spans(track, lengths)))
        self.voices = [(span.start, span.end) for track, spans in self.tracks if track.kind == "voice"
                       for span in spans]
        self._sounds: dict[str, ClipSound] = {}

    def mix(self, first: int, count: int) -> np.ndarray:
        """Timeline samples ``first`` .. ``first + count`` of the master, float32 channels × count."""
        if count <= 0:
            return np.zeros((self.channels, 0), np.float32)
        times = (first + np.arange(count, dtype=np.float64)) / self.rate
        t0, t1 = first / self.rate, (first + count) / self.rate
        master = np.zeros((self.channels, count), np.float32)
        live = set()
        for track, spans in self.tracks:
            mixed = None
            for span in spans:
                if span.end <= t0 or span.start >= t1:
                    continue
                live.add(span.clip.id)
                sound = self._sound_of(span.clip)
                part = self._clip_part(span, sound, first, count, times)
                mixed = part if mixed is None else mixed + part
            if mixed is None:
                continue
            if track.kind == "music" and self.voices and self.ducking.amount_db > 0:
                mixed *= self._duck(times)
            master += mixed * np.float32(decibels_to_gain(track.gain_db))
        for clip_id in [clip_id for clip_id in self._sounds if clip_id not in live]:
            del self._sounds[clip_id]
        return np.clip(master, -1.0, 1.0, out=master)

    def _clip_part(self, span: _Span, sound: ClipSound, first: int, count: int, times: np.ndarray) -> np.ndarray:
        clip = span.clip
        # source position (in source samples at the mix rate) of every output sample
        offset = (clip.source_in - clip.start * clip.speed) * self.rate
        if clip.speed == 1.0 and abs(offset - round(offset)) < 1e-6:
            samples = sound.samples(first + int(round(offset)), count)
        else:
            positions = offset + (first + np.arange(count, dtype=np.float64)) * clip.speed
            low = int(math.floor(positions[0]))
            window = sound.samples(low, int(math.ceil(positions[-1])) - low + 2)
            grid = np.arange(window.shape[1], dtype=np.float64)
            samples = np.stack([np.interp(positions - low, grid, channel) for channel in window]).astype(np.float32)
        return samples * self._envelope(span, times)

    def _envelope(self, span: _Span, times: np.ndarray) -> np.ndarray:
        """The clip's level at each sample: zero outside it, ramps for fades and crossfades."""
        since, until = times - span.start, span.end - times
        level = np.where((since >= 0) & (until > 0), span.gain, 0.0)
        for ramp_time, distance in ((span.clip.fade_in, since), (span.clip.fade_out, until)):
            if ramp_time > 0:
                level *= np.clip(distance / ramp_time, 0.0, 1.0)
        for ramp_time, distance in ((span.crossfade_in, since), (span.crossfade_out, until)):
            if ramp_time > 0:  # equal power, as video.Crossfade mixes sound: the loudness holds
                level *= np.sin(np.clip(distance / ramp_time, 0.0, 1.0) * (np.pi / 2))
        return level.astype(np.float32)

    def _duck(self, times: np.ndarray) -> np.ndarray:
        """How much music is left at each sample: 1, or less while a voice speaks."""
        attack, release = max(self.ducking.attack, 1e-3), max(self.ducking.release, 1e-3)
        depth = np.zeros_like(times)
        for start, end in self.voices:
            if end + release <= times[0] or start - attack >= times[-1]:
                continue
            rising = np.clip((times - (start - attack)) / attack, 0.0, 1.0)
            falling = np.clip(((end + release) - times) / release, 0.0, 1.0)
            np.maximum(depth, np.minimum(rising, falling), out=depth)
        return (10.0 ** (-self.ducking.amount_db * depth / 20.0)).astype(np.float32)

    def _sound_of(self, clip: Clip) -> ClipSound:
        sound = self._sounds.get(clip.id)
        if sound is None:
            value = self.values.get(clip.id)
            if isinstance(value, Video):
                value = value.audio
            if isinstance(value, Audio):
                sound = MemorySound(conform(value, self.rate, self.channels))
            elif isinstance(clip.source, FileSource):
                sound = FileSound(str(self.project.resolve(clip.source.path)), self.rate, self.channels)
            else:
                sound = MemorySound(np.zeros((self.channels, 0), np.float32))
            self._sounds[clip.id] = sound
        return sound


def _spans(track: Track, lengths: Mapping[str, float | None]) -> list[_Span]:
    """A track's clips in time order, each knowing the crossfades on its two sides."""
    spans = [_Span(clip, clip.start, clip.start + (lengths.get(clip.id) or 0.0),
                   decibels_to_gain(clip.gain_db))
             for clip in sorted(track.clips, key=lambda item: item.start)]
    for previous, span in zip(spans, spans[1:]):
        opening = span.clip.transition_in
        if opening is not None and opening.kind == CROSSFADE and previous.end > span.start:
            span.crossfade_in = previous.crossfade_out = opening.duration
    return spans
