"""Shared helpers for the tests of the ``nodes`` room: the built-in registry, a way to
write a workflow document by hand, and a real executor to run it (on the CPU, with
its output folder inside the test's temporary folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from gpu.events import RunResult
from gpu.executor import Executor
from nodes.graph import Graph
from nodes.registry import NodeRegistry, builtin_registry


def workflow_document(nodes: dict[str, Any], **top_level: Any) -> dict[str, Any]:
    """A canonical workflow document: every node carries all five node keys."""
    canonical = {}
    for node_id, node in nodes.items():
        canonical[node_id] = {"inputs": {}, "title": "", "pos": [0, 0], "bypass": False, **node}
    document = {"format": "reelgraph.workflow", "version": 1, "nodes": canonical, "groups": [], "meta": {}}
    document.update(top_level)
    return document


@pytest.fixture(scope="session")
def registry() -> NodeRegistry:
    """Only the built-in node library: user packs on this machine must not leak in."""
    return builtin_registry()


@pytest.fixture
def make_document() -> Callable[..., dict[str, Any]]:
    return workflow_document


@pytest.fixture
def output_folder(tmp_path: Path) -> Path:
    return tmp_path / "output"


@pytest.fixture
def executor(registry: NodeRegistry, output_folder: Path) -> Iterator[Executor]:
    """One executor per test, so its output cache is shared by every run in that test."""
    with Executor(registry, output_dir=output_folder, cpu_workers=2) as running:
        yield running


@pytest.fixture
def run_nodes(executor: Executor) -> Callable[..., RunResult]:
    """Run a workflow given as its node table (or a Graph) and return the result."""

    def run(nodes: dict[str, Any] | Graph, targets: list[str] | None = None) -> RunResult:
        graph = nodes if isinstance(nodes, Graph) else Graph.from_dict(workflow_document(nodes))
        return executor.run(graph, targets)

    return run
