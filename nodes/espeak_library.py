"""espeak-ng, the offline speech synthesiser, through ctypes on the library that the
``espeakng-loader`` package ships with its voice data: nothing to download, and it
runs on every machine Reelgraph runs on.

espeak-ng keeps all its state in globals, so it is used by one thread at a time (a
process-wide lock), and every request gets a freshly loaded instance: a private copy
of the library is loaded, used and unloaded again, so state a request leaves behind
(the phase of its pitch flutter, its echo buffer, its parameters) never leaks into
the next one, and the same text always gives the same samples. Loading takes a few
milliseconds; synthesis runs at hundreds of times real time.
"""

from __future__ import annotations

import atexit
import ctypes
import difflib
import logging
import os
import shutil
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from nodes.context import Cancelled
from nodes.voices import SpeechError

log = logging.getLogger("reelgraph.speech")

DEFAULT_VOICE = "en-us"
#: Words per minute at speed 1, and the range espeak-ng accepts.
NORMAL_RATE = 175
MIN_RATE = 80
MAX_RATE = 450

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POSITION_CHARACTER = 1
_CHARACTERS_UTF8 = 1
_END_PAUSE = 0x1000
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4

#: One instance of espeak-ng at a time in this process.
_LOCK = threading.Lock()
_PRIVATE_COPY: Path | None = None
_VOICES: "EspeakVoices | None" = None


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class EspeakVoice:
    """A voice (or a variant, such as ``f3`` or ``whisper``) espeak-ng offers."""

    name: str
    identifier: str
    #: Language codes with their priority (1 = the voice to use for that language).
    languages: tuple[tuple[int, str], ...]
    gender: str

    @property
    def code(self) -> str:
        """What to type for it: its first language code, or a variant's file name."""
        return self.languages[0][1] if self.languages else self.identifier.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class EspeakVoices:
    voices: tuple[EspeakVoice, ...]
    variants: tuple[EspeakVoice, ...]

    def resolve(self, text: str) -> str:
        """The name espeak-ng loads for what a creator typed: a language code (``en-gb``),
        a voice name (``English (America)``) or identifier (``gmw/en-US``), optionally
        with a variant (``en-us+f3``, ``fr+whisper``)."""
        base, _, variant = (text.strip() or DEFAULT_VOICE).partition("+")
        voice = self._find_voice(base.strip())
        if not variant.strip():
            return voice.identifier
        wanted = variant.strip().casefold()
        for candidate in self.variants:
            tail = candidate.identifier.rsplit("/", 1)[-1]
            if wanted in (tail.casefold(), candidate.name.casefold()):
                return f"{voice.identifier}+{tail}"
        names = sorted({candidate.identifier.rsplit("/", 1)[-1] for candidate in self.variants})
        close = difflib.get_close_matches(variant.strip(), names, n=4)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise SpeechError(f"espeak has no voice variant {variant.strip()!r}; {hint}variants include f1 to f5 "
                          "(female), m1 to m8 (male), whisper, croak, grandma and grandpa")

    def _find_voice(self, base: str) -> EspeakVoice:
        wanted = base.casefold()
        for voice in self.voices:
            if voice.identifier.casefold() == wanted:
                return voice
        by_language = [(priority, index, voice) for index, voice in enumerate(self.voices)
                       for priority, code in voice.languages if code.casefold() == wanted]
        if by_language:
            return min(by_language, key=lambda found: found[:2])[2]
        for voice in self.voices:
            if wanted in (voice.name.casefold(), voice.identifier.rsplit("/", 1)[-1].casefold()):
                return voice
        codes = sorted({code for voice in self.voices for _, code in voice.languages})
        close = difflib.get_close_matches(base, codes + [voice.name for voice in self.voices], n=4, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise SpeechError(f"espeak has no voice {base!r}; {hint}try a language code such as en-us, en-gb, fr, de, "
                          "es or hi, optionally with a variant such as +f3 (female) or +m2 (male)")


class EspeakInstance:
    """One loaded, initialised espeak-ng; only used inside :func:`espeak_instance`."""

    def __init__(self, library: ctypes.CDLL, data_path: str) -> None:
        self._library = library
        library.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        library.espeak_Initialize.restype = ctypes.c_int
        library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        library.espeak_SetVoiceByName.restype = ctypes.c_int
        library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        library.espeak_SetParameter.restype = ctypes.c_int
        library.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                         ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        library.espeak_Synth.restype = ctypes.c_int
        library.espeak_ListVoices.argtypes = [ctypes.POINTER(_Voice)]
        library.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        library.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        self.rate = library.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, os.fsencode(data_path),
                                              _INITIALIZE_DONT_EXIT)
        if self.rate <= 0:
            raise SpeechError(f"espeak-ng could not start: its voice data at {data_path} is missing or damaged "
                              "(reinstall the espeakng-loader package)")
        self._chunks: list[bytes] = []
        self._stop: Callable[[], bool] = lambda: False
        self._callback = _SynthCallback(self._collect)  # kept: espeak calls it until unloaded
        library.espeak_SetSynthCallback(self._callback)

    def _collect(self, samples: "ctypes._Pointer[ctypes.c_short]", count: int, events: int) -> int:
        if samples and count > 0:
            self._chunks.append(ctypes.string_at(samples, count * 2))
        return 1 if self._stop() else 0

    def voices(self) -> EspeakVoices:
        variant_language = ctypes.create_string_buffer(b"variant")
        variant_spec = _Voice()
        variant_spec.languages = ctypes.addressof(variant_language)
        return EspeakVoices(self._list(None), self._list(ctypes.pointer(variant_spec)))

    def _list(self, spec: "ctypes._Pointer[_Voice] | None") -> tuple[EspeakVoice, ...]:
        found = []
        entries = self._library.espeak_ListVoices(spec)
        index = 0
        while entries[index]:
            entry = entries[index].contents
            found.append(EspeakVoice(
                name=(entry.name or b"").decode("utf-8", "replace"),
                identifier=(entry.identifier or b"").decode("utf-8", "replace"),
                languages=_languages(entry.languages), gender={1: "male", 2: "female"}.get(entry.gender, "")))
            index += 1
        return tuple(found)

    def speak(self, text: str, voice_name: str, speed: float, pitch: float,
              stop: Callable[[], bool] = lambda: False) -> np.ndarray:
        """Mono float32 samples at :attr:`rate` for ``text``; ``stop()`` returning True
        aborts synthesis at the next block of samples (then check it yourself)."""
        library = self._library
        if library.espeak_SetVoiceByName(voice_name.encode("utf-8")) != 0:
            raise SpeechError(f"espeak-ng could not load the voice {voice_name!r}")
        library.espeak_SetParameter(_RATE, rate_for(speed), 0)
        library.espeak_SetParameter(_VOLUME, 100, 0)
        pitch_value, range_value = pitch_parameters(pitch)
        library.espeak_SetParameter(_PITCH, pitch_value, 0)
        library.espeak_SetParameter(_RANGE, range_value, 0)
        encoded = text.replace("\0", " ").encode("utf-8") + b"\0"
        self._chunks, self._stop = [], stop
        status = library.espeak_Synth(encoded, len(encoded), 0, _POSITION_CHARACTER, 0,
                                      _CHARACTERS_UTF8 | _END_PAUSE, None, None)
        if status != 0:
            raise SpeechError(f"espeak-ng could not speak {text[:40]!r} (error {status})")
        pcm = np.frombuffer(b"".join(self._chunks), dtype=np.int16)  # native-endian, as espeak writes
        self._chunks = []
        return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def rate_for(speed: float) -> int:
    """espeak-ng's words per minute for a speed multiple (1 = its natural 175)."""
    return int(round(min(MAX_RATE, max(MIN_RATE, NORMAL_RATE * speed))))


