"""Planning a run: which nodes the targets need, in what order, which come from the
cache, and how each node's inputs are wired.

Cache keys are computed once per node in topological order:
``key(node) = hash(type, type version, constants, keys of linked upstream outputs)``,
which is O(nodes + links) — ComfyUI re-hashes each node's whole ancestry instead.
"""

from __future__ import annotations

import json
import secrets
from collections import deque
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, Mapping

from gpu.cache import OutputCache
from nodes.graph import Graph, GraphNode, is_link
from nodes.problems import Problem, ValidationReport, WorkflowError
from nodes.registry import NodeRegistry
from nodes.spec import MISSING, Input, NodeSpec
from nodes.validation import bypass_source, check_node, find_cycles

_SCALARS = (str, int, float, bool, type(None))


@dataclass(slots=True)
class Step:
    """One node this run must execute."""

    node_id: str
    spec: NodeSpec
    #: A copy of the node as planned: the editor may change the document (bypass,
    #: inputs, even delete the node) while this run is in flight.
    graph_node: GraphNode
    key: str
    #: Its key is unique to this run (a non-deterministic node or one downstream of it):
    #: storing its outputs in the cache would only push useful entries out.
    volatile: bool
    #: (input name, source node id or None for a constant, source output index, constant)
    arguments: list[tuple[str, str | None, int, Any]]
    dependents: list[str] = field(default_factory=list)
    waiting: int = 0
    #: Linked inputs with a range or choices: a typed-in value is checked by validation,
    #: a linked one only when it arrives, just before the node runs.
    linked_checks: tuple[Input, ...] = ()


@dataclass
class Plan:
    targets: list[str]
    steps: dict[str, Step]
    #: Nodes whose outputs come from the cache: node id -> outputs in output order.
    cached: dict[str, tuple[Any, ...]]
    keys: dict[str, str]
    warnings: list[Problem]
    #: The spec of every planned node (run or cached), to name its outputs.
    specs: dict[str, NodeSpec] = field(default_factory=dict)

    def ready(self) -> list[str]:
        return [node_id for node_id, step in self.steps.items() if step.waiting == 0]


def default_targets(graph: Graph, registry: NodeRegistry) -> list[str]:
    """Every output node; a graph without any runs its sinks (nodes nothing reads)."""
    outputs = []
    for node_id, graph_node in graph.nodes.items():
        spec = registry.get(graph_node.type)
        if spec is not None and spec.output:
            outputs.append(node_id)
    if outputs:
        return outputs
    read = {source for graph_node in graph.nodes.values() for _, source, _ in graph_node.links()}
    return [node_id for node_id in graph.nodes if node_id not in read]


def make_plan(
    graph: Graph,
    registry: NodeRegistry,
    cache: OutputCache,
    targets: list[str] | None = None,
    output_dir: str = "",
    preloaded: Mapping[str, tuple[Any, ...]] | None = None,
) -> Plan:
    """Validate what the targets need and plan their run; WorkflowError when invalid.

    ``preloaded`` (cache key -> outputs) are outputs known from elsewhere, such as a
    queue job's checkpoints: they count as cache hits whatever the cache holds."""
    nodes = graph.nodes
    whole_graph = targets is None
    if targets is None:
        targets = default_targets(graph, registry)
    missing = [target for target in targets if target not in nodes]
    if missing:
        raise WorkflowError([
            Problem(f"cannot run node {target!r}: it is not in the workflow", code="missing-node")
            for target in missing
        ])
    needed = set(nodes) if whole_graph else _ancestors(graph, targets)
    order, sources_of, warnings = _validate_and_sort(graph, registry, needed)
    keys, volatile = _cache_keys(graph, registry, order, output_dir)
    wanted = set(targets)
    cached: dict[str, tuple[Any, ...]] = {}
    to_run: list[str] = []
    for node_id in reversed(order):
        if node_id not in wanted:
            continue
        hit = None
        if node_id not in volatile:
            hit = preloaded.get(keys[node_id]) if preloaded else None
            if hit is None:
                hit = cache.get(keys[node_id])
        if hit is not None:
            cached[node_id] = hit
            continue
        to_run.append(node_id)
        wanted.update(sources_of[node_id])
    steps = _steps(graph, registry, to_run[::-1], keys, volatile)
    specs = {node_id: step.spec for node_id, step in steps.items()}
    specs.update((node_id, registry[nodes[node_id].type]) for node_id in cached)
    return Plan(list(targets), steps, cached, keys, warnings, specs)


def _ancestors(graph: Graph, targets: list[str]) -> set[str]:
    nodes = graph.nodes
    seen = set(targets)
    stack = list(targets)
    while stack:
        for _, source, _ in nodes[stack.pop()].links():
            if source in nodes and source not in seen:
                seen.add(source)
                stack.append(source)
    return seen


