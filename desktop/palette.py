"""The node palette: type a few letters, press Enter, and the node is on the canvas.

Matching is fuzzy over what a creator remembers of a node: its display name, its
type name, its category, and words from its description ("blr" finds Blur,
"soft" finds Blur by its description). Opened from a dragged link it lists only
nodes that can take (or give) that link's type, best fits first.
"""

from __future__ import annotations

from typing import Callable, Iterable

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QStyledItemDelegate, QStyleOptionViewItem,
    QVBoxLayout, QWidget,
)

from nodes.registry import NodeRegistry
from nodes.spec import NodeSpec

SEPARATORS = " ._-/:"
STYLE = """
#nodePalette { background: #1b1f26; border: 1px solid #00ffea; border-radius: 8px; }
#nodePalette QLineEdit { background: #12151a; color: #e6ebf2; border: 1px solid #2c333d; border-radius: 5px;
                         padding: 6px 8px; font-size: 13px; selection-background-color: #00a99b; }
#nodePalette QLineEdit:focus { border-color: #00ffea; }
#nodePalette QListWidget { background: transparent; color: #dfe5ee; border: none; outline: none; font-size: 12px; }
#nodePalette QListWidget::item { padding: 5px 6px; border-radius: 4px; }
#nodePalette QListWidget::item:selected { background: rgba(0, 255, 234, 0.18); color: #ffffff; }
#nodePalette QLabel { color: #8893a3; font-size: 11px; padding: 0 2px; }
"""


def _word_starts(text: str) -> set[int]:
    return {index for index, char in enumerate(text)
            if index == 0 or text[index - 1] in SEPARATORS
            or (char.isupper() and text[index - 1].islower())}


def fuzzy_score(query: str, text: str) -> float | None:
    """How well ``query`` matches ``text``: all its letters in order, more for letters
    next to each other and at word starts; None when it does not match."""
    if not query:
        return 0.0
    lowered, wanted = text.lower(), query.lower()
    starts = _word_starts(text)
    found = lowered.find(wanted)
    if found >= 0:
        return 100.0 + 10 * len(wanted) + (40.0 if found in starts else 0.0) - found * 0.5
    score, position, previous = 0.0, 0, -2
    for char in wanted:
        index = lowered.find(char, position)
        if index < 0:
            return None
        score += 1.0 + (6.0 if index == previous + 1 else 0.0) + (8.0 if index in starts else 0.0)
        score -= min(index - position, 10) * 0.3
        previous, position = index, index + 1
    return score


def _description_score(query: str, description: str) -> float | None:
    lowered = description.lower()
    wanted = query.lower()
    index = lowered.find(wanted)
    if index < 0:
        return None
    return 45.0 if index == 0 or lowered[index - 1] in SEPARATORS else 25.0


def spec_score(spec: NodeSpec, query: str) -> float | None:
    """Sum over the query's words of each word's best match; None if a word matches nothing."""
    total = 0.0
    for word in query.split():
        scores = [
            _scaled(fuzzy_score(word, spec.display_name), 1.0),
            _scaled(fuzzy_score(word, spec.type_name), 0.9),
            _scaled(fuzzy_score(word, spec.category), 0.7),
            _description_score(word, spec.description),
        ]
        best = max((score for score in scores if score is not None), default=None)
        if best is None:
            return None
        total += best
    return total


def _scaled(score: float | None, factor: float) -> float | None:
    return None if score is None else score * factor


def search(specs: Iterable[NodeSpec], query: str, accepts: Callable[[NodeSpec], bool] | None = None,
           prefer: Callable[[NodeSpec], bool] | None = None) -> list[NodeSpec]:
    """Specs matching ``query`` (all of them for an empty query), best first."""
    ranked = []
    for spec in specs:
        if accepts is not None and not accepts(spec):
            continue
        score = spec_score(spec, query.strip())
        if score is None:
            continue
        preferred = prefer is not None and prefer(spec)
        ranked.append((-score, not preferred, spec.category, spec.display_name, spec))
    ranked.sort(key=lambda entry: entry[:4])
    return [entry[-1] for entry in ranked]


