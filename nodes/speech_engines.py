"""Speech engines: what turns a line of text and a :class:`~nodes.voices.Voice` into sound.

Two engines ship: ``espeak`` (espeak-ng, offline, no download, every language it
knows; :mod:`nodes.espeak_library`) and ``transformers`` (a VITS/MMS, SpeechT5 or
Bark model from the models folder's ``tts/``; :mod:`nodes.speech_models`). Another
engine plugs in with :func:`register_engine`: it checks a voice cheaply, lists its
voices, and opens a :class:`Speaker` that says one sentence at a time.

:func:`synthesize` is the one way text becomes speech (the node, the CLI and the
example project all use it): long text is split into sentences, each sentence is
one step of progress, and cancellation is honoured between sentences (espeak-ng
also stops mid-sentence).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Protocol

import numpy as np

from nodes.context import Cancelled
from nodes.models import SPEECH_MODEL, ModelError, ModelRef, resolve_source
from nodes.types import Audio
from nodes.voices import ESPEAK, TRANSFORMERS, SpeechError, Voice

#: Silence put between sentences by engines whose sentences end abruptly (seconds).
SENTENCE_PAUSE = 0.2
#: Where a sentence ends: its punctuation and any closing quotes or brackets, then a space.
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)|[。！？]+[\"'”’»)\]」』]*")
#: A full stop after these does not end a sentence.
ABBREVIATIONS = frozenset("mr mrs ms dr prof st jr sr vs etc e.g i.e no fig approx".split())
#: Where a sentence too long for the engine is best cut, in order of preference.
CLAUSE_END = re.compile(r"[,;:—–]\s+|\s+[-–]\s+")

Progress = Callable[[float, str], None]


@dataclass
class SpeechJob:
    """What an engine needs from the run it serves."""

    seed: int = 0
    device: str = "cpu"
    #: The executor's model service (``gpu.pipelines.ModelService``); None loads models uncached.
    models: Any = None
    cancelled: Callable[[], bool] = lambda: False

    def stop_if_cancelled(self) -> None:
        if self.cancelled():
            raise Cancelled("cancelled")


class Speaker(Protocol):
    """An engine ready to speak in one voice."""

    rate: int
    #: Longest sentence it is given; longer ones are cut at a clause or a space.
    max_characters: int
    #: Seconds of silence put between sentences.
    pause: float

    def speak(self, sentence: str, index: int) -> np.ndarray:
        """Mono float32 samples in -1..1 at ``rate``; ``index`` counts the sentences."""


class SpeechEngine(Protocol):
    name: str

    def check(self, voice: Voice) -> None:
        """SpeechError when ``voice`` cannot be spoken; cheap (no model is loaded)."""

    def voices(self, voice: Voice) -> list[str]:
        """The voice names this engine offers (for ``voice.model`` where it has models)."""

    def open(self, voice: Voice, job: SpeechJob) -> ContextManager[Speaker]:
        """A speaker for ``voice`` for the duration of the ``with`` block."""


# ----- espeak-ng -------------------------------------------------------------------------------
class EspeakEngine:
    """espeak-ng voices: every language it knows, with variants (``en-us+f3``)."""

    name = ESPEAK

    def check(self, voice: Voice) -> None:
        from nodes.espeak_library import espeak_voices

        espeak_voices().resolve(voice.voice)

    def voices(self, voice: Voice | None = None) -> list[str]:
        from nodes.espeak_library import espeak_voices

        return [f"{entry.code} ({entry.name})" for entry in espeak_voices().voices]

    @contextmanager
    def open(self, voice: Voice, job: SpeechJob) -> Iterator[Speaker]:
        from nodes.espeak_library import espeak_instance, espeak_voices

        name = espeak_voices().resolve(voice.voice)
        with espeak_instance(job.cancelled) as instance:
            yield _EspeakSpeaker(instance, name, voice, job)


@dataclass
class _EspeakSpeaker:
    instance: Any
    name: str
    voice: Voice
    job: SpeechJob
    max_characters: int = 1000
    pause: float = 0.0  # espeak-ng ends each sentence with its own pause

    @property
    def rate(self) -> int:
        return int(self.instance.rate)

    def speak(self, sentence: str, index: int) -> np.ndarray:
        return self.instance.speak(sentence, self.name, self.voice.speed, self.voice.pitch, self.job.cancelled)


# ----- transformers models ---------------------------------------------------------------------
class TransformersEngine:
    """A text-to-speech model from the models folder's ``tts/`` (VITS/MMS, SpeechT5, Bark)."""

    name = TRANSFORMERS

    def reference(self, voice: Voice) -> ModelRef:
        from nodes.speech_models import speech_family

        try:
            source = resolve_source(voice.model, SPEECH_MODEL)
            path = Path(source)
            if not path.exists():
                raise SpeechError(f"{voice.model} is a hub id; download it into the models folder's tts/ first",
                                  "model")
            return ModelRef(source, SPEECH_MODEL, speech_family(path))
        except ModelError as error:
            raise SpeechError(str(error), "model") from None

    def check(self, voice: Voice) -> None:
        from nodes.speech_models import SPEAKER, SPEECH_FAMILIES, VITS, model_voices

        reference = self.reference(voice)
        family = SPEECH_FAMILIES[reference.family]
        if voice.pitch != 0:
            raise SpeechError(f"{family} models cannot change pitch; set the pitch to 0 (espeak voices can change it)",
                              "pitch")
        if voice.speed != 1 and reference.family != VITS:
            raise SpeechError(f"{family} models speak at one speed; set the speed to 1 (VITS/MMS models and espeak "
                              "voices can change it)", "speed")
        offered = model_voices(Path(reference.source))
        wanted = voice.voice.strip()
        match = SPEAKER.match(wanted) if reference.family == VITS else None
        if match:
            wanted = f"speaker {int(match.group(1))}"
        if wanted and wanted not in offered and not (reference.family == VITS and wanted.casefold() == "default"):
            listed = ", ".join(repr(name) for name in offered) if offered else "none (leave the voice empty)"
            raise SpeechError(f"the {family} model {reference.name} has no voice {voice.voice.strip()!r}; "
                              f"its voices: {listed}")

    def voices(self, voice: Voice) -> list[str]:
        from nodes.speech_models import model_voices

        return model_voices(Path(self.reference(voice).source))

    @contextmanager
    def open(self, voice: Voice, job: SpeechJob) -> Iterator[Speaker]:
        self.check(voice)
        reference = self.reference(voice)
        if job.models is not None:
            model = job.models.speech_model(reference, job.device)
        else:
            from nodes.speech_models import load_speech_model, speech_dtype

            model = load_speech_model(Path(reference.source), speech_dtype(reference.family, job.device))
            model.to(job.device)
        yield _ModelSpeaker(model, reference, voice, job)


