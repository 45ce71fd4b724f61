"""Text-to-speech models from a local folder, run through transformers: VITS (Meta's
MMS voices are VITS models), SpeechT5 with its HiFi-GAN vocoder, and Bark.

A model lives in the models folder's ``tts/`` as the folder ``save_pretrained`` writes,
plus what each kind needs beside its weights:

- **VITS / MMS**: ``vocab.json`` and ``tokenizer_config.json``. A model trained on
  several speakers offers them as voices ``speaker 0``, ``speaker 1``, ...
- **SpeechT5**: its vocoder (``microsoft/speecht5_hifigan``) in a ``vocoder/``
  subfolder (or beside it in ``tts/``), and its voices as speaker embeddings: one
  x-vector per voice, saved with ``numpy.save`` as ``speakers/NAME.npy``. Without
  any, it speaks with a neutral (all-zero) embedding.
- **Bark**: its voice presets as suno/bark ships them (``speaker_embeddings_path.json``
  and the ``speaker_embeddings/`` folder); without one, the seed picks the voice.

Only VITS can change its speed (its duration predictor is scaled); none of them can
change pitch. Every model samples, so synthesis runs under a seed of its own and the
same seed gives the same samples. torch and transformers are imported inside the
functions that use them; reading a model's kind is instant.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from nodes.models import ModelError
from nodes.voices import SpeechError

VITS = "vits"
SPEECHT5 = "speecht5"
BARK = "bark"
SPEECH_FAMILIES = {VITS: "VITS / MMS", SPEECHT5: "SpeechT5", BARK: "Bark"}
#: Longest piece of text handed to a model at once; longer text is split at sentences.
MAX_CHARACTERS = {VITS: 300, SPEECHT5: 250, BARK: 180}
NEUTRAL = "neutral"
SPEAKER = re.compile(r"^(?:speaker\s*)?(\d+)$", re.IGNORECASE)


def speech_family(path: Path) -> str:
    """Which kind of text-to-speech model a folder holds, from its ``config.json``."""
    config_file = path / "config.json"
    if not path.is_dir() or not config_file.is_file():
        raise ModelError(f"{path.name} is not a text-to-speech model folder (it has no config.json)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        raise ModelError(f"{path.name}/config.json is damaged; download the model again") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    architectures = config.get("architectures") or [] if isinstance(config, dict) else []
    if model_type == SPEECHT5 and architectures and "SpeechT5ForTextToSpeech" not in architectures:
        raise ModelError(f"{path.name} is a SpeechT5 model for {', '.join(architectures)}, not for text to speech; "
                         "use microsoft/speecht5_tts")
    if model_type not in SPEECH_FAMILIES:
        raise ModelError(f"{path.name} is a {model_type or 'unknown'} model, not a text-to-speech model Reelgraph "
                         f"can run ({', '.join(SPEECH_FAMILIES.values())})")
    return str(model_type)


def speech_dtype(family: str, device: str) -> Any:
    """float32, except Bark on a CUDA GPU (float16): VITS's flows and SpeechT5's
    stop-token threshold are touchy at half precision, and both are small anyway."""
    import torch

    return torch.float16 if family == BARK and device.startswith("cuda") else torch.float32


@dataclass(eq=False)
class SpeechModel:
    """A loaded text-to-speech model with what it speaks with; the model cache keeps it
    warm and moves it between devices (``components``, ``to``)."""

    family: str
    name: str
    model: Any
    #: The tokenizer (Bark: its processor, which also loads voice presets).
    tokenizer: Any
    vocoder: Any = None
    #: SpeechT5's voices: speaker embeddings by name.
    speakers: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def components(self) -> dict[str, Any]:
        return {name: module for name, module in (("model", self.model), ("vocoder", self.vocoder))
                if module is not None}

    def to(self, device: Any) -> "SpeechModel":
        for module in self.components.values():
            module.to(device)
        return self

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def rate(self) -> int:
        """Samples per second of what it speaks."""
        if self.family == SPEECHT5:
            return int(self.vocoder.config.sampling_rate)
        if self.family == BARK:
            return int(getattr(self.model.generation_config, "sample_rate", 0)
                       or self.model.codec_model.config.sampling_rate)
        return int(self.model.config.sampling_rate)

    @property
    def max_characters(self) -> int:
        return MAX_CHARACTERS[self.family]

    def voices(self) -> list[str]:
        """The names its ``voice`` accepts (empty text always means its default)."""
        if self.family == VITS:
            count = int(getattr(self.model.config, "num_speakers", 1) or 1)
            return [f"speaker {index}" for index in range(count)] if count > 1 else []
        if self.family == SPEECHT5:
            return sorted(self.speakers) or [NEUTRAL]
        return sorted(self.tokenizer.available_voice_presets)

    def check(self, voice: str, speed: float) -> None:
        """SpeechError when this model cannot speak with ``voice`` at ``speed``."""
        if speed != 1.0 and self.family != VITS:
            raise SpeechError(f"{SPEECH_FAMILIES[self.family]} models speak at one speed; set the speed to 1 "
                              "(VITS/MMS models and espeak voices can change it)")
        self._voice_value(voice)

    def speak(self, text: str, voice: str, speed: float, seed: int) -> np.ndarray:
        """Mono float32 samples at :attr:`rate` for ``text``, the same for the same seed."""
        import torch

        self.check(voice, speed)
        value = self._voice_value(voice)
        with _seeded(seed, self.device), torch.inference_mode():
            if self.family == VITS:
                wave = self._speak_vits(text, value, speed)
            elif self.family == SPEECHT5:
                wave = self._speak_speecht5(text, value)
            else:
                wave = self._speak_bark(text, value)
        samples = wave.detach().float().cpu().numpy().reshape(-1)
        if not np.isfinite(samples).all():
            raise SpeechError(f"{self.name} produced invalid sound (not-a-number samples); on a GPU, try the model "
                              "at float32")
        return np.clip(samples, -1.0, 1.0).astype(np.float32)

    # ----- each kind of model -------------------------------------------------------------
    def _voice_value(self, voice: str) -> Any:
        voice = voice.strip()
        known = self.voices()
        if self.family == VITS:
            match = SPEAKER.match(voice)
            if not known and voice.casefold() in ("", "default"):
                return None  # one speaker: nothing to choose
            if known and not voice:
                return 0
            if known and match and int(match.group(1)) < len(known):
                return int(match.group(1))
        elif self.family == SPEECHT5:
            if not voice:
                voice = known[0]
            if voice == NEUTRAL and not self.speakers:
                return np.zeros(self.model.config.speaker_embedding_dim, dtype=np.float32)
            if voice in self.speakers:
                return self.speakers[voice]
        elif not voice or voice in known:
            return voice or None
        offered = ", ".join(repr(name) for name in known) if known else "none (leave the voice empty)"
        raise SpeechError(f"the {SPEECH_FAMILIES[self.family]} model {self.name} has no voice {voice!r}; "
                          f"its voices: {offered}")

    def _tokens(self, text: str, limit: int | None = None) -> dict[str, Any]:
        try:
            encoded = self.tokenizer(text, return_tensors="pt")
        except Exception as error:  # an optional text front end (uroman, phonemizer) missing, odd input
            raise SpeechError(f"the tokenizer of {self.name} cannot read {text[:40]!r}: {_first_line(error)}") \
                from None
        tokens = {name: value[:, :limit].to(self.device) for name, value in encoded.items()
                  if name in ("input_ids", "attention_mask")}
        if tokens["input_ids"].shape[-1] < 2:
            raise SpeechError(f"{self.name} finds nothing it can say in {text[:40]!r}; is the text in its language?")
        return tokens

    def _speak_vits(self, text: str, speaker: int | None, speed: float) -> Any:
        tokens = self._tokens(text)
        return self.model(**tokens, speaker_id=speaker, speaking_rate=speed).waveform[0]

    def _speak_speecht5(self, text: str, embedding: np.ndarray) -> Any:
        import torch

        tokens = self._tokens(text, int(self.model.config.max_text_positions))
        speaker = torch.from_numpy(embedding).to(self.device, next(self.model.parameters()).dtype)[None]
        return self.model.generate_speech(tokens["input_ids"], speaker, vocoder=self.vocoder)

    def _speak_bark(self, text: str, preset: str | None) -> Any:
        try:
            inputs = self.tokenizer(text, voice_preset=preset)
        except (ValueError, OSError) as error:
            raise SpeechError(f"the voice preset {preset!r} of {self.name} cannot be read: {_first_line(error)}") \
                from None
        history = inputs.pop("history_prompt", None)
        arguments: dict[str, Any] = {name: value.to(self.device) for name, value in inputs.items()
                                     if name in ("input_ids", "attention_mask")}
        if history is not None:
            arguments["history_prompt"] = {name: value.to(self.device) for name, value in history.items()}
        return self.model.generate(**arguments, do_sample=True)[0]


@contextmanager
def _seeded(seed: int, device: Any) -> Iterator[None]:
    """Run with torch's random numbers seeded, without disturbing anyone else's."""
    import torch

    devices = [device.index or 0] if getattr(device, "type", "") == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed) % 2**63)
        yield


# ----- loading ---------------------------------------------------------------------------------
def load_speech_model(path: Path, dtype: Any) -> SpeechModel:
    """The model in ``path`` with its tokenizer, vocoder and voices, on the CPU."""
    family = speech_family(path)
    try:
        if family == VITS:
            from transformers import AutoTokenizer, VitsModel

            speech = SpeechModel(family, path.name, VitsModel.from_pretrained(path, dtype=dtype, local_files_only=True),
                                 AutoTokenizer.from_pretrained(path, local_files_only=True))
        elif family == SPEECHT5:
            from transformers import AutoTokenizer, SpeechT5ForTextToSpeech, SpeechT5HifiGan

            model = SpeechT5ForTextToSpeech.from_pretrained(path, dtype=dtype, local_files_only=True)
            speech = SpeechModel(family, path.name, model, AutoTokenizer.from_pretrained(path, local_files_only=True),
                                 SpeechT5HifiGan.from_pretrained(_vocoder_folder(path), dtype=dtype,
                                                                 local_files_only=True),
                                 _speaker_embeddings(path, int(model.config.speaker_embedding_dim)))
        else:
            from transformers import BarkModel, BarkProcessor

            presets = "speaker_embeddings_path.json" if (path / "speaker_embeddings_path.json").is_file() else None
            speech = SpeechModel(family, path.name, BarkModel.from_pretrained(path, dtype=dtype, local_files_only=True),
                                 BarkProcessor.from_pretrained(str(path), speaker_embeddings_dict_path=presets,
                                                               local_files_only=True))
    except (ModelError, SpeechError):
        raise
    except Exception as error:
        hint = " (install the sentencepiece package for this tokenizer)" if "sentencepiece" in str(error) else ""
        raise ModelError(f"cannot load the text-to-speech model {path.name}: {_first_line(error)}{hint}; if the "
                         "files are damaged, download them again") from None
    for module in speech.components.values():
        module.eval()
    return speech


def _vocoder_folder(path: Path) -> Path:
    """SpeechT5's HiFi-GAN: ``vocoder/`` inside the model, or a vocoder folder beside it."""
    candidates = [path / "vocoder", *sorted(sibling for sibling in path.parent.iterdir() if sibling != path)]
    for candidate in candidates:
        try:
            config = json.loads((candidate / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if isinstance(config, dict) and (config.get("model_type") in ("hifigan", "speecht5_hifigan")
                                         or "SpeechT5HifiGan" in (config.get("architectures") or [])):
            return candidate
    raise ModelError(f"the SpeechT5 model {path.name} needs its HiFi-GAN vocoder: put microsoft/speecht5_hifigan "
                     f"in {path / 'vocoder'}")


def _speaker_embeddings(path: Path, size: int) -> dict[str, np.ndarray]:
    """SpeechT5's voices from ``speakers/*.npy`` (plain arrays; pickles are refused)."""
    speakers: dict[str, np.ndarray] = {}
    for file in sorted((path / "speakers").glob("*.npy")):
        try:
            vector = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ModelError(f"the speaker embedding {file.name} of {path.name} cannot be read ({error})") from None
        if vector.size != size or not np.issubdtype(vector.dtype, np.floating):
            raise ModelError(f"the speaker embedding {file.name} of {path.name} holds {vector.size} "
                             f"{vector.dtype} values; SpeechT5 needs {size} numbers (an x-vector)")
        speakers[file.stem] = np.ascontiguousarray(vector.reshape(-1), dtype=np.float32)
    return speakers


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def model_voices(path: Path) -> list[str]:
    """The voices a model folder offers, read from its files without loading it (for
    checking a workflow before it runs); the same names :meth:`SpeechModel.voices` gives."""
    family = speech_family(path)
    if family == VITS:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        count = int(config.get("num_speakers", 1) or 1)
        return [f"speaker {index}" for index in range(count)] if count > 1 else []
    if family == SPEECHT5:
        return sorted(file.stem for file in (path / "speakers").glob("*.npy")) or [NEUTRAL]
    try:
        presets = json.loads((path / "speaker_embeddings_path.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    return sorted(name for name in presets if name != "repo_or_path") if isinstance(presets, dict) else []
