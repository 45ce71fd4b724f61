"""Shared fixtures for the executor's tests: a registry with test-only node types that
write down what happened to them (which thread, when, how far they got), gates a
test opens by hand, meeting points that prove two nodes ran at the same time, and
a recorder for run events.

Every test node type is a "probe": it adds ``value + other + 1`` and, depending on
its typed-in inputs, sleeps, steps with progress, waits at a gate, meets another
node, or fails. The probe types differ only in how the executor must run them
(light, CPU pool, GPU lane, all cores, non-deterministic, output).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from gpu.devices import CPU
from gpu.events import RunEvent
from gpu.executor import Executor
from nodes.context import CancelToken, NodeContext
from nodes.registry import NodeRegistry
from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import BOOLEAN, FLOAT, INT, STRING

#: How long a node waits at a gate or a meeting before it gives up: long enough for
#: a noisy machine, short enough that a broken executor fails the test instead of hanging.
PATIENCE = 10.0

FAILURES = ("", "node-failure", "value-error", "missing-file")

PROBE_INPUTS = [
    Input("value", FLOAT, default=0.0),
    Input("other", FLOAT, default=0.0),
    Input("seconds", FLOAT, default=0.0, min=0.0),
    Input("steps", INT, default=0, min=0),
    Input("gate", STRING, default=""),
    Input("meet", STRING, default=""),
    Input("fail", STRING, default="", choices=FAILURES),
    Input("preview", BOOLEAN, default=False),
]


@dataclass
class Visit:
    """One call of a test node's function, as the node itself saw it."""

    node_id: str
    type_name: str
    thread_id: int
    thread_name: str
    device: str
    cancel: CancelToken
    started: float
    ended: float | None = None
    steps_done: int = 0
    outcome: str = "running"


@dataclass
class Gate:
    """A node waits here until the test opens it; ``entered`` tells the test it arrived."""

    entered: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)

    def open(self) -> None:
        self.opened.set()

    def wait_until_entered(self) -> None:
        assert self.entered.wait(PATIENCE), "no node arrived at the gate"