def pitch_parameters(semitones: float) -> tuple[int, int]:
    """espeak-ng's pitch (0..100, 50 natural) and pitch range (0..99, 50 natural) for a
    shift in semitones. Its pitch scale is exponential, one octave either side of 50,
    so the base pitch follows the semitones; the range is scaled alike so the melody
    of the sentence moves with it rather than staying where it was."""
    pitch = int(round(min(100.0, max(0.0, 50.0 + semitones * 50.0 / 12.0))))
    spread = int(round(min(99.0, max(0.0, 50.0 * 2.0 ** (semitones / 12.0)))))
    return pitch, spread


def _languages(pointer: int | None) -> tuple[tuple[int, str], ...]:
    """espeak's language list: (priority byte, NUL-terminated code) pairs, ended by a 0 byte."""
    found: list[tuple[int, str]] = []
    offset = 0
    while pointer:
        priority = ctypes.c_ubyte.from_address(pointer + offset).value
        if priority == 0:
            break
        code = ctypes.string_at(pointer + offset + 1)
        found.append((priority, code.decode("utf-8", "replace")))
        offset += len(code) + 2
    return tuple(found)


# ----- loading a fresh instance --------------------------------------------------------------
def _loader_paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError:
        raise SpeechError("the espeak engine needs the espeakng-loader package (pip install espeakng-loader)",
                          "engine") from None
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def _private_copy(original: str) -> Path | None:
    """A copy of the library only this module loads, so unloading it really resets it
    (another package in the process may hold the original open). None if it cannot be made."""
    global _PRIVATE_COPY
    if _PRIVATE_COPY is None or not _PRIVATE_COPY.exists():
        try:
            folder = Path(tempfile.mkdtemp(prefix="reelgraph-espeak-"))
            copy = folder / Path(original).name
            shutil.copyfile(original, copy)
        except OSError as error:
            log.warning("cannot copy espeak-ng for private use (%s); output may vary slightly between runs", error)
            return None
        atexit.register(shutil.rmtree, folder, True)
        _PRIVATE_COPY = copy
    return _PRIVATE_COPY


