"""The node inspector: an editor for every input of the selected node, generated
from its spec, so a new node type needs no GUI code.

Every change goes through ``document.set_value`` (one undo step each) and the
inspector follows the document's signals, so undo, redo and edits on the canvas show
here at once. Linked inputs say which node feeds them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QScrollArea, QVBoxLayout, QWidget

from desktop.document import ConnectionRefused, WorkflowDocument
from desktop.file_inputs import IMAGE_FILTER, ColourEditor, FileEditor, ImageDropTarget, ModelEditor
from desktop.input_widgets import (
    BoolEditor, ChoiceEditor, InputEditor, JsonEditor, LinkedView, MultilineEditor, TextEditor, UnlinkedView,
)
from desktop.number_inputs import NumberEditor, SeedEditor
from nodes.graph import is_link
from nodes.spec import MISSING, Input, NodeSpec
from nodes.types import ANY, BOOLEAN, FLOAT, IMAGE, INT, MASK, STRING

#: Node field listing a node's seed inputs that roll a new seed on every run.
RANDOMIZE_FIELD = "randomize_seeds"
LINKED, TYPED, PICTURE, SOCKET = "linked", "typed", "picture", "socket"


class Inspector(QWidget):
    """Shows and edits one node; with none or several selected, says so."""

    def __init__(self, document: WorkflowDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None
        self.editors: dict[str, InputEditor] = {}
        self._kinds: dict[str, str] = {}
        self._linked_sources: set[str] = set()
        self._rebuild_pending = False
        self._built_for: object = None

        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        self.form_widget: QWidget | None = None
        self._show_message("Select a node to see and change its inputs.")

        document.inputChanged.connect(self._input_changed)
        document.fieldChanged.connect(self._field_changed)
        document.nodeRemoved.connect(self._node_removed)
        document.reset.connect(self._document_replaced)

    # ----- what to show -----------------------------------------------------------------------
    def show_selection(self, node_ids: list[str]) -> None:
        if len(node_ids) == 1:
            self.show_node(node_ids[0])
        elif node_ids:
            self.show_node(None, f"{len(node_ids)} nodes selected. Select one to change its inputs.")
        else:
            self.show_node(None)

    def show_node(self, node_id: str | None, message: str = "Select a node to see and change its inputs.") -> None:
        self.commit_pending()
        if node_id is not None and node_id not in self.document.graph.nodes:
            node_id = None
        self.node_id = node_id
        if node_id is None:
            self._show_message(message)
        else:
            self._build()

    def editor(self, name: str) -> InputEditor:
        """The editor of one input of the node shown (tests, keyboard focus), up to date."""
        self._rebuild_now()
        return self.editors[name]

    def commit_pending(self) -> None:
        """Hand over what is being typed (called before a run and when the selection changes).

        Not after another workflow replaced the one the editors belong to: its node ids
        may be reused, and the typing belonged to the old workflow."""
        if self.document.graph is not self._built_for:
            return
        for editor in list(self.editors.values()):
            editor.commit_pending()

    # ----- building ---------------------------------------------------------------------------
    def _show_message(self, message: str) -> None:
        self.editors.clear()
        self._kinds.clear()
        self._linked_sources.clear()
        body = QWidget()
        body.setObjectName("inspectorForm")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(16, 16, 16, 16)
        label = QLabel(message, body)
        label.setObjectName("hint")
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(label)
        layout.addStretch(1)
        self._set_body(body)

    def _set_body(self, body: QWidget) -> None:
        old = self.scroll.takeWidget()
        self.scroll.setWidget(body)
        self.form_widget = body
        if old is not None:
            old.deleteLater()

    def _build(self) -> None:
        assert self.node_id is not None
        self._rebuild_pending = False
        self.editors.clear()
        self._kinds.clear()
        self._linked_sources.clear()
        node = self.document.graph.nodes[self.node_id]
        spec: NodeSpec | None = self.document.spec(self.node_id)
        self._built_for = self.document.graph
        body = QWidget()
        body.setObjectName("inspectorForm")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(12, 10, 12, 12)
        layout.setSpacing(6)

        self.title_field = QLineEdit(node.title or (spec.display_name if spec else node.type), body)
        self.title_field.setObjectName("inspectorTitleField")
        self.title_field.setToolTip("The node's title on the canvas")
        self.title_field.editingFinished.connect(self._title_edited)
        layout.addWidget(self.title_field)
        kind = QLabel(f"{node.type}  ·  node {self.node_id}", body)
        kind.setObjectName("inspectorType")
        layout.addWidget(kind)
        if spec is None:
            missing = QLabel("This node type is not installed, so its inputs cannot be edited. "
                             "Install the node pack that provides it.", body)
            missing.setObjectName("requiredLabel")
            missing.setWordWrap(True)
            layout.addWidget(missing)
            layout.addStretch(1)
            self._set_body(body)
            return
        if spec.description:
            description = QLabel(spec.description, body)
            description.setObjectName("inspectorDescription")
            description.setWordWrap(True)
            layout.addWidget(description)

        form = QFormLayout()
        form.setContentsMargins(0, 8, 0, 0)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(8)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for item in spec.inputs:
            label = QLabel(item.name.replace("_", " "), body)
            label.setObjectName("inputLabel")
            label.setToolTip(_input_tip(item))
            editor = self._editor_for(item, spec, body)
            editor.setToolTip(_input_tip(item))
            self.editors[item.name] = editor
            form.addRow(label, editor)
        layout.addLayout(form)
        if not spec.inputs:
            none = QLabel("This node has no inputs.", body)
            none.setObjectName("hint")
            layout.addWidget(none)
        layout.addStretch(1)
        self._set_body(body)

    def _editor_for(self, item: Input, spec: NodeSpec, parent: QWidget) -> InputEditor:
        assert self.node_id is not None
        node_id, name = self.node_id, item.name
        value = self.document.graph.nodes[node_id].inputs.get(name)
        kind = _kind(item, value)
        self._kinds[name] = kind
        if kind == LINKED:
            editor: InputEditor = LinkedView(parent)
            editor.show_link(self._link_text(value))
            self._linked_sources.add(value[0])
            return editor
        if kind == PICTURE:
            target = ImageDropTarget(item, parent)
            target.fileChosen.connect(lambda path: self.load_picture_into(node_id, name, path))
            return target
        if kind == SOCKET:
            return UnlinkedView(item, parent)
        editor = _typed_editor(item, spec, parent)
        if isinstance(editor, SeedEditor):
            editor.set_locked(name not in (self.document.field(node_id, RANDOMIZE_FIELD) or []))
            editor.lockToggled.connect(lambda locked: self._seed_lock_toggled(node_id, name, locked))
        inputs = self.document.graph.nodes[node_id].inputs
        editor.show_value(inputs[name] if name in inputs else (None if item.default is MISSING else item.default))
        editor.committed.connect(lambda new_value: self._commit(node_id, name, new_value))
        return editor

    def _link_text(self, link: list[str]) -> str:
        source, output = link
        node = self.document.graph.nodes.get(source)
        if node is None:
            return f"linked to a missing node ({source})"
        spec = self.document.registry.get(node.type)
        title = node.title or (spec.display_name if spec else node.type)
        return f"linked to {title} ({source}) · {output}"

    # ----- edits ------------------------------------------------------------------------------
    def _commit(self, node_id: str, name: str, value: Any) -> None:
        if self.document.graph is self._built_for and node_id in self.document.graph.nodes:
            self.document.set_value(node_id, name, value)

    def _title_edited(self) -> None:
        if self.node_id is None:
            return
        node = self.document.graph.nodes[self.node_id]
        spec = self.document.spec(self.node_id)
        text = self.title_field.text().strip()
        default = spec.display_name if spec else node.type
        title = "" if text == default else text
        if title != node.title:
            self.document.set_title(self.node_id, title)

    def _seed_lock_toggled(self, node_id: str, name: str, locked: bool) -> None:
        rolling = [item for item in (self.document.field(node_id, RANDOMIZE_FIELD) or []) if item != name]
        if not locked:
            rolling.append(name)
        self.document.set_field([node_id], RANDOMIZE_FIELD, rolling or None,
                                "Lock seed" if locked else "Roll a new seed on every run")

    def load_picture_into(self, node_id: str, name: str, path: str) -> str | None:
        """Add an image.Load node for ``path`` left of the node and link it to ``name``:
        one undo step. Returns the new node's id (None when the link is refused)."""
        document = self.document
        reader = document.graph.nodes[node_id]
        wanted = document.spec(node_id).inputs_by_name[name].type
        output = "mask" if wanted == MASK else "image"
        stack = document.undo_stack
        stack.beginMacro("Load a picture")
        try:
            loader = document.add_node("image.Load", (reader.pos[0] - 280, reader.pos[1]), {"path": path})
            document.connect(loader, output, node_id, name)
        except (ConnectionRefused, ValueError):
            stack.endMacro()
            stack.undo()
            return None
        stack.endMacro()
        return loader

    # ----- following the document ----------------------------------------------------------------
    def _input_changed(self, node_id: str, name: str) -> None:
        if node_id != self.node_id or name not in self.editors:
            return
        value = self.document.graph.nodes[node_id].inputs.get(name)
        spec = self.document.spec(node_id)
        item = spec.inputs_by_name[name] if spec else None
        if item is None or _kind(item, value) != self._kinds.get(name) or self._kinds[name] == LINKED:
            self._rebuild_later()
        else:
            self.editors[name].show_value(value)

    def _field_changed(self, node_id: str, name: str) -> None:
        if self.node_id is None:
            return
        if node_id == self.node_id and name == "title":
            node = self.document.graph.nodes[node_id]
            spec = self.document.spec(node_id)
            self.title_field.setText(node.title or (spec.display_name if spec else node.type))
        elif node_id == self.node_id and name == RANDOMIZE_FIELD:
            rolling = self.document.field(node_id, RANDOMIZE_FIELD) or []
            for input_name, editor in self.editors.items():
                if isinstance(editor, SeedEditor):
                    editor.set_locked(input_name not in rolling)
        elif name == "title" and node_id in self._linked_sources:
            self._rebuild_later()

    def _document_replaced(self) -> None:
        """Another workflow: what was typed belonged to the old one (whose node ids the
        new one may reuse), so it is dropped, not committed."""
        self.editors.clear()
        self.node_id = None
        self._rebuild_pending = False
        self._show_message("Select a node to see and change its inputs.")

    def _node_removed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.node_id = None
            self._show_message("Select a node to see and change its inputs.")
        elif node_id in self._linked_sources:
            self._rebuild_later()

    def _rebuild_later(self) -> None:
        """Rebuild after the current signal returns: the editor that sent it may be replaced."""
        if not self._rebuild_pending:
            self._rebuild_pending = True
            QTimer.singleShot(0, self._rebuild_now)

    def _rebuild_now(self) -> None:
        if not self._rebuild_pending:
            return
        self._rebuild_pending = False
        if self.node_id is not None and self.node_id in self.document.graph.nodes:
            self._build()


