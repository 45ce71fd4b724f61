"""Opening, validating and running a workflow never runs code that came with it: a
formula is arithmetic, a template fills slots, text stays text. Proved two ways — a
file the payload would create never appears, and Python's audit hooks see no
``exec``/``eval``, no shell, no new process and no unpickling while it happens."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from gpu.executor import Executor
from nodes.graph import Graph
from nodes.problems import WorkflowError
from nodes.registry import NodeRegistry
from nodes.validation import validate

#: Audit events that mean code, a shell or a process was started, or an object unpickled.
FORBIDDEN = ("exec", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "subprocess.Popen",
             "pickle.find_class", "marshal.loads", "ctypes.dlopen", "import")

_recording: list[list[tuple[str, str]]] = []


def _audit(event: str, arguments: tuple[Any, ...]) -> None:
    if _recording and event.startswith(FORBIDDEN):
        _recording[-1].append((event, repr(arguments)[:200]))


sys.addaudithook(_audit)  # hooks cannot be removed; it records only inside `nothing_runs`


@pytest.fixture
def nothing_runs() -> Iterator[list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    _recording.append(seen)
    try:
        yield seen
    finally:
        _recording.remove(seen)


def payload(marker: Path) -> str:
    return f"__import__('os').system('touch {marker}')"


def hostile_workflow(marker: Path) -> dict[str, Any]:
    """Code where a careless tool would run it; every part of it is valid except where noted."""
    code = payload(marker)
    return {
        "format": "reelgraph.workflow", "version": 1,
        "nodes": {
            "code-as-text": {"type": "core.String", "inputs": {"value": code}, "title": code},
            "template-echo": {"type": "text.Template",
                              "inputs": {"template": "{a} {{a.__class__}}", "a": ["code-as-text", "value"],
                                         "b": {"__class__": code, "__reduce__": [code]}}},
            "linked-formula": {"type": "math.Expression", "inputs": {"expression": ["code-as-text", "value"]}},
            "linked-template": {"type": "text.Template",
                                "inputs": {"template": ["attribute-template", "value"], "a": "fox"}},
            "attribute-template": {"type": "core.String", "inputs": {"value": "{a.__class__.__mro__}"}},
            "picture": {"type": "image.Solid", "inputs": {"width": 4, "height": 4}},
            "save": {"type": "image.Save", "inputs": {"image": ["picture", "image"], "filename_prefix": "proof"}},
        },
        "groups": [{"title": code, "eval": code}],
        "meta": {"on_open": code, "script": "import os; os.system('reboot')", "__init__": code},
        "plugins": [code],
    }


def invalid_hostile_workflow(marker: Path) -> dict[str, Any]:
    """Code typed straight into a formula and a template: validation must refuse both."""
    document = hostile_workflow(marker)
    document["nodes"]["typed-formula"] = {"type": "math.Expression", "inputs": {"expression": payload(marker)}}
    document["nodes"]["typed-template"] = {"type": "text.Template", "inputs": {"template": "{a.__class__}"}}
    document["nodes"]["typed-type"] = {"type": payload(marker), "inputs": {}}
    return document


@pytest.fixture
def warmed_up(registry: NodeRegistry, tmp_path: Path) -> None:
    """Run every node kind once beforehand, so lazy imports (Pillow, OpenCV) are already done
    and any ``exec`` the audit hook sees later can only have come from the workflow."""
    graph = Graph.load(Graph.from_dict(hostile_workflow(tmp_path / "unused")).save(tmp_path / "warm-up.json"))
    with Executor(registry, output_dir=tmp_path / "warm-up") as executor:
        executor.run(graph, targets=list(graph.nodes))
    Graph.load(next((tmp_path / "warm-up").glob("*.png")))


def test_running_a_workflow_full_of_code_runs_none_of_it(registry: NodeRegistry, tmp_path: Path, warmed_up: None,
                                                         nothing_runs: list) -> None:
    marker = tmp_path / "pwned"
    path = Graph.from_dict(hostile_workflow(marker)).save(tmp_path / "hostile.json")
    graph = Graph.load(path)
    assert validate(graph, registry).ok
    with Executor(registry, output_dir=tmp_path / "output") as executor:
        result = executor.run(graph, targets=list(graph.nodes))
    reopened = Graph.load(result.output("save", "path"))
    assert nothing_runs == []
    assert not marker.exists()
    assert result.output("code-as-text") == payload(marker)
    assert result.output("template-echo") == payload(marker) + " {a.__class__}"
    assert "'Call' is not allowed" in result.errors["linked-formula"].message
    assert "which is not a slot" in result.errors["linked-template"].message
    assert reopened.meta["on_open"] == payload(marker)


def test_validating_code_typed_into_a_formula_or_template_refuses_it(registry: NodeRegistry, tmp_path: Path,
                                                                      warmed_up: None, nothing_runs: list) -> None:
    marker = tmp_path / "pwned"
    graph = Graph.from_dict(invalid_hostile_workflow(marker))
    report = validate(graph, registry)
    with Executor(registry, output_dir=tmp_path / "output") as executor:
        with pytest.raises(WorkflowError):
            executor.run(graph)
    assert nothing_runs == []
    assert not marker.exists()
    assert {problem.node_id for problem in report.errors} == {"typed-formula", "typed-template", "typed-type"}
    assert "'Call' is not allowed" in report.for_node("typed-formula")[0].message


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch {marker}')",
    "exec(\"open('{marker}', 'w')\")",
    "eval('1')",
    "(lambda: 1)()",
    "[x for x in (1,)]",
    "a.__class__",
    "open('{marker}', 'w')",
    "globals()",
])
def test_a_formula_is_arithmetic_and_nothing_else(registry: NodeRegistry, tmp_path: Path, text: str,
                                                  nothing_runs: list) -> None:
    marker = tmp_path / "pwned"
    graph = Graph()
    graph.add("math.Expression", {"expression": text.format(marker=marker)}, node_id="formula")
    (problem,) = validate(graph, registry).errors
    assert problem.node_id == "formula" and problem.input == "expression"
    assert nothing_runs == [] and not marker.exists()


def test_a_pickle_dressed_as_a_workflow_is_refused_without_unpickling(tmp_path: Path, nothing_runs: list) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[Any, ...]:
            return (eval, (payload(marker),))

    for protocol in (0, pickle.HIGHEST_PROTOCOL):  # protocol 0 is plain ASCII text
        path = tmp_path / f"workflow-{protocol}.json"
        path.write_bytes(pickle.dumps(Exploit(), protocol=protocol))
        with pytest.raises(WorkflowError):
            Graph.load(path)
    assert nothing_runs == [] and not marker.exists()


def test_a_python_file_dressed_as_a_workflow_is_refused(tmp_path: Path, nothing_runs: list) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "workflow.json"
    path.write_text(f"import os\nos.system('touch {marker}')\n", encoding="utf-8")
    with pytest.raises(WorkflowError, match="not valid JSON"):
        Graph.load(path)
    assert nothing_runs == [] and not marker.exists()


def test_the_watch_would_see_code_run_if_any_did(tmp_path: Path, nothing_runs: list) -> None:
    """Guard for the tests above: the audit hook really notices eval, exec and a shell."""
    eval("1 + 1")
    exec("pass")
    __import__("os").system(f"touch {tmp_path / 'seen'}")
    assert [event for event, _ in nothing_runs] == ["exec", "exec", "os.system"]
