"""The Live Sketch panel's tool bar: pen, eraser and fill, colour and brush size,
undo/redo, clear, importing a picture, the canvas size, and how the painted picture
is shown (beside the canvas, or over it at an opacity)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup, QColorDialog, QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QSlider, QToolButton, QWidget,
)

from desktop.live_canvas_edits import ERASER, FILL, PEN
from desktop.live_canvas_widget import LARGEST_BRUSH, SMALLEST_BRUSH, LiveCanvasWidget
from desktop.live_icons import live_icon

SIDE_BY_SIDE = "side by side"
OVERLAY = "overlay"
#: Ink, paper and a few strong colours, one click away.
PRESET_COLOURS = ("#1b1f24", "#ffffff", "#8a94a0", "#e84545", "#ff9f1c", "#ffd93d", "#3fbf6f", "#2f80ed",
                  "#9b5de5")
CANVAS_SIZES = ((512, 512), (768, 768), (1024, 1024), (768, 512), (512, 768), (256, 256))


def _separator(parent: QWidget) -> QFrame:
    line = QFrame(parent)
    line.setObjectName("liveSeparator")
    line.setFixedSize(1, 22)
    return line


class LiveToolbar(QWidget):
    """Drives a :class:`LiveCanvasWidget`; ``importRequested`` asks the panel for a
    picture file, ``viewModeChanged(mode)`` switches side by side / overlay."""

    importRequested = Signal()
    viewModeChanged = Signal(str)

    def __init__(self, canvas: LiveCanvasWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("liveToolbar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.canvas = canvas
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 5, 8, 5)
        layout.setSpacing(4)

        self.tools = QButtonGroup(self)
        self.tool_buttons: dict[str, QToolButton] = {}
        for tool, tip in ((PEN, "Pen (B): a tablet's pressure thins the line"),
                          (ERASER, "Eraser (E): uncovers the imported picture, if any"),
                          (FILL, "Fill (G): fills the area you click with the colour")):
            button = self._button(tool, tip, checkable=True)
            button.clicked.connect(lambda checked=False, chosen=tool: canvas.set_tool(chosen))
            self.tools.addButton(button)
            self.tool_buttons[tool] = button
            layout.addWidget(button)
        self.tool_buttons[canvas.tool].setChecked(True)
        canvas.toolChanged.connect(lambda tool: self.tool_buttons[tool].setChecked(True))
        layout.addWidget(_separator(self))

        self.swatch = QPushButton(self)
        self.swatch.setObjectName("liveSwatch")
        self.swatch.setToolTip("Pick the colour of the pen and the fill")
        self.swatch.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.swatch.clicked.connect(self.pick_colour)
        layout.addWidget(self.swatch)
        for colour in PRESET_COLOURS:
            chip = QToolButton(self)
            chip.setObjectName("liveColourChip")
            chip.setStyleSheet(f"QToolButton#liveColourChip {{ background-color: {colour}; }}")
            chip.setToolTip(colour)
            chip.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            chip.clicked.connect(lambda checked=False, chosen=colour: self.set_colour(QColor(chosen)))
            layout.addWidget(chip)
        self._show_colour(canvas.colour)
        layout.addWidget(_separator(self))

        size_label = QLabel("Size", self)
        size_label.setObjectName("liveToolLabel")
        layout.addWidget(size_label)
        self.size_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.size_slider.setRange(SMALLEST_BRUSH, LARGEST_BRUSH)
        self.size_slider.setValue(round(canvas.brush_size))
        self.size_slider.setFixedWidth(110)
        self.size_slider.setToolTip("Brush size in canvas pixels ([ and ] while drawing)")
        self.size_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.size_slider.valueChanged.connect(lambda value: canvas.set_brush_size(value))
        self.size_value = QLabel(self)
        self.size_value.setObjectName("liveToolValue")
        self.size_value.setMinimumWidth(44)
        layout.addWidget(self.size_slider)
        layout.addWidget(self.size_value)
        canvas.brushChanged.connect(self._show_brush)
        self._show_brush(canvas.brush_size)
        layout.addWidget(_separator(self))

        self.undo_button = self._button("undo", "Undo the last stroke (Ctrl+Z)")
        self.redo_button = self._button("redo", "Redo (Ctrl+Shift+Z)")
        self.undo_button.clicked.connect(canvas.undo_stack.undo)
        self.redo_button.clicked.connect(canvas.undo_stack.redo)
        self.undo_button.setEnabled(False)
        self.redo_button.setEnabled(False)
        canvas.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        canvas.undo_stack.canRedoChanged.connect(self.redo_button.setEnabled)
        clear_button = self._button("clear", "Clear the canvas: the drawing and the imported picture (Undo brings "
                                             "them back)")
        clear_button.clicked.connect(canvas.clear)
        import_button = self._button("image", "Import a picture as the base layer (or drop one on the canvas)")
        import_button.clicked.connect(self.importRequested)
        for button in (self.undo_button, self.redo_button, clear_button, import_button):
            layout.addWidget(button)
        self.size_combo = QComboBox(self)
        self.size_combo.setObjectName("liveCanvasSize")
        self.size_combo.setToolTip("The canvas size; the drawing is scaled with it")
        self.size_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for width, height in CANVAS_SIZES:
            self.size_combo.addItem(f"{width} × {height}", f"{width}x{height}")
        self.size_combo.activated.connect(self._choose_canvas_size)
        canvas.changed.connect(lambda ongoing: self._show_canvas_size())
        layout.addWidget(self.size_combo)
        layout.addStretch(1)

        self.view_buttons: dict[str, QToolButton] = {}
        self.views = QButtonGroup(self)
        for mode, icon_name, tip in ((SIDE_BY_SIDE, "side-by-side", "Side by side: the picture beside the canvas"),
                                     (OVERLAY, "overlay", "Overlay: the picture over the canvas, at the "
                                                          "opacity beside")):
            button = self._button(icon_name, tip, checkable=True)
            button.clicked.connect(lambda checked=False, chosen=mode: self.set_view_mode(chosen))
            self.views.addButton(button)
            self.view_buttons[mode] = button
            layout.addWidget(button)
        self.view_buttons[SIDE_BY_SIDE].setChecked(True)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(canvas.overlay_opacity * 100))
        self.opacity_slider.setFixedWidth(90)
        self.opacity_slider.setToolTip("How strongly the picture covers the canvas")
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_slider.setEnabled(False)
        self.opacity_slider.valueChanged.connect(lambda value: canvas.set_overlay_opacity(value / 100))
        layout.addWidget(self.opacity_slider)
        self.view_mode = SIDE_BY_SIDE

    def _button(self, icon_name: str, tip: str, checkable: bool = False) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(live_icon(icon_name))
        button.setIconSize(QSize(18, 18))
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def set_view_mode(self, mode: str) -> None:
        self.view_mode = mode
        self.view_buttons[mode].setChecked(True)
        self.opacity_slider.setEnabled(mode == OVERLAY)
        self.viewModeChanged.emit(mode)

    def set_colour(self, colour: QColor) -> None:
        self.canvas.set_colour(colour)
        self._show_colour(colour)
        if self.canvas.tool == ERASER:
            self.canvas.set_tool(PEN)

    def pick_colour(self) -> None:
        colour = QColorDialog.getColor(self.canvas.colour, self, "Pen colour")
        if colour.isValid():
            self.set_colour(colour)

    def _show_colour(self, colour: QColor) -> None:
        self.swatch.setStyleSheet(f"QPushButton#liveSwatch {{ background-color: {colour.name()}; }}")

    def _show_brush(self, size: float) -> None:
        self.size_slider.blockSignals(True)
        self.size_slider.setValue(round(size))
        self.size_slider.blockSignals(False)
        self.size_value.setText(f"{size:.0f} px")

    def _choose_canvas_size(self, index: int) -> None:
        width, height = (int(side) for side in str(self.size_combo.itemData(index)).split("x"))
        self.canvas.set_canvas_size(width, height)

    def _show_canvas_size(self) -> None:
        size = self.canvas.canvas_size()
        key = f"{size.width()}x{size.height()}"
        index = self.size_combo.findData(key)
        if index < 0:
            self.size_combo.addItem(f"{size.width()} × {size.height()}", key)
            index = self.size_combo.count() - 1
        self.size_combo.setCurrentIndex(index)
