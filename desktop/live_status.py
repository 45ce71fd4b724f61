"""How the Live Sketch panel tells the creator what is going on: a pulsing dot while
a picture is being painted, the latency of the last one, and a banner for what went
wrong (a model that does not load) or what is missing (no model at all)."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from desktop.theme import ACCENT, SUCCESS

PULSE_MILLISECONDS = 40
PULSE_SECONDS = 0.9


def latency_text(stroke_to_shown: float, model: float) -> str:
    """"stroke → picture 142 ms (model 120 ms)" from seconds."""
    return f"stroke → picture {stroke_to_shown * 1000:.0f} ms (model {model * 1000:.0f} ms)"


class BusyDot(QWidget):
    """A dot that pulses in the accent colour while the session works, and rests green."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.busy = False
        self._since = time.perf_counter()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.update)
        self.setFixedSize(14, 14)
        self.setToolTip("Ready")

    def set_busy(self, busy: bool) -> None:
        if busy == self.busy:
            return
        self.busy = busy
        self._since = time.perf_counter()
        self.setToolTip("Painting…" if busy else "Ready")
        if busy:
            self._timer.start(PULSE_MILLISECONDS)
        else:
            self._timer.stop()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        centre = self.rect().center()
        if self.busy:
            phase = (time.perf_counter() - self._since) / PULSE_SECONDS * 2 * math.pi
            glow = QColor(ACCENT)
            glow.setAlphaF(0.18 + 0.17 * (1 + math.sin(phase)))
            painter.setBrush(glow)
            painter.drawEllipse(centre, 6.5, 6.5)
            painter.setBrush(QColor(ACCENT))
            painter.drawEllipse(centre, 3.5, 3.5)
        else:
            painter.setBrush(QColor(SUCCESS))
            painter.drawEllipse(centre, 3.5, 3.5)


class LiveStatus(QWidget):
    """The dot, "Painting…"/"Ready", and the last picture's latency."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dot = BusyDot(self)
        self.state = QLabel("Ready", self)
        self.state.setObjectName("liveState")
        self.latency = QLabel("", self)
        self.latency.setObjectName("liveLatency")
        self.latency.setToolTip("From the end of your stroke to the picture on screen, and the model's share of it")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.dot)
        layout.addWidget(self.state)
        layout.addStretch(1)
        layout.addWidget(self.latency)

    def set_busy(self, busy: bool) -> None:
        self.dot.set_busy(busy)
        self.state.setText("Painting…" if busy else "Ready")

    def show_latency(self, stroke_to_shown: float, model: float) -> None:
        self.latency.setText(latency_text(stroke_to_shown, model))

