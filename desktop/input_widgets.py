"""One editor per kind of node input, chosen from the input's spec. This module has
the base and the text, prompt, choice, switch and "linked" editors; numbers and seeds
are in ``desktop/number_inputs.py``, files, colours, models and picture drops in
``desktop/file_inputs.py``.

Every editor emits ``committed(value)`` once the creator is done with a change (Enter,
leaving the field, releasing the slider, picking an item); the inspector turns that
into ``document.set_value`` so it is one undo step. ``show_value`` updates an editor
without emitting anything, so undo and edits elsewhere show up at once.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFocusEvent, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QSizePolicy, QSlider,
    QSpinBox, QToolButton, QWidget,
)

from desktop.theme import icon
from nodes.spec import Input


class InputEditor(QWidget):
    """Base of every editor: ``committed(value)`` out, ``show_value(value)`` in."""

    committed = Signal(object)

    def show_value(self, value: Any) -> None:
        raise NotImplementedError

    def commit_pending(self) -> None:
        """Commit what is being typed (before a run, say); most editors commit at once."""


def _no_wheel_unless_focused(widget_class: type) -> type:
    """A scrolled inspector must not change a value the wheel merely passes over."""

    class Calm(widget_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        def wheelEvent(self, event: QWheelEvent) -> None:
            if self.hasFocus():
                super().wheelEvent(event)
            else:
                event.ignore()

    Calm.__name__ = widget_class.__name__
    return Calm


SpinBox = _no_wheel_unless_focused(QSpinBox)
DoubleSpinBox = _no_wheel_unless_focused(QDoubleSpinBox)
Slider = _no_wheel_unless_focused(QSlider)
ComboBox = _no_wheel_unless_focused(QComboBox)


def row_layout(parent: QWidget) -> QHBoxLayout:
    layout = QHBoxLayout(parent)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(6)
    return layout


def tool_button(parent: QWidget, icon_name: str, tip: str) -> QToolButton:
    button = QToolButton(parent)
    button.setIcon(icon(icon_name))
    button.setIconSize(QSize(16, 16))
    button.setToolTip(tip)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


# ----- text and choices -----------------------------------------------------------------------
class TextEditor(InputEditor):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QLineEdit(self)
        self.field.setPlaceholderText(placeholder)
        self.field.editingFinished.connect(self.commit_pending)
        row_layout(self).addWidget(self.field)
        self._shown = ""

    def show_value(self, value: Any) -> None:
        self._shown = "" if value is None else str(value)
        self.field.setText(self._shown)

    def commit_pending(self) -> None:
        if self.field.text() != self._shown:
            self._shown = self.field.text()
            self.committed.emit(self._shown)


class PromptEdit(QPlainTextEdit):
    """A multi-line field that hands its text over when it loses focus."""

    focusLost = Signal()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.focusLost.emit()


class MultilineEditor(InputEditor):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = PromptEdit(self)
        self.field.setTabChangesFocus(True)
        self.field.setFixedHeight(86)  # four lines; longer prompts scroll
        self.field.focusLost.connect(self.commit_pending)
        row_layout(self).addWidget(self.field)
        self._shown = ""

    def show_value(self, value: Any) -> None:
        self._shown = "" if value is None else str(value)
        if self.field.toPlainText() != self._shown:
            self.field.setPlainText(self._shown)

    def commit_pending(self) -> None:
        text = self.field.toPlainText()
        if text != self._shown:
            self._shown = text
            self.committed.emit(text)


class ChoiceEditor(InputEditor):
    def __init__(self, choices: tuple[Any, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choices = choices
        self.combo = ComboBox(self)
        for choice in choices:
            self.combo.addItem(str(choice))
        self.combo.activated.connect(lambda index: self.committed.emit(self.choices[index]))
        row_layout(self).addWidget(self.combo)

    def show_value(self, value: Any) -> None:
        index = next((number for number, choice in enumerate(self.choices)
                      if choice == value and type(choice) is type(value)), -1)
        self.combo.setCurrentIndex(index)


class BoolEditor(InputEditor):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = QCheckBox(self)
        self.box.toggled.connect(lambda checked: self.committed.emit(bool(checked)))
        row_layout(self).addWidget(self.box)

    def show_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class JsonEditor(TextEditor):
    """An input that takes any value: JSON (5, 2.5, true, [1, 2]) or plain text."""

    def show_value(self, value: Any) -> None:
        self._shown = value if isinstance(value, str) else json.dumps(value)
        self.field.setText(self._shown)

    def commit_pending(self) -> None:
        text = self.field.text()
        if text == self._shown:
            return
        self._shown = text
        try:
            self.committed.emit(json.loads(text))
        except ValueError:
            self.committed.emit(text)


# ----- inputs that are not typed in --------------------------------------------------------------
class LinkedView(InputEditor):
    """An input fed by another node: says which one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setObjectName("linkedLabel")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row_layout(self).addWidget(self.label)

    def show_link(self, text: str) -> None:
        self.label.setText(text)
        self.label.setToolTip(text)

    def show_value(self, value: Any) -> None:
        pass


class UnlinkedView(InputEditor):
    """An input only a link can feed (a model, a video...), with nothing linked yet."""

    def __init__(self, item: Input, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        label = QLabel(f"not linked: link a {item.type} output here" if item.required
                       else "optional, not linked", self)
        label.setObjectName("requiredLabel" if item.required else "unlinkedLabel")
        row_layout(self).addWidget(label)

    def show_value(self, value: Any) -> None:
        pass