class Journal:
    """What the test nodes of one test did, in the order they started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.visits: list[Visit] = []
        self._gates: dict[str, Gate] = {}
        self._meetings: dict[str, threading.Barrier] = {}

    def enter(self, ctx: NodeContext) -> Visit:
        thread = threading.current_thread()
        visit = Visit(ctx.node_id, ctx.type_name, thread.ident or 0, thread.name, ctx.device, ctx.cancel,
                      time.perf_counter())
        with self._lock:
            self.visits.append(visit)
        return visit

    def ran(self) -> list[str]:
        """Ids of the nodes whose function was called, in the order they started."""
        with self._lock:
            return [visit.node_id for visit in self.visits]

    def visit(self, node_id: str) -> Visit:
        with self._lock:
            matches = [visit for visit in self.visits if visit.node_id == node_id]
        assert matches, f"node {node_id!r} never ran"
        return matches[-1]

    def gate(self, name: str) -> Gate:
        with self._lock:
            return self._gates.setdefault(name, Gate())

    def meeting(self, name: str, parties: int = 2) -> threading.Barrier:
        with self._lock:
            return self._meetings.setdefault(name, threading.Barrier(parties))

    def release_all(self) -> None:
        """Open every gate, so no test node keeps a worker thread past its test."""
        with self._lock:
            gates = list(self._gates.values())
            meetings = list(self._meetings.values())
        for gate in gates:
            gate.open()
        for meeting in meetings:
            meeting.abort()


def run_probe(journal: Journal, ctx: NodeContext, *, value: float, other: float, seconds: float, steps: int,
              gate: str, meet: str, fail: str, preview: bool, randomise: bool) -> float:
    visit = journal.enter(ctx)
    try:
        if gate:
            waiting = journal.gate(gate)
            waiting.entered.set()
            deadline = time.monotonic() + PATIENCE
            while not waiting.opened.wait(0.01):
                ctx.check_cancelled()
                if time.monotonic() > deadline:
                    raise NodeFailure(f"the gate {gate!r} was never opened")
        if meet:
            try:
                journal.meeting(meet).wait(PATIENCE)
            except threading.BrokenBarrierError:
                raise NodeFailure(f"nobody else came to meeting {meet!r}: the nodes did not run at the same time")
        for step in range(steps):
            picture = np.full((4, 6, 3), step, dtype=np.uint8) if preview else None
            ctx.progress(step / steps, picture, f"step {step + 1} of {steps}")
            time.sleep(seconds / steps)
            visit.steps_done = step + 1
        if steps:
            ctx.progress(1.0)
        elif seconds:
            time.sleep(seconds)
        if fail == "node-failure":
            raise NodeFailure("the prompt is empty; type what the picture should show")
        if fail == "value-error":
            raise ValueError("width must be positive")
        if fail == "missing-file":
            raise FileNotFoundError(2, "No such file or directory", "/models/missing.safetensors")
        visit.outcome = "finished"
        return value + other + 1.0 + (random.random() if randomise else 0.0)
    except BaseException:
        visit.outcome = "stopped"
        raise
    finally:
        visit.ended = time.perf_counter()


def probe_type(type_name: str, journal: Journal, randomise: bool = False, **flags: Any) -> Callable[..., float]:
    @node(type_name, category="test", description="A test node that writes down how it was run.",
          inputs=PROBE_INPUTS, outputs=[Output("value", FLOAT)], **flags)
    def probe(ctx: NodeContext, **inputs: Any) -> float:
        return run_probe(journal, ctx, randomise=randomise, **inputs)

    return probe


@node("test.Caption", category="test", description="Adds a suffix to a text; a FLOAT comes first.",
      inputs=[Input("strength", FLOAT, default=1.0), Input("text", STRING, default=""),
              Input("suffix", STRING, default="!")],
      outputs=[Output("text", STRING)])
def caption(ctx: NodeContext, strength: float, text: str, suffix: str) -> str:
    return text + suffix


@node("test.Block", category="test", description="A block of bytes of a given size, to fill the cache.",
      inputs=[Input("size", INT, default=1000, min=1), Input("fill", INT, default=0, min=0, max=255)],
      outputs=[Output("block", "BLOCK")])
def block(ctx: NodeContext, size: int, fill: int) -> np.ndarray:
    return np.full(size, fill, dtype=np.uint8)


def build_registry(journal: Journal) -> NodeRegistry:
    registry = NodeRegistry()
    registry.load_builtin()
    registry.register(probe_type("test.Light", journal, light=True), "tests")
    registry.register(probe_type("test.Cpu", journal), "tests")
    registry.register(probe_type("test.Gpu", journal, gpu=True), "tests")
    registry.register(probe_type("test.Heavy", journal, uses_all_cores=True), "tests")
    registry.register(probe_type("test.Random", journal, randomise=True, non_deterministic=True), "tests")
    registry.register(probe_type("test.Output", journal, output=True), "tests")
    registry.register(caption, "tests")
    registry.register(block, "tests")
    return registry


class EventLog:
    """An ``on_event`` listener that keeps every event."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []
        self._arrived = threading.Condition()

    def __call__(self, event: RunEvent) -> None:
        with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    def wait_for(self, kind: str, node_id: str) -> None:
        """Block until ``kind`` arrived for ``node_id`` (a test failure after PATIENCE seconds)."""
        with self._arrived:
            arrived = self._arrived.wait_for(
                lambda: any(event.kind == kind and event.node_id == node_id for event in self.events), PATIENCE
            )
        assert arrived, f"no {kind} event for node {node_id!r}"

    def kinds(self, node_id: str | None = None) -> list[str]:
        return [event.kind for event in self.events if node_id is None or event.node_id == node_id]

    def of_kind(self, kind: str) -> list[RunEvent]:
        return [event for event in self.events if event.kind == kind]


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def registry(journal: Journal) -> NodeRegistry:
    return build_registry(journal)


@pytest.fixture
def make_executor(registry: NodeRegistry, journal: Journal, tmp_path: Path) -> Iterator[Callable[..., Executor]]:
    """Build executors on the test registry (one GPU lane on the CPU); all closed afterwards."""
    made: list[Executor] = []

    def make(**options: Any) -> Executor:
        options.setdefault("output_dir", tmp_path / "output")
        options.setdefault("devices", [CPU])
        options.setdefault("cache_bytes", 256 * 1024**2)
        executor = Executor(options.pop("registry", registry), **options)
        made.append(executor)
        return executor

    yield make
    journal.release_all()
    for executor in made:
        executor.close()


@pytest.fixture
def executor(make_executor: Callable[..., Executor]) -> Executor:
    return make_executor()


@pytest.fixture
def events() -> EventLog:
    return EventLog()
