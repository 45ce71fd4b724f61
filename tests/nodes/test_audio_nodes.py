"""The sound nodes as a creator uses them, through the real executor: load and save
sound files, trim and fade, change the rate, and lay a voice over music with the
music ducked while the voice speaks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from gpu.events import RunResult
from nodes.media_files import probe, read_audio, write_audio_file
from nodes.types import Audio

Run = Callable[..., RunResult]


def tone(frequency: float, seconds: float, rate: int, channels: int = 1, level: float = 0.5) -> np.ndarray:
    wave = np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate) * level
    return np.repeat(wave.astype(np.float32)[None, :], channels, axis=0)


def sound_file(folder: Path, name: str, samples: np.ndarray, rate: int) -> str:
    return str(write_audio_file(folder / name, Audio(samples, rate)))


def loaded(node_id: str, path: str, **inputs: Any) -> dict[str, Any]:
    return {node_id: {"type": "audio.Load", "inputs": {"path": path, **inputs}}}


def after(path: str, node_type: str, **inputs: Any) -> dict[str, Any]:
    return {**loaded("load", path), "step": {"type": node_type, "inputs": {"audio": ["load", "audio"], **inputs}}}


def output_of(result: RunResult, node_id: str = "step") -> Any:
    assert result.ok, result.errors
    return result.output(node_id)


def level_db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(samples, dtype=np.float64)) + 1e-12))


# ----- load and save ------------------------------------------------------------------------------

def test_load_gives_the_sound_at_its_own_rate_with_its_length(run_nodes: Run, tmp_path: Path) -> None:
    path = sound_file(tmp_path, "voice.wav", tone(440, 1.5, 22050), 22050)
    result = run_nodes(loaded("load", path), targets=["load"])
    audio = output_of(result, "load")
    assert audio.rate == 22050 and audio.samples.shape == (1, 33075)
    assert result.output("load", "duration") == pytest.approx(1.5) and result.output("load", "rate") == 22050


def test_load_a_span_of_a_file(run_nodes: Run, tmp_path: Path) -> None:
    path = sound_file(tmp_path, "voice.flac", tone(440, 3.0, 48000, 2), 48000)
    audio = output_of(run_nodes(loaded("load", path, start=1.0, end=2.5), targets=["load"]), "load")
    assert audio.samples.shape == (2, 72000)


def test_a_broken_sound_file_fails_with_its_name(run_nodes: Run, tmp_path: Path) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(40))
    result = run_nodes(loaded("load", str(path)), targets=["load"])
    assert "broken.wav" in result.errors["load"].message


@pytest.mark.parametrize("format, suffix, codec", [("wav", ".wav", "pcm_s16le"), ("flac", ".flac", "flac"),
                                                   ("aac", ".m4a", "aac")])
def test_save_writes_each_format_and_never_overwrites(run_nodes: Run, tmp_path: Path, output_folder: Path,
                                                      format: str, suffix: str, codec: str) -> None:
    path = sound_file(tmp_path, "voice.wav", tone(440, 1.0, 44100, 2), 44100)
    nodes = after(path, "audio.Save", filename_prefix="voices/narrator", format=format)
    first = Path(output_of(run_nodes(nodes)))
    assert first == output_folder / "voices" / f"narrator_00001{suffix}"
    info = probe(first)
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == (codec, 44100, 2)
    assert info.duration == pytest.approx(1.0, abs=0.03)
    other = sound_file(tmp_path, "other.wav", tone(220, 1.0, 44100, 2), 44100)
    second = Path(output_of(run_nodes(after(other, "audio.Save", filename_prefix="voices/narrator", format=format))))
    assert second.name == f"narrator_00002{suffix}" and first.exists()


# ----- trim, resample --------------------------------------------------------------------------------

def test_trim_keeps_the_span_and_fades_its_ends(run_nodes: Run, tmp_path: Path) -> None:
    path = sound_file(tmp_path, "flat.wav", np.full((1, 48000 * 3), 0.5, np.float32), 48000)
    audio = output_of(run_nodes(after(path, "audio.Trim", start=0.5, end=2.5, fade_in=0.5, fade_out=0.25)))
    samples = audio.samples[0]
    assert samples.shape == (96000,)
    assert samples[0] == 0 and samples[12000] == pytest.approx(0.25, abs=0.01)  # half way into the fade in
    assert samples[48000] == pytest.approx(0.5, abs=1e-3)
    assert samples[-1] == pytest.approx(0.0, abs=1e-4) and samples[-6000] == pytest.approx(0.25, abs=0.01)


def test_trim_past_the_end_says_so(run_nodes: Run, tmp_path: Path) -> None:
    path = sound_file(tmp_path, "short.wav", tone(440, 1.0, 48000), 48000)
    result = run_nodes(after(path, "audio.Trim", start=5.0))
    assert "past the end" in result.errors["step"].message


def test_resample_changes_rate_and_channels_keeping_length_and_pitch(run_nodes: Run, tmp_path: Path) -> None:
    path = sound_file(tmp_path, "tts.wav", tone(1000, 2.0, 16000), 16000)
    audio = output_of(run_nodes(after(path, "audio.Resample", rate=48000, channels=2)))
    assert audio.rate == 48000 and audio.samples.shape == (2, 96000)
    assert abs(np.argmax(np.abs(np.fft.rfft(audio.samples[1]))) / 2.0 - 1000) <= 1


# ----- mix ----------------------------------------------------------------------------------------

def mixed(run_nodes: Run, voice: str, music: str, **inputs: Any) -> Audio:
    nodes = {**loaded("voice", voice), **loaded("music", music),
             "mix": {"type": "audio.Mix", "inputs": {"voice": ["voice", "audio"], "music": ["music", "audio"],
                                                     **inputs}}}
    return output_of(run_nodes(nodes), "mix")


def test_mix_ducks_the_music_while_the_voice_speaks(run_nodes: Run, tmp_path: Path) -> None:
    rate = 48000
    voice = np.zeros((1, rate * 4), np.float32)
    voice[:, rate : rate * 2] = tone(1000, 1.0, rate, level=0.3)  # speaks from 1 s to 2 s
    music = tone(200, 6.0, rate, 2, level=0.3)
    audio = mixed(run_nodes, sound_file(tmp_path, "voice.wav", voice, rate),
                  sound_file(tmp_path, "music.wav", music, rate),
                  voice_gain_db=-60.0, music_gain_db=0.0, ducking_db=12.0, attack=0.05, release=0.3)
    assert audio.samples.shape == (2, rate * 6)  # as long as the longer sound
    before = level_db(audio.samples[:, int(0.2 * rate) : int(0.8 * rate)])
    under = level_db(audio.samples[:, int(1.3 * rate) : int(1.9 * rate)])
    after_release = level_db(audio.samples[:, int(3.5 * rate) : int(5.5 * rate)])
    assert before == pytest.approx(level_db(music), abs=0.2)
    assert before - under == pytest.approx(12.0, abs=0.5)
    assert after_release == pytest.approx(before, abs=0.2)
    # the music eases down: a tenth of a second in, it has not yet dropped the whole way
    onset = level_db(audio.samples[:, rate + 200 : rate + 1200])
    assert under < onset < before


def test_mix_applies_gains_and_no_ducking_when_asked(run_nodes: Run, tmp_path: Path) -> None:
    rate = 48000
    voice = tone(1000, 1.0, rate, level=0.2)
    music = tone(200, 1.0, rate, level=0.2)
    audio = mixed(run_nodes, sound_file(tmp_path, "voice.wav", voice, rate),
                  sound_file(tmp_path, "music.wav", music, rate),
                  voice_gain_db=0.0, music_gain_db=-6.0, ducking_db=0.0)
    expected = voice[0] + music[0] * 10 ** (-6 / 20)
    assert np.abs(audio.samples[0] - expected).max() < 1e-3


def test_mix_converts_sounds_of_different_rates_and_channels(run_nodes: Run, tmp_path: Path) -> None:
    voice = sound_file(tmp_path, "voice.wav", tone(300, 2.0, 16000), 16000)  # text-to-speech: 16 kHz mono
    music = sound_file(tmp_path, "music.flac", tone(200, 1.0, 44100, 2), 44100)
    audio = mixed(run_nodes, voice, music)
    assert audio.rate == 44100 and audio.channels == 2
    assert audio.samples.shape[1] == pytest.approx(2 * 44100, abs=2)


def test_a_mix_that_would_clip_is_scaled_to_fit(run_nodes: Run, tmp_path: Path) -> None:
    loud = tone(100, 1.0, 48000, level=0.9)
    audio = mixed(run_nodes, sound_file(tmp_path, "voice.flac", loud, 48000),
                  sound_file(tmp_path, "music.flac", loud, 48000), music_gain_db=0.0, ducking_db=0.0)
    assert np.abs(audio.samples).max() <= 1.0


def test_a_voice_read_back_from_a_saved_mix_keeps_its_timing(run_nodes: Run, tmp_path: Path) -> None:
    rate = 48000
    voice = np.zeros((1, rate * 2), np.float32)
    voice[:, rate // 2 : rate // 2 + 480] = 0.9
    nodes = {**loaded("voice", sound_file(tmp_path, "voice.wav", voice, rate)),
             **loaded("music", sound_file(tmp_path, "music.wav", np.zeros((2, rate * 2), np.float32), rate)),
             "mix": {"type": "audio.Mix", "inputs": {"voice": ["voice", "audio"], "music": ["music", "audio"]}},
             "save": {"type": "audio.Save", "inputs": {"audio": ["mix", "audio"], "format": "flac"}}}
    saved = read_audio(output_of(run_nodes(nodes), "save"), rate=rate)
    assert np.flatnonzero(np.abs(saved.samples[0]) > 0.3)[0] == rate // 2