def _validate_and_sort(
    graph: Graph, registry: NodeRegistry, needed: set[str]
) -> tuple[list[str], dict[str, set[str]], list[Problem]]:
    """Check every needed node; return them in topological order (Kahn, ties in document
    order, so runs are reproducible) with the nodes each one reads from."""
    nodes = graph.nodes
    problems: list[Problem] = []
    consumed = None
    if any(nodes[node_id].bypass for node_id in needed):
        consumed = {}
        for graph_node in nodes.values():
            for _, source, output_name in graph_node.links():
                consumed.setdefault(source, set()).add(output_name)
    waiting: dict[str, int] = {}
    readers: dict[str, list[str]] = {}
    sources_of: dict[str, set[str]] = {}
    in_document_order = [node_id for node_id in nodes if node_id in needed]
    for node_id in in_document_order:
        graph_node = nodes[node_id]
        check_node(node_id, graph_node, graph, registry, problems, consumed)
        sources = {source for _, source, _ in graph_node.links() if source in nodes}
        sources_of[node_id] = sources
        waiting[node_id] = len(sources)
        for source in sources:
            readers.setdefault(source, []).append(node_id)
    order = [node_id for node_id in in_document_order if waiting[node_id] == 0]
    queue = deque(order)
    while queue:
        for reader in readers.get(queue.popleft(), ()):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                order.append(reader)
                queue.append(reader)
    if len(order) < len(needed):
        problems.extend(find_cycles(graph, needed))
    report = ValidationReport(problems)
    if not report.ok:
        raise WorkflowError(report)
    return order, sources_of, report.warnings


def _cache_keys(
    graph: Graph, registry: NodeRegistry, order: list[str], output_dir: str
) -> tuple[dict[str, str], set[str]]:
    nodes = graph.nodes
    keys: dict[str, str] = {}
    volatile: set[str] = set()
    for node_id in order:
        graph_node = nodes[node_id]
        spec = registry[graph_node.type]
        inputs = graph_node.inputs
        parts = [spec.type_name, str(spec.type_version)]
        if graph_node.bypass:
            parts.append("bypass")
        unstable = spec.non_deterministic
        for item in spec.inputs:
            value = inputs.get(item.name, MISSING)
            if value is MISSING:
                value = item.default
                if value is MISSING:
                    continue
            if is_link(value):
                source = value[0]
                parts.append(f"{item.name}<{keys[source]}.{value[1]}")
                if source in volatile:
                    unstable = True
            elif type(value) in _SCALARS:
                parts.append(f"{item.name}={value!r}")
            else:
                parts.append(f"{item.name}={json.dumps(value, sort_keys=True)}")
        if spec.fingerprint is not None:
            parts.append(f"fingerprint={spec.fingerprint(constants_of(spec, graph_node))!r}")
        if spec.output:
            parts.append(f"output_dir={output_dir}")
        if unstable:
            parts.append(secrets.token_hex(8))
            volatile.add(node_id)
        keys[node_id] = blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return keys, volatile


def constants_of(spec: NodeSpec, graph_node: GraphNode) -> dict[str, Any]:
    """The node's typed-in values, with defaults for inputs left out."""
    values = {item.name: item.default for item in spec.inputs if item.default is not MISSING}
    values.update((name, value) for name, value in graph_node.inputs.items() if not is_link(value))
    return values


def _steps(
    graph: Graph, registry: NodeRegistry, to_run: list[str], keys: dict[str, str], volatile: set[str]
) -> dict[str, Step]:
    nodes = graph.nodes
    steps: dict[str, Step] = {}
    for node_id in to_run:
        planned = nodes[node_id]
        graph_node = GraphNode(planned.type, dict(planned.inputs), planned.title, planned.pos, planned.bypass)
        spec = registry[graph_node.type]
        arguments: list[tuple[str, str | None, int, Any]] = []
        checks: list[Input] = []
        sources: set[str] = set()
        for item in spec.inputs:
            value = graph_node.inputs.get(item.name, MISSING)
            if value is MISSING or (value is None and item.optional):
                if item.default is MISSING:
                    continue
                value = item.default
            if is_link(value):
                source_spec = registry[nodes[value[0]].type]
                arguments.append((item.name, value[0], source_spec.output_index[value[1]], None))
                if item.min is not None or item.max is not None or item.choices is not None:
                    checks.append(item)
                if value[0] in steps:
                    sources.add(value[0])
            else:
                arguments.append((item.name, None, 0, value))
        step = Step(node_id, spec, graph_node, keys[node_id], node_id in volatile, arguments, waiting=len(sources),
                    linked_checks=tuple(checks))
        for source in sources:
            steps[source].dependents.append(node_id)
        steps[node_id] = step
    return steps


def bypass_outputs(step: Step, arguments: dict[str, Any]) -> tuple[Any, ...]:
    """A bypassed node's outputs: each its first input of a matching type."""
    results = []
    for index in range(len(step.spec.outputs)):
        source = bypass_source(step.spec, step.graph_node, index)
        results.append(arguments.get(source) if source is not None else None)
    return tuple(results)
