"""Telling the creator that a queued render finished or failed: a banner in the queue
panel, and a desktop notification from the system tray when there is one and the
window is not in front (offscreen, or on a desktop without a tray, the banner is all).
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QSystemTrayIcon

from desktop.queue_eta import duration_text, working_seconds
from desktop.theme import icon
from gpu.queue_jobs import COMPLETED, FAILED, Job

#: How long a banner stays unless the creator closes it.
BANNER_SECONDS = 8


def ended_words(job: Job) -> tuple[str, str]:
    """A title and a sentence about how a job ended."""
    worked = working_seconds(job)
    took = f" in {duration_text(worked)}" if worked else ""
    if job.status == COMPLETED:
        files = [path.rsplit("/", 1)[-1] for path in job.output_paths]
        wrote = f": {', '.join(files[-2:])}" if files else ""
        return "Render finished", f"“{job.name}” finished{took}{wrote}"
    if job.status == FAILED:
        error = " ".join(job.last_error.split())
        return "Render failed", f"“{job.name}” failed: {error[:300]}" if error else f"“{job.name}” failed"
    return f"Render {job.status}", f"“{job.name}” is {job.status}"


class EndingWatch:
    """Which jobs ended (completed or failed) since the last look: a job counts once per
    ending, so a retried job that ends again is told again, and jobs that had ended
    before the panel opened are not told at all."""

    def __init__(self) -> None:
        self._seen: set[tuple[int, float | None]] = set()

    def new_endings(self, recent: list[Job]) -> list[Job]:
        """The jobs of ``recent`` (newest first) not seen ended before, oldest first."""
        fresh = [job for job in recent if (job.id, job.finished) not in self._seen]
        self._seen.update((job.id, job.finished) for job in fresh)
        return list(reversed(fresh))


class TrayNotifier(QObject):
    """Desktop notifications through a system tray icon, made the first time one is needed."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tray: QSystemTrayIcon | None = None

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages()

    def notify(self, title: str, text: str, failed: bool = False) -> bool:
        """Show a desktop notification; False (quietly) where the desktop has no tray."""
        if not self.available():
            return False
        if self._tray is None:
            self._tray = QSystemTrayIcon(icon("reelgraph"), self)
            self._tray.setToolTip("Reelgraph render queue")
        self._tray.show()
        kind = QSystemTrayIcon.MessageIcon.Warning if failed else QSystemTrayIcon.MessageIcon.Information
        self._tray.showMessage(title, text, kind, BANNER_SECONDS * 1000)
        return True

    def close(self) -> None:
        if self._tray is not None:
            self._tray.hide()
