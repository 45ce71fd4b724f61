"""One run of a planned graph: dispatch ready nodes to their lanes, collect results,
fail only what depends on a failure, stop on cancellation, and report events.

Light nodes (constants, arithmetic) run right here on the scheduler thread: a thread
hand-off costs more than they do. CPU nodes go to the thread pool, GPU nodes to the
lane of a device, and nodes that already use every core to the one lane they share
with every other run, so they do not fight each other for the same cores.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gpu.cache import OutputCache
from gpu.events import (
    NODE_CACHED, NODE_ERROR, NODE_FINISHED, NODE_PROGRESS, NODE_STARTED, RUN_FINISHED, RUN_STARTED,
    NodeError, RunEvent, RunResult,
)
from gpu.lanes import Lanes
from gpu.plan import Plan, Step, bypass_outputs
from nodes.context import Cancelled, CancelToken, NodeContext
from nodes.graph import Graph
from nodes.spec import NodeFailure

log = logging.getLogger("reelgraph.executor")

EventCallback = Callable[[RunEvent], None]
#: Told of each node that finished, with its outputs, before any dependent starts.
OutputsCallback = Callable[[Step, tuple[Any, ...]], None]
#: What a finished node sends back: the step, its outputs or the exception, seconds taken.
Completion = tuple[Step, "tuple[Any, ...] | None", "BaseException | None", float]


class RunScheduler:
    def __init__(
        self,
        run_id: str,
        graph: Graph,
        plan: Plan,
        lanes: Lanes,
        cache: OutputCache,
        cancel: CancelToken,
        on_event: EventCallback | None,
        output_dir: Path,
        models: Any = None,
        previews: bool = True,
        on_outputs: OutputsCallback | None = None,
    ) -> None:
        self.run_id = run_id
        self.graph = graph
        self.plan = plan
        self.lanes = lanes
        self.cache = cache
        self.cancel = cancel
        self.on_event = on_event
        self.output_dir = output_dir
        self.models = models
        self.previews = previews
        self.on_outputs = on_outputs
        self.values: dict[str, tuple[Any, ...]] = dict(plan.cached)
        self.result = RunResult(run_id, list(plan.targets), cached=list(plan.cached), warnings=list(plan.warnings))
        self.completions: queue.SimpleQueue[Completion] = queue.SimpleQueue()
        self.ready: deque[Step] = deque(plan.steps[node_id] for node_id in plan.ready())
        self.running = 0
        self.finished: set[str] = set()
        self.workflow = graph.to_dict() if any(step.spec.output for step in plan.steps.values()) else None
        self._emit_lock = threading.Lock()

    # ----- the loop ------------------------------------------------------------------
    def execute(self) -> RunResult:
        started = time.perf_counter()
        if self.on_event is not None:
            self._emit(RUN_STARTED, counts=(len(self.plan.steps), len(self.plan.cached)))
            for node_id in self.plan.cached:
                self._emit(NODE_CACHED, node_id, self.plan.specs[node_id].type_name)
        while True:
            while self.ready and not self.cancel.cancelled:
                self._dispatch(self.ready.popleft())
            if self.running == 0:
                break
            self._finish(*self.completions.get())
        self._close(time.perf_counter() - started)
        return self.result

    def _dispatch(self, step: Step) -> None:
        spec = step.spec
        if step.graph_node.bypass or spec.light:
            self._run_here(step)
        elif spec.gpu:
            self._start_on_lane(step, self.lanes.submit_gpu)
        elif spec.uses_all_cores:
            self._start_on_lane(step, self.lanes.submit_all_cores)
        else:
            self._start_on_lane(step, self.lanes.submit_cpu)

    def _arguments(self, step: Step) -> dict[str, Any]:
        values = self.values
        return {
            name: constant if source is None else values[source][index]
            for name, source, index, constant in step.arguments
        }

    def _context(self, step: Step, device: str = "cpu") -> NodeContext:
        return NodeContext(
            step.node_id, step.spec.type_name, step.graph_node.title, self.cancel, self.output_dir,
            self.workflow if step.spec.output else None, device,
            self._progress if self.on_event is not None else None,
            models=self.models, previews=self.previews and self.on_event is not None,
        )

    def _run_here(self, step: Step) -> None:
        arguments = self._arguments(step)
        if self.on_event is not None:
            self._emit(NODE_STARTED, step.node_id, step.spec.type_name)
        begun = time.perf_counter()
        try:
            if step.graph_node.bypass:
                outputs = bypass_outputs(step, arguments)
            else:
                if step.linked_checks:
                    check_linked_values(step, arguments)
                outputs = step.spec.normalise_result(step.spec.function(self._context(step), **arguments))
        except Exception as error:
            self._finish(step, None, error, time.perf_counter() - begun)
        else:
            self._finish(step, outputs, None, time.perf_counter() - begun)

    def _start_on_lane(self, step: Step, submit: Callable[[Callable[..., None]], Any]) -> None:
        arguments = self._arguments(step)
        self.running += 1
        function = step.spec.function
        normalise = step.spec.normalise_result
        put = self.completions.put

        def work(device: Any = None) -> None:
            if self.cancel.cancelled:  # cancelled while it waited in the lane's queue
                put((step, None, NeverStarted(), 0.0))
                return
            context = self._context(step, device.name if device is not None else "cpu")
            if self.on_event is not None:  # sent when it really starts, not when it is queued
                self._emit(NODE_STARTED, step.node_id, step.spec.type_name)
            begun = time.perf_counter()
            try:
                if step.linked_checks:
                    check_linked_values(step, arguments)
                outputs = normalise(function(context, **arguments))
            except BaseException as error:  # every outcome must reach the scheduler
                put((step, None, error, time.perf_counter() - begun))
            else:
                put((step, outputs, None, time.perf_counter() - begun))

        submit(work)

    # ----- outcomes -----------------------------------------------------------------
    def _finish(self, step: Step, outputs: tuple[Any, ...] | None, error: BaseException | None,
                elapsed: float) -> None:
        node_id = step.node_id
        on_lane = not (step.graph_node.bypass or step.spec.light)
        if on_lane:
            self.running -= 1
        if isinstance(error, NeverStarted):
            return  # _close lists it among the nodes the cancelled run did not reach
        self.finished.add(node_id)
        self.result.timings[node_id] = elapsed
        if error is not None:
            self._fail(step, error)
            return
        for value in outputs:  # type: ignore[union-attr]
            freeze(value)  # shared with the cache and every later reader
        self.values[node_id] = outputs  # type: ignore[assignment]
        self.result.executed.append(node_id)
        if not step.volatile:
            self.cache.put(step.key, outputs)  # type: ignore[arg-type]
        if self.on_outputs is not None:
            try:
                self.on_outputs(step, outputs)  # type: ignore[arg-type]
            except Exception:  # a listener that cannot save must not fail the node
                log.exception("an outputs listener failed on node %s", node_id)
        if self.on_event is not None:
            self._emit(NODE_FINISHED, node_id, step.spec.type_name, elapsed=elapsed)
        steps = self.plan.steps
        for dependent in step.dependents:
            waiting_step = steps[dependent]
            waiting_step.waiting -= 1
            if waiting_step.waiting == 0:
                self.ready.append(waiting_step)

    def _fail(self, step: Step, error: BaseException) -> None:
        node_id = step.node_id
        label = f"{step.graph_node.title or step.spec.display_name} ({node_id})"
        if isinstance(error, Cancelled) and self.cancel.cancelled:
            self.result.skipped[node_id] = "cancelled while running"
            self._emit(NODE_ERROR, node_id, step.spec.type_name, message="cancelled")
            return
        message = describe_failure(error)
        details = "".join(traceback.format_exception(error))
        log.error("node %s [%s] failed: %s", label, step.spec.type_name, message, exc_info=error)
        self.result.errors[node_id] = NodeError(
            node_id, step.spec.type_name, step.graph_node.title, message, type(error).__name__, details
        )
        self._emit(NODE_ERROR, node_id, step.spec.type_name, message=message)
        stack = list(step.dependents)
        while stack:
            dependent = stack.pop()
            if dependent not in self.result.skipped:
                self.result.skipped[dependent] = f"not run because {label} failed"
                stack.extend(self.plan.steps[dependent].dependents)

    def _close(self, elapsed: float) -> None:
        result = self.result
        result.cancelled = self.cancel.cancelled
        for node_id in self.plan.steps:
            if node_id not in self.finished and node_id not in result.skipped:
                result.skipped[node_id] = "not run: the run was cancelled"
        specs = self.plan.specs
        for node_id in (*result.cached, *result.executed):
            names = (item.name for item in specs[node_id].outputs)
            result.outputs[node_id] = dict(zip(names, self.values[node_id]))
        result.elapsed = elapsed
        if self.on_event is not None:
            summary = "cancelled" if result.cancelled else f"{len(result.errors)} failed" if result.errors else "ok"
            self._emit(RUN_FINISHED, message=summary, elapsed=elapsed)

    # ----- events -------------------------------------------------------------------
    def _progress(self, node_id: str, fraction: float, preview: Any, message: str) -> None:
        self._emit(NODE_PROGRESS, node_id, self.plan.specs[node_id].type_name, fraction=fraction,
                   preview=preview, message=message)

    def _emit(self, kind: str, node_id: str | None = None, node_type: str | None = None, **fields: Any) -> None:
        if self.on_event is None:
            return
        event = RunEvent(kind, self.run_id, node_id, node_type, **fields)
        with self._emit_lock:
            try:
                self.on_event(event)
            except Exception:  # a broken listener must not break the run
                log.exception("an event listener failed on %s", kind)


class NeverStarted(Cancelled):
    """A node the run was cancelled before it left its lane's queue."""


