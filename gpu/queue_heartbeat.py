"""A queue worker's heartbeat: keeps the lease on the job it claimed alive from the
claim to the end of the attempt, whatever the worker is busy with.

Without it the lease was only renewed by progress reports, which begin once the run
is submitted; a slow start (the desktop's worker waits for PyTorch to load on the GUI
thread, a big checkpoint is read back) let the lease run out, and a second worker took
the job over while the first still started it: both ran it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Callable

from gpu.queue import RenderQueue
from gpu.queue_jobs import LostLease

log = logging.getLogger("reelgraph.queue")


class Heartbeat:
    """Renews ``worker``'s lease on ``job_id`` every ``interval`` seconds on a thread of
    its own, unless something else (a progress report) renewed it more recently.

    ``on_lost`` is called once, on the heartbeat's thread, when the job turns out to be
    no longer this worker's; :meth:`check` raises LostLease from then on.
    """

    def __init__(self, queue: RenderQueue, job_id: int, worker: str, lease_seconds: float, interval: float,
                 on_lost: Callable[[], None] | None = None) -> None:
        self.queue = queue
        self.job_id = job_id
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.interval = max(0.01, interval)
        self.on_lost = on_lost
        self._renewed = time.monotonic()
        self._lost: LostLease | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"reelgraph-lease-{job_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def renewed(self) -> None:
        """The lease was just renewed another way (a progress report): no beat is due yet."""
        self._renewed = time.monotonic()

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def check(self) -> None:
        """LostLease when another worker has taken the job over (do not start it then)."""
        if self._lost is not None:
            raise LostLease(str(self._lost))

    def _beat(self) -> None:
        while not self._stopped.wait(self.interval):
            if time.monotonic() - self._renewed < self.interval:
                continue
            try:
                self.queue.report(self.job_id, self.worker, self.lease_seconds)
            except LostLease as error:
                if self._stopped.is_set():
                    return  # the attempt just ended: the job is no longer held, as it should be
                self._lost = error
                log.warning("worker %s lost job %s: %s", self.worker, self.job_id, error)
                if self.on_lost is not None:
                    self.on_lost()
                return
            except sqlite3.OperationalError as error:  # busy for the whole timeout: try at the next beat
                log.warning("could not renew the lease on job %s: %s", self.job_id, error)
                continue
            self.renewed()
