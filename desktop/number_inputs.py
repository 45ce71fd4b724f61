"""Number inputs: a spin box with a slider beside it where the range allows, whole
numbers of any size, and seeds with randomize and lock."""

from __future__ import annotations

import math
import secrets
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QDoubleSpinBox, QLineEdit, QSlider, QSpinBox, QWidget

from desktop.input_widgets import DoubleSpinBox, InputEditor, Slider, SpinBox, row_layout, tool_button
from desktop.theme import icon
from nodes.spec import Input

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
FLOAT_LIMIT = 1e12
#: A slider makes sense up to this many positions; wider ranges get a spin box alone.
MAX_SLIDER_POSITIONS = 100_000


class WideIntEdit(QLineEdit):
    """Whole numbers of any size (seeds go up to 2**64 - 1, past what QSpinBox holds)."""

    valueEdited = Signal(int)

    def __init__(self, low: int | None, high: int | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high = low, high
        self.setValidator(QRegularExpressionValidator(QRegularExpression(r"-?[0-9]{0,20}"), self))
        self.editingFinished.connect(self._finished)
        self._shown: int | None = None

    def set_number(self, value: Any) -> None:
        self._shown = value if isinstance(value, int) else None
        self.setText(str(value))

    def _finished(self) -> None:
        try:
            value = int(self.text())
        except ValueError:
            self.set_number(self._shown if self._shown is not None else 0)
            return
        if self.low is not None:
            value = max(int(self.low), value)
        if self.high is not None:
            value = min(int(self.high), value)
        self.set_number(value)
        self.valueEdited.emit(value)


class NumberEditor(InputEditor):
    """A spin box, with a slider beside it when the input has a bounded range."""

    def __init__(self, item: Input, integer: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.integer = integer
        self._syncing = False
        low, high = item.min, item.max
        layout = row_layout(self)
        self.slider: QSlider | None = None
        self.wide: WideIntEdit | None = None
        self.spin: QSpinBox | QDoubleSpinBox | None = None
        if integer and (low is None or high is None or low < INT32_MIN or high > INT32_MAX):
            self.wide = WideIntEdit(None if low is None else int(low), None if high is None else int(high), self)
            self.wide.valueEdited.connect(self._commit)
            layout.addWidget(self.wide, 1)
            return
        if integer:
            self.spin = SpinBox(self)
            self.spin.setRange(int(low), int(high))  # type: ignore[arg-type]
            self.spin.setSingleStep(max(1, int(item.step or 1)))
        else:
            self.spin = DoubleSpinBox(self)
            self.spin.setDecimals(_decimals(item.step))
            self.spin.setRange(-FLOAT_LIMIT if low is None else low, FLOAT_LIMIT if high is None else high)
            self.spin.setSingleStep(item.step or _default_step(low, high))
        self.spin.setKeyboardTracking(False)
        self.spin.valueChanged.connect(self._spin_changed)
        if low is not None and high is not None and math.isfinite(low) and math.isfinite(high) and high > low:
            self.low, self.high = float(low), float(high)
            steps = (high - low) / (item.step or (1 if integer else (high - low) / 1000))
            self.positions = int(min(MAX_SLIDER_POSITIONS, max(1, round(steps))))
            self.slider = Slider(Qt.Orientation.Horizontal, self)
            self.slider.setRange(0, self.positions)
            self.slider.sliderMoved.connect(self._slider_moved)
            self.slider.sliderReleased.connect(lambda: self._commit(self.spin.value()))
            self.slider.valueChanged.connect(self._slider_changed)
            layout.addWidget(self.slider, 1)
            self.spin.setFixedWidth(96)
            layout.addWidget(self.spin)
        else:
            layout.addWidget(self.spin, 1)

    def value(self) -> Any:
        if self.wide is not None:
            return int(self.wide.text() or 0)
        assert self.spin is not None
        return int(self.spin.value()) if self.integer else float(self.spin.value())

    def set_value(self, value: float) -> None:
        """Change the value as the creator would (commits)."""
        if self.wide is not None:
            self.wide.set_number(int(value))
            self._commit(int(value))
        else:
            assert self.spin is not None
            self.spin.setValue(value)

    def show_value(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        self._syncing = True
        try:
            if self.wide is not None:
                self.wide.set_number(value)
                return
            assert self.spin is not None
            self.spin.setValue(value)
            if self.slider is not None:
                self.slider.setValue(self._position(value))
        finally:
            self._syncing = False

    def _position(self, value: float) -> int:
        return round((float(value) - self.low) / (self.high - self.low) * self.positions)

    def _from_position(self, position: int) -> float:
        value = self.low + (self.high - self.low) * position / self.positions
        return round(value) if self.integer else value

    def _spin_changed(self, value: float) -> None:
        if self._syncing:
            return
        if self.slider is not None:
            self.slider.blockSignals(True)
            self.slider.setValue(self._position(value))
            self.slider.blockSignals(False)
        self._commit(value)

    def _slider_moved(self, position: int) -> None:
        assert self.spin is not None
        self.spin.blockSignals(True)
        self.spin.setValue(self._from_position(position))
        self.spin.blockSignals(False)

    def _slider_changed(self, position: int) -> None:
        if self._syncing or (self.slider is not None and self.slider.isSliderDown()):
            return
        assert self.spin is not None
        self.spin.setValue(self._from_position(position))  # commits through _spin_changed

    def _commit(self, value: float) -> None:
        if not self._syncing:
            self.committed.emit(int(value) if self.integer else float(value))


def _decimals(step: float | None) -> int:
    if not step:
        return 3
    return max(1, min(6, math.ceil(-math.log10(step) - 1e-9)))


def _default_step(low: float | None, high: float | None) -> float:
    if low is not None and high is not None and high > low:
        return 10 ** math.floor(math.log10((high - low) / 100)) if high - low > 0 else 0.1
    return 0.1


class SeedEditor(InputEditor):
    """A seed: type it, roll a new one, or unlock it so every run rolls a new one."""

    lockToggled = Signal(bool)

    def __init__(self, item: Input, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low = int(item.min) if item.min is not None else 0
        self.high = int(item.max) if item.max is not None else 2**64 - 1
        self.field = WideIntEdit(self.low, self.high, self)
        self.field.valueEdited.connect(self.committed.emit)
        self.randomize_button = tool_button(self, "dice", "Roll a new random seed")
        self.randomize_button.clicked.connect(self.randomize)
        self.lock_button = tool_button(self, "lock", "")
        self.lock_button.setCheckable(True)
        self.lock_button.toggled.connect(self._lock_toggled)
        layout = row_layout(self)
        layout.addWidget(self.field, 1)
        layout.addWidget(self.randomize_button)
        layout.addWidget(self.lock_button)
        self.set_locked(True)

    def randomize(self) -> None:
        value = self.low + secrets.randbelow(self.high - self.low + 1)
        self.field.set_number(value)
        self.committed.emit(value)

    def show_value(self, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            self.field.set_number(value)

    def set_locked(self, locked: bool) -> None:
        """Show the lock without emitting: locked keeps the seed, unlocked rolls one each run."""
        self.lock_button.blockSignals(True)
        self.lock_button.setChecked(locked)
        self.lock_button.blockSignals(False)
        self._show_lock(locked)

    def _show_lock(self, locked: bool) -> None:
        self.lock_button.setIcon(icon("lock" if locked else "unlock"))
        self.lock_button.setToolTip("Locked: every run uses this seed (click to roll a new seed on each run)"
                                    if locked else "Unlocked: each run rolls a new seed (click to keep this one)")

    def _lock_toggled(self, locked: bool) -> None:
        self._show_lock(locked)
        self.lockToggled.emit(locked)
