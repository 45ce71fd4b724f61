"""Makes music.flac, the example project's music bed: a slow four-chord pad with a
soft arpeggio, synthesized from sine partials (no samples, nothing downloaded).

Run once from the repository root; the FLAC it writes is what the project uses:

    python resources/projects/example/make_music.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 22050
SECONDS_PER_CHORD = 4.75
#: A minor, F major, C major, G major, as MIDI note numbers (the pad and its bass note).
CHORDS = [(57, 60, 64, 45), (57, 60, 65, 41), (55, 60, 64, 48), (55, 59, 62, 43)]


def frequency(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def pad_note(note: int, seconds: float) -> np.ndarray:
    """A soft, slowly breathing tone: three partials, attack and release of a second."""
    times = np.arange(int(seconds * RATE)) / RATE
    base = frequency(note)
    tone = sum(weight * np.sin(2 * np.pi * base * partial * times)
               for partial, weight in ((1.0, 1.0), (2.0, 0.25), (3.0, 0.08)))
    envelope = np.minimum(1.0, np.minimum(times / 1.0, (seconds - times) / 1.2).clip(0.0))
    return tone * envelope * (0.85 + 0.15 * np.sin(2 * np.pi * 0.3 * times))


def pluck(note: int, seconds: float) -> np.ndarray:
    times = np.arange(int(seconds * RATE)) / RATE
    return np.sin(2 * np.pi * frequency(note) * times) * np.exp(-times * 4.0) * np.minimum(1.0, times / 0.01)


def music() -> np.ndarray:
    length = int(SECONDS_PER_CHORD * len(CHORDS) * RATE)
    mix = np.zeros(length + RATE)
    step = SECONDS_PER_CHORD / 8
    for index, chord in enumerate(CHORDS):
        begin = int(index * SECONDS_PER_CHORD * RATE)
        for note in chord[:3]:
            piece = pad_note(note, SECONDS_PER_CHORD + 0.6) * 0.12
            mix[begin: begin + len(piece)] += piece
        bass = pad_note(chord[3], SECONDS_PER_CHORD + 0.6) * 0.16
        mix[begin: begin + len(bass)] += bass
        for beat in range(8):
            note = chord[[0, 1, 2, 1][beat % 4]] + 12
            at = begin + int(beat * step * RATE)
            piece = pluck(note, 1.2) * 0.07
            mix[at: at + len(piece)] += piece[: len(mix) - at]
    mix = mix[:length]
    fade = int(0.5 * RATE)
    mix[-fade:] *= np.linspace(1.0, 0.0, fade)
    return (mix / np.abs(mix).max() * 0.5).astype(np.float32)


def main() -> Path:
    from nodes.media_files import write_audio_file
    from nodes.types import Audio

    target = Path(__file__).resolve().parent / "music.flac"
    return write_audio_file(target, Audio(music()[None, :], RATE), "flac")


if __name__ == "__main__":
    print(main())
