"""Run progress: the whole run (a bar, counts, elapsed time) and each node (state,
a progress bar, how long it took). Fed by the run controller on the GUI thread."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPainter
from PySide6.QtWidgets import (
    QHBoxLayout, QHeaderView, QLabel, QSizePolicy, QStyledItemDelegate, QStyleOptionViewItem, QTreeWidget,
    QTreeWidgetItem, QVBoxLayout, QWidget,
)

from desktop.theme import ACCENT, ACCENT_DIM, BORDER, CACHED, DARKEST, ERROR, SUCCESS, TEXT, TEXT_DIM

FRACTION_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_COLOURS = {
    "queued": TEXT_DIM, "running": ACCENT, "cached": CACHED, "done": SUCCESS, "error": ERROR, "idle": TEXT_DIM,
}
STATE_WORDS = {
    "queued": "waiting", "running": "running", "cached": "from cache", "done": "done", "error": "failed",
    "idle": "not run",
}
BAR_STEPS = 1000


class RunBar(QWidget):
    """The whole run's progress. Not a QProgressBar: its setValue repaints at once,
    which repaints the window with it, many times a second during a run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fraction = 0.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(200, 18)

    def set_fraction(self, fraction: float) -> None:
        fraction = max(0.0, min(1.0, fraction))
        if abs(fraction - self.fraction) >= 1 / BAR_STEPS or fraction in (0.0, 1.0):
            self.fraction = fraction
            self.update()

    def text(self) -> str:
        return f"{self.fraction * 100:.0f}%"

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QColor(BORDER))
        painter.setBrush(QColor(DARKEST))
        painter.drawRoundedRect(rect, 4, 4)
        if self.fraction > 0:
            filled = rect.adjusted(1, 1, -1, -1)
            filled.setWidth(filled.width() * self.fraction)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(ACCENT_DIM))
            painter.drawRoundedRect(filled, 3, 3)
        painter.setPen(QColor(TEXT))
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.text())


