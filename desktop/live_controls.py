"""The Live Sketch panel's settings column: prompt and negative, the style (a
checkpoint from the models folder and an optional LoRA), strength, steps, seed and
the size the picture is painted at.

``changed(ongoing)`` fires on every edit, ``ongoing`` while more is likely to come
(a key typed, a slider dragged), so the session waits its adaptive pause rather than
painting each keystroke. ``modelChosen(ModelRef)`` when the style changes; the panel
then prefills steps, strength and guidance from the model's few-step recipe.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QSlider, QSpinBox,
    QToolButton, QVBoxLayout, QWidget,
)

from desktop.input_widgets import ComboBox
from desktop.live_icons import live_icon
from desktop.number_inputs import WideIntEdit
from gpu.live_settings import LiveSettings, recipe_for
from nodes.generation import IMAGE_FAMILIES
from nodes.library.core import SEED_MAX
from nodes.models import CHECKPOINT, LORA, ModelEntry, ModelRef, scan_models

PAINT_SIZES = (128, 256, 384, 512, 768, 1024)
DEFAULT_PAINT_SIZE = 512
MOST_STEPS = 50
NO_LORA = "No LoRA"
#: New seeds come from 0 to 2³² − 1: any seed works, and these stay readable in the field.
ROLLED_SEEDS = 2**32


def live_checkpoints(entries: list[ModelEntry]) -> list[ModelEntry]:
    """Checkpoints that can paint a sketch, few-step ones (SD-Turbo, LCM...) first."""
    usable = [entry for entry in entries if entry.kind == CHECKPOINT and entry.family in IMAGE_FAMILIES]
    return sorted(usable, key=lambda entry: (recipe_for(ModelRef(str(entry.path))).words == (), entry.name.lower()))


def section(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text.upper(), parent)
    label.setObjectName("liveSection")
    return label


class _RescanningCombo(ComboBox):  # type: ignore[misc, valid-type]
    """A combo box that looks in the models folder again each time it opens."""

    opening = Signal()

    def showPopup(self) -> None:
        self.opening.emit()
        super().showPopup()


class LiveControls(QWidget):
    changed = Signal(bool)
    modelChosen = Signal(object)

    def __init__(self, models_root: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("liveControls")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.models_root = models_root
        self.checkpoints: list[ModelEntry] = []
        self.loras: list[ModelEntry] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)

        layout.addWidget(section("Prompt", self))
        self.prompt = QPlainTextEdit(self)
        self.prompt.setObjectName("livePrompt")
        self.prompt.setPlaceholderText("What the sketch shows: a castle on a hill at dusk, watercolour…")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setFixedHeight(92)
        self.prompt.textChanged.connect(lambda: self.changed.emit(True))
        layout.addWidget(self.prompt)
        self.negative = QLineEdit(self)
        self.negative.setPlaceholderText("Leave out (negative prompt)")
        self.negative.textEdited.connect(lambda text: self.changed.emit(True))
        layout.addWidget(self.negative)

        layout.addSpacing(6)
        layout.addWidget(section("Style", self))
        self.model_combo = _RescanningCombo(self)
        self.model_combo.setObjectName("liveModel")
        self.model_combo.setToolTip(f"A checkpoint from {models_root / 'checkpoints'}")
        self.model_combo.opening.connect(self.rescan)
        self.model_combo.activated.connect(lambda index: self._emit_model())
        layout.addWidget(self.model_combo)
        lora_row = QHBoxLayout()
        lora_row.setSpacing(6)
        self.lora_combo = _RescanningCombo(self)
        self.lora_combo.setToolTip(f"A LoRA from {models_root / 'loras'} on top of the checkpoint")
        self.lora_combo.opening.connect(self.rescan)
        self.lora_combo.activated.connect(lambda index: self._emit_model())
        self.lora_weight = QDoubleSpinBox(self)
        self.lora_weight.setRange(-2.0, 2.0)
        self.lora_weight.setSingleStep(0.1)
        self.lora_weight.setValue(1.0)
        self.lora_weight.setToolTip("How strongly the LoRA applies")
        self.lora_weight.editingFinished.connect(self._emit_model)
        lora_row.addWidget(self.lora_combo, 1)
        lora_row.addWidget(self.lora_weight)
        layout.addLayout(lora_row)

        layout.addSpacing(6)
        layout.addWidget(section("Painting", self))
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        self.strength = QSlider(Qt.Orientation.Horizontal, self)
        self.strength.setRange(0, 100)
        self.strength.setToolTip("How far the sketch is repainted: low keeps your lines, high invents more")
        self.strength.valueChanged.connect(self._strength_moved)
        self.strength.sliderReleased.connect(lambda: self.changed.emit(False))
        self.strength_value = QLabel(self)
        self.strength_value.setObjectName("liveValue")
        self.strength_value.setMinimumWidth(34)
        self.steps = QSpinBox(self)
        self.steps.setRange(1, MOST_STEPS)
        self.steps.setToolTip("Denoising steps: 1–4 for SD-Turbo, LCM and the like")
        self.steps.valueChanged.connect(lambda value: self.changed.emit(True))
        self.paint_size = QComboBox(self)
        self.paint_size.setToolTip("The longer side of the painted picture: smaller paints faster")
        for size in PAINT_SIZES:
            self.paint_size.addItem(f"{size} px", size)
        self.paint_size.setCurrentIndex(PAINT_SIZES.index(DEFAULT_PAINT_SIZE))
        self.paint_size.activated.connect(lambda index: self.changed.emit(False))
        self.seed = WideIntEdit(0, SEED_MAX, self)
        self.seed.setToolTip("The same seed keeps the picture steady between strokes")
        self.seed.valueEdited.connect(lambda value: self.changed.emit(False))
        self.dice = QToolButton(self)
        self.dice.setIcon(live_icon("dice"))
        self.dice.setIconSize(QSize(16, 16))
        self.dice.setToolTip("A new seed: another picture for the same sketch")
        self.dice.clicked.connect(self.roll_seed)
        strength_row = QHBoxLayout()
        strength_row.addWidget(self.strength, 1)
        strength_row.addWidget(self.strength_value)
        seed_row = QHBoxLayout()
        seed_row.setSpacing(4)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        for row, (name, field) in enumerate((("Strength", strength_row), ("Steps", self.steps),
                                             ("Size", self.paint_size), ("Seed", seed_row))):
            label = QLabel(name, self)
            label.setObjectName("liveFieldLabel")
            grid.addWidget(label, row, 0)
            if isinstance(field, QHBoxLayout):
                grid.addLayout(field, row, 1)
            else:
                grid.addWidget(field, row, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self.show_settings(LiveSettings(strength=0.5, seed=0, size=DEFAULT_PAINT_SIZE))
        self.rescan()

    # ----- the models folder ---------------------------------------------------------------
    def rescan(self) -> list[ModelEntry]:
        """Look in the models folder again; the current choice stays when it is still there."""
        entries = scan_models(self.models_root)
        chosen, lora = self.model_combo.currentData(), self.lora_combo.currentData()
        self.checkpoints = live_checkpoints(entries)
        self.loras = [entry for entry in entries if entry.kind == LORA]
        for combo, found, first in ((self.model_combo, self.checkpoints, None), (self.lora_combo, self.loras, NO_LORA)):
            combo.blockSignals(True)
            combo.clear()
            if first is not None:
                combo.addItem(first, "")
            for entry in found:
                combo.addItem(entry.name, str(entry.path))
                combo.setItemData(combo.count() - 1, str(entry.path), Qt.ItemDataRole.ToolTipRole)
            combo.blockSignals(False)
        self._select(self.model_combo, chosen)
        self._select(self.lora_combo, lora)
        self.lora_combo.setEnabled(bool(self.loras))
        self.lora_weight.setEnabled(bool(self.loras))
        return self.checkpoints

    @staticmethod
    def _select(combo: QComboBox, data: object) -> None:
        index = combo.findData(data) if data else -1
        if index >= 0:
            combo.setCurrentIndex(index)

    def chosen_model(self) -> ModelRef | None:
        """The checkpoint (with its LoRA) picked; None when the folder has none."""
        source = self.model_combo.currentData()
        if not source:
            return None
        entry = next((entry for entry in self.checkpoints if str(entry.path) == source), None)
        model = ModelRef(source, family=entry.family if entry is not None else "unknown")
        lora = self.lora_combo.currentData()
        if lora:
            model = model.with_lora(ModelRef(lora, LORA), self.lora_weight.value())
        return model

    def select_model(self, model: ModelRef) -> None:
        """Show ``model`` as the choice (added to the list when it is not in the folder)."""
        self.model_combo.blockSignals(True)
        if self.model_combo.findData(model.source) < 0:
            self.model_combo.addItem(model.name, model.source)
        self.model_combo.setCurrentIndex(self.model_combo.findData(model.source))
        self.model_combo.blockSignals(False)
        lora, weight = model.loras[0] if model.loras else (None, 1.0)
        self.lora_combo.blockSignals(True)
        if lora is not None and self.lora_combo.findData(lora.source) < 0:
            self.lora_combo.addItem(lora.name, lora.source)
        self.lora_combo.setCurrentIndex(max(0, self.lora_combo.findData(lora.source if lora is not None else "")))
        self.lora_combo.blockSignals(False)
        self.lora_weight.setValue(weight)

    def _emit_model(self) -> None:
        model = self.chosen_model()
        if model is not None:
            self.modelChosen.emit(model)

    # ----- settings in and out --------------------------------------------------------------------
    def settings(self, base: LiveSettings) -> LiveSettings:
        """``base`` with what the fields say."""
        return replace(base, prompt=self.prompt.toPlainText().strip(), negative=self.negative.text().strip(),
                       strength=self.strength.value() / 100, steps=self.steps.value(), seed=self.seed_value(base),
                       size=int(self.paint_size.currentData()))

    def seed_value(self, base: LiveSettings) -> int:
        try:
            return min(SEED_MAX, max(0, int(self.seed.text())))
        except ValueError:
            return base.seed

    def show_settings(self, settings: LiveSettings) -> None:
        """Show ``settings`` in the fields without emitting ``changed``."""
        fields = (self.prompt, self.negative, self.strength, self.steps, self.paint_size, self.seed)
        for field in fields:
            field.blockSignals(True)
        if self.prompt.toPlainText().strip() != settings.prompt:
            self.prompt.setPlainText(settings.prompt)
        if self.negative.text().strip() != settings.negative:
            self.negative.setText(settings.negative)
        self.strength.setValue(round(settings.strength * 100))
        self.steps.setValue(settings.steps)
        index = self.paint_size.findData(settings.size)
        if index < 0:
            self.paint_size.addItem(f"{settings.size} px" if settings.size else "canvas size", settings.size)
            index = self.paint_size.count() - 1
        self.paint_size.setCurrentIndex(index)
        self.seed.set_number(settings.seed)
        for field in fields:
            field.blockSignals(False)
        self.strength_value.setText(f"{settings.strength:.2f}")

    def roll_seed(self) -> None:
        self.seed.set_number(secrets.randbelow(ROLLED_SEEDS))
        self.changed.emit(False)

    def _strength_moved(self, value: int) -> None:
        self.strength_value.setText(f"{value / 100:.2f}")
        self.changed.emit(self.strength.isSliderDown())
