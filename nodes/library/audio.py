"""Sound in a graph: load and save it, trim and fade it, change its rate, and mix a
voice over music with the music ducked under the voice.

Sound is an :class:`~nodes.types.Audio`: float32 samples, channels × samples, in
-1..1, at a rate in Hz. Nodes that combine two sounds convert them to a common
rate and channel count themselves (through PyAV's resampler), so mismatched
sources just work. Files are read and written by :mod:`nodes.media_files`.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nodes.library.image import _safe_prefix
from nodes.library.video_files import claim_name, file_fingerprint, span_end
from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import AUDIO, FLOAT, INT, STRING, Audio

SAVE_FORMATS = ("wav", "flac", "aac")
SUFFIXES = {"wav": ".wav", "flac": ".flac", "aac": ".m4a"}
#: Blocks the ducking follows the voice's loudness in (seconds).
DUCKING_BLOCK = 0.01
#: Peak the mix is scaled down to when voice and music together would clip.
MIX_PEAK = 0.99


def as_audio(value: Any, what: str = "audio") -> Audio:
    if not isinstance(value, Audio):
        raise NodeFailure(f"the {what} input is not sound (got {type(value).__name__})")
    return value


def decibels_to_gain(decibels: float) -> float:
    return float(10.0 ** (decibels / 20.0))


@node("audio.Load", category="audio",
      description="Loads sound from a file (WAV, FLAC, MP3, AAC/M4A, Ogg, Opus, or the soundtrack of a video) from "
                  "'start' to 'end' seconds (end 0 = to the end), at the file's own rate; more than two channels are "
                  "mixed down to stereo.",
      inputs=[Input("path", STRING, default="", widget="file"),
              Input("start", FLOAT, default=0.0, min=0.0, max=86400.0, step=0.1),
              Input("end", FLOAT, default=0.0, min=0.0, max=86400.0, step=0.1,
                    description="Seconds into the file to stop at; 0 loads to the end.")],
      outputs=[Output("audio", AUDIO), Output("duration", FLOAT), Output("rate", INT)],
      fingerprint=file_fingerprint)
def load(ctx: Any, path: str, start: float = 0.0, end: float = 0.0) -> tuple[Audio, float, int]:
    from nodes.media_files import probe, read_audio

    if not path:
        raise NodeFailure("no file chosen; pick a sound file for 'path'")
    file_path = Path(path).expanduser()
    info = probe(file_path)
    if not info.has_audio:
        raise NodeFailure(f"{file_path.name} has no sound")
    sound = read_audio(file_path, start, span_end(start, end), rate=info.audio_rate,
                       channels=min(2, max(1, info.audio_channels)))
    if sound.samples.shape[1] == 0:
        raise NodeFailure(f"{file_path.name} has no sound after {start:g} s (it lasts {info.duration:.2f} s)")
    return sound, float(sound.duration), int(sound.rate)


@node("audio.Save", category="audio",
      description="Saves the sound in the output folder, never over an earlier file: WAV (16-bit), FLAC (lossless, "
                  "smaller) or AAC (an .m4a, smallest).",
      inputs=[Input("audio", AUDIO),
              Input("filename_prefix", STRING, default="reelgraph"),
              Input("format", STRING, default="wav", choices=SAVE_FORMATS)],
      outputs=[Output("path", STRING)], output=True)
def save(ctx: Any, audio: Audio, filename_prefix: str = "reelgraph", format: str = "wav") -> str:
    from nodes.media_files import resample_audio, write_audio_file

    sound = as_audio(audio)
    if sound.samples.shape[1] == 0:
        raise NodeFailure("the sound is empty (0 samples); there is nothing to save")
    if format == "aac" and not 8000 <= sound.rate <= 96000:
        sound = resample_audio(sound, 48000)
    if format == "flac" and sound.rate > 655350:
        sound = resample_audio(sound, 192000)
    prefix = _safe_prefix(filename_prefix)
    folder = Path(ctx.output_dir) / prefix.parent
    folder.mkdir(parents=True, exist_ok=True)
    suffix = SUFFIXES[format]
    ctx.check_cancelled()
    handle, name = tempfile.mkstemp(prefix=f".{prefix.name}.", suffix=suffix, dir=folder)
    os.close(handle)
    finished = Path(name)
    try:
        write_audio_file(finished, sound, format)
        return str(claim_name(folder, prefix.name, suffix, finished))
    finally:
        finished.unlink(missing_ok=True)


def common_form(*sounds: Audio) -> list[Audio]:
    """The sounds at one rate (the highest) and one channel count (the most), so they add."""
    from nodes.media_files import resample_audio

    rate = max(sound.rate for sound in sounds)
    channels = max(sound.channels for sound in sounds)
    return [resample_audio(sound, rate, channels) for sound in sounds]


def ducking_gain(voice: np.ndarray, rate: int, depth_db: float, threshold_db: float,
                 attack: float, release: float, length: int) -> np.ndarray:
    """Per-sample gain for the music: 1 where the voice is quiet, ``depth_db`` lower
    where it speaks, moving there over ``attack`` seconds and back over ``release``.

    A side-chain envelope: the voice's loudness in 10 ms blocks decides a target
    gain, a one-pole follower smooths it (fast down, slow up, so the music does not
    pump between words), and the blocks are joined smoothly sample by sample."""
    block = max(1, int(round(rate * DUCKING_BLOCK)))
    blocks = max(1, math.ceil(length / block))
    power = np.zeros(blocks, np.float64)
    voice = voice[:, :length]
    voiced = voice.shape[1]
    if voiced:
        squared = np.mean(np.square(voice, dtype=np.float64), axis=0)
        whole = voiced // block
        if whole:
            power[:whole] = squared[: whole * block].reshape(whole, block).mean(axis=1)
        if voiced % block and whole < blocks:
            power[whole] = squared[whole * block :].mean()
    loud = 10.0 * np.log10(power + 1e-12) > threshold_db
    low = decibels_to_gain(-depth_db)
    down = math.exp(-DUCKING_BLOCK / max(attack, 1e-4))
    up = math.exp(-DUCKING_BLOCK / max(release, 1e-4))
    envelope = np.empty(blocks, np.float64)
    gain = 1.0
    for index, speaking in enumerate(loud.tolist()):
        target = low if speaking else 1.0
        coefficient = down if target < gain else up
        gain = target + (gain - target) * coefficient
        envelope[index] = gain
    centres = (np.arange(blocks) + 0.5) * block
    return np.interp(np.arange(length), centres, envelope).astype(np.float32)


@node("audio.Mix", category="audio",
      description="Mixes a voice over music. Each has a gain in dB; while the voice speaks the music is ducked "
                  "(lowered by 'ducking_db'), easing down over 'attack' seconds and back up over 'release'. The mix "
                  "lasts as long as the longer sound; sounds of different rates or channel counts are converted. If "
                  "the sum would clip, the whole mix is scaled down to fit.",
      inputs=[Input("voice", AUDIO), Input("music", AUDIO),
              Input("voice_gain_db", FLOAT, default=0.0, min=-60.0, max=24.0, step=0.5),
              Input("music_gain_db", FLOAT, default=-6.0, min=-60.0, max=24.0, step=0.5),
              Input("ducking_db", FLOAT, default=12.0, min=0.0, max=60.0, step=0.5,
                    description="How far the music drops while the voice speaks; 0 turns ducking off."),
              Input("threshold_db", FLOAT, default=-40.0, min=-90.0, max=0.0, step=1.0,
                    description="The voice counts as speaking when louder than this (dB below full scale, "
                                "measured before its gain)."),
              Input("attack", FLOAT, default=0.05, min=0.001, max=5.0, step=0.01),
              Input("release", FLOAT, default=0.5, min=0.001, max=10.0, step=0.05)],
      outputs=[Output("audio", AUDIO)])
def mix(ctx: Any, voice: Audio, music: Audio, voice_gain_db: float = 0.0, music_gain_db: float = -6.0,
        ducking_db: float = 12.0, threshold_db: float = -40.0, attack: float = 0.05, release: float = 0.5) -> Audio:
    voice, music = common_form(as_audio(voice, "voice"), as_audio(music, "music"))
    length = max(voice.samples.shape[1], music.samples.shape[1])
    if length == 0:
        raise NodeFailure("both the voice and the music are empty; there is nothing to mix")
    ctx.check_cancelled()
    mixed = np.zeros((voice.channels, length), np.float32)
    spoken = voice.samples * np.float32(decibels_to_gain(voice_gain_db))
    mixed[:, : spoken.shape[1]] += spoken
    bed = music.samples * np.float32(decibels_to_gain(music_gain_db))
    if ducking_db > 0:
        bed = bed * ducking_gain(voice.samples, voice.rate, ducking_db, threshold_db, attack, release, bed.shape[1])
    mixed[:, : bed.shape[1]] += bed
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    if peak > 1.0:
        mixed *= np.float32(MIX_PEAK / peak)
    return Audio(mixed, voice.rate)


@node("audio.Trim", category="audio",
      description="Keeps the sound from 'start' to 'end' seconds (end 0 = to the end), fading in and out over the "
                  "given seconds.",
      inputs=[Input("audio", AUDIO),
              Input("start", FLOAT, default=0.0, min=0.0, max=86400.0, step=0.1),
              Input("end", FLOAT, default=0.0, min=0.0, max=86400.0, step=0.1),
              Input("fade_in", FLOAT, default=0.0, min=0.0, max=600.0, step=0.1),
              Input("fade_out", FLOAT, default=0.0, min=0.0, max=600.0, step=0.1)],
      outputs=[Output("audio", AUDIO)], light=True)
def trim(ctx: Any, audio: Audio, start: float = 0.0, end: float = 0.0, fade_in: float = 0.0,
         fade_out: float = 0.0) -> Audio:
    sound = as_audio(audio)
    stop = span_end(start, end)
    if start >= sound.duration:
        raise NodeFailure(f"the start ({start:g} s) is past the end of the sound ({sound.duration:.2f} s)")
    first = int(round(start * sound.rate))
    last = sound.samples.shape[1] if stop is None else min(sound.samples.shape[1], int(round(stop * sound.rate)))
    samples = np.array(sound.samples[:, first:last], dtype=np.float32)
    count = samples.shape[1]
    rising = min(count, int(round(fade_in * sound.rate)))
    if rising:
        samples[:, :rising] *= np.linspace(0.0, 1.0, rising, endpoint=False, dtype=np.float32)
    falling = min(count, int(round(fade_out * sound.rate)))
    if falling:
        samples[:, count - falling :] *= np.linspace(1.0, 0.0, falling, endpoint=True, dtype=np.float32)
    return Audio(samples, sound.rate)


@node("audio.Resample", category="audio",
      description="Changes the sound's sample rate and channel count (1 mono, 2 stereo). 48000 Hz stereo is what "
                  "video export uses.",
      inputs=[Input("audio", AUDIO),
              Input("rate", INT, default=48000, min=8000, max=192000, step=50),
              Input("channels", INT, default=2, min=1, max=8)],
      outputs=[Output("audio", AUDIO)])
def resample(ctx: Any, audio: Audio, rate: int = 48000, channels: int = 2) -> Audio:
    from nodes.media_files import resample_audio

    return resample_audio(as_audio(audio), rate, channels)
