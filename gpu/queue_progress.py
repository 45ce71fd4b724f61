"""What a queue worker tells the queue about the job it runs: how far along it is (from
the run's events) and, when it ends, what it made (short JSON summaries and the files
its output nodes wrote)."""

from __future__ import annotations

import math
import os
import threading
from typing import Any, Iterable

from gpu.events import NODE_ERROR, NODE_FINISHED, NODE_PROGRESS, NODE_STARTED, RUN_STARTED, RunEvent

#: Longer text outputs are cut in the job's summary (the files hold the real thing).
SUMMARY_TEXT = 2000


class JobProgress:
    """Counts a job's nodes from its run events: done (cached, resumed, finished or
    failed) out of all the job needs, plus the fractions of the nodes running now."""

    def __init__(self, already_done: int = 0) -> None:
        self._lock = threading.Lock()
        self._already_done = already_done
        self.total = already_done
        self.done = already_done
        self._running: dict[str, tuple[str, float]] = {}
        self._changed = True
        self._new_paths: list[str] = []

    def on_event(self, event: RunEvent) -> None:
        with self._lock:
            if event.kind == RUN_STARTED and event.counts is not None:
                to_run, cached = event.counts
                self.total = self._already_done + to_run + cached
                self.done = self._already_done + cached
            elif event.kind == NODE_STARTED:
                self._running[event.node_id or ""] = (f"{event.node_type} ({event.node_id})", 0.0)
            elif event.kind == NODE_PROGRESS:
                label, _ = self._running.get(event.node_id or "", (f"{event.node_type} ({event.node_id})", 0.0))
                self._running[event.node_id or ""] = (label, event.fraction or 0.0)
            elif event.kind in (NODE_FINISHED, NODE_ERROR):
                self._running.pop(event.node_id or "", None)
                self.done += 1
            else:
                return
            self._changed = True

    def add_paths(self, paths: Iterable[str]) -> None:
        with self._lock:
            self._new_paths.extend(paths)

    def take(self) -> tuple[dict[str, Any] | None, list[str]]:
        """What changed since the last call: the progress fields (None if nothing) and new files."""
        with self._lock:
            paths, self._new_paths = self._new_paths, []
            if not self._changed:
                return None, paths
            self._changed = False
            partial = sum(fraction for _, fraction in self._running.values())
            fraction = min(1.0, (self.done + partial) / self.total) if self.total else 0.0
            message = f"{self.done}/{self.total} nodes"
            if self._running:
                label, part = next(iter(self._running.values()))
                message += f" · {label} {int(part * 100)}%"
            return {"progress": fraction, "progress_message": message, "nodes_done": self.done,
                    "nodes_total": self.total}, paths


def written_files(outputs: Iterable[Any]) -> list[str]:
    """The files an output node reports (text outputs that name an existing file)."""
    found = []
    for value in outputs:
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, str) and item and len(item) < 4096 and os.path.isfile(item):
                found.append(os.path.abspath(item))
    return found


def summarize(value: Any) -> Any:
    """A JSON-able stand-in for an output value: scalars as they are, arrays by shape."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= SUMMARY_TEXT else value[:SUMMARY_TEXT] + "…"
    frames = getattr(value, "frames", None)
    if frames is not None and hasattr(value, "fps"):
        return {"type": "Video", "frames": int(len(frames)), "shape": list(frames.shape[1:]), "fps": float(value.fps)}
    samples = getattr(value, "samples", None)
    if samples is not None and hasattr(value, "rate"):
        return {"type": "Audio", "channels": int(samples.shape[0]), "seconds": samples.shape[1] / value.rate}
    shape = getattr(value, "shape", None)
    if shape is not None:
        return {"shape": list(shape), "dtype": str(getattr(value, "dtype", ""))}
    if isinstance(value, (list, tuple)):
        return [summarize(item) for item in value[:100]]
    describe = getattr(value, "describe", None)
    if callable(describe):
        return {"type": type(value).__name__, "description": str(describe())}
    return {"type": type(value).__name__}
