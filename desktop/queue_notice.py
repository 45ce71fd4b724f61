"""Telling the creator that a queued render finished or failed: a banner in the queue
panel, and a desktop notification from the system tray when there is one and the
window is not in front (offscreen, or on a desktop without a tray, the banner is all).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSystemTrayIcon, QToolButton, QWidget

from desktop.queue_eta import duration_text, working_seconds
from desktop.theme import icon
from gpu.queue_jobs import COMPLETED, FAILED, Job

#: How long a banner stays unless the creator closes it.
BANNER_SECONDS = 8
INFO = "info"
SUCCESS = "success"
WARNING = "warning"
ERROR = "error"


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


class Banner(QFrame):
    """One line across the top of the panel; the ``kind`` property colours it (dark.qss)."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queueBanner")
        self.setProperty("kind", INFO)
        self.label = QLabel(self)
        self.label.setObjectName("queueBannerText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setIcon(icon("close"))
        close.setIconSize(QSize(12, 12))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.hide()

    @property
    def kind(self) -> str:
        return str(self.property("kind"))

    def text(self) -> str:
        return self.label.text()

    def announce(self, text: str, kind: str = INFO, seconds: float = BANNER_SECONDS) -> None:
        self.label.setText(text)
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()
        self._timer.start(int(seconds * 1000))

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()
        self.closed.emit()


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
