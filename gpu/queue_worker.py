"""A queue worker: takes jobs from a :class:`gpu.queue.RenderQueue` and runs them
through the shared Executor (there is no second way to run a node).

::

    worker = QueueWorker(RenderQueue(), executor)
    worker.run_next()             # one job, if one is due; returns it as it ended
    worker.serve(idle_exit=60)    # jobs until stop() or a minute with nothing to do
    thread = worker.start()       # the same in a background thread (the desktop app)
    worker.stop()                 # the running job stops at its next step and waits in the queue

While a job runs, each node that finishes is checkpointed to the job's folder (by
cache key, in safe formats, see ``gpu/checkpoints.py``) before anything that needs it
starts. A job that resumes — after a crash, a kill, a pause, a clean stop or a retry —
hands those outputs to the executor's plan, which counts them as cached (however big:
they do not go through the output cache and its budget), so only unfinished nodes
run; output nodes that already wrote their files are not asked again. Checkpoints go
when the job completes or is cancelled.

The worker's lease on a job is renewed from the claim to the end of the attempt (a
heartbeat, ``gpu/queue_heartbeat.py``), so a slow start never lets a second worker
take the job over while this one still starts it.

Failures: an invalid graph fails at once. Passing failures (out of memory even after
freeing, I/O errors) are retried up to ``RetryPolicy.max_attempts`` in all, after 2, 4,
8 ... seconds; the job waits in the queue meanwhile, so other jobs run. Every attempt
is recorded on the job.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from gpu.events import NodeError, RunEvent, RunResult
from gpu.executor import Executor, RunHandle
from gpu.plan import Step, default_targets
from gpu.queue import RenderQueue, new_worker_id
from gpu.queue_heartbeat import Heartbeat
from gpu.queue_jobs import CANCELLED, COMPLETED, FAILED, LOCAL, PAUSED, Job, LostLease
from gpu.queue_progress import JobProgress, summarize, written_files
from nodes.context import CancelToken
from nodes.graph import Graph
from nodes.problems import WorkflowError

log = logging.getLogger("reelgraph.queue")

#: Exception types (by name, as a NodeError records them) that may pass if tried again.
PASSING_FAILURES = frozenset({
    "MemoryError", "OutOfMemoryError", "OSError", "IOError", "TimeoutError", "ConnectionError",
    "ConnectionResetError", "ConnectionAbortedError", "ConnectionRefusedError", "BrokenPipeError",
    "InterruptedError", "BlockingIOError", "OutOfMemory",
})

JobEventCallback = Callable[[Job, RunEvent], None]
JobCallback = Callable[[Job], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``max_attempts`` tries in all for passing failures, waiting
    ``first_delay × factor^(n-1)`` seconds before try n + 1 (2, 4, 8 ... by default)."""

    max_attempts: int = 3
    first_delay: float = 2.0
    factor: float = 2.0

    def delay(self, failed_tries: int) -> float:
        return self.first_delay * self.factor ** max(0, failed_tries - 1)


def is_passing(error: NodeError) -> bool:
    """A failure worth another try: memory (after freeing) or I/O, not a bad input."""
    return error.exception_type in PASSING_FAILURES


