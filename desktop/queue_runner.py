"""The window's own queue worker: a :class:`gpu.queue_worker.QueueWorker` on the app's
shared Executor, serving the render queue on a background thread while the creator
works ("Run jobs in this window").

It opens its own connection to the queue's database, so the panel's reads never wait
behind the worker's writes. A headless ``reelgraph queue work`` may serve the same
queue at the same time: the queue's claim is atomic, so no job runs twice.

Before a job with GPU nodes starts, PyTorch and diffusers are imported on the GUI
thread (the worker waits meanwhile), as the run controller does for a run from the
editor: a first import on a worker thread next to Qt's event processing can crash the
process (``desktop/preload.py``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication

from desktop.preload import generation_libraries_missing, preload_generation_libraries
from gpu.executor import Executor
from gpu.queue import RenderQueue
from gpu.queue_jobs import RUNNING, Job
from gpu.queue_worker import QueueWorker

log = logging.getLogger("reelgraph.desktop")


class QueueRunner(QObject):
    #: A job this window's worker took (on the GUI thread).
    jobStarted = Signal(object)
    #: An attempt of this window's worker ended; the job as it ended (on the GUI thread).
    attemptEnded = Signal(object)
    #: The worker started or stopped serving.
    servingChanged = Signal(bool)
    _preload_wanted = Signal(object)

    def __init__(self, queue_path: str | Path, executor: Executor, *, poll_seconds: float = 0.5,
                 progress_seconds: float = 0.25, lease_seconds: float = 30.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue_path = Path(queue_path)
        self.executor = executor
        self.poll_seconds = poll_seconds
        self.progress_seconds = progress_seconds
        self.lease_seconds = lease_seconds
        self.worker: QueueWorker | None = None
        self._threads: list[threading.Thread] = []
        self._preloaded = threading.Event()
        self._preload_wanted.connect(self._preload, Qt.ConnectionType.QueuedConnection)

    @property
    def serving(self) -> bool:
        return self.worker is not None

    @property
    def worker_id(self) -> str | None:
        return self.worker.worker_id if self.worker is not None else None

    def start(self) -> None:
        """Serve the queue on a background thread (nothing when already serving)."""
        if self.worker is not None:
            return
        queue = RenderQueue(self.queue_path)
        worker = QueueWorker(queue, self.executor, lease_seconds=self.lease_seconds, poll_seconds=self.poll_seconds,
                             progress_seconds=self.progress_seconds,
                             on_job=lambda job: self._job_changed(worker, job))
        thread = threading.Thread(target=self._serve, args=(worker, queue), daemon=True,
                                  name=f"reelgraph-queue-{worker.worker_id}")
        self.worker = worker
        self._threads = [item for item in self._threads if item.is_alive()] + [thread]
        thread.start()
        log.info("this window serves the render queue %s as worker %s", self.queue_path, worker.worker_id)
        self.servingChanged.emit(True)

    def stop(self) -> None:
        """Stop serving without waiting: a running job stops at its next step and goes
        back to the queue (its checkpoints kept), for the next worker to resume."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        worker.stop("this window stopped running jobs")
        self._preloaded.set()  # a worker waiting for the libraries must not wait any more
        self.servingChanged.emit(False)

    def wake(self) -> None:
        """A job was just added here: look for it now, not at the next poll."""
        if self.worker is not None:
            self.worker.wake()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop and wait for the worker thread (the window closes); False if it had not
        ended within ``timeout`` (it is a daemon thread: it cannot hold the app open)."""
        self.stop()
        ended = True
        for thread in self._threads:
            thread.join(timeout)
            ended = ended and not thread.is_alive()
        if not ended:
            log.warning("the window's queue worker had not stopped after %.0f s", timeout)
        return ended

    # ----- on the worker thread ---------------------------------------------------------------
    @staticmethod
    def _serve(worker: QueueWorker, queue: RenderQueue) -> None:
        try:
            worker.serve()
        except Exception:
            log.exception("the window's queue worker stopped on an error")
        finally:
            queue.close()

    def _job_changed(self, worker: QueueWorker, job: Job) -> None:
        if job.status != RUNNING:
            self.attemptEnded.emit(job)
            return
        if self._needs_generation_libraries(job):
            self._preloaded.clear()
            self._preload_wanted.emit(job)
            while not self._preloaded.wait(0.1) and not worker.stopping:
                pass
        self.jobStarted.emit(job)

    def _needs_generation_libraries(self, job: Job) -> bool:
        if not generation_libraries_missing():
            return False
        nodes = (job.graph or {}).get("nodes", {})
        registry = self.executor.registry
        return any(getattr(registry.get(str(node.get("type", ""))), "gpu", False)
                   for node in nodes.values() if isinstance(node, dict))

    # ----- on the GUI thread ----------------------------------------------------------------------
    def _preload(self, job: Job) -> None:
        try:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                loaded = preload_generation_libraries()
                self.executor.lanes.devices  # noqa: B018 (finds the devices: imports torch's device modules here)
            finally:
                QApplication.restoreOverrideCursor()
            log.info("loaded %s on the GUI thread for queue job %s", ", ".join(loaded) or "nothing", job.id)
        finally:
            self._preloaded.set()
