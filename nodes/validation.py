"""Checking a workflow's meaning against the node registry: every problem at once,
each naming the node, the input and the fix.

Checked: unknown node types, missing required inputs, links to missing nodes or
outputs, type mismatches, values out of range or not among the choices, inputs a
node does not have (a warning), bypassed nodes with nothing to pass through, and
cycles (naming the nodes on them).
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping

from nodes.graph import Graph, GraphNode, is_link
from nodes.problems import ERROR, WARNING, Problem, ValidationReport
from nodes.registry import NodeRegistry
from nodes.spec import MISSING, NodeSpec
from nodes.types import can_connect, describe_value


def validate(graph: Graph, registry: NodeRegistry, node_ids: Iterable[str] | None = None) -> ValidationReport:
    """Validate the whole graph, or just ``node_ids`` (what a run needs)."""
    problems: list[Problem] = []
    wanted = graph.nodes.keys() if node_ids is None else node_ids
    consumed = _consumed_outputs(graph)
    for node_id in wanted:
        check_node(node_id, graph.nodes[node_id], graph, registry, problems, consumed)
    problems.extend(find_cycles(graph, None if node_ids is None else set(wanted)))
    return ValidationReport(problems)


def check_node(
    node_id: str,
    graph_node: GraphNode,
    graph: Graph,
    registry: NodeRegistry,
    problems: list[Problem],
    consumed: Mapping[str, set[str]] | None = None,
) -> None:
    """Append the problems of one node to ``problems``."""
    spec = registry.get(graph_node.type)
    if spec is None:
        problems.append(_unknown_type(node_id, graph_node.type, registry))
        for name, source, _ in graph_node.links():
            if source not in graph.nodes:
                problems.append(_dangling(node_id, graph_node.type, name, source))
        return
    inputs = graph_node.inputs
    for item in spec.inputs:
        value = inputs.get(item.name, MISSING)
        if value is MISSING or value is None and item.optional:
            if item.required:
                problems.append(Problem(
                    "is required but has no value",
                    node_id, item.name,
                    f"connect {_a(item.type)} output to it" if not item.accepts_constant
                    else f"type a value or connect {_a(item.type)} output to it",
                    ERROR, "missing-input", spec.type_name,
                ))
            continue
        if is_link(value):
            _check_link(node_id, spec, item.name, item.type, value, graph, registry, problems)
            continue
        problem = item.constant_problem(value) if item.accepts_constant else (
            f"takes a {item.type} from a link, not a typed-in value ({describe_value(value)})"
        )
        if problem:
            problems.append(Problem(problem, node_id, item.name, _constant_fix(item), ERROR,
                                    "bad-value", spec.type_name))
    for name, value in inputs.items():
        if name not in spec.inputs_by_name:
            problems.append(Problem(
                f"is not an input of {spec.type_name}; it will be ignored",
                node_id, name, "remove it, or check the spelling", WARNING, "unknown-input", spec.type_name,
            ))
    if spec.check is not None:
        constants = {name: value for name, value in inputs.items() if not is_link(value)}
        for name, message, fix in spec.check(constants):
            problems.append(Problem(message, node_id, name, fix, ERROR, "bad-value", spec.type_name))
    if graph_node.bypass and consumed is not None:
        for output_name in consumed.get(node_id, ()):
            index = spec.output_index.get(output_name)
            if index is not None and bypass_source(spec, graph_node, index) is None:
                output_type = spec.outputs[index].type
                problems.append(Problem(
                    f"is bypassed, but has no {output_type} input to pass through to output {output_name!r}",
                    node_id, None, "turn bypass off, or disconnect that output",
                    ERROR, "bypass-without-input", spec.type_name,
                ))


def bypass_source(spec: NodeSpec, graph_node: GraphNode, output_index: int) -> str | None:
    """The input a bypassed node passes through to an output: its first input of a
    matching type that has a value."""
    wanted = spec.outputs[output_index].type
    for item in spec.inputs:
        value = graph_node.inputs.get(item.name, item.default)
        if value is MISSING or value is None:
            continue
        if item.type == wanted or (wanted != "*" and item.type == "*"):
            return item.name
    return None


def _check_link(
    node_id: str, spec: NodeSpec, input_name: str, input_type: str, link: list[str],
    graph: Graph, registry: NodeRegistry, problems: list[Problem],
) -> None:
    source_id, output_name = link
    source = graph.nodes.get(source_id)
    if source is None:
        problems.append(_dangling(node_id, spec.type_name, input_name, source_id))
        return
    source_spec = registry.get(source.type)
    if source_spec is None:
        return  # reported on the source node itself
    index = source_spec.output_index.get(output_name)
    if index is None:
        names = ", ".join(repr(item.name) for item in source_spec.outputs) or "none"
        problems.append(Problem(
            f"is linked to output {output_name!r} of node {source_id!r}, which {source.type} does not have",
            node_id, input_name, f"link one of its outputs instead: {names}",
            ERROR, "missing-output", spec.type_name,
        ))
        return
    output_type = source_spec.outputs[index].type
    if not can_connect(output_type, input_type):
        problems.append(Problem(
            f"expects {input_type} but is linked to {output_type} output {output_name!r} of node {source_id!r}",
            node_id, input_name, f"link {_a(input_type)} output instead",
            ERROR, "type-mismatch", spec.type_name,
        ))


def _dangling(node_id: str, type_name: str, input_name: str, source_id: str) -> Problem:
    return Problem(
        f"is linked to node {source_id!r}, which is not in the workflow",
        node_id, input_name, "reconnect it to an existing node, or remove the link",
        ERROR, "missing-node", type_name,
    )


def _unknown_type(node_id: str, type_name: str, registry: NodeRegistry) -> Problem:
    close = difflib.get_close_matches(type_name, registry.type_names(), n=1, cutoff=0.6)
    fix = f"did you mean {close[0]!r}?" if close else (
        "install the node pack that provides it, or replace the node"
    )
    return Problem(f"unknown node type {type_name!r}", node_id, None, fix, ERROR, "unknown-type", type_name)


def _constant_fix(item: Any) -> str:
    if item.choices is not None:
        return "pick one of the listed values"
    if item.min is not None and item.max is not None:
        return f"use a value from {item.min} to {item.max}"
    if item.min is not None:
        return f"use a value of at least {item.min}"
    if item.max is not None:
        return f"use a value of at most {item.max}"
    return f"use {_a(item.type)} value"


def _a(type_name: str) -> str:
    """'an IMAGE', 'a FLOAT': the article a type name needs when read aloud."""
    return f"{'an' if type_name[:1] in 'AEIOU' else 'a'} {type_name}"


def _consumed_outputs(graph: Graph) -> dict[str, set[str]]:
    consumed: dict[str, set[str]] = {}
    for graph_node in graph.nodes.values():
        for _, source, output_name in graph_node.links():
            consumed.setdefault(source, set()).add(output_name)
    return consumed


def find_cycles(graph: Graph, within: set[str] | None = None) -> list[Problem]:
    """One problem per loop of links, naming the nodes on it (Tarjan, no recursion)."""
    nodes = graph.nodes
    successors: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for node_id, graph_node in nodes.items():
        for _, source, _ in graph_node.links():
            if source in successors:
                successors[source].append(node_id)
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    problems: list[Problem] = []
    counter = 0
    for root in nodes:
        if root in index_of:
            continue
        work = [(root, iter(successors[root]))]
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node_id, children = work[-1]
            advanced = False
            for child in children:
                if child not in index_of:
                    index_of[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node_id] = min(low[node_id], index_of[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
            if low[node_id] == index_of[node_id]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node_id:
                        break
                looped = len(component) > 1 or node_id in successors[node_id]
                if looped and (within is None or within.intersection(component)):
                    problems.append(_cycle_problem(graph, component[::-1]))
    return problems


def _cycle_problem(graph: Graph, members: list[str]) -> Problem:
    shown = members[:12]
    names = " → ".join(repr(member) for member in shown)
    if len(members) > 12:
        names += f" and {len(members) - 12} more"
    if len(members) == 1:
        message = "is linked to its own output, a loop that can never run"
    else:
        message = f"is on a loop of links that can never run: {names}"
    return Problem(
        message, members[0], None, "remove one of the links on the loop",
        ERROR, "cycle", graph.nodes[members[0]].type,
    )