class QueueWorker:
    def __init__(
        self,
        queue: RenderQueue,
        executor: Executor,
        *,
        worker_id: str | None = None,
        places: Sequence[str] | None = None,
        lease_seconds: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        poll_seconds: float = 0.5,
        progress_seconds: float = 0.25,
        on_event: JobEventCallback | None = None,
        on_job: JobCallback | None = None,
    ) -> None:
        self.queue = queue
        self.executor = executor
        self.worker_id = worker_id or new_worker_id()
        #: Where this worker runs jobs: "local" and "local:<device>" for each of its devices.
        self.places = tuple(places) if places is not None else local_places(executor)
        self.lease_seconds = lease_seconds
        self.retry = retry
        self.poll_seconds = poll_seconds
        self.progress_seconds = progress_seconds
        #: Every run event of the job being run (the CLI draws progress from them).
        self.on_event = on_event
        #: Told when a job starts and again when its attempt ends (status tells which).
        self.on_job = on_job
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._current: tuple[CancelToken, list[str]] | None = None
        self._heartbeat: Heartbeat | None = None

    # ----- driving -----------------------------------------------------------------------
    def serve(self, *, once: bool = False, idle_exit: float | None = None) -> int:
        """Run jobs until ``stop()``, after one job with ``once``, or after ``idle_exit``
        seconds with nothing to do; returns how many jobs it ran."""
        ran = 0
        idle_since = time.monotonic()
        while not self._stopping.is_set():
            try:
                job = self.run_next()
            except sqlite3.OperationalError as error:  # the database stayed locked: try again soon
                log.warning("the render queue is busy (%s); trying again", error)
                job = None
            if job is not None:
                ran += 1
                idle_since = time.monotonic()
                if once:
                    break
                continue
            if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                break
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
        return ran

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (the desktop app's own worker)."""
        thread = threading.Thread(target=self.serve, name=f"reelgraph-queue-{self.worker_id}", daemon=True)
        thread.start()
        return thread

    def wake(self) -> None:
        """Look for a job now instead of at the next poll (a job was just added here)."""
        self._wake.set()

    def stop(self, reason: str = "the worker is stopping") -> None:
        """Stop serving; a running job stops at its next step and goes back to the queue
        (its checkpoints kept), to resume on the next worker."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            if self._current is not None:
                token, why = self._current
                why.append("stopped")
                token.cancel(reason)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run_next(self) -> Job | None:
        """Take the next due job and run it to the end of this attempt; None when none is due."""
        if self._stopping.is_set():
            return None
        job = self.queue.claim(self.worker_id, self.places, self.lease_seconds)
        if job is None:
            return None
        log.info("worker %s took job %s (%s), attempt %d", self.worker_id, job.id, job.name, len(job.attempts))
        # The lease lives from the claim on, through listeners and checkpoint reading that may be slow.
        heartbeat = Heartbeat(self.queue, job.id, self.worker_id, self.lease_seconds, self.lease_seconds / 4,
                              on_lost=self._lost_lease)
        self._heartbeat = heartbeat
        try:
            with heartbeat:
                self._tell(job)
                ended = self._run(job)
        except LostLease as error:
            log.warning("%s", error)
            ended = self.queue.get(job.id)
        finally:
            self._heartbeat = None
        self._tell(ended)
        return ended

    def _lost_lease(self) -> None:
        """Another worker took the job over (this one stalled past its lease): stop running it."""
        with self._lock:
            if self._current is not None:
                token, why = self._current
                why.append("lost")
                token.cancel("another worker took the job over")

    # ----- one job -----------------------------------------------------------------------
    def _run(self, job: Job) -> Job:
        try:
            graph = Graph.from_dict(job.graph)
        except WorkflowError as error:
            return self._finish(job, FAILED, f"the workflow cannot run: {error.report.text()}")
        store = self.queue.checkpoints(job.id)
        checkpoints = store.load()
        restored = store.restorable(checkpoints)  # given to the plan, so none is lost to the cache's budget
        written = {checkpoint.node_id: checkpoint for checkpoint in checkpoints if checkpoint.output_node}
        targets = job.targets if job.targets is not None else default_targets(graph, self.executor.registry)
        remaining = [node_id for node_id in targets if node_id not in written]
        progress = JobProgress(len(targets) - len(remaining))
        for checkpoint in written.values():  # files its last attempt wrote but had no time to report
            progress.add_paths(path for path in written_files(checkpoint.outputs or ())
                               if path not in job.output_paths)
        token, why = CancelToken(), []
        saved_outputs = {node_id: checkpoint.outputs for node_id, checkpoint in written.items()}

        def keep(step: Step, outputs: tuple[Any, ...]) -> None:  # on the scheduler thread, before dependents
            if step.spec.light and not step.spec.output:
                return  # cheaper to run again than to write down
            store.save(step.node_id, step.spec.type_name, step.key, outputs, volatile=step.volatile,
                       output_node=step.spec.output)
            if step.spec.output:
                progress.add_paths(written_files(outputs))

        def on_event(event: RunEvent) -> None:
            progress.on_event(event)
            if self.on_event is not None:
                self.on_event(job, event)

        if not remaining:
            self._check_lease()
            self.queue.report(job.id, self.worker_id, self.lease_seconds, None, progress.take()[1])
            return self._complete(job, None, saved_outputs, targets, graph, 0, len(written))
        with self._lock:
            self._current = (token, why)
            if self._stopping.is_set():
                why.append("stopped")
                token.cancel("the worker is stopping")
        try:
            self._check_lease()  # never start a job another worker has taken over meanwhile
            try:
                handle = self.executor.submit(graph, remaining, token, on_event, output_dir=job.output_dir or None,
                                              on_outputs=keep, preloaded=restored)
            except WorkflowError as error:
                return self._finish(job, FAILED, f"the workflow cannot run:\n{error.report.text()}")
            result = self._watch(job, handle, token, why, progress)
        finally:
            with self._lock:
                self._current = None
        if result is None:
            return self._finish(job, FAILED, "the run stopped unexpectedly (details are in the log)")
        resumed = len(set(result.cached) | set(written))
        if result.ok:
            return self._complete(job, result, saved_outputs, targets, graph, len(result.executed), resumed)
        if result.cancelled or why:
            outcome = CANCELLED if "cancel" in why else PAUSED if "pause" in why else "stopped"
            return self._finish(job, outcome, token.reason, nodes_run=len(result.executed), nodes_resumed=resumed)
        return self._failed(job, result, resumed)

    def _watch(self, job: Job, handle: RunHandle, token: CancelToken, why: list[str],
               progress: JobProgress) -> RunResult | None:
        """Wait for the run, reporting progress and renewing the lease every
        ``progress_seconds``, and passing a cancel or pause request on to the run."""
        ended = threading.Event()
        handle.add_done_callback(lambda _: ended.set())
        while True:
            finished = ended.wait(self.progress_seconds)
            fields, paths = progress.take()
            try:
                request = self.queue.report(job.id, self.worker_id, self.lease_seconds, fields, paths)
                if self._heartbeat is not None:
                    self._heartbeat.renewed()
            except LostLease:
                token.cancel("another worker took the job over")
                handle.result()
                raise
            except sqlite3.OperationalError as error:
                log.warning("could not report progress of job %s: %s", job.id, error)
                request = ""
            if request in ("cancel", "pause") and request not in why:
                why.append(request)  # even when the run already stops for another reason
                if not token.cancelled:
                    token.cancel("cancelled from the queue" if request == "cancel" else "paused from the queue")
            if finished:
                break
        try:
            return handle.result()
        except Exception:
            log.exception("job %s stopped unexpectedly", job.id)
            return None

    def _complete(self, job: Job, result: RunResult | None, saved: dict[str, Any], targets: list[str], graph: Graph,
                  nodes_run: int, nodes_resumed: int) -> Job:
        outputs: dict[str, Any] = {}
        for node_id in targets:
            if result is not None and node_id in result.outputs:
                outputs[node_id] = {name: summarize(value) for name, value in result.outputs[node_id].items()}
            elif saved.get(node_id) is not None:
                spec = self.executor.registry.get(graph.nodes[node_id].type)
                names = [item.name for item in spec.outputs] if spec is not None else []
                outputs[node_id] = {name: summarize(value) for name, value in zip(names, saved[node_id])}
        return self._finish(job, COMPLETED, "", outputs=outputs, nodes_run=nodes_run, nodes_resumed=nodes_resumed)

    def _failed(self, job: Job, result: RunResult, resumed: int) -> Job:
        errors = list(result.errors.values())
        text = "; ".join(str(error) for error in errors) or "some nodes did not run"
        passing = bool(errors) and all(is_passing(error) for error in errors)
        if passing and job.tries < self.retry.max_attempts:
            if any("memory" in error.message.lower() or "Memory" in error.exception_type for error in errors):
                self.executor.models.cache.free()
                self.executor.cache.clear()
            delay = self.retry.delay(job.tries)
            log.warning("job %s failed for a passing reason (%s); trying again in %.1f s", job.id, text, delay)
            return self._finish(job, "retrying", text, retry_at=time.time() + delay,
                                nodes_run=len(result.executed), nodes_resumed=resumed)
        if passing:
            text = f"{text} (gave up after {job.tries} attempts)"
        return self._finish(job, FAILED, text, nodes_run=len(result.executed), nodes_resumed=resumed)

    def _check_lease(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.check()

    def _finish(self, job: Job, outcome: str, error: str, **details: Any) -> Job:
        if self._heartbeat is not None:
            self._heartbeat.stop()  # no renewal may land after the attempt ended
        return self.queue.finish(job.id, self.worker_id, outcome, error=error, **details)

    def _tell(self, job: Job) -> None:
        if self.on_job is not None:
            try:
                self.on_job(job)
            except Exception:
                log.exception("a queue job listener failed")


def local_places(executor: Executor) -> tuple[str, ...]:
    """"local" and "local:<device>" for every device the executor runs GPU nodes on."""
    return (LOCAL, *(f"{LOCAL}:{device.name}" for device in executor.lanes.devices))
