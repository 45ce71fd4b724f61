"""What the live sketch canvas hands back (``gpu/live.py``): pictures, failures in
words, variations, and the runs a newer stroke cancelled; and how a live run's end
is turned into one of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gpu.events import RunResult
from gpu.executor import RunHandle
from gpu.live_history import HistoryEntry, LiveTimings
from gpu.live_settings import LiveSettings
from nodes.problems import WorkflowError


@dataclass(frozen=True)
class LiveResult:
    image: np.ndarray
    sketch: np.ndarray
    canvas_version: int
    request: int
    settings: LiveSettings
    timings: LiveTimings
    entry: HistoryEntry
    source: str = "live"


@dataclass(frozen=True)
class LiveError:
    message: str
    canvas_version: int
    request: int
    settings: LiveSettings


@dataclass(frozen=True)
class LiveVariation:
    image: np.ndarray
    seed: int
    canvas_version: int
    sketch: np.ndarray
    settings: LiveSettings


@dataclass
class SupersededRun:
    """A run cancelled because a newer request started; times are ``perf_counter``."""

    request: int
    #: The executor's run id (its events carry it).
    run_id: str
    superseded_at: float
    stopped_at: float = 0.0
    #: It finished its picture anyway (the cancel came during the last step's decode).
    finished: bool = False


class LiveFailure(RuntimeError):
    """A blocking call (``variations``) failed; the message is for the creator."""


def when_done(handle: RunHandle, finished: Callable[[RunResult | None, str], None]) -> None:
    """Call ``finished(result, "")`` when the run ends, or ``finished(None, why)`` when
    it broke down instead of ending."""

    def settle(handle: RunHandle) -> None:
        try:
            result = handle.result(0)
        except BaseException as failure:
            finished(None, f"the live picture could not be painted: {failure}")
            return
        finished(result, "")

    handle.add_done_callback(settle)


def problems_in_words(error: WorkflowError) -> str:
    """The first problem of an invalid live graph, as a creator reads it."""
    problems = error.problems
    if not problems:
        return str(error)
    first = problems[0]
    return f"{first.message} — {first.fix}" if first.fix else first.message


def run_failure(result: RunResult | None) -> str:
    if result is None:
        return "the live picture could not be painted"
    if result.errors:
        return next(iter(result.errors.values())).message
    if result.skipped:
        return next(iter(result.skipped.values()))
    return "the live picture could not be painted"