class _ResultDelegate(QStyledItemDelegate):
    """Draws the node's category and type name, dimmed, at the right of each row."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        detail = index.data(Qt.ItemDataRole.UserRole + 1)
        if detail:
            painter.save()
            painter.setPen(QColor("#6f7a8a"))
            area = QRect(option.rect).adjusted(0, 0, -10, 0)
            painter.drawText(area, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), detail)
            painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), max(size.height(), 26))


class NodePalette(QFrame):
    """A search box over the node types, floating over the canvas."""

    #: The creator picked this node type.
    chosen = Signal(str)
    #: Closed without picking anything.
    dismissed = Signal()

    def __init__(self, registry: NodeRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.setObjectName("nodePalette")
        self.setStyleSheet(STYLE)
        self.setAutoFillBackground(True)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search nodes: name, category, what it does…")
        self.caption = QLabel(self)
        self.results = QListWidget(self)
        self.results.setItemDelegate(_ResultDelegate(self.results))
        self.results.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.results.setUniformItemSizes(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.caption)
        layout.addWidget(self.results)
        self.resize(360, 380)
        self._accepts: Callable[[NodeSpec], bool] | None = None
        self._prefer: Callable[[NodeSpec], bool] | None = None
        self.search.textChanged.connect(self._refilter)
        self.search.returnPressed.connect(self.choose_current)
        self.results.itemClicked.connect(lambda item: self._choose(item))
        self.search.installEventFilter(self)
        self.hide()

    def popup(self, at: QPoint, accepts: Callable[[NodeSpec], bool] | None = None, caption: str = "",
              prefer: Callable[[NodeSpec], bool] | None = None) -> None:
        """Show at ``at`` (parent coordinates), kept inside the parent, with the search focused."""
        self._accepts, self._prefer = accepts, prefer
        self.caption.setText(caption)
        self.caption.setVisible(bool(caption))
        parent = self.parentWidget()
        if parent is not None:
            x = min(max(4, at.x()), max(4, parent.width() - self.width() - 4))
            y = min(max(4, at.y()), max(4, parent.height() - self.height() - 4))
            self.move(x, y)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self._refilter("")
        self.show()
        self.raise_()
        self.search.setFocus(Qt.FocusReason.PopupFocusReason)

    def matches(self, query: str) -> list[NodeSpec]:
        return search(self.registry, query, self._accepts, self._prefer)

    def _refilter(self, query: str) -> None:
        self.results.clear()
        for spec in self.matches(query):
            item = QListWidgetItem(spec.display_name)
            item.setData(Qt.ItemDataRole.UserRole, spec.type_name)
            item.setData(Qt.ItemDataRole.UserRole + 1, f"{spec.category} · {spec.type_name}")
            item.setToolTip(spec.description)
            self.results.addItem(item)
        if self.results.count():
            self.results.setCurrentRow(0)

    def choose_current(self) -> None:
        item = self.results.currentItem()
        if item is not None:
            self._choose(item)

    def _choose(self, item: QListWidgetItem) -> None:
        type_name = item.data(Qt.ItemDataRole.UserRole)
        self.hide()
        self.chosen.emit(type_name)

    def dismiss(self) -> None:
        if self.isVisible():
            self.hide()
            self.dismissed.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
                row = self.results.currentRow()
                step = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_PageUp: -8, Qt.Key.Key_PageDown: 8}[key]
                if self.results.count():
                    self.results.setCurrentRow(min(max(0, row + step), self.results.count() - 1))
                return True
            if key == Qt.Key.Key_Escape:
                self.dismiss()
                return True
        if watched is self.search and event.type() == QEvent.Type.FocusOut and self.isVisible():
            if event.reason() not in (Qt.FocusReason.ActiveWindowFocusReason, Qt.FocusReason.PopupFocusReason):
                self.dismiss()
        return super().eventFilter(watched, event)
