"""A line across the top of a panel that tells the creator something: a render finished or
failed (queue panel), no model to paint with or a painting error (live sketch).

Its ``kind`` property (info, success, warning, error) colours it through dark.qss; the
panel names it (``objectName``) so each panel can shape it. It may carry one action
button, and may go away by itself after some seconds (news) or stay until dismissed
(an error must not slip by unseen).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from desktop.theme import icon

INFO = "info"
SUCCESS = "success"
WARNING = "warning"
ERROR = "error"


class Banner(QFrame):
    action = Signal()
    closed = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        """``name`` is its object name; the text is ``<name>Text``, the action ``<name>Action``."""
        super().__init__(parent)
        self.setObjectName(name)
        self.setProperty("kind", INFO)
        self.label = QLabel(self)
        self.label.setObjectName(f"{name}Text")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton(self)
        self.action_button.setObjectName(f"{name}Action")
        self.action_button.clicked.connect(self.action)
        self.action_button.hide()
        close = QToolButton(self)
        close.setIcon(icon("close"))
        close.setIconSize(QSize(12, 12))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.setSpacing(8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignVCenter)
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

    def announce(self, text: str, kind: str = INFO, *, action: str = "", seconds: float | None = None) -> None:
        """Show ``text``; with ``action`` a button of that name (``action`` signal); with
        ``seconds`` it goes away by itself after that long."""
        self.label.setText(text)
        self.setProperty("kind", kind)
        self.action_button.setText(action)
        self.action_button.setVisible(bool(action))
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()
        if seconds is None:
            self._timer.stop()
        else:
            self._timer.start(int(seconds * 1000))

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()
        self.closed.emit()
