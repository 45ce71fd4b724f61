"""The monitor: the timeline's frame at the playhead and the transport under it.

It shows what :class:`TimelinePlayer` composes (scaled to fit, aspect kept), a
to-start button, play/pause (Space), the time code "HH:MM:SS:FF / HH:MM:SS:FF",
and, when playback is silent, a small warning that says why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QKeySequence, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from desktop.pictures import to_qimage
from desktop.theme import DARKEST, TEXT, TEXT_DIM, WARNING, icon
from desktop.timeline_playback import TimelinePlayer
from desktop.timeline_time import timecode


#: "To start", drawn like the shipped transport icons (resources/icons/play.svg).
TO_START_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" fill="none" '
                b'stroke="' + TEXT.encode() + b'" stroke-width="1.8" stroke-linecap="round" '
                b'stroke-linejoin="round"><path d="M18 5v14L8 12z"/><path d="M6 5v14"/></svg>')


def to_start_icon() -> QIcon:
    picture = QPixmap()
    picture.loadFromData(TO_START_SVG, "SVG")
    return QIcon(picture)


class FrameCanvas(QWidget):
    """Paints the latest frame as large as fits, keeping its shape, on a dark ground."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.placeholder = "The timeline's frame shows here"
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def show_frame(self, frame: np.ndarray) -> None:
        self.image = to_qimage(frame)
        self.update()

    def frame_rect(self) -> QRectF:
        """Where the frame is drawn: centred, scaled to fit."""
        if self.image is None or self.image.isNull():
            return QRectF()
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        width, height = self.image.width() * scale, self.image.height() * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(DARKEST))
        if self.image is None or self.image.isNull():
            painter.setPen(QColor(TEXT_DIM))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(self.frame_rect(), self.image)

    def sizeHint(self) -> QSize:
        return QSize(640, 360)


class TimelineMonitor(QWidget):
    """The player's picture and transport."""

    def __init__(self, player: TimelinePlayer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self.canvas = FrameCanvas(self)
        self.to_start_button = self._button("To start (Home)", lambda: player.seek(0.0))
        self.to_start_button.setIcon(to_start_icon())
        self.play_button = self._button("Play (Space)", player.toggle)
        self.time_label = QLabel("", self)
        self.time_label.setObjectName("timeCode")
        self.time_label.setStyleSheet("font-family: monospace;")
        self.audio_label = QLabel("", self)
        self.audio_label.setObjectName("audioStatus")
        self.audio_label.setStyleSheet(f"color: {WARNING}; font-size: 11px;")

        bar = QHBoxLayout()
        bar.setContentsMargins(8, 2, 8, 4)
        bar.setSpacing(6)
        bar.addWidget(self.to_start_button)
        bar.addWidget(self.play_button)
        bar.addWidget(self.time_label)
        bar.addStretch(1)
        bar.addWidget(self.audio_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(bar)

        #: Space plays and pauses while the monitor (or a child) has focus; a window may add it for itself.
        self.play_action = self._action("Play / pause", "Space", player.toggle)
        self.to_start_action = self._action("To start", "Home", lambda: player.seek(0.0))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        player.frameReady.connect(self.canvas.show_frame)
        player.positionChanged.connect(self._show_time)
        player.playingChanged.connect(self._show_playing)
        player.audioStatusChanged.connect(self._show_audio_status)
        player.prepared.connect(lambda: self._show_time(player.position))
        self._show_playing(player.playing)
        self._show_time(player.position)
        self._show_audio_status(player.audio_status)

    def _button(self, tip: str, slot: Any) -> QToolButton:
        button = QToolButton(self)
        button.setIconSize(QSize(16, 16))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(slot)
        return button

    def _action(self, text: str, keys: str, slot: Any) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _show_time(self, seconds: float) -> None:
        fps = self.player.fps
        self.time_label.setText(f"{timecode(seconds, fps)} / {timecode(self.player.duration, fps)}")

    def _show_playing(self, playing: bool) -> None:
        self.play_button.setIcon(icon("pause" if playing else "play"))
        self.play_button.setToolTip("Pause (Space)" if playing else "Play (Space)")

    def _show_audio_status(self, status: str) -> None:
        self.audio_label.setText(status)
        self.audio_label.setToolTip(status)
        self.audio_label.setVisible(bool(status))