@dataclass
class _ModelSpeaker:
    model: Any
    reference: ModelRef
    voice: Voice
    job: SpeechJob
    pause: float = SENTENCE_PAUSE

    @property
    def rate(self) -> int:
        return int(self.model.rate)

    @property
    def max_characters(self) -> int:
        return int(self.model.max_characters)

    def speak(self, sentence: str, index: int) -> np.ndarray:
        seed = self.job.seed + index  # each sentence its own noise, the same every run

        def work() -> np.ndarray:
            return self.model.speak(sentence, self.voice.voice, self.voice.speed, seed)

        if self.job.models is None:
            return work()
        return self.job.models.run_guarded(self.job.device, self.reference, work, "speech synthesis")


# ----- the engines, and speaking with them -----------------------------------------------------
_ENGINES: dict[str, SpeechEngine] = {ESPEAK: EspeakEngine(), TRANSFORMERS: TransformersEngine()}


def register_engine(engine: SpeechEngine) -> None:
    """Add (or replace) an engine; ``Voice.engine`` names it."""
    _ENGINES[engine.name] = engine


def engine_named(name: str) -> SpeechEngine:
    engine = _ENGINES.get(name)
    if engine is None:
        raise SpeechError(f"there is no speech engine {name!r}; choose one of {', '.join(sorted(_ENGINES))}",
                          "engine")
    return engine


def require_words(text: str) -> str:
    """The text, if it has anything to say; SpeechError otherwise."""
    if not isinstance(text, str) or not re.search(r"\w", text):
        raise SpeechError("there is no text to speak; type the line the voice should say", "text")
    return text


def split_sentences(text: str, max_characters: int) -> list[str]:
    """The sentences of ``text`` in order (every line break ends one), each cut at a
    clause or a space when longer than ``max_characters``."""
    sentences: list[str] = []
    for line in text.splitlines():
        pending = ""
        start = 0
        for end in SENTENCE_END.finditer(line):
            piece = (pending + line[start:end.end()]).strip()
            start = end.end()
            last_word = piece.rsplit(None, 1)[-1].rstrip(".").casefold() if piece else ""
            if end.group().startswith(".") and len(end.group()) == 1 and last_word in ABBREVIATIONS:
                pending = piece
                continue
            pending = ""
            sentences.extend(_cut(piece, max_characters))
        sentences.extend(_cut((pending + line[start:]).strip(), max_characters))
    return [sentence for sentence in sentences if re.search(r"\w", sentence)]


def _cut(sentence: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while len(sentence) > limit:
        window = sentence[: limit + 1]
        cuts = [match.end() for match in CLAUSE_END.finditer(window) if match.end() > limit // 3]
        if not cuts:
            cuts = [match.end() for match in re.finditer(r"\s+", window) if match.end() > limit // 3]
        cut = cuts[-1] if cuts else limit
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip().lstrip(",;:—–- ")
    if sentence:
        pieces.append(sentence)
    return pieces


def synthesize(text: str, voice: Voice, job: SpeechJob | None = None, progress: Progress | None = None) -> Audio:
    """Speak ``text`` in ``voice``: mono float32 Audio at the engine's rate.

    ``progress(fraction, message)`` hears once per sentence (it may raise Cancelled to
    stop, as ``NodeContext.progress`` does); ``job.cancelled()`` is checked between
    sentences too.
    """
    job = job if job is not None else SpeechJob()
    require_words(text)
    engine = engine_named(voice.engine)
    engine.check(voice)
    job.stop_if_cancelled()
    with engine.open(voice, job) as speaker:
        sentences = split_sentences(text, speaker.max_characters)
        gap = np.zeros(int(round(speaker.pause * speaker.rate)), dtype=np.float32)
        pieces: list[np.ndarray] = []
        for index, sentence in enumerate(sentences):
            job.stop_if_cancelled()
            samples = speaker.speak(sentence, index)
            job.stop_if_cancelled()  # espeak-ng stops mid-sentence when cancelled
            if pieces and gap.size:
                pieces.append(gap)
            pieces.append(samples)
            if progress is not None:
                progress((index + 1) / len(sentences), f"spoke sentence {index + 1} of {len(sentences)}")
        rate = speaker.rate
    samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return Audio(np.ascontiguousarray(samples, dtype=np.float32)[np.newaxis, :], rate)