def describe_failure(error: BaseException) -> str:
    """What went wrong, in words a creator can act on."""
    if isinstance(error, NodeFailure):
        return str(error)
    if isinstance(error, Cancelled):
        return f"the node stopped itself as if cancelled ({error or 'no reason given'}), but the run was not"
    if isinstance(error, ModuleNotFoundError):
        return (f"this node needs the Python package {error.name!r}, which is not installed "
                "(pip install 'reelgraph[generation]' adds what generation nodes use)")
    if isinstance(error, FileNotFoundError):
        return f"file not found: {error.filename or error}"
    if isinstance(error, PermissionError):
        return f"no permission to use {error.filename or 'a file'}"
    if isinstance(error, ValueError) and "read-only" in str(error):
        return ("the node tried to change an input in place; inputs are shared with the cache and "
                "other nodes, so the node must work on a copy (a bug in the node)")
    if isinstance(error, MemoryError):
        return "ran out of memory; try a smaller size or close other work"
    if isinstance(error, OSError):
        return f"a file or device error: {error.strerror or error}"
    text = str(error) or "no details"
    return f"{type(error).__name__}: {text} (an unexpected failure inside the node; the log has the details)"


def freeze(value: Any) -> None:
    """Make the arrays an output holds read-only: bare arrays, lists of them (IMAGES),
    and the frames and samples inside Video and Audio values."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, np.ndarray):
                item.flags.writeable = False
    else:
        for name in ("frames", "samples", "audio"):
            inner = getattr(value, name, None)
            if inner is not None and inner is not value:
                freeze(inner)


def check_linked_values(step: Step, arguments: dict[str, Any]) -> None:
    """Hold linked values to the input's range and choices, as typed-in ones are at
    validation: a blur radius of 5000 computed upstream must not hang the node."""
    for item in step.linked_checks:
        value = arguments.get(item.name)
        problem = item.constant_problem(value)
        if problem:
            raise NodeFailure(f"input {item.name!r} got a value from its link that {problem}")
