"""A few background threads for the timeline's media loader: newest job first, results
handed back through a queue the GUI thread drains, never a Qt call from a worker.

Newest first because what was asked last is what is on screen now; a request that
waited behind :data:`MAX_WAITING` newer ones was scrolled past and is dropped (the
loader hears so and asks again if the clip is painted again). Threads start when
there is work and end after :data:`IDLE_SECONDS` without any, so an idle timeline
holds none.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Any, Callable, Hashable

#: Requests waiting longer than this many newer ones are dropped (scrolled past); asked again when seen.
MAX_WAITING = 240
#: A worker thread with nothing to do for this long ends (a new request starts one again).
IDLE_SECONDS = 2.0


class Failed:
    """A job that raised: its message, for the clip to show."""

    def __init__(self, error: BaseException) -> None:
        self.message = str(error) or type(error).__name__


class Dropped:
    """A request that waited too long and was let go (asked again if still wanted)."""


class WorkerPool:
    """A few daemon threads that run the newest job first; results wait in ``results``
    for the GUI thread. Threads start when there is work and end when idle."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.results: "queue.SimpleQueue[tuple[Hashable, Any]]" = queue.SimpleQueue()
        self._jobs: deque[tuple[Hashable, Callable[[], Any]]] = deque()
        self._condition = threading.Condition()
        self._threads = 0
        self._busy = 0
        self._stopped = False

    def submit(self, key: Hashable, job: Callable[[], Any]) -> None:
        with self._condition:
            if self._stopped:
                return
            self._jobs.append((key, job))
            while len(self._jobs) > MAX_WAITING:
                self.results.put((self._jobs.popleft()[0], Dropped()))
            if self._threads < self.size and self._threads - self._busy < len(self._jobs):
                self._threads += 1
                threading.Thread(target=self._work, name="timeline-media", daemon=True).start()
            self._condition.notify()

    def stop(self) -> None:
        """Forget waiting jobs; running ones finish and their threads end."""
        with self._condition:
            self._stopped = True
            self._jobs.clear()
            self._condition.notify_all()

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._jobs and not self._stopped:
                    if not self._condition.wait(IDLE_SECONDS) and not self._jobs:
                        self._threads -= 1
                        return
                if self._stopped:
                    self._threads -= 1
                    return
                key, job = self._jobs.pop()
                self._busy += 1
            try:
                result = job()
            except Exception as error:  # a damaged file must not end the thread: the clip shows why
                result = Failed(error)
            with self._condition:
                self._busy -= 1
            self.results.put((key, result))
