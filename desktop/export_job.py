"""One export of a project, on a thread of its own, reporting to the GUI thread.

``render_project`` blocks for as long as the export takes (graphs, then every frame,
then the check), so the export dialog runs it here: the window stays responsive and
Cancel reaches the export through its :class:`CancelToken`. The job's signals are
emitted on the export thread; Qt queues them to the slots of objects that live on the
GUI thread, so no widget is touched from the export thread.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from gpu.timeline_render import ExportPreset, RenderProgress, render_project
from nodes.context import CancelToken
from nodes.timeline import Project

log = logging.getLogger("reelgraph.desktop")


class ExportJob(QObject):
    """Renders one snapshot of a project; see the module docstring."""

    #: A RenderProgress from ``render_project``.
    progressed = Signal(object)
    #: The RenderResult: the file is written (and checked).
    succeeded = Signal(object)
    #: The exception that ended the export: ProjectError, RenderError, Cancelled or a bug.
    stopped = Signal(object)

    def __init__(self, project: Project, preset: ExportPreset, output: Path, executor: Any, *,
                 time_range: tuple[float, float] | None = None, fit: str | None = None) -> None:
        super().__init__()
        self.project = project
        self.preset = preset
        self.output = output
        self.executor = executor
        self.time_range = time_range
        self.fit = fit
        self.cancel_token = CancelToken()
        self._thread = threading.Thread(target=self._run, name="reelgraph-export", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self, reason: str = "cancelled by the user") -> None:
        """Stop at the next frame; the partial file is removed, nothing is left behind."""
        self.cancel_token.cancel(reason)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the export thread ends (True) or ``timeout`` passes (False)."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            result = render_project(self.project, self.preset, self.output, time_range=self.time_range, fit=self.fit,
                                    executor=self.executor, progress=self.progressed.emit, cancel=self.cancel_token)
        except Exception as error:  # every ending is reported; the dialog tells the creator which
            log.debug("export to %s stopped: %r", self.output, error)
            self.stopped.emit(error)
        else:
            self.succeeded.emit(result)


class ExportClock:
    """Elapsed time and the time left, from the progress an export reports.

    The time left is known only while frames are encoded (graphs take as long as they
    take): it is the frames still to go at the rate measured since the first frame,
    plus a little for the check, which reads the file back."""

    def __init__(self) -> None:
        self.began = time.perf_counter()
        self._frames_began: tuple[float, int] | None = None
        self.latest: RenderProgress | None = None

    def update(self, progress: RenderProgress) -> None:
        self.latest = progress
        if progress.stage == "frames" and self._frames_began is None:
            self._frames_began = (time.perf_counter(), progress.done)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def seconds_left(self) -> float | None:
        progress = self.latest
        if progress is None or progress.stage != "frames" or self._frames_began is None:
            return None
        began, first_done = self._frames_began
        spent = time.perf_counter() - began
        encoded = progress.done - first_done
        if encoded <= 0 or spent <= 0:
            return None
        rate = encoded / spent
        checking = progress.total / rate * CHECK_SHARE
        return (progress.total - progress.done) / rate + checking

    def text(self) -> str:
        left = self.seconds_left()
        elapsed = f"Elapsed {clock_text(self.elapsed)}"
        if left is not None:
            return f"{elapsed} · about {clock_text(left)} left"
        if self.latest is not None and self.latest.stage == "check":
            return f"{elapsed} · almost done"
        return f"{elapsed} · estimating time left…"


#: The check reads the file back about this many times faster than it was encoded.
CHECK_SHARE = 0.15


def clock_text(seconds: float) -> str:
    """``0:07``, ``12:40``, ``1:02:03``: how long, at a glance."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, seconds_part = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds_part:02d}"
    return f"{minutes}:{seconds_part:02d}"