def _unload(library: ctypes.CDLL) -> None:
    import _ctypes

    close = getattr(_ctypes, "FreeLibrary" if sys.platform == "win32" else "dlclose", None)
    if close is not None:
        close(library._handle)


@contextmanager
def espeak_instance(cancelled: Callable[[], bool] = lambda: False) -> Iterator[EspeakInstance]:
    """A fresh espeak-ng for this thread alone; waits for any other user (stopping if
    ``cancelled()`` turns true meanwhile) and unloads it afterwards."""
    original, data_path = _loader_paths()
    while not _LOCK.acquire(timeout=0.05):
        if cancelled():
            raise Cancelled("cancelled while waiting for the speech engine")
    try:
        library, private = _load(original)
        try:
            yield EspeakInstance(library, data_path)
        finally:
            library.espeak_Terminate()
            if private:
                _unload(library)
    finally:
        _LOCK.release()


def _load(original: str) -> tuple[ctypes.CDLL, bool]:
    """The private copy when it loads (True: unload it after use), else the original."""
    copy = _private_copy(original)
    if copy is not None:
        try:
            return ctypes.CDLL(str(copy)), True
        except OSError as error:
            log.warning("cannot load the private copy of espeak-ng (%s); using the shared one", error)
    try:
        return ctypes.CDLL(original), False
    except OSError as error:
        raise SpeechError(f"cannot load espeak-ng ({error}); reinstall the espeakng-loader package", "engine") \
            from None


def espeak_voices() -> EspeakVoices:
    """Every espeak-ng voice and variant (read once per process)."""
    global _VOICES
    if _VOICES is None:
        with espeak_instance() as instance:
            _VOICES = instance.voices()
    return _VOICES
