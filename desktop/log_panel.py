"""The log: what happened during runs, every failed node and every problem of an
invalid workflow, each naming the node; clicking an entry selects that node."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from desktop.theme import ERROR, SUCCESS, TEXT, TEXT_DIM, WARNING

INFO = "info"
SUCCESS_LEVEL = "success"
WARNING_LEVEL = "warning"
ERROR_LEVEL = "error"
LEVEL_COLOURS = {INFO: TEXT, SUCCESS_LEVEL: SUCCESS, WARNING_LEVEL: WARNING, ERROR_LEVEL: ERROR}
LEVEL_MARKS = {INFO: "·", SUCCESS_LEVEL: "✓", WARNING_LEVEL: "!", ERROR_LEVEL: "✕"}
#: Old entries go first; a log of a long session stays light.
MAX_ENTRIES = 2000
NODE_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class LogEntry:
    level: str
    message: str
    node_id: str | None = None
    where: str = ""
    detail: str = ""


class LogPanel(QWidget):
    """A list of log entries, newest at the bottom."""

    #: A node named by an entry was clicked.
    nodeActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: list[LogEntry] = []
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["", "Time", "Where", "Message"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setWordWrap(False)
        header = self.tree.header()
        header.setStretchLastSection(True)
        self.tree.setColumnWidth(0, 22)
        self.tree.setColumnWidth(1, 72)
        self.tree.setColumnWidth(2, 170)
        self.tree.itemClicked.connect(self._activated)
        self.tree.itemActivated.connect(self._activated)
        self.counts = QLabel("", self)
        self.counts.setObjectName("hint")
        clear = QPushButton("Clear", self)
        clear.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        clear.clicked.connect(self.clear)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        bar.addWidget(self.counts)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.tree)
        self._update_counts()

    def add(self, level: str, message: str, node_id: str | None = None, where: str = "", detail: str = "") -> None:
        entry = LogEntry(level, message, node_id, where, detail)
        self._entries.append(entry)
        colour = QBrush(QColor(LEVEL_COLOURS.get(level, TEXT)))
        item = QTreeWidgetItem(["", time.strftime("%H:%M:%S"), where, message])
        item.setText(0, LEVEL_MARKS.get(level, "·"))
        item.setForeground(0, colour)
        item.setForeground(1, QBrush(QColor(TEXT_DIM)))
        if level in (ERROR_LEVEL, WARNING_LEVEL, SUCCESS_LEVEL):
            item.setForeground(3, colour)
        item.setData(0, NODE_ROLE, node_id)
        tip = message + (f"\n\n{detail}" if detail else "")
        for column in range(4):
            item.setToolTip(column, tip)
        self.tree.addTopLevelItem(item)
        if len(self._entries) > MAX_ENTRIES:
            self._entries.pop(0)
            self.tree.takeTopLevelItem(0)
        self.tree.scrollToItem(item)
        self._update_counts()

    def entries(self) -> list[LogEntry]:
        return list(self._entries)

    def errors(self) -> list[LogEntry]:
        return [entry for entry in self._entries if entry.level == ERROR_LEVEL]

    def clear(self) -> None:
        self._entries.clear()
        self.tree.clear()
        self._update_counts()

    def _update_counts(self) -> None:
        errors = sum(entry.level == ERROR_LEVEL for entry in self._entries)
        warnings = sum(entry.level == WARNING_LEVEL for entry in self._entries)
        if not self._entries:
            self.counts.setText("Nothing yet: run the graph with Ctrl+Enter")
        else:
            self.counts.setText(f"{errors} error(s), {warnings} warning(s)")

    def _activated(self, item: QTreeWidgetItem) -> None:
        node_id = item.data(0, NODE_ROLE)
        if node_id:
            self.nodeActivated.emit(str(node_id))
