"""Voices for a story: lines of text spoken by espeak-ng voices (offline, no download)
or by text-to-speech models from the models folder's ``tts/`` (VITS/MMS, SpeechT5,
Bark), and each character's voice kept in the voice library so every scene speaks
them the same way. The engines live in :mod:`nodes.speech_engines`, the voice
library in :mod:`nodes.voices`.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

from nodes.library.core import SEED_MAX
from nodes.models import SPEECH_MODEL, ModelError, resolve_source
from nodes.speech_engines import SpeechJob, engine_named, synthesize
from nodes.spec import Input, Output, node
from nodes.types import AUDIO, FLOAT, INT, STRING, Audio
from nodes.voices import (
    ENGINES, ESPEAK, MAX_PITCH, MAX_SPEED, MIN_PITCH, MIN_SPEED, TRANSFORMERS, SpeechError, Voice,
    load_voice_library, save_character_voice, voice_from_inputs,
)

VOICE_RULE = ("espeak: a language code such as en-us, en-gb, fr or de, optionally with a variant (en-us+f3 for a "
              "female voice, +m2, +whisper); transformers: a speaker of the model ('speaker 2'), a SpeechT5 speaker "
              "file or a Bark voice preset. Empty: the engine's default.")


def voice_inputs() -> list[Input]:
    """The inputs that make up a Voice, shared by the nodes that take one."""
    return [
        Input("engine", STRING, default=ESPEAK, choices=ENGINES,
              description="espeak: espeak-ng voices, offline; transformers: a model from the models folder's tts/"),
        Input("voice", STRING, default="", description=VOICE_RULE),
        Input("model", STRING, default="", widget="model:speech_model",
              description="transformers: a text-to-speech model folder in the models folder's tts/, or its path"),
        Input("speed", FLOAT, default=1.0, min=MIN_SPEED, max=MAX_SPEED, step=0.05,
              description="1 is the voice's natural pace (espeak voices and VITS/MMS models)"),
        Input("pitch", FLOAT, default=0.0, min=MIN_PITCH, max=MAX_PITCH, step=0.5,
              description="semitones up or down from the voice's natural pitch (espeak voices)"),
    ]


VOICE_FIELDS = ("engine", "voice", "model", "speed", "pitch")
DEFAULTS = {item.name: item.default for item in voice_inputs()}


def _typed_voice(constants: Mapping[str, Any]) -> Voice:
    """The Voice the typed-in values describe (defaults for those left out)."""
    return voice_from_inputs({**DEFAULTS, **{name: constants[name] for name in VOICE_FIELDS if name in constants}})


def _voice_problems(voice: Voice, blame: str | None = None) -> Iterable[tuple[str, str, str]]:
    try:
        engine_named(voice.engine).check(voice)
    except SpeechError as error:
        yield blame or error.field, str(error), _fix_for(error.field)


def _fix_for(field: str) -> str:
    return {
        "engine": "choose espeak or transformers",
        "model": "put the model folder in the models folder's tts/, or give its full path",
        "speed": "set the speed to 1",
        "pitch": "set the pitch to 0",
        "character": "save the character's voice with audio.SaveCharacterVoice, or fix the name",
    }.get(field, "pick a voice the engine offers (audio.ListVoices lists them)")


def _check_speech(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    character = constants.get("character", "")
    if isinstance(character, str) and character.strip():
        try:
            voice = load_voice_library().voice_of(character)
        except SpeechError as error:
            yield "character", str(error), _fix_for("character")
            return
        for name, message, fix in _voice_problems(voice, "character"):
            yield name, f"the voice saved for {character.strip()!r}: {message}", fix
        return
    try:
        voice = _typed_voice(constants)
    except SpeechError as error:
        yield error.field, str(error), _fix_for(error.field)
        return
    yield from _voice_problems(voice)


def _model_files(model: str) -> Any:
    try:
        source = resolve_source(model, SPEECH_MODEL)
    except ModelError:
        return "missing"
    found: list[Any] = [source]
    for name in ("config.json", "model.safetensors", "generation_config.json", "speaker_embeddings_path.json"):
        try:
            status = os.stat(os.path.join(source, name))
        except OSError:
            continue
        found.append((name, status.st_size, status.st_mtime_ns))
    speakers = os.path.join(source, "speakers")
    if os.path.isdir(speakers):
        found.append(sorted(os.listdir(speakers)))
    return tuple(found)


def _speech_fingerprint(constants: Mapping[str, Any]) -> Any:
    """A character's voice is read from the library, and a model from its folder: when
    either changes, the line is spoken again."""
    character = constants.get("character", "")
    if isinstance(character, str) and character.strip():
        try:
            voice = load_voice_library().voice_of(character)
        except SpeechError:
            return "unknown character"
    else:
        try:
            voice = _typed_voice(constants)
        except SpeechError:
            return "bad voice"
    return (voice.to_json(), _model_files(voice.model) if voice.engine == TRANSFORMERS else None)


def _voice_for(character: str, inputs: Mapping[str, Any]) -> Voice:
    if character.strip():
        return load_voice_library().voice_of(character)
    return voice_from_inputs(inputs)


@node("audio.TextToSpeech", category="audio",
      description="Speaks a line of text: with an espeak-ng voice (offline, no download, dozens of languages) or a "
                  "text-to-speech model from the models folder's tts/ (VITS/MMS, SpeechT5, Bark). Name a character "
                  "to use the voice saved for them in the voice library instead of the voice settings here. Long "
                  "text is spoken sentence by sentence, and can be cancelled between sentences. The same text, "
                  "voice and seed give the same sound.",
      inputs=[Input("text", STRING, default="", multiline=True),
              Input("character", STRING, default="",
                    description="a character in the voice library; when given, their voice replaces the settings "
                                "below"),
              *voice_inputs(),
              Input("seed", INT, default=0, min=0, max=SEED_MAX, widget="seed",
                    description="models sample their voice; the same seed says a line the same way (espeak "
                                "always does)")],
      outputs=[Output("audio", AUDIO, "mono, at the engine's own rate (espeak: 22050 Hz)"),
               Output("duration", FLOAT, "seconds")],
      gpu=True, fingerprint=_speech_fingerprint, check=_check_speech)
def text_to_speech(ctx: Any, text: str, character: str, engine: str, voice: str, model: str, speed: float,
                   pitch: float, seed: int) -> tuple[Audio, float]:
    spoken = _voice_for(character, {"engine": engine, "voice": voice, "model": model, "speed": speed,
                                    "pitch": pitch})
    ctx.progress(0.0, None, f"preparing {spoken.describe()}")
    job = SpeechJob(seed=seed, device=ctx.device, models=ctx.models, cancelled=lambda: ctx.cancel.cancelled)
    audio = synthesize(text, spoken, job, progress=lambda fraction, message: ctx.progress(fraction, None, message))
    return audio, audio.duration


def _saved_voice_fingerprint(constants: Mapping[str, Any]) -> Any:
    """Saved again when the library's entry for the character changed meanwhile."""
    character = constants.get("character", "")
    if not isinstance(character, str) or not character.strip():
        return None
    try:
        return load_voice_library().voice_of(character).to_json()
    except SpeechError:
        return None


