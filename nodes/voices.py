"""Voices, and the library that gives each character of a story its own.

A :class:`Voice` is what a line is spoken with: an engine (``espeak``, or
``transformers`` with a text-to-speech model from the models folder's ``tts/``),
the engine's voice, a speed and a pitch. Creators save one per character (the
narrator, the fox) so every scene speaks the character the same way, and the
``audio.TextToSpeech`` node looks it up by the character's name.

The library is one JSON file in the user data folder (``voices.json``), plain data
with a format name and a version like every Reelgraph document, saved atomically.
Nothing here imports an engine: reading and checking voices is instant.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from nodes.atomic_write import write_atomically
from nodes.spec import NodeFailure

FORMAT = "reelgraph.voices"
VERSION = 1
FILE_NAME = "voices.json"

ESPEAK = "espeak"
TRANSFORMERS = "transformers"
#: The engines that ship; ``nodes.speech_engines.register_engine`` plugs in others.
ENGINES = (ESPEAK, TRANSFORMERS)
#: Speed is a multiple of the engine's natural speaking rate.
MIN_SPEED = 0.5
MAX_SPEED = 2.5
#: Pitch is in semitones from the voice's natural pitch.
MIN_PITCH = -12.0
MAX_PITCH = 12.0
#: Two saves from this process never interleave their read-modify-write.
_EDITING = threading.Lock()


class SpeechError(NodeFailure):
    """Speech that cannot be made (an unknown voice, a model that cannot do what was
    asked); the message says what to do, ``field`` which setting it is about."""

    def __init__(self, message: str, field: str = "voice") -> None:
        super().__init__(message)
        self.field = field


class VoiceError(SpeechError):
    """A voice or a voice library that cannot be used; the message says what to do."""

    def __init__(self, message: str, field: str = "character") -> None:
        super().__init__(message, field)


@dataclass(frozen=True)
class Voice:
    """How a line is spoken. ``voice`` is the engine's own name for it (an espeak
    voice such as ``en-us`` or ``fr+f3``, a model's speaker or voice preset), empty
    for the engine's default; ``model`` names the text-to-speech model of the
    ``transformers`` engine (a folder in the models folder's ``tts/``, or a path)."""

    engine: str = ESPEAK
    voice: str = ""
    speed: float = 1.0
    pitch: float = 0.0
    model: str = ""

    def __post_init__(self) -> None:
        found = self.problem_and_field()
        if found:
            raise VoiceError(*found)
        object.__setattr__(self, "speed", float(self.speed))
        object.__setattr__(self, "pitch", float(self.pitch))

    def problem_and_field(self) -> tuple[str, str] | None:
        """Why this voice cannot be spoken by any engine, and which setting is at fault."""
        if not isinstance(self.engine, str) or not self.engine.strip():
            return f"names no speech engine; choose one of {', '.join(ENGINES)}", "engine"
        for name, value, low, high in (("speed", self.speed, MIN_SPEED, MAX_SPEED),
                                       ("pitch", self.pitch, MIN_PITCH, MAX_PITCH)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"the {name} must be a number, not {value!r}", name
            if not low <= value <= high:
                return f"the {name} {value:g} is outside {low:g} to {high:g}", name
        if not isinstance(self.voice, str):
            return "the voice must be given as text", "voice"
        if not isinstance(self.model, str):
            return "the model must be given as text", "model"
        if self.engine == TRANSFORMERS and not self.model.strip():
            return ("the transformers engine needs a text-to-speech model (a folder in the models folder's tts/)",
                    "model")
        return None

    def describe(self) -> str:
        """What the creator sees in a list: 'espeak en-gb, speed 1.2, pitch +2'."""
        model = f"{self.model} " if self.engine == TRANSFORMERS else ""
        who = f"{self.engine} {model}{self.voice or 'default voice'}"
        return f"{who}, speed {self.speed:g}, pitch {self.pitch:+g}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "the voice") -> "Voice":
        if not isinstance(data, dict):
            raise VoiceError(f"{where} is not a voice (an object with engine, voice, speed and pitch)")
        unknown = sorted(set(data) - {"engine", "voice", "speed", "pitch", "model"})
        if unknown:
            raise VoiceError(f"{where} has unknown field(s) {', '.join(unknown)}")
        try:
            return cls(**data)
        except VoiceError as error:
            raise VoiceError(f"{where}: {error}", error.field) from None


def voice_library_path() -> Path:
    """``voices.json`` in the user data folder (``REELGRAPH_HOME`` moves it)."""
    from nodes.user_folders import data_folder

    return data_folder() / FILE_NAME


@dataclass
class VoiceLibrary:
    """Characters and their voices, by name (kept in the order they were added)."""

    characters: dict[str, Voice] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.characters)

    def __iter__(self) -> Iterator[str]:
        return iter(self.characters)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def find(self, name: str) -> str | None:
        """The stored name for ``name``: exact, else the one that differs only in case."""
        wanted = name.strip()
        if wanted in self.characters:
            return wanted
        folded = [known for known in self.characters if known.casefold() == wanted.casefold()]
        return folded[0] if len(folded) == 1 else None

    def voice_of(self, name: str) -> Voice:
        """The voice saved for a character; VoiceError listing the known ones otherwise."""
        found = self.find(name)
        if found is None:
            raise VoiceError(f"no character {name.strip()!r} in the voice library; {self.known()}")
        return self.characters[found]

    def known(self) -> str:
        if not self.characters:
            return "the library has no characters yet (save one with audio.SaveCharacterVoice)"
        names = ", ".join(repr(name) for name in sorted(self.characters, key=str.casefold))
        return f"known characters: {names}"

    def set(self, name: str, voice: Voice) -> None:
        cleaned = name.strip()
        if not cleaned:
            raise VoiceError("a character needs a name")
        existing = self.find(cleaned)
        if existing is not None and existing != cleaned:
            del self.characters[existing]
        self.characters[cleaned] = voice

    def remove(self, name: str) -> None:
        found = self.find(name)
        if found is None:
            raise VoiceError(f"no character {name.strip()!r} to remove; {self.known()}")
        del self.characters[found]

    # ----- the JSON document -----------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION,
                "characters": {name: voice.to_json() for name, voice in self.characters.items()}}

    @classmethod
    def from_json(cls, data: Any, where: str = "the voice library") -> "VoiceLibrary":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise VoiceError(f"{where} is not a Reelgraph voice library (its format is not {FORMAT!r})")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise VoiceError(f"{where} has no valid version number")
        if version > VERSION:
            raise VoiceError(f"{where} was written by a newer Reelgraph (version {version}; this one reads "
                             f"up to {VERSION}); update Reelgraph to use it")
        characters = data.get("characters", {})
        if not isinstance(characters, dict):
            raise VoiceError(f"{where}: 'characters' must map names to voices")
        library = cls()
        for name, voice in characters.items():
            library.set(name, Voice.from_json(voice, f"{where}: the voice of {name!r}"))
        return library


