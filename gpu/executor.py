"""The one way to run a graph. The GUI, the CLI, the render queue, the live sketch
canvas and the farm all run graphs through an :class:`Executor`.

::

    executor = Executor()
    result = executor.run(graph)                 # blocks; returns a RunResult
    handle = executor.submit(graph, on_event=cb)  # returns at once; the GUI never waits
    handle.cancel(); handle.result()

An executor owns the output cache (shared by every run, LRU within a byte budget),
the CPU thread pool and one lane per compute device. Several runs may be in flight
at once; they share the cache and the lanes.
"""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping

from gpu.cache import DEFAULT_BUDGET, OutputCache
from gpu.devices import Device
from gpu.events import RunEvent, RunResult
from gpu.lanes import Lanes
from gpu.pipelines import ModelService
from gpu.plan import Plan, make_plan
from gpu.scheduler import EventCallback, OutputsCallback, RunScheduler
from nodes.context import CancelToken
from nodes.graph import Graph
from nodes.registry import NodeRegistry, default_registry

log = logging.getLogger("reelgraph.executor")


class RunHandle:
    """A run in flight: cancel it, wait for it, or be called back when it ends."""

    def __init__(self, run_id: str, cancel: CancelToken, plan: Plan) -> None:
        self.run_id = run_id
        self.plan = plan
        self._cancel = cancel
        self._finished = threading.Event()
        self._result: RunResult | None = None
        self._failure: BaseException | None = None
        self._callbacks: list[Callable[["RunHandle"], None]] = []
        self._lock = threading.Lock()

    def cancel(self, reason: str = "cancelled by the user") -> None:
        """Ask the run to stop; running nodes stop at their next step, finished ones stay cached."""
        self._cancel.cancel(reason)

    def done(self) -> bool:
        return self._finished.is_set()

    def result(self, timeout: float | None = None) -> RunResult:
        """Wait for the run and return its result; TimeoutError if it is still going."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"run {self.run_id} is still running")
        if self._failure is not None:
            raise self._failure
        assert self._result is not None
        return self._result

    def add_done_callback(self, callback: Callable[["RunHandle"], None]) -> None:
        """Call ``callback(handle)`` when the run ends (at once if it already has)."""
        with self._lock:
            if not self._finished.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def _settle(self, result: RunResult | None, failure: BaseException | None) -> None:
        with self._lock:
            self._result, self._failure = result, failure
            self._finished.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                log.exception("a run-finished callback failed")


class Executor:
    def __init__(
        self,
        registry: NodeRegistry | None = None,
        *,
        cache: OutputCache | None = None,
        cache_bytes: int = DEFAULT_BUDGET,
        cpu_workers: int | None = None,
        devices: list[Device] | None = None,
        output_dir: str | Path = "output",
        models: ModelService | None = None,
        previews: bool = True,
    ) -> None:
        self.registry = registry if registry is not None else default_registry()
        #: Warm models for generation nodes; shared by every run, like the output cache.
        self.models = models if models is not None else ModelService()
        #: Step previews for listeners (the GUI); off for batch work that only wants results.
        self.previews = previews
        self.cache = cache if cache is not None else OutputCache(cache_bytes)
        self.lanes = Lanes(cpu_workers, devices)
        self.output_dir = Path(output_dir)
        self._in_flight: set[RunScheduler] = set()
        self._lock = threading.Lock()

    def plan(self, graph: Graph, targets: list[str] | None = None, output_dir: str | Path | None = None, *,
             preloaded: Mapping[str, tuple[Any, ...]] | None = None) -> Plan:
        """What a run would do now: validates (WorkflowError when invalid) and checks the
        cache; ``preloaded`` outputs (cache key -> outputs) count as cached too."""
        folder = Path(output_dir) if output_dir is not None else self.output_dir
        return make_plan(graph, self.registry, self.cache, targets, str(folder.resolve()), preloaded)

    def run(
        self,
        graph: Graph,
        targets: list[str] | None = None,
        cancel: CancelToken | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
        *,
        output_dir: str | Path | None = None,
        on_outputs: OutputsCallback | None = None,
        preloaded: Mapping[str, tuple[Any, ...]] | None = None,
    ) -> RunResult:
        """Run the graph (or just what ``targets`` need) and wait for it.

        Raises WorkflowError, with the full validation report, before anything runs
        when the graph is invalid. Node failures do not raise: they are in ``.errors``.
        ``output_dir`` replaces the executor's folder for this run's output nodes;
        ``on_outputs(step, outputs)`` hears of each node that finishes before its
        dependents start (the render queue checkpoints there). ``preloaded`` (cache
        key -> outputs) are outputs known from elsewhere, used like cache hits (the
        render queue's checkpoints, which may not fit in the cache).
        """
        cancel = cancel or CancelToken()
        plan = self.plan(graph, targets, output_dir, preloaded=preloaded)
        scheduler = self._scheduler(graph, plan, cancel, on_event, _new_run_id(), output_dir, on_outputs)
        try:
            return scheduler.execute()
        finally:
            self._forget(scheduler)

    def submit(
        self,
        graph: Graph,
        targets: list[str] | None = None,
        cancel: CancelToken | None = None,
        on_event: EventCallback | None = None,
        *,
        output_dir: str | Path | None = None,
        on_outputs: OutputsCallback | None = None,
        preloaded: Mapping[str, tuple[Any, ...]] | None = None,
    ) -> RunHandle:
        """Start a run in the background and return its handle at once.

        The graph is validated and planned before this returns (WorkflowError when
        invalid); later edits to ``graph`` do not change the run in flight.
        ``output_dir``, ``on_outputs`` and ``preloaded`` are as for :meth:`run`.
        """
        cancel = cancel or CancelToken()
        plan = self.plan(graph, targets, output_dir, preloaded=preloaded)
        run_id = _new_run_id()
        handle = RunHandle(run_id, cancel, plan)
        scheduler = self._scheduler(graph, plan, cancel, on_event, run_id, output_dir, on_outputs)

        def drive() -> None:
            try:
                result = scheduler.execute()
            except BaseException as failure:
                log.exception("run %s stopped unexpectedly", run_id)
                handle._settle(None, failure)
            else:
                handle._settle(result, None)
            finally:
                self._forget(scheduler)

        threading.Thread(target=drive, name=f"reelgraph-run-{run_id}", daemon=True).start()
        return handle

    def close(self) -> None:
        """Cancel the runs in flight and stop the worker threads.

        Running nodes stop at their next step; every run ends (cancelled), so no
        ``handle.result()`` waits forever on a node that will never run.
        """
        with self._lock:
            in_flight = list(self._in_flight)
        for scheduler in in_flight:
            scheduler.cancel.cancel("the executor was closed")
        self.lanes.shutdown(wait=True)

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _scheduler(
        self, graph: Graph, plan: Plan, cancel: CancelToken, on_event: EventCallback | None, run_id: str,
        output_dir: str | Path | None = None, on_outputs: OutputsCallback | None = None,
    ) -> RunScheduler:
        folder = Path(output_dir) if output_dir is not None else self.output_dir
        scheduler = RunScheduler(run_id, graph, plan, self.lanes, self.cache, cancel, on_event, folder,
                                 self.models, self.previews, on_outputs)
        with self._lock:
            self._in_flight.add(scheduler)
        return scheduler

    def _forget(self, scheduler: RunScheduler) -> None:
        with self._lock:
            self._in_flight.discard(scheduler)


def _new_run_id() -> str:
    return uuid.uuid4().hex[:12]