def _check_saved_voice(constants: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    character = constants.get("character")
    if isinstance(character, str) and not character.strip():
        yield "character", "names no character", "type the character's name, e.g. Narrator"
    try:
        voice = _typed_voice(constants)
    except SpeechError as error:
        yield error.field, str(error), _fix_for(error.field)
        return
    yield from _voice_problems(voice)


@node("audio.SaveCharacterVoice", category="audio",
      description="Saves a voice for a character in the voice library (voices.json in the user data folder), so "
                  "audio.TextToSpeech can speak their lines by name. Saving again replaces the character's voice.",
      inputs=[Input("character", STRING, default=""), *voice_inputs()],
      outputs=[Output("character", STRING, "the name, to link into audio.TextToSpeech")],
      output=True, fingerprint=_saved_voice_fingerprint, check=_check_saved_voice)
def save_character(ctx: Any, character: str, engine: str, voice: str, model: str, speed: float,
                   pitch: float) -> str:
    chosen = voice_from_inputs({"engine": engine, "voice": voice, "model": model, "speed": speed, "pitch": pitch})
    engine_named(chosen.engine).check(chosen)
    save_character_voice(character, chosen)
    return character.strip()


@node("audio.ListVoices", category="audio",
      description="Lists the voices an engine offers, one a line: espeak-ng's languages, or the speakers and voice "
                  "presets of a text-to-speech model.",
      inputs=[Input("engine", STRING, default=ESPEAK, choices=ENGINES),
              Input("model", STRING, default="", widget="model:speech_model",
                    description="transformers: the model whose voices to list")],
      outputs=[Output("voices", STRING)])
def list_voices(ctx: Any, engine: str, model: str) -> str:
    voice = Voice(engine=engine, model=model.strip()) if engine == TRANSFORMERS else Voice(engine=engine)
    names = engine_named(engine).voices(voice)
    return "\n".join(names) if names else "(one voice: leave the voice empty)"
