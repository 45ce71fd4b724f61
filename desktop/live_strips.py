"""The strips under the Live Sketch panel's pictures: variations of the current
sketch to pick from, and the session's history to scrub back through."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QPushButton, QScrollArea, QSlider, QSpinBox, QToolButton, QVBoxLayout, QWidget,
)

from desktop.live_controls import section
from desktop.live_icons import live_icon
from desktop.pictures import to_qimage
from gpu.live_history import HistoryEntry
from gpu.live_results import LiveVariation

THUMBNAIL = 84
SKETCH_THUMBNAIL = 40
MOST_VARIATIONS = 8
DEFAULT_VARIATIONS = 4


def thumbnail(picture: np.ndarray, side: int) -> QPixmap:
    """A picture (uint8 RGB or RGBA; RGBA on white paper) scaled to fit side×side."""
    image = to_qimage(picture)
    if image.hasAlphaChannel():
        paper = QPixmap(image.size())
        paper.fill(Qt.GlobalColor.white)
        painter = QPainter(paper)
        painter.drawImage(0, 0, image)
        painter.end()
        image = paper.toImage()
    return QPixmap.fromImage(image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))


class VariationStrip(QWidget):
    """"Variations" asks for ``count`` pictures with other seeds; clicking one adopts it."""

    requested = Signal(int)
    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("liveVariations")
        self.variations: list[LiveVariation] = []
        self.buttons: list[QToolButton] = []
        self.count = QSpinBox(self)
        self.count.setRange(2, MOST_VARIATIONS)
        self.count.setValue(DEFAULT_VARIATIONS)
        self.count.setToolTip("How many variations to paint at once")
        self.ask_button = QPushButton(live_icon("variations"), "Variations", self)
        self.ask_button.setObjectName("accentButton")
        self.ask_button.setToolTip("Paint the sketch with other seeds, in one batch; click one to keep it")
        self.ask_button.clicked.connect(lambda: self.requested.emit(self.count.value()))
        self.note = QLabel("Other seeds for this sketch, to pick from", self)
        self.note.setObjectName("liveNote")
        header = QHBoxLayout()
        header.setSpacing(6)
        header.addWidget(section("Variations", self))
        header.addStretch(1)
        header.addWidget(self.count)
        header.addWidget(self.ask_button)

        self.row = QWidget(self)
        self.row.setObjectName("liveThumbnails")
        self.row.setFixedHeight(THUMBNAIL + 8)  # room left for a horizontal scroll bar, never a vertical one
        self.row_layout = QHBoxLayout(self.row)
        self.row_layout.setContentsMargins(0, 0, 0, 0)
        self.row_layout.setSpacing(6)
        self.row_layout.addWidget(self.note)
        self.row_layout.addStretch(1)
        scroller = QScrollArea(self)
        scroller.setObjectName("liveThumbnailScroller")
        scroller.setWidget(self.row)
        scroller.setWidgetResizable(True)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroller.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroller.setFixedHeight(THUMBNAIL + 18)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(scroller)

    def show_waiting(self, count: int) -> None:
        self._clear()
        self.note.setText(f"Painting {count} variations…")
        self.ask_button.setEnabled(False)

    def show_failure(self, text: str) -> None:
        self._clear()
        self.note.setText(text)
        self.ask_button.setEnabled(True)

    def show_variations(self, variations: Sequence[LiveVariation]) -> None:
        self._clear()
        self.note.hide()
        self.ask_button.setEnabled(True)
        self.variations = list(variations)
        for variation in self.variations:
            button = QToolButton(self.row)
            button.setObjectName("liveThumbnail")
            button.setCheckable(True)
            button.setIcon(QIcon(thumbnail(variation.image, THUMBNAIL)))
            button.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
            button.setToolTip(f"Seed {variation.seed}: click to keep painting with it")
            button.clicked.connect(lambda checked=False, picked=variation, shown=button: self._choose(picked, shown))
            self.row_layout.insertWidget(self.row_layout.count() - 1, button)
            self.buttons.append(button)

    def _choose(self, variation: LiveVariation, button: QToolButton) -> None:
        for other in self.buttons:
            other.setChecked(other is button)
        self.chosen.emit(variation)

    def _clear(self) -> None:
        for button in self.buttons:
            button.deleteLater()
        self.buttons.clear()
        self.variations = []
        self.note.show()


class HistoryBar(QWidget):
    """Every picture of the session on a slider: drag back to see an older one with its
    sketch; "Live" follows the newest again (so does drawing)."""

    scrubbed = Signal(int)
    liveRequested = Signal()
    restoreRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("liveHistory")
        self.following = True
        self.count = 0
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.setToolTip("Scrub back through every picture of this session")
        self.slider.valueChanged.connect(self._moved)
        self.sketch = QLabel(self)
        self.sketch.setObjectName("liveHistorySketch")
        self.sketch.setFixedSize(SKETCH_THUMBNAIL + 4, SKETCH_THUMBNAIL + 4)
        self.sketch.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sketch.setToolTip("The sketch this picture was painted from")
        self.sketch.hide()
        self.position = QLabel("no pictures yet", self)
        self.position.setObjectName("liveNote")
        self.position.setMinimumWidth(150)
        self.restore_button = QToolButton(self)
        self.restore_button.setIcon(live_icon("restore"))
        self.restore_button.setIconSize(QSize(16, 16))
        self.restore_button.setToolTip("Put this sketch back on the canvas (Undo takes it back off)")
        self.restore_button.clicked.connect(lambda: self.restoreRequested.emit(self.slider.value()))
        self.restore_button.hide()
        self.live_button = QToolButton(self)
        self.live_button.setObjectName("liveFollow")
        self.live_button.setText("Live")
        self.live_button.setIcon(live_icon("live"))
        self.live_button.setIconSize(QSize(14, 14))
        self.live_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.live_button.setCheckable(True)
        self.live_button.setChecked(True)
        self.live_button.setToolTip("Show the newest picture as you draw")
        self.live_button.clicked.connect(self.follow)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(section("History", self))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.sketch)
        layout.addWidget(self.position)
        layout.addWidget(self.restore_button)
        layout.addWidget(self.live_button)

    def set_count(self, count: int) -> None:
        """The session has ``count`` pictures; a bar that follows moves to the newest."""
        self.count = count
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, count - 1))
        self.slider.setEnabled(count > 1)
        if self.following:
            self.slider.setValue(max(0, count - 1))
        self.slider.blockSignals(False)
        if self.following:
            self.position.setText(f"{count} / {count} · live" if count else "no pictures yet")

    def show_entry(self, entry: HistoryEntry, count: int) -> None:
        self.sketch.show()
        self.sketch.setPixmap(thumbnail(entry.sketch(), SKETCH_THUMBNAIL))
        settings = entry.settings
        self.position.setText(f"{entry.index} / {count} · seed {settings.seed}")
        self.position.setToolTip(settings.prompt)

    def scrub_to(self, position: int) -> None:
        self.slider.setValue(position)
        self._moved(self.slider.value())

    def follow(self) -> None:
        """Back to the newest picture."""
        was_following = self.following
        self.following = True
        self.live_button.setChecked(True)
        self.restore_button.hide()
        self.sketch.clear()
        self.sketch.hide()
        self.set_count(self.count)
        if not was_following:
            self.liveRequested.emit()

    def _moved(self, position: int) -> None:
        self.following = False
        self.live_button.setChecked(False)
        self.restore_button.show()
        self.scrubbed.emit(position)