class FractionDelegate(QStyledItemDelegate):
    """Draws a thin progress bar from the item's fraction (None: nothing)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        super().paint(painter, option, index)
        fraction = index.data(FRACTION_ROLE)
        if fraction is None:
            return
        rect = QRectF(option.rect).adjusted(6, option.rect.height() / 2 - 3, -6, -(option.rect.height() / 2 - 3))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(BORDER))
        painter.drawRoundedRect(rect, 3, 3)
        state = index.siblingAtColumn(1).data(Qt.ItemDataRole.UserRole)
        colour = QColor(STATE_COLOURS.get(state, ACCENT_DIM))
        filled = QRectF(rect)
        filled.setWidth(max(0.0, min(1.0, float(fraction))) * rect.width())
        painter.setBrush(colour)
        painter.drawRoundedRect(filled, 3, 3)
        painter.restore()


class ProgressPanel(QWidget):
    """What the current (or last) run is doing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headline = QLabel("Idle: press Ctrl+Enter to run the graph", self)
        self.headline.setObjectName("progressHeadline")
        self.headline.setWordWrap(True)
        self.elapsed_label = QLabel("0.0 s", self)
        self.elapsed_label.setObjectName("progressElapsed")
        self.bar = RunBar(self)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Node", "State", "Progress", "Time"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setItemDelegateForColumn(2, FractionDelegate(self.tree))
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column, width in ((1, 78), (2, 90), (3, 64)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.tree.setColumnWidth(column, width)
        top = QHBoxLayout()
        top.addWidget(self.headline, 1)
        top.addWidget(self.elapsed_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.tree, 1)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._states: dict[str, str] = {}
        self._fractions: dict[str, float] = {}
        self._to_run: set[str] = set()
        self._started = 0.0
        self._stopped_at: float | None = None
        self._clock = QTimer(self)
        self._clock.setInterval(100)
        self._clock.timeout.connect(self._tick)
        self.running = False

    # ----- fed by the run controller ----------------------------------------------------------
    def begin(self, nodes: list[tuple[str, str]], to_run: list[str], cached: list[str]) -> None:
        """A run starts: ``nodes`` are (id, label) in the order to list them."""
        self.tree.clear()
        self._items.clear()
        self._states.clear()
        self._fractions = {node_id: 0.0 for node_id in to_run}
        cached_ids = set(cached)
        items = []
        for node_id, label in nodes:  # built whole and added at once: a big graph starts fast
            state = "cached" if node_id in cached_ids else "queued"
            item = QTreeWidgetItem([label, STATE_WORDS[state], "", ""])
            item.setToolTip(0, f"node {node_id}")
            item.setData(1, Qt.ItemDataRole.UserRole, state)
            item.setForeground(1, _brush(state))
            item.setData(2, FRACTION_ROLE, 1.0 if state == "cached" else 0.0)
            self._items[node_id] = item
            self._states[node_id] = state
            items.append(item)
        self.tree.addTopLevelItems(items)
        self._started = time.perf_counter()
        self._stopped_at = None
        self.running = True
        self.headline.setText(f"Running {len(to_run)} node(s), {len(cached)} from the cache")
        self._update_bar()
        self._clock.start()
        self._tick()

    def reset(self, headline: str) -> None:
        """Nothing runs (the workflow could not start): an empty list and this headline."""
        self.tree.clear()
        self._items.clear()
        self._states.clear()
        self._fractions = {}
        self._clock.stop()
        self.running = False
        self._started, self._stopped_at = 0.0, None
        self._tick()
        self.bar.set_fraction(0.0)
        self.headline.setText(headline)

    def set_state(self, node_id: str, state: str, fraction: float | None = None, elapsed: float | None = None,
                  message: str = "") -> None:
        item = self._items.get(node_id)
        if item is None:
            return
        if state in ("done", "cached", "error"):
            fraction = 1.0
        elif state == "running" and fraction is None:
            fraction = self._fractions.get(node_id, 0.0)
        if self._states.get(node_id) != state:  # few calls per sample: every Qt call may wait for the GIL
            self._states[node_id] = state
            item.setText(1, STATE_WORDS.get(state, state))
            item.setData(1, Qt.ItemDataRole.UserRole, state)
            item.setForeground(1, _brush(state))
            if message:
                item.setToolTip(1, message)
        item.setData(2, FRACTION_ROLE, fraction if state != "idle" else None)
        if elapsed is not None:
            item.setText(3, _seconds(elapsed))
        if node_id in self._fractions and fraction is not None:
            self._fractions[node_id] = fraction
            self._update_bar()

    def finish(self, summary: str, elapsed: float | None = None) -> None:
        self.running = False
        self._clock.stop()
        self._stopped_at = elapsed if elapsed is not None else self.elapsed()
        self._tick()
        self.headline.setText(summary)
        self._update_bar()

    # ----- reading (tests, the status bar) --------------------------------------------------------
    def state_of(self, node_id: str) -> str | None:
        item = self._items.get(node_id)
        return None if item is None else item.data(1, Qt.ItemDataRole.UserRole)

    def overall(self) -> float:
        if not self._fractions:
            return 1.0
        return sum(self._fractions.values()) / len(self._fractions)

    def elapsed(self) -> float:
        if self._stopped_at is not None:
            return self._stopped_at
        return time.perf_counter() - self._started if self._started else 0.0

    def _update_bar(self) -> None:
        self.bar.set_fraction(self.overall())

    def _tick(self) -> None:
        self.elapsed_label.setText(_seconds(self.elapsed()))


@lru_cache(maxsize=None)
def _brush(state: str) -> QBrush:
    return QBrush(QColor(STATE_COLOURS.get(state, TEXT)))


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s" if value >= 0.1 or value == 0 else f"{value * 1000:.0f} ms"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}:{seconds:02d} min"
