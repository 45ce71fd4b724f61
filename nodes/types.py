"""Socket types: the names that connect outputs to inputs, and what values they carry.

Values between nodes stay compact and plain (architecture principle 4):

- ``IMAGE``: ``numpy.uint8`` array, height × width × channels (3 = RGB, 4 = RGBA).
- ``MASK``: ``numpy.uint8`` array, height × width, 255 = selected.
- ``INT``, ``FLOAT``, ``STRING``, ``BOOLEAN``: Python scalars.
- ``ANY`` (``"*"``): accepts every type; used by pass-through nodes.

Later waves add ``VIDEO``, ``AUDIO``, ``MODEL`` and friends; a node pack may
declare any upper-case name of its own.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

ANY = "*"
INT = "INT"
FLOAT = "FLOAT"
STRING = "STRING"
BOOLEAN = "BOOLEAN"
IMAGE = "IMAGE"
MASK = "MASK"
#: Several images (a batch, variations): a list of IMAGE arrays.
IMAGES = "IMAGES"
#: A ``nodes.models.ModelRef``: a checkpoint with its LoRAs and VAE.
MODEL = "MODEL"
CONTROLNET = "CONTROLNET"
#: A ``Video``: frames (uint8 N×H×W×3) and fps.
VIDEO = "VIDEO"
#: An ``Audio``: float32 samples (channels × samples) and their rate.
AUDIO = "AUDIO"

@dataclass(frozen=True, eq=False)
class Video:
    """Frames and their rate; what video nodes pass along and media nodes save."""

    frames: np.ndarray
    fps: float
    #: The soundtrack, when the clip has one (starts with the first frame).
    audio: "Audio | None" = None

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.dtype != np.uint8 or self.frames.shape[3] not in (3, 4):
            raise ValueError(f"video frames must be uint8 N×H×W×3, not {self.frames.dtype} {self.frames.shape}")
        if not self.fps > 0:
            raise ValueError(f"a video needs a positive frame rate, not {self.fps}")

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps

    @property
    def nbytes(self) -> int:
        return int(self.frames.nbytes) + (self.audio.nbytes if self.audio is not None else 0)


@dataclass(frozen=True, eq=False)
class Audio:
    """Sound as plain numbers: float32 samples in -1..1, channels × samples, at ``rate`` Hz."""

    samples: np.ndarray
    rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.dtype != np.float32:
            raise ValueError(f"audio samples must be float32 channels × samples, not "
                             f"{self.samples.dtype} {self.samples.shape}")
        if self.rate <= 0:
            raise ValueError(f"audio needs a positive sample rate, not {self.rate}")

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / self.rate

    @property
    def nbytes(self) -> int:
        return int(self.samples.nbytes)


#: Types whose values can be typed into a widget and stored in the document.
SCALAR_TYPES = frozenset({INT, FLOAT, STRING, BOOLEAN})

#: Colours the editor uses for sockets, so a creator can see what connects to what.
SOCKET_COLOURS = {
    INT: "#7fb2ff",
    FLOAT: "#a8e05f",
    STRING: "#f5c16c",
    BOOLEAN: "#ff7f9e",
    IMAGE: "#00ffea",
    MASK: "#bdbdbd",
    IMAGES: "#00b3a4",
    MODEL: "#b48cff",
    CONTROLNET: "#8c9eff",
    VIDEO: "#ff9f43",
    AUDIO: "#ffd166",
    ANY: "#ffffff",
}


def can_connect(output_type: str, input_type: str) -> bool:
    """True when a value of ``output_type`` may flow into an input of ``input_type``.

    Same name, either side ``ANY``, or the one widening creators expect: an integer
    into a float socket.
    """
    if output_type == input_type or ANY in (output_type, input_type):
        return True
    return output_type == INT and input_type == FLOAT


def constant_problem(socket_type: str, value: Any) -> str | None:
    """Why ``value`` cannot be stored as a constant for ``socket_type``, or None if it can."""
    if socket_type == ANY:
        reason = unwritable_part(value)
        return None if reason is None else f"holds {reason}"
    if socket_type == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expects a whole number, got {describe_value(value)}"
        return None
    if socket_type == FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expects a number, got {describe_value(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"expects a finite number, got {value}"
        if isinstance(value, int) and abs(value) > sys.float_info.max:
            return f"expects a number, got {describe_value(value)}, too large to compute with"
        return None
    if socket_type == STRING:
        return None if isinstance(value, str) else f"expects text, got {describe_value(value)}"
    if socket_type == BOOLEAN:
        return None if isinstance(value, bool) else f"expects true or false, got {describe_value(value)}"
    return f"takes a {socket_type} from a link, not a typed-in value ({describe_value(value)})"


def describe_value(value: Any) -> str:
    """A short, safe description of a value for error messages (never the whole thing)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 80:  # repr() refuses past 4300 digits
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"a {'negative ' if value < 0 else ''}number of about {digits} digits"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= 24 else text[:20] + "…"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "…"
        return f"text {text!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    return type(value).__name__


def estimate_bytes(value: Any, _depth: int = 0) -> int:
    """Roughly how much memory a node output holds; the output cache budgets with it."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if isinstance(value, (str, bytes, bytearray)):
        return len(value) + 49
    if isinstance(value, (int, float, bool)) or value is None:
        return 32
    if _depth > 8:
        return sys.getsizeof(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return 56 + sum(estimate_bytes(item, _depth + 1) for item in value)
    if isinstance(value, dict):
        return 64 + sum(
            estimate_bytes(key, _depth + 1) + estimate_bytes(item, _depth + 1)
            for key, item in value.items()
        )
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict):
        return 64 + estimate_bytes(fields, _depth + 1)
    return sys.getsizeof(value)


def unwritable_part(value: Any) -> str | None:
    """What in ``value`` a JSON file cannot hold (a NaN, a number too long to write,
    a key that is not text, a Python object), or None when it is plain JSON.

    Workflows are plain JSON: the graph document refuses such a value when it is read
    and validation when it is typed in, so every workflow that opens can be saved and
    opened again, and nothing runs that a file could not have held."""
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (str, bool)):
            continue
        if isinstance(item, int):
            if item.bit_length() > 64:
                try:
                    repr(item)
                except ValueError:
                    return f"{describe_value(item)}, too long to write as JSON"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{item}, which is not a finite number (JSON has no NaN or Infinity)"
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return "an object whose keys are not all text (JSON keys are text)"
            stack.extend(item.values())
        else:
            return f"a Python {type(item).__name__}, which JSON cannot hold"
    return None
