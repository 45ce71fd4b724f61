"""The workflow document: plain JSON, read and written without running any code.

::

    {"format": "reelgraph.workflow", "version": 1,
     "nodes": {"<id>": {"type": "<domain.Name>",
                        "inputs": {"<input>": <constant> | ["<node id>", "<output name>"]},
                        "title": "...", "pos": [x, y], "bypass": false}},
     "groups": [...], "meta": {...}}

``Graph.from_dict(d).to_dict() == d`` for every document in this canonical form;
keys this version does not know are kept so nothing a newer tool wrote is lost.
Structural damage raises :class:`~nodes.problems.WorkflowError` naming every bad
node and field; meaning (types, links, cycles) is checked by ``nodes.validation``.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from nodes.atomic_write import write_atomically
from nodes.problems import Problem, WorkflowError
from nodes.types import describe_value, unwritable_part

FORMAT = "reelgraph.workflow"
VERSION = 1
NODE_KEYS = ("type", "inputs", "title", "pos", "bypass")
#: Deeper values are refused: no real workflow needs them, and they would exhaust
#: the stack of every tool that copies or prints them.
MAX_NESTING = 64

#: A lone UTF-16 surrogate is legal in JSON (written as the escape ``\ud83d``) but has no UTF-8 form.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

#: ``MIGRATIONS[n]`` turns a version-``n`` document into version ``n + 1``.
#: Version 1 is the first released format, so the chain is empty today; the
#: loader walks it for every older file, and refuses a version it cannot reach.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def is_link(value: Any) -> bool:
    """True for ``["<node id>", "<output name>"]``, the one way to write a link."""
    return (
        type(value) is list
        and len(value) == 2
        and type(value[0]) is str
        and type(value[1]) is str
    )


@dataclass
class GraphNode:
    """One node placed in a workflow."""

    type: str
    inputs: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    pos: list[float] = field(default_factory=lambda: [0, 0])
    bypass: bool = False
    #: Keys this version does not know, kept for the round trip.
    extra: dict[str, Any] = field(default_factory=dict)

    def links(self) -> Iterator[tuple[str, str, str]]:
        """``(input name, source node id, source output name)`` for each linked input."""
        for name, value in self.inputs.items():
            if is_link(value):
                yield name, value[0], value[1]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "inputs": {name: _copy_value(value) for name, value in self.inputs.items()},
            "title": self.title,
            "pos": list(self.pos),
            "bypass": self.bypass,
        }
        data.update(copy.deepcopy(self.extra))
        return data


@dataclass
class Graph:
    """A workflow: nodes by id, plus groups (frames in the editor) and free-form meta."""

    nodes: dict[str, GraphNode] = field(default_factory=dict)
    groups: list[Any] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    # ----- building in code -------------------------------------------------------
    def add(
        self,
        type_name: str,
        inputs: dict[str, Any] | None = None,
        *,
        node_id: str | None = None,
        title: str = "",
        pos: tuple[float, float] = (0, 0),
        bypass: bool = False,
    ) -> str:
        """Place a node and return its id; tuples ``(node_id, output)`` become links."""
        if node_id is None:
            node_id = self.free_id()
        elif node_id in self.nodes:
            raise ValueError(f"a node with id {node_id!r} already exists")
        values = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in (inputs or {}).items()
        }
        self.nodes[node_id] = GraphNode(type_name, values, title, list(pos), bypass)
        return node_id

    def free_id(self) -> str:
        """The smallest positive integer id (as text) not yet used."""
        number = len(self.nodes) + 1
        while str(number) in self.nodes:
            number += 1
        return str(number)

    def consumers(self) -> dict[str, list[str]]:
        """For each node id, the ids of the nodes that read one of its outputs."""
        result: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for node_id, graph_node in self.nodes.items():
            for _, source, _ in graph_node.links():
                if source in result:
                    result[source].append(node_id)
        return result

    # ----- the JSON document -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "nodes": {node_id: graph_node.to_dict() for node_id, graph_node in self.nodes.items()},
            "groups": copy.deepcopy(self.groups),
            "meta": copy.deepcopy(self.meta),
        }
        data.update(copy.deepcopy(self.extra))
        return data

    def dumps(self, indent: int | None = 2) -> str:
        return json_text(self.to_dict(), indent)

    def save(self, path: str | Path) -> Path:
        """Write the workflow atomically: a crash never leaves a half-written file."""
        return write_atomically(path, (self.dumps() + "\n").encode("utf-8"))

    @classmethod
    def from_dict(cls, document: Any, source: str = "") -> "Graph":
        """Build a graph from a parsed document, migrating older versions.

        Raises WorkflowError listing every structural problem at once.
        """
        document = upgrade(document, source)
        problems: list[Problem] = []
        nodes: dict[str, GraphNode] = {}
        raw_nodes = document.get("nodes", {})
        if not isinstance(raw_nodes, dict):
            problems.append(_document_problem("'nodes' must be an object mapping node ids to nodes"))
            raw_nodes = {}
        for node_id, raw in raw_nodes.items():
            if not isinstance(node_id, str):
                problems.append(_document_problem(f"node id {describe_value(node_id)} is not text"))
                continue
            graph_node = _read_node(node_id, raw, problems)
            if graph_node is not None:
                nodes[node_id] = graph_node
        groups = document.get("groups", [])
        if not isinstance(groups, list):
            problems.append(_document_problem("'groups' must be a list"))
            groups = []
        meta = document.get("meta", {})
        if not isinstance(meta, dict):
            problems.append(_document_problem("'meta' must be an object"))
            meta = {}
        for key, value in document.items():
            if key == "nodes":
                continue
            if nesting_depth(value) > MAX_NESTING:
                problems.append(_document_problem(f"{key!r} is nested more than {MAX_NESTING} levels deep"))
            elif (reason := unwritable_part(value)) is not None:
                problems.append(_document_problem(f"{key!r} holds {reason}"))
        if problems:
            raise WorkflowError(problems, source)
        extra = {
            key: copy.deepcopy(value)
            for key, value in document.items()
            if key not in ("format", "version", "nodes", "groups", "meta")
        }
        return cls(nodes, copy.deepcopy(groups), copy.deepcopy(meta), extra)

    @classmethod
    def loads(cls, text: str | bytes, source: str = "") -> "Graph":
        return cls.from_dict(parse_json(text, source), source)

    @classmethod
    def load(cls, path: str | Path) -> "Graph":
        """Open a workflow file, or a PNG that carries one (as image.Save writes)."""
        from nodes.png_workflow import PNG_SIGNATURE, read_png_workflow

        file_path = Path(path)
        source = str(file_path)
        try:
            data = file_path.read_bytes()
        except FileNotFoundError:
            raise WorkflowError([_document_problem("the file does not exist")], source) from None
        except IsADirectoryError:
            raise WorkflowError([_document_problem("this is a folder, not a workflow file")], source) from None
        except OSError as error:
            raise WorkflowError([_document_problem(f"cannot read the file: {error.strerror}")], source) from None
        if data.startswith(PNG_SIGNATURE):
            return cls.from_dict(read_png_workflow(data, source), source)
        return cls.loads(data, source)


def json_text(document: Any, indent: int | None = None, separators: tuple[str, str] | None = None) -> str:
    """Strict JSON text that always encodes as UTF-8: lone surrogates are written as
    ``\\u`` escapes, so they read back as they were."""
    text = json.dumps(document, indent=indent, separators=separators, ensure_ascii=False, allow_nan=False)
    return LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def parse_json(text: str | bytes, source: str = "") -> Any:
    """Strict JSON (no NaN or Infinity), every failure turned into a WorkflowError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise WorkflowError(
                [_document_problem(f"the file is not UTF-8 text (bad byte at offset {error.start})",
                                   "save the workflow as UTF-8 JSON")], source) from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise WorkflowError(
            [_document_problem(f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}")],
            source,
        ) from None
    except RecursionError:
        raise WorkflowError([_document_problem("the JSON is nested too deeply to read")], source) from None
    except ValueError as error:
        raise WorkflowError([_document_problem(f"not valid JSON: {error}")], source) from None


def upgrade(document: Any, source: str = "") -> dict[str, Any]:
    """Check format and version, and migrate an older document to the current version."""
    if not isinstance(document, dict):
        raise WorkflowError([_document_problem("a workflow must be a JSON object")], source)
    declared = document.get("format")
    if declared != FORMAT:
        hint = _foreign_format_hint(document)
        raise WorkflowError(
            [_document_problem(
                f"not a Reelgraph workflow (format is {'missing' if declared is None else describe_value(declared)}, "
                f"expected {FORMAT!r}){hint}"
            )],
            source,
        )
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise WorkflowError([_document_problem("'version' must be a whole number")], source)
    if version > VERSION:
        raise WorkflowError(
            [_document_problem(
                f"this workflow was saved by a newer Reelgraph (format version {describe_value(version)}); "
                f"this version reads up to version {VERSION}",
                "update Reelgraph to open it",
            )],
            source,
        )
    while version < VERSION:
        migrate = MIGRATIONS.get(version)
        if migrate is None:
            raise WorkflowError(
                [_document_problem(f"format version {describe_value(version)} is not one Reelgraph ever wrote")],
                source,
            )
        document = migrate(copy.deepcopy(document))
        version += 1
        document["version"] = version
    return document


def _foreign_format_hint(document: dict[str, Any]) -> str:
    if "last_node_id" in document or "links" in document:
        return "; this looks like a ComfyUI workflow, which Reelgraph cannot import yet"
    return ""


def _read_node(node_id: str, raw: Any, problems: list[Problem]) -> GraphNode | None:
    def bad(message: str, fix: str = "", field_name: str | None = None) -> None:
        problems.append(Problem(message, node_id=node_id, input=field_name, fix=fix, code="malformed-node"))

    if not node_id:
        bad("a node has an empty id", "give every node a non-empty id")
        return None
    if not isinstance(raw, dict):
        bad("a node must be a JSON object with 'type' and 'inputs'")
        return None
    count = len(problems)
    type_name = raw.get("type")
    if not isinstance(type_name, str) or not type_name:
        bad("the node has no 'type'", "set 'type' to a node type such as 'math.Add'")
    inputs = raw.get("inputs", {})
    if not isinstance(inputs, dict):
        bad("'inputs' must be an object mapping input names to values or links")
    title = raw.get("title", "")
    if not isinstance(title, str):
        bad("'title' must be text")
    pos = raw.get("pos", [0, 0])
    if not (isinstance(pos, list) and len(pos) == 2 and all(_is_finite_number(v) for v in pos)):
        bad("'pos' must be two finite numbers [x, y]")
    bypass = raw.get("bypass", False)
    if not isinstance(bypass, bool):
        bad("'bypass' must be true or false")
    if isinstance(inputs, dict):
        for name, value in inputs.items():
            if not isinstance(name, str):
                bad(f"input name {describe_value(name)} is not text")
            elif nesting_depth(value) > MAX_NESTING:
                bad(f"the value is nested more than {MAX_NESTING} levels deep", "use a flatter value", name)
            elif (reason := unwritable_part(value)) is not None:
                bad(f"the value holds {reason}", "type a plain number, text, true/false or a link", name)
    if nesting_depth(raw) > MAX_NESTING + 2:
        bad(f"the node is nested more than {MAX_NESTING} levels deep")
    else:
        for key, value in raw.items():
            if key in NODE_KEYS:
                continue
            if not isinstance(key, str):
                bad(f"the node key {describe_value(key)} is not text")
            elif (reason := unwritable_part(value)) is not None:
                bad(f"{key!r} holds {reason}")
    if len(problems) > count:
        return None
    extra = {key: copy.deepcopy(value) for key, value in raw.items() if key not in NODE_KEYS}
    values = {name: _copy_value(value) for name, value in inputs.items()}
    return GraphNode(type_name, values, title, list(pos), bypass, extra)


def nesting_depth(value: Any) -> int:
    """How many lists/objects deep ``value`` goes, measured without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_NESTING + 8:
                return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def _is_finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large to be a float
        return False


def _copy_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return copy.deepcopy(value)
    return value


def _document_problem(message: str, fix: str = "") -> Problem:
    return Problem(message, fix=fix, code="malformed-document")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a workflow (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value