def _kind(item: Input, value: Any) -> str:
    if is_link(value):
        return LINKED
    if item.accepts_constant:
        return TYPED
    if item.type in (IMAGE, MASK):
        return PICTURE
    return SOCKET


def _typed_editor(item: Input, spec: NodeSpec, parent: QWidget) -> InputEditor:
    widget = item.widget or ""
    if item.choices is not None:
        return ChoiceEditor(item.choices, parent)
    if widget == "seed" and item.type == INT:
        return SeedEditor(item, parent)
    if item.type == INT:
        return NumberEditor(item, True, parent)
    if item.type == FLOAT:
        return NumberEditor(item, False, parent)
    if item.type == BOOLEAN:
        return BoolEditor(parent)
    if item.type == STRING:
        if widget == "file":
            pictures = any(output.type == IMAGE for output in spec.outputs)
            return FileEditor(IMAGE_FILTER if pictures else "All files (*)", parent)
        if widget == "color":
            return ColourEditor(parent)
        if widget.startswith("model:"):
            return ModelEditor(widget.split(":", 1)[1], parent)
        if item.multiline:
            return MultilineEditor(parent)
        return TextEditor("", parent)
    if item.type == ANY:
        return JsonEditor("a number, true/false, JSON or text", parent)
    return JsonEditor("", parent)


def _input_tip(item: Input) -> str:
    parts = [f"{item.name}: {item.type}"]
    if item.min is not None or item.max is not None:
        low = "…" if item.min is None else f"{item.min:g}"
        high = "…" if item.max is None else f"{item.max:g}"
        parts.append(f"range {low} to {high}")
    if item.optional:
        parts.append("optional")
    text = ", ".join(parts)
    if item.description:
        text += f"\n{item.description}"
    return text
