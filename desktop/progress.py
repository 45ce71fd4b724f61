"""Run progress on a terminal: a redrawn bar when stderr is a terminal, one plain
line per finished node otherwise (logs, CI), so long renders are never silent."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from gpu.events import (
    NODE_CACHED, NODE_ERROR, NODE_FINISHED, NODE_PROGRESS, NODE_STARTED, RUN_FINISHED, RUN_STARTED, RunEvent,
)

BAR_WIDTH = 24


class TerminalProgress:
    """An ``on_event`` listener that draws progress on ``stream``."""

    def __init__(self, stream: TextIO | None = None, interactive: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.total = 0
        self.done = 0
        self.running: dict[str, tuple[str, float]] = {}
        self.started = time.perf_counter()
        self._last_draw = 0.0

    def __call__(self, event: RunEvent) -> None:
        kind = event.kind
        if kind == RUN_STARTED:
            to_run, cached = event.counts or (0, 0)
            self.total = to_run
            self.started = time.perf_counter()
            self._line(f"running {to_run} node(s), {cached} from the cache")
        elif kind == NODE_STARTED:
            self.running[event.node_id or ""] = (f"{event.node_type} ({event.node_id})", 0.0)
            self._draw()
        elif kind == NODE_PROGRESS:
            label, _ = self.running.get(event.node_id or "", (f"{event.node_type} ({event.node_id})", 0.0))
            self.running[event.node_id or ""] = (label, event.fraction or 0.0)
            self._draw(throttle=True)
        elif kind in (NODE_FINISHED, NODE_ERROR):
            label, _ = self.running.pop(event.node_id or "", (f"{event.node_type} ({event.node_id})", 0.0))
            self.done += 1
            if kind == NODE_ERROR:
                self._line(f"failed  {label}: {event.message}")
            elif not self.interactive:
                self._line(f"done    {label} in {event.elapsed or 0:.2f} s")
            self._draw()
        elif kind == NODE_CACHED:
            return
        elif kind == RUN_FINISHED:
            self._clear()
            self._line(f"finished in {event.elapsed or 0:.2f} s: {event.message}")

    def _bar(self) -> str:
        fraction = self.done / self.total if self.total else 1.0
        if self.running and self.total:
            fraction += sum(part for _, part in self.running.values()) / self.total
        filled = int(BAR_WIDTH * min(fraction, 1.0))
        current = ""
        if self.running:
            label, part = next(iter(self.running.values()))
            current = f"  {label} {int(part * 100)}%"
        elapsed = time.perf_counter() - self.started
        return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {self.done}/{self.total} nodes {elapsed:5.1f} s{current}"

    def _draw(self, throttle: bool = False) -> None:
        if not self.interactive:
            return
        now = time.perf_counter()
        if throttle and now - self._last_draw < 0.05:
            return
        self._last_draw = now
        self.stream.write("\r\x1b[2K" + self._bar())
        self.stream.flush()

    def _clear(self) -> None:
        if self.interactive:
            self.stream.write("\r\x1b[2K")

    def _line(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        if self.interactive and self.total:
            self.stream.write(self._bar())
        self.stream.flush()
