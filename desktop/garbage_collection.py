"""Python's cycle collector, run on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is
crossed. In the app that is often a worker (the timeline's preview, the media
loader, the queue worker), and a cycle it frees may hold Qt objects of a closed
panel or window: deleting those outside the GUI thread crashed the process (a
segfault in "Garbage-collecting" on a timeline preview thread, seen in the test
session). So automatic collection is switched off and the GUI thread collects on a
short timer, by the same generation thresholds Python would use.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: How often the GUI thread looks at the allocation counts (ms).
CHECK_INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Collects cyclic garbage on the GUI thread; automatic collection stays off while it lives."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> int | None:
        """Collect the oldest generation whose count passed its threshold; the generation, or None."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return generation
        return None

    def stop(self) -> None:
        """Give collection back to Python (after a last collection here)."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()


_installed: GuiThreadCollector | None = None


def collect_on_gui_thread(app: QObject) -> GuiThreadCollector:
    """Install the collector for the application (once); call it on the GUI thread."""
    global _installed
    if _installed is None:
        _installed = GuiThreadCollector(app)
    return _installed
