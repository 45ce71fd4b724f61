"""Inputs that point at things outside the graph: files (picked or dropped), colours,
models from the models folder, and pictures dropped on an unlinked image input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import (
    QColorDialog, QComboBox, QFileDialog, QFrame, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget,
)

from desktop.input_widgets import ComboBox, InputEditor, row_layout, tool_button
from nodes.spec import Input

IMAGE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif);;All files (*)"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def _dropped_file(event: QDragEnterEvent | QDropEvent, suffixes: set[str] | None = None) -> str | None:
    data = event.mimeData()
    if not data.hasUrls():
        return None
    for url in data.urls():
        if url.isLocalFile():
            path = url.toLocalFile()
            if suffixes is None or Path(path).suffix.lower() in suffixes:
                return path
    return None


class FileEditor(InputEditor):
    """A path: typed, picked in a dialog, or dropped onto the field from a file manager."""

    def __init__(self, file_filter: str = "All files (*)", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.file_filter = file_filter
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("drop a file here or pick one")
        self.field.editingFinished.connect(self.commit_pending)
        self.field.setAcceptDrops(False)
        browse = tool_button(self, "folder", "Pick a file")
        browse.clicked.connect(self.browse)
        layout = row_layout(self)
        layout.addWidget(self.field, 1)
        layout.addWidget(browse)
        self.setAcceptDrops(True)
        self._shown = ""

    def show_value(self, value: Any) -> None:
        self._shown = "" if value is None else str(value)
        self.field.setText(self._shown)
        self.field.setToolTip(self._shown)

    def commit_pending(self) -> None:
        if self.field.text() != self._shown:
            self.choose(self.field.text())

    def choose(self, path: str) -> None:
        self.show_value(path)
        self.committed.emit(path)

    def browse(self) -> None:
        start = str(Path(self._shown).parent) if self._shown else ""
        path, _ = QFileDialog.getOpenFileName(self, "Pick a file", start, self.file_filter)
        if path:
            self.choose(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_file(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_file(event)
        if path:
            self.choose(path)
            event.acceptProposedAction()


class ColourEditor(InputEditor):
    """A colour as text (#rrggbb or a name) with a swatch that opens a colour picker."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.swatch = QPushButton(self)
        self.swatch.setObjectName("swatch")
        self.swatch.setFixedHeight(24)
        self.swatch.setToolTip("Pick a colour")
        self.swatch.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.swatch.clicked.connect(self.pick)
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("#rrggbb or a name")
        self.field.editingFinished.connect(self.commit_pending)
        layout = row_layout(self)
        layout.addWidget(self.swatch)
        layout.addWidget(self.field, 1)
        self._shown = ""

    def show_value(self, value: Any) -> None:
        self._shown = "" if value is None else str(value)
        self.field.setText(self._shown)
        colour = QColor(self._shown.strip())
        shown = colour.name() if colour.isValid() else "transparent"
        self.swatch.setStyleSheet(f"QPushButton#swatch {{ background-color: {shown}; }}")

    def commit_pending(self) -> None:
        if self.field.text() != self._shown:
            text = self.field.text()
            self.show_value(text)
            self.committed.emit(text)

    def pick(self) -> None:
        colour = QColorDialog.getColor(QColor(self._shown.strip() or "#00ffea"), self, "Pick a colour")
        if colour.isValid():
            self.field.setText(colour.name())
            self.commit_pending()


class ModelEditor(InputEditor):
    """A model from the models folder (rescanned when the list opens), or a typed path or hub id."""

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.combo = _ModelCombo(self)
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.lineEdit().setPlaceholderText(f"pick a {kind.replace('_', ' ')} or type a path or hub id")
        self.combo.activated.connect(lambda index: self.commit_pending())
        self.combo.lineEdit().editingFinished.connect(self.commit_pending)
        row_layout(self).addWidget(self.combo)
        self._shown = ""
        self.rescan()

    def rescan(self) -> None:
        from nodes.models import FAMILIES, scan_models

        text = self.combo.currentText()
        self.combo.blockSignals(True)
        self.combo.clear()
        for entry in scan_models():
            if entry.kind == self.kind:
                self.combo.addItem(entry.name)
                family = FAMILIES.get(entry.family, entry.family)
                self.combo.setItemData(self.combo.count() - 1, f"{entry.path}\n{family}",
                                       Qt.ItemDataRole.ToolTipRole)
        self.combo.setEditText(text)
        self.combo.blockSignals(False)

    def names(self) -> list[str]:
        return [self.combo.itemText(index) for index in range(self.combo.count())]

    def show_value(self, value: Any) -> None:
        self._shown = "" if value is None else str(value)
        self.combo.setEditText(self._shown)

    def commit_pending(self) -> None:
        text = self.combo.currentText()
        if text != self._shown:
            self._shown = text
            self.committed.emit(text)


class _ModelCombo(ComboBox):  # type: ignore[misc, valid-type]
    def showPopup(self) -> None:
        editor = self.parent()
        if isinstance(editor, ModelEditor):
            editor.rescan()
        super().showPopup()



class ImageDropTarget(InputEditor):
    """An unlinked picture input: drop a picture file here (or click) to load it into
    a new image.Load node linked to this input."""

    fileChosen = Signal(str)

    def __init__(self, item: Input, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        frame = QFrame(self)
        frame.setObjectName("dropTarget")
        frame.setProperty("hovered", False)
        frame.setCursor(Qt.CursorShape.PointingHandCursor)
        frame.setToolTip("Drop a picture here, or click to pick one: it is loaded by a new image.Load node")
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(8, 8, 8, 8)
        needed = "needed" if item.required else "optional"
        text = QLabel(f"Drop a picture here, or link an {item.type} ({needed})", frame)
        text.setObjectName("unlinkedLabel" if not item.required else "requiredLabel")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setWordWrap(True)
        inner.addWidget(text)
        self.frame = frame
        row_layout(self).addWidget(frame)
        self.setAcceptDrops(True)

    def show_value(self, value: Any) -> None:
        pass

    def mousePressEvent(self, event: QMouseEvent) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pick a picture", "", IMAGE_FILTER)
        if path:
            self.fileChosen.emit(path)

    def _hover(self, hovered: bool) -> None:
        self.frame.setProperty("hovered", hovered)
        self.frame.style().unpolish(self.frame)
        self.frame.style().polish(self.frame)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_file(event, IMAGE_SUFFIXES):
            self._hover(True)
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: Any) -> None:
        self._hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._hover(False)
        path = _dropped_file(event, IMAGE_SUFFIXES)
        if path:
            event.acceptProposedAction()
            self.fileChosen.emit(path)
