"""Batches: one graph rendered over many seeds or prompts, one queue job each (what the
volume producer leaves running overnight).

A batch file is JSON in one of these forms::

    {"seeds": [1, 2, 3]}                        one job per seed
    {"prompts": ["a red fox", "a grey cat"]}    one job per prompt
    {"seeds": [1, 2], "prompts": ["a", "b"]}    every prompt with every seed (4 jobs)
    [{"7.seed": 1, "3.value": "a fox"}, ...]    one job per object: NODE_ID.INPUT -> value

A ``core.Seed`` node in "randomize" mode picks its seed when the job is queued
(:func:`pin_random_seeds`): the job then renders one picture, its resume and retries
render the same one, and the graph in the queue's history says which seed made it.

How seeds and prompts find their node: every node whose type has an input named
``seed`` (``prompt``) that is typed in or left at its default, not linked, gets the
value. When that matches no input, or the wrong ones (a prompt typed into a
``core.String`` node's ``value``), name them: ``{"seeds": [...], "seed_input": "7.seed"}``,
``{"prompts": [...], "prompt_input": ["3.value"]}``.
"""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodes.graph import Graph, is_link
from nodes.library.core import SEED_MAX
from nodes.registry import NodeRegistry

KNOWN_KEYS = {"seeds", "prompts", "seed_input", "prompt_input"}


class BatchError(ValueError):
    """A batch file that cannot be turned into jobs; the message says what to change."""


@dataclass(frozen=True)
class Variation:
    """One job of a batch: what to type into the graph, and a label for its name."""

    overrides: dict[str, Any] = field(default_factory=dict)
    label: str = ""


def read_batch_file(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BatchError(f"the batch file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BatchError(f"cannot read the batch file {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise BatchError(f"the batch file {path} is not valid JSON: {error.msg} at line {error.lineno}") from None


def expand_batch(document: Any, graph: Graph, registry: NodeRegistry) -> list[Variation]:
    """The jobs a batch document asks for, each override checked against the graph."""
    if isinstance(document, list):
        variations = [Variation(_explicit(item, index), f"#{index + 1}") for index, item in enumerate(document)]
    elif isinstance(document, dict):
        variations = _seeds_and_prompts(document, graph, registry)
    else:
        raise BatchError('a batch is {"seeds": [...]}, {"prompts": [...]} or a list of {"NODE.INPUT": value}')
    if not variations:
        raise BatchError("the batch is empty: give at least one seed, prompt or variation")
    for index, variation in enumerate(variations):
        for target, value in variation.overrides.items():
            problem = _override_problem(graph, registry, target, value)
            if problem:
                raise BatchError(f"batch entry {index + 1}: {target} {problem}")
    return variations


def _explicit(item: Any, index: int) -> dict[str, Any]:
    if not isinstance(item, dict) or not all(isinstance(key, str) for key in item):
        raise BatchError(f"batch entry {index + 1} must be an object of \"NODE.INPUT\": value")
    return dict(item)


def _seeds_and_prompts(document: dict[str, Any], graph: Graph, registry: NodeRegistry) -> list[Variation]:
    unknown = set(document) - KNOWN_KEYS
    if unknown:
        raise BatchError(f"unknown key {sorted(unknown)[0]!r} in the batch; use {', '.join(sorted(KNOWN_KEYS))}")
    axes = []
    for key, name, input_key in (("prompts", "prompt", "prompt_input"), ("seeds", "seed", "seed_input")):
        if key not in document:
            continue
        values = document[key]
        if not isinstance(values, list):
            raise BatchError(f'"{key}" must be a list')
        targets = _targets(document.get(input_key), name, input_key, graph, registry)
        axes.append([({target: value for target in targets}, _label(name, value)) for value in values])
    if not axes:
        raise BatchError('the batch names no "seeds" or "prompts"')
    variations = []
    for combination in itertools.product(*axes):
        overrides: dict[str, Any] = {}
        for part, _ in combination:
            overrides.update(part)
        variations.append(Variation(overrides, " · ".join(label for _, label in combination)))
    return variations


def _targets(named: Any, input_name: str, input_key: str, graph: Graph, registry: NodeRegistry) -> list[str]:
    if named is not None:
        targets = [named] if isinstance(named, str) else named
        if not isinstance(targets, list) or not all(isinstance(item, str) for item in targets):
            raise BatchError(f'"{input_key}" must be "NODE.INPUT" or a list of them')
        return targets
    found = []
    for node_id, graph_node in graph.nodes.items():
        spec = registry.get(graph_node.type)
        if spec is not None and input_name in spec.inputs_by_name and not is_link(graph_node.inputs.get(input_name)):
            found.append(f"{node_id}.{input_name}")
    if not found:
        raise BatchError(f"no node in the workflow has a typed-in input named {input_name!r}; "
                         f'name the one to change, e.g. "{input_key}": "NODE_ID.INPUT"')
    return found


def _label(name: str, value: Any) -> str:
    if isinstance(value, str):
        return f"{name} {value[:30] + '…' if len(value) > 30 else value!r}"
    return f"{name} {value}"


def _override_problem(graph: Graph, registry: NodeRegistry, target: str, value: Any) -> str | None:
    node_id, dot, input_name = target.rpartition(".")
    if not dot or node_id not in graph.nodes:
        return "does not name a node of the workflow (write NODE_ID.INPUT)"
    spec = registry.get(graph.nodes[node_id].type)
    if spec is None:
        return None  # an unknown node type: validation reports it with the rest
    item = spec.inputs_by_name.get(input_name)
    if item is None:
        return f"is not an input of {spec.type_name} (it has {', '.join(i.name for i in spec.inputs)})"
    return item.constant_problem(value) if item.accepts_constant else f"takes a {item.type} from a link"


def pin_random_seeds(document: dict[str, Any]) -> dict[str, Any]:
    """Give every ``core.Seed`` in "randomize" mode a fixed random seed, in place."""
    for raw in document.get("nodes", {}).values():
        inputs = raw.get("inputs", {}) if isinstance(raw, dict) else {}
        if raw.get("type") == "core.Seed" and inputs.get("mode") == "randomize" and not is_link(inputs.get("seed")):
            inputs["seed"] = secrets.randbelow(SEED_MAX + 1)
            inputs["mode"] = "fixed"
    return document
