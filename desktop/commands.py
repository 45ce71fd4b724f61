"""One QUndoCommand per edit of a workflow, so every change can be undone and redone.

Commands only call the document's low-level mutators (``_insert``, ``_delete``,
``_write_input``...), which emit the signals the views listen to. Consecutive moves
of the same nodes from one drag merge into a single undo step.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from nodes.graph import GraphNode, is_link

if TYPE_CHECKING:
    from desktop.document import WorkflowDocument

MOVE_COMMAND_ID = 1001


class _Absent:
    """Marks an input that has no value; survives ``copy.deepcopy`` (the commands copy
    every value they keep), so ``value is MISSING`` stays true after a copy."""

    def __copy__(self) -> "_Absent":
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> "_Absent":
        return self

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Absent()


class AddNode(QUndoCommand):
    def __init__(self, document: "WorkflowDocument", node_id: str, node: GraphNode) -> None:
        super().__init__(f"Add {node.type}")
        self.document, self.node_id, self.node = document, node_id, node

    def redo(self) -> None:
        self.document._insert(self.node_id, copy.deepcopy(self.node))

    def undo(self) -> None:
        self.document._delete(self.node_id)


class RemoveNodes(QUndoCommand):
    """Removes nodes and every link that reads from them; undo puts all of it back."""

    def __init__(self, document: "WorkflowDocument", node_ids: list[str]) -> None:
        super().__init__(f"Delete {len(node_ids)} node(s)")
        self.document = document
        graph = document.graph
        self.order = list(graph.nodes)
        self.removed = {node_id: copy.deepcopy(graph.nodes[node_id]) for node_id in node_ids}
        self.cut_links: list[tuple[str, str, Any]] = [
            (reader, name, list(value))
            for reader, node in graph.nodes.items() if reader not in self.removed
            for name, value in node.inputs.items() if is_link(value) and value[0] in self.removed
        ]

    def redo(self) -> None:
        for reader, name, _ in self.cut_links:
            self.document._write_input(reader, name, MISSING)
        for node_id in self.removed:
            self.document._delete(node_id)

    def undo(self) -> None:
        for node_id, node in self.removed.items():
            self.document._insert(node_id, copy.deepcopy(node), self.order.index(node_id))
        for reader, name, value in self.cut_links:
            self.document._write_input(reader, name, list(value))


class SetInputs(QUndoCommand):
    """Changes inputs (typed-in values or links); MISSING removes an input."""

    def __init__(self, document: "WorkflowDocument", changes: list[tuple[str, str, Any]], text: str) -> None:
        super().__init__(text)
        self.document = document
        graph = document.graph
        self.changes = [(node_id, name, copy.deepcopy(value),
                         copy.deepcopy(graph.nodes[node_id].inputs.get(name, MISSING)))
                        for node_id, name, value in changes]

    def redo(self) -> None:
        for node_id, name, value, _ in self.changes:
            self.document._write_input(node_id, name, copy.deepcopy(value))

    def undo(self) -> None:
        for node_id, name, _, previous in reversed(self.changes):
            self.document._write_input(node_id, name, copy.deepcopy(previous))


class MoveNodes(QUndoCommand):
    def __init__(self, document: "WorkflowDocument", positions: dict[str, tuple[float, float]],
                 drag: int | None = None) -> None:
        super().__init__(f"Move {len(positions)} node(s)")
        self.document = document
        self.after = dict(positions)
        self.before = {node_id: tuple(document.graph.nodes[node_id].pos) for node_id in positions}
        self.drag = drag

    def id(self) -> int:
        return MOVE_COMMAND_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, MoveNodes) or other.drag is None or other.drag != self.drag \
                or other.after.keys() != self.after.keys():
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        for node_id, pos in self.after.items():
            self.document._write_field(node_id, "pos", [pos[0], pos[1]])

    def undo(self) -> None:
        for node_id, pos in self.before.items():
            self.document._write_field(node_id, "pos", [pos[0], pos[1]])


class SetFields(QUndoCommand):
    """Changes a node field (title, bypass, collapsed...) on several nodes."""

    def __init__(self, document: "WorkflowDocument", node_ids: list[str], field: str, value: Any, text: str) -> None:
        super().__init__(text)
        self.document, self.field, self.value = document, field, value
        self.before = {node_id: document.field(node_id, field) for node_id in node_ids}

    def redo(self) -> None:
        for node_id in self.before:
            self.document._write_field(node_id, self.field, copy.deepcopy(self.value))

    def undo(self) -> None:
        for node_id, value in self.before.items():
            self.document._write_field(node_id, self.field, copy.deepcopy(value))


class SetGroups(QUndoCommand):
    """Replaces the list of groups (frames); groups are few, so the whole list is kept."""

    def __init__(self, document: "WorkflowDocument", groups: list[dict[str, Any]], text: str) -> None:
        super().__init__(text)
        self.document = document
        self.after = copy.deepcopy(groups)
        self.before = copy.deepcopy(document.graph.groups)

    def redo(self) -> None:
        self.document._write_groups(copy.deepcopy(self.after))

    def undo(self) -> None:
        self.document._write_groups(copy.deepcopy(self.before))
