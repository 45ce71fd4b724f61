"""What a live session (``gpu/live.py``) keeps about its runs: the request a stroke
made, the run painting it, and the strips of variations asked for. Kept apart so the
session reads as the story of a stroke; none of this is locked here: the session
holds its own lock around every change."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gpu.executor import RunHandle
from gpu.live_results import LiveError, LiveFailure, LiveVariation
from gpu.live_settings import LiveSettings
from nodes.models import ModelRef

#: Variation strips remembered for ``adopt`` (the panel shows the latest one or two).
KEPT_VARIATION_BATCHES = 16


@dataclass
class LiveRequest:
    """One change to paint: the canvas version, settings and model it is painted with."""

    serial: int
    canvas_version: int
    canvas: str
    sketch: np.ndarray
    settings: LiveSettings
    model: ModelRef
    tiny_decoder: Path | None
    requested_at: float
    due: float
    gathering_since: float


@dataclass
class RunningRequest:
    request: LiveRequest
    handle: RunHandle
    started_at: float
    superseded_at: float | None = None


@dataclass(frozen=True)
class VariationBatch:
    """What painted a strip of variations: seeds ``first`` to ``first + count - 1``."""

    canvas_version: int
    first: int
    count: int
    model: ModelRef
    tiny_decoder: Path | None


class VariationRuns:
    """The strips in flight (``close`` cancels them and waits for them) and what painted
    the recent ones: a variation's own settings do not name the model or decoder, yet
    adopting one shows its picture only while painting now would give the same."""

    def __init__(self) -> None:
        self.running = 0
        self.handles: set[RunHandle] = set()
        self._batches: deque[VariationBatch] = deque(maxlen=KEPT_VARIATION_BATCHES)

    def begin(self, batch: VariationBatch) -> None:
        self._batches.append(batch)
        self.running += 1

    def end(self, handles: list[RunHandle]) -> None:
        self.running -= 1
        self.handles.difference_update(handles)

    def painted_with(self, variation: LiveVariation, model: ModelRef, tiny_decoder: Path | None) -> bool:
        """This session painted ``variation`` with ``model`` and ``tiny_decoder``."""
        return any(batch.canvas_version == variation.canvas_version
                   and batch.first <= variation.seed < batch.first + batch.count
                   and batch.model == model and batch.tiny_decoder == tiny_decoder
                   for batch in self._batches)


def wait_for_variations(request: Callable[[Callable[[Any], None], Callable[[Any], None]], None],
                        timeout: float | None, closed: Callable[[], bool]) -> list[LiveVariation]:
    """Call ``request(on_done, on_error)`` and wait for one of them; LiveFailure with the
    reason. A closed session calls nobody back, so that is watched for too."""
    arrived = threading.Event()
    outcome: list[Any] = []

    def keep(value: Any) -> None:
        outcome.append(value)
        arrived.set()

    request(keep, keep)
    deadline = None if timeout is None else time.monotonic() + timeout
    while not arrived.wait(0.05):
        if closed():
            raise LiveFailure("the live session was closed before the variations arrived")
        if deadline is not None and time.monotonic() >= deadline:
            raise LiveFailure(f"the variations did not arrive within {timeout} seconds")
    if isinstance(outcome[0], LiveError):
        raise LiveFailure(outcome[0].message)
    return outcome[0]
