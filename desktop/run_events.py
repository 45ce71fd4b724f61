"""Carries run events from the executor's worker threads to the GUI thread without
ever making the window wait.

- Every event is queued under a lock and handed over on the GUI thread (a queued
  Qt signal wakes it); no widget is touched from another thread.
- The GUI thread handles queued events in slices of a few milliseconds, then lets
  the event loop paint and take input before going on, so a burst of a thousand
  finished nodes never freezes the window.
- Progress (several events a second per node, maybe each with a preview picture)
  is sampled: only each node's latest progress is kept, and shown PROGRESS_INTERVAL_MS
  apart (less often while the window is short of time). A node's finish (or
  failure) drops its progress still waiting, so a late sample can never put a
  finished node back to "running".
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from gpu.events import NODE_CACHED, NODE_ERROR, NODE_FINISHED, NODE_PROGRESS, RunEvent

#: The longest the GUI thread spends on run events before it lets paint and input in.
SLICE_SECONDS = 0.008
#: How often progress (fractions, step previews) reaches the views: 25 times a second.
PROGRESS_INTERVAL_MS = 40
MAX_PROGRESS_INTERVAL_MS = 320
#: A sample this much later than planned backs the sampling off.
LATE_MS = 15


class RunEventBridge(QObject):
    """Calls ``deliver(event)`` on the GUI thread for every event given to :meth:`receive`."""

    _wake = Signal()
    #: The run's handle, once it has ended and every event before it was delivered.
    ended = Signal(object)
    _ended_posted = Signal(object)

    def __init__(self, deliver: Callable[[RunEvent], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._deliver = deliver
        self._lock = threading.Lock()
        self._queue: deque[RunEvent] = deque()
        self._progress: dict[str, RunEvent] = {}
        self._woken = False
        self._closed = False
        self._when_drained: list[Callable[[], None]] = []
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._ended_posted.connect(self._announce_end, Qt.ConnectionType.QueuedConnection)
        self._sampler = QTimer(self)
        self._sampler.setInterval(PROGRESS_INTERVAL_MS)
        self._sampler.timeout.connect(self._show_progress)
        self._last_sample = 0.0

    # ----- any thread -----------------------------------------------------------------------------
    def receive(self, event: RunEvent) -> None:
        """The executor's ``on_event``."""
        with self._lock:  # held while posting, so close() cannot slip in between
            if self._closed:
                return
            if event.kind == NODE_PROGRESS and event.node_id is not None:
                self._progress[event.node_id] = event
                return
            self._queue.append(event)
            if not self._woken:
                self._woken = True
                self._wake.emit()

    def run_ended(self, handle: object) -> None:
        """A run handle's done callback: ``ended(handle)`` follows on the GUI thread."""
        with self._lock:
            if not self._closed:
                self._ended_posted.emit(handle)

    def close(self) -> None:
        """The window goes away: from now on events from worker threads are dropped."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._progress.clear()
        self._sampler.stop()

    # ----- the GUI thread -------------------------------------------------------------------------
    def start(self) -> None:
        """A run begins: sample its progress (and listen again after a close)."""
        with self._lock:
            self._closed = False
        self._last_sample = 0.0
        self._sampler.start(PROGRESS_INTERVAL_MS)

    def stop(self) -> None:
        """The run is over: forget progress not shown yet."""
        self._sampler.stop()
        with self._lock:
            self._progress.clear()

    @property
    def busy(self) -> bool:
        """Events are waiting to be handed over."""
        with self._lock:
            return self._woken

    def when_drained(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once every event received so far has been delivered."""
        if self.busy:
            self._when_drained.append(callback)
        else:
            callback()

    def _announce_end(self, handle: object) -> None:
        self.when_drained(lambda: self.ended.emit(handle))

    def _drain(self) -> None:
        deadline = time.perf_counter() + SLICE_SECONDS
        while True:
            with self._lock:
                if not self._queue:
                    self._woken = False
                    break
                event = self._queue.popleft()
                if event.kind in (NODE_FINISHED, NODE_ERROR, NODE_CACHED) and event.node_id is not None:
                    self._progress.pop(event.node_id, None)
            self._deliver(event)
            if time.perf_counter() > deadline:
                QTimer.singleShot(1, self._drain)  # paint and input first, then the rest
                return
        callbacks, self._when_drained = self._when_drained, []
        for callback in callbacks:
            callback()

    def _show_progress(self) -> None:
        now = time.perf_counter()
        late = (now - self._last_sample) * 1000 - self._sampler.interval() if self._last_sample else 0.0
        self._last_sample = now
        # A sample that comes late means the window is short of time (nodes holding the
        # GIL, a slow disk): show progress less often until it catches up.
        if late > LATE_MS:
            self._sampler.setInterval(min(MAX_PROGRESS_INTERVAL_MS, self._sampler.interval() * 2))
        elif self._sampler.interval() > PROGRESS_INTERVAL_MS:
            self._sampler.setInterval(max(PROGRESS_INTERVAL_MS, self._sampler.interval() * 3 // 4))
        with self._lock:
            events = list(self._progress.values())
            self._progress.clear()
        for event in events:
            self._deliver(event)