def load_voice_library(path: str | os.PathLike[str] | None = None) -> VoiceLibrary:
    """The library at ``path`` (the user's by default); empty when there is no file yet."""
    target = Path(path) if path is not None else voice_library_path()
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        return VoiceLibrary()
    except OSError as error:
        raise VoiceError(f"cannot read the voice library {target}: {error.strerror or error}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise VoiceError(f"the voice library {target} is damaged (not readable JSON); fix the file or move it "
                         "away to start a new one") from None
    return VoiceLibrary.from_json(data, f"the voice library {target}")


def save_voice_library(library: VoiceLibrary, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the library atomically: a crash leaves the old file or the new one, never half."""
    target = Path(path) if path is not None else voice_library_path()
    text = json.dumps(library.to_json(), indent=2, ensure_ascii=False) + "\n"
    return write_atomically(target, text.encode("utf-8"))


def save_character_voice(name: str, voice: Voice, path: str | os.PathLike[str] | None = None) -> Path:
    """Add or replace one character's voice in the library file."""
    with _EDITING:
        library = load_voice_library(path)
        library.set(name, voice)
        return save_voice_library(library, path)


def voice_from_inputs(inputs: Mapping[str, Any]) -> Voice:
    """A Voice from a node's engine/voice/speed/pitch/model inputs."""
    return Voice(engine=inputs.get("engine", ESPEAK), voice=str(inputs.get("voice", "")).strip(),
                 speed=inputs.get("speed", 1.0), pitch=inputs.get("pitch", 0.0),
                 model=str(inputs.get("model", "")).strip())
