"""The workflow being edited: a Graph plus an undo stack, and signals the views follow.

Every public edit pushes a command (``desktop/commands.py``), so undo and redo cover
everything. The low-level ``_insert``/``_delete``/``_write_*`` methods are for the
commands alone; they change the Graph and announce the change.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any, Iterable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from desktop.commands import MISSING, AddNode, MoveNodes, RemoveNodes, SetFields, SetGroups, SetInputs
from nodes.graph import Graph, GraphNode, is_link
from nodes.registry import NodeRegistry
from nodes.spec import MISSING as NO_DEFAULT
from nodes.types import can_connect

FRAGMENT_FORMAT = "reelgraph.fragment"
_drags = itertools.count(1)


class ConnectionRefused(ValueError):
    """A link the editor will not make; the message is the hint shown to the creator."""


class WorkflowDocument(QObject):
    nodeAdded = Signal(str)
    nodeRemoved = Signal(str)
    #: (node id, input name): a typed-in value or a link changed.
    inputChanged = Signal(str, str)
    #: (node id, field): "pos", "title", "bypass", "collapsed", ...
    fieldChanged = Signal(str, str)
    groupsChanged = Signal()
    #: The whole graph was replaced (open, new): views rebuild.
    reset = Signal()
    pathChanged = Signal(str)

    def __init__(self, registry: NodeRegistry, graph: Graph | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.graph = graph if graph is not None else Graph()
        self.path: Path | None = None
        self.undo_stack = QUndoStack(self)

    # ----- whole documents --------------------------------------------------------------
    def replace(self, graph: Graph, path: Path | None = None) -> None:
        """Show another workflow (open, new, recover); the undo history starts afresh."""
        self.graph = graph
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.path = path
        self.reset.emit()
        self.pathChanged.emit(str(path) if path else "")

    def mark_saved(self, path: Path) -> None:
        self.path = path
        self.undo_stack.setClean()
        self.pathChanged.emit(str(path))

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    # ----- reading -------------------------------------------------------------------
    def spec(self, node_id: str) -> Any:
        return self.registry.get(self.graph.nodes[node_id].type)

    def field(self, node_id: str, name: str) -> Any:
        node = self.graph.nodes[node_id]
        if name in ("title", "pos", "bypass", "type"):
            return copy.deepcopy(getattr(node, name))
        return copy.deepcopy(node.extra.get(name))

    def links(self) -> Iterable[tuple[str, str, str, str]]:
        """(source id, output name, reader id, input name) for every link."""
        for reader, node in self.graph.nodes.items():
            for name, source, output in node.links():
                yield source, output, reader, name

    # ----- edits (each one undoable) -------------------------------------------------------
    def add_node(self, type_name: str, pos: tuple[float, float] = (0, 0), inputs: dict[str, Any] | None = None,
                 title: str = "") -> str:
        spec = self.registry.get(type_name)
        if spec is None:
            raise ValueError(f"unknown node type {type_name!r}")
        values = {item.name: copy.deepcopy(item.default) for item in spec.inputs
                  if item.default is not NO_DEFAULT and item.accepts_constant and not item.optional}
        values.update(copy.deepcopy(inputs or {}))
        node_id = self.graph.free_id()
        self.undo_stack.push(AddNode(self, node_id, GraphNode(type_name, values, title, [pos[0], pos[1]])))
        return node_id

    def remove_nodes(self, node_ids: Iterable[str]) -> None:
        present = [node_id for node_id in node_ids if node_id in self.graph.nodes]
        if present:
            self.undo_stack.push(RemoveNodes(self, present))

    def set_value(self, node_id: str, name: str, value: Any) -> None:
        if self.graph.nodes[node_id].inputs.get(name, MISSING) != value:
            self.undo_stack.push(SetInputs(self, [(node_id, name, value)], f"Change {name}"))

    def check_connection(self, source: str, output: str, reader: str, name: str) -> None:
        """Raise ConnectionRefused with a hint when the link cannot be made."""
        source_spec, reader_spec = self.spec(source), self.spec(reader)
        if source == reader:
            raise ConnectionRefused("a node cannot read its own output")
        if source_spec is None or reader_spec is None:
            raise ConnectionRefused("one of these nodes has an unknown type")
        out_index = source_spec.output_index.get(output)
        item = reader_spec.inputs_by_name.get(name)
        if out_index is None or item is None:
            raise ConnectionRefused("there is no such socket")
        output_type = source_spec.outputs[out_index].type
        if not can_connect(output_type, item.type):
            raise ConnectionRefused(f"{name} takes {item.type}, not {output_type}: "
                                    f"link it to a node that gives {item.type}")
        if self._reaches(reader, source):
            raise ConnectionRefused("that link would make a loop; a node cannot depend on its own result")

    def connect(self, source: str, output: str, reader: str, name: str) -> None:
        self.check_connection(source, output, reader, name)
        self.undo_stack.push(SetInputs(self, [(reader, name, [source, output])], f"Connect {name}"))

    def disconnect(self, reader: str, name: str) -> None:
        """Remove a link; an input that can be typed in gets its default value back."""
        if not is_link(self.graph.nodes[reader].inputs.get(name)):
            return
        item = self.spec(reader).inputs_by_name.get(name) if self.spec(reader) else None
        value = MISSING
        if item is not None and item.accepts_constant and item.default is not NO_DEFAULT and not item.optional:
            value = copy.deepcopy(item.default)
        self.undo_stack.push(SetInputs(self, [(reader, name, value)], f"Disconnect {name}"))

    def insert_on_link(self, node_id: str, reader: str, name: str) -> bool:
        """Put a node into an existing link (a node dropped onto a wire)."""
        link = self.graph.nodes[reader].inputs.get(name)
        spec = self.spec(node_id)
        if not is_link(link) or spec is None or node_id in (reader, link[0]):
            return False
        source, output = link
        source_type = self.spec(source).outputs[self.spec(source).output_index[output]].type
        wanted_type = self.spec(reader).inputs_by_name[name].type
        into = next((item.name for item in spec.inputs if can_connect(source_type, item.type)), None)
        out_of = next((item.name for item in spec.outputs if can_connect(item.type, wanted_type)), None)
        if into is None or out_of is None:
            return False
        self.undo_stack.beginMacro("Insert node into link")
        self.undo_stack.push(SetInputs(self, [(node_id, into, [source, output]), (reader, name, [node_id, out_of])],
                                       "Insert node into link"))
        self.undo_stack.endMacro()
        return True

    def move_nodes(self, positions: dict[str, tuple[float, float]], drag: int | None = None) -> None:
        changed = {node_id: pos for node_id, pos in positions.items()
                   if tuple(self.graph.nodes[node_id].pos) != tuple(pos)}
        if changed:
            self.undo_stack.push(MoveNodes(self, changed, drag))

    @staticmethod
    def new_drag() -> int:
        """A number for one mouse drag: its moves merge into one undo step."""
        return next(_drags)

    def set_field(self, node_ids: Iterable[str], field: str, value: Any, text: str) -> None:
        targets = [node_id for node_id in node_ids if self.field(node_id, field) != value]
        if targets:
            self.undo_stack.push(SetFields(self, targets, field, value, text))

    def set_bypass(self, node_ids: Iterable[str], bypass: bool) -> None:
        self.set_field(node_ids, "bypass", bypass, "Bypass" if bypass else "Stop bypassing")

    def toggle_bypass(self, node_ids: list[str]) -> None:
        if node_ids:
            self.set_bypass(node_ids, not all(self.graph.nodes[node_id].bypass for node_id in node_ids))

    def set_collapsed(self, node_ids: Iterable[str], collapsed: bool) -> None:
        self.set_field(node_ids, "collapsed", collapsed or None, "Collapse" if collapsed else "Expand")

    def set_title(self, node_id: str, title: str) -> None:
        self.set_field([node_id], "title", title, "Rename node")

    def align(self, node_ids: list[str], edge: str) -> None:
        """Line nodes up on their left or top edge, or spread them evenly."""
        if len(node_ids) < 2:
            return
        positions = {node_id: tuple(self.graph.nodes[node_id].pos) for node_id in node_ids}
        if edge == "left":
            x = min(pos[0] for pos in positions.values())
            target = {node_id: (x, pos[1]) for node_id, pos in positions.items()}
        elif edge == "top":
            y = min(pos[1] for pos in positions.values())
            target = {node_id: (pos[0], y) for node_id, pos in positions.items()}
        else:
            raise ValueError(f"unknown alignment {edge!r}")
        self.move_nodes(target)

    def set_groups(self, groups: list[dict[str, Any]], text: str) -> None:
        self.undo_stack.push(SetGroups(self, groups, text))

    def add_group(self, title: str, rect: tuple[float, float, float, float], color: str = "#00ffea") -> None:
        self.set_groups([*self.graph.groups, {"title": title, "rect": list(rect), "color": color}], "Add group")

    # ----- copy and paste -------------------------------------------------------------------
    def copy_fragment(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """The chosen nodes as JSON for the clipboard; links to nodes left behind are dropped."""
        chosen = [node_id for node_id in node_ids if node_id in self.graph.nodes]
        nodes = {}
        for node_id in chosen:
            data = self.graph.nodes[node_id].to_dict()
            data["inputs"] = {name: value for name, value in data["inputs"].items()
                              if not is_link(value) or value[0] in chosen}
            nodes[node_id] = data
        return {"format": FRAGMENT_FORMAT, "version": 1, "nodes": nodes}

    def paste_fragment(self, fragment: dict[str, Any], offset: tuple[float, float] = (40, 40)) -> list[str]:
        """Add copies of the fragment's nodes with fresh ids, linked among themselves."""
        if not isinstance(fragment, dict) or fragment.get("format") != FRAGMENT_FORMAT:
            raise ValueError("the clipboard holds no Reelgraph nodes")
        source = Graph.from_dict({"format": "reelgraph.workflow", "version": 1, "nodes": fragment.get("nodes", {})})
        renamed: dict[str, str] = {}
        taken = set(self.graph.nodes)
        number = len(taken) + 1
        for old in source.nodes:
            while str(number) in taken:
                number += 1
            renamed[old] = str(number)
            taken.add(str(number))
        self.undo_stack.beginMacro(f"Paste {len(renamed)} node(s)")
        for old, node in source.nodes.items():
            copy_node = copy.deepcopy(node)
            copy_node.pos = [node.pos[0] + offset[0], node.pos[1] + offset[1]]
            copy_node.inputs = {name: [renamed[value[0]], value[1]] if is_link(value) else value
                                for name, value in node.inputs.items()}
            self.undo_stack.push(AddNode(self, renamed[old], copy_node))
        self.undo_stack.endMacro()
        return list(renamed.values())

    # ----- for the commands only ----------------------------------------------------------
    def _insert(self, node_id: str, node: GraphNode, index: int | None = None) -> None:
        nodes = self.graph.nodes
        if index is None or index >= len(nodes):
            nodes[node_id] = node
        else:
            items = list(nodes.items())
            items.insert(index, (node_id, node))
            nodes.clear()
            nodes.update(items)
        self.nodeAdded.emit(node_id)

    def _delete(self, node_id: str) -> None:
        del self.graph.nodes[node_id]
        self.nodeRemoved.emit(node_id)

    def _write_input(self, node_id: str, name: str, value: Any) -> None:
        inputs = self.graph.nodes[node_id].inputs
        if value is MISSING:
            inputs.pop(name, None)
        else:
            inputs[name] = value
        self.inputChanged.emit(node_id, name)

    def _write_field(self, node_id: str, name: str, value: Any) -> None:
        node = self.graph.nodes[node_id]
        if name in ("title", "pos", "bypass"):
            setattr(node, name, value)
        elif value is None:
            node.extra.pop(name, None)
        else:
            node.extra[name] = value
        self.fieldChanged.emit(node_id, name)

    def _write_groups(self, groups: list[dict[str, Any]]) -> None:
        self.graph.groups = groups
        self.groupsChanged.emit()

    def _reaches(self, start: str, goal: str) -> bool:
        """True when ``goal`` reads (directly or not) from ``start``'s outputs."""
        readers: dict[str, list[str]] = {}
        for source, _, reader, _ in self.links():
            readers.setdefault(source, []).append(reader)
        stack, seen = [start], {start}
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            for reader in readers.get(current, ()):
                if reader not in seen:
                    seen.add(reader)
                    stack.append(reader)
        return False
