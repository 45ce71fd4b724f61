"""The render queue on a terminal: what ``reelgraph queue work`` says about each job it
runs, and the live progress bars of ``reelgraph queue watch``.

On a terminal the bars are redrawn in place; in a log or a pipe each change is one
plain line, so long overnight batches leave a readable record.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from desktop.progress import TerminalProgress
from gpu.queue import RenderQueue
from gpu.queue_jobs import CANCELLED, COMPLETED, FAILED, PAUSED, QUEUED, RUNNING, Job, UnknownJob

BAR_WIDTH = 24
#: How many waiting jobs ``watch`` draws below the running ones.
SHOWN = 12


def describe_end(job: Job) -> str:
    """One line on how a job's attempt ended."""
    label = f"job {job.id} ({job.name})"
    attempt = job.attempts[-1] if job.attempts else None
    took = f" in {attempt.ended - attempt.started:.1f} s" if attempt is not None and attempt.ended else ""
    if job.status == COMPLETED:
        files = f": wrote {', '.join(job.output_paths)}" if job.output_paths else ""
        return f"{label} completed{took}{files}"
    if job.status == FAILED:
        return f"{label} failed{took}: {job.last_error}"
    if job.status == CANCELLED:
        return f"{label} cancelled"
    if job.status == PAUSED:
        return f"{label} paused; `reelgraph queue resume {job.id}` carries on where it stopped"
    if job.status == QUEUED and job.not_before > time.time():
        wait = job.not_before - time.time()
        return f"{label} failed for a passing reason ({job.last_error}); retrying in {wait:.0f} s"
    if job.status == QUEUED:
        return f"{label} went back to the queue; it resumes where it stopped"
    return f"{label} is {job.status}"


class WorkerReporter:
    """``on_job`` and ``on_event`` listeners for a headless worker: a line when a job starts
    and ends, node progress in between (unless quiet)."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.last: Job | None = None
        self._progress: TerminalProgress | None = None

    def on_job(self, job: Job) -> None:
        self.last = job
        if job.status == RUNNING:
            attempt = f", attempt {len(job.attempts)}" if len(job.attempts) > 1 else ""
            self._line(f"job {job.id} ({job.name}) started{attempt}")
            self._progress = None if self.quiet else TerminalProgress(self.stream)
        else:
            self._progress = None
            self._line(describe_end(job))

    def on_event(self, job: Job, event: Any) -> None:
        if self._progress is not None:
            self._progress(event)

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class QueueWatch:
    """Draws the running and waiting jobs until none is left (or Ctrl+C)."""

    def __init__(self, queue: RenderQueue, stream: TextIO | None = None, interactive: bool | None = None) -> None:
        self.queue = queue
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._drawn_lines = 0
        self._seen: dict[int, tuple[str, int, int]] = {}

    def run(self, interval: float = 0.5) -> None:
        while True:
            busy = self.draw()
            if not busy:
                return
            time.sleep(interval)

    def draw(self) -> bool:
        """One redraw; False when no job is running or waiting to run."""
        active = self.queue.list_jobs([RUNNING, QUEUED], page_size=SHOWN)
        counts = self.queue.counts()
        shown = {job.id for job in active}
        for job_id in [job_id for job_id in self._seen if job_id not in shown]:
            del self._seen[job_id]
            try:
                self._above(describe_end(self.queue.get(job_id)))
            except UnknownJob:
                self._above(f"job {job_id} was deleted")
        lines = []
        for job in active:
            state = (job.status, job.nodes_done, int(job.progress * 10))  # a log line per tenth, not per redraw
            if not self.interactive and self._seen.get(job.id) != state:
                percent = int(job.progress * 100)
                self._above(f"job {job.id} ({job.name}): {job.status} {percent}% {job.progress_message}")
            self._seen[job.id] = state
            lines.append(self._bar(job))
        waiting = counts[QUEUED] - sum(1 for job in active if job.status == QUEUED)
        if waiting > 0:
            lines.append(f"  … and {waiting} more waiting")
        if self.queue.paused:
            lines.append("  the queue is paused: `reelgraph queue resume` lets waiting jobs start")
        busy = counts[RUNNING] + counts[QUEUED] > 0
        if not busy:
            lines.append(f"all done: {counts[COMPLETED]} completed, {counts[FAILED]} failed, "
                         f"{counts[CANCELLED]} cancelled")
        self._redraw(lines if self.interactive or not busy else [])
        return busy

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def _bar(self, job: Job) -> str:
        filled = int(BAR_WIDTH * min(max(job.progress, 0.0), 1.0))
        bar = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {int(job.progress * 100):3d}%"
        detail = job.progress_message if job.status == RUNNING else "waiting"
        if job.status == QUEUED and job.not_before > time.time():
            detail = f"retrying in {job.not_before - time.time():.0f} s"
        return f"{job.id:>5} {bar}  {job.name[:40]}  {detail}"

    def _above(self, text: str) -> None:
        """A lasting line, printed above the redrawn block."""
        self._clear_block()
        self.stream.write(text + "\n")
        self.stream.flush()

    def _redraw(self, lines: list[str]) -> None:
        self._clear_block()
        for line in lines:
            self.stream.write(line + "\n")
        self._drawn_lines = len(lines) if self.interactive else 0
        self.stream.flush()

    def _clear_block(self) -> None:
        if self.interactive and self._drawn_lines:
            self.stream.write(f"\x1b[{self._drawn_lines}F\x1b[J")
        self._drawn_lines = 0
