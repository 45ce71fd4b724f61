"""Whatever a workflow file holds — wrong types everywhere, dangling links, loops,
gigantic numbers, odd unicode, deep nesting — Reelgraph answers with a report that
names the node, never with a crash; and every graph that validates also runs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu.executor import Executor
from nodes.graph import MAX_NESTING, Graph
from nodes.problems import WorkflowError
from nodes.registry import builtin_registry
from nodes.spec import NodeSpec
from nodes.validation import validate

REGISTRY = builtin_registry()
TYPE_NAMES = REGISTRY.type_names()
#: What the sound-workflow generator builds from: nodes that need neither model files
#: (model.*, diffusion.*, video.*) nor a language model or a network endpoint.
OFFLINE_TYPE_NAMES = [name for name in TYPE_NAMES
                      if name.split(".")[0] in ("core", "math", "text", "image") and name != "text.EnhancePrompt"]
NODE_IDS = ["1", "2", "3", "4", "5", "6"]

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RUNS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def no_surrogate_pair(text: str) -> bool:
    """A high surrogate followed by a low one is, in JSON, one emoji: such a string reads
    back as that emoji, which a JSON file cannot tell apart. Lone surrogates stay in."""
    return not any("\ud800" <= first <= "\udbff" and "\udc00" <= second <= "\udfff"
                   for first, second in zip(text, text[1:]))


odd_characters = st.one_of(
    st.characters(),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
    st.sampled_from(list('{}[]"\\\x00\u202e\ufeff\u0301') + ["🦊", "狐"]),
)
odd_text = st.text(odd_characters, max_size=12).filter(no_surrogate_pair)
code_like_text = st.sampled_from([
    "__import__('os').system('echo pwned')", "{a.__class__.__mro__}", "{a.__globals__}",
    "${{7*7}}", "`rm -rf ~`", "'); DROP TABLE nodes; --", "lambda: 0", "eval('1')",
    "a.__class__", "().__class__.__bases__[0].__subclasses__()",
])
# Built by a map: Hypothesis prints its strategies, and Python will not print 10**5000.
gigantic_integers = st.one_of(
    st.sampled_from([5000, -5000, 400]).map(lambda exponent: (exponent > 0 or -1) * 10 ** abs(exponent)),
    st.sampled_from([2**64, 2**63, -(2**63) - 1]),
)
numbers = st.one_of(
    st.integers(-3, 70), st.floats(allow_nan=True, allow_infinity=True), gigantic_integers,
)
leaves = st.one_of(st.none(), st.booleans(), numbers, odd_text, code_like_text)
json_like = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)),
    max_leaves=10,
)


def deeply_nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"deeper": value}
    return value


deep_values = st.integers(MAX_NESTING - 2, MAX_NESTING + 20).map(deeply_nested)
any_value = st.one_of(json_like, deep_values)


SOUND_TEXT = {
    "expression": ["a + b", "a / b", "9**9**9", "max(a, 1) * 2", "clamp(a, 0, 1)"],
    "template": ["{a} and {b}", "{{literal}} {c}", "", "{d}"],
    "color": ["#abc", "teal", "#000000"],
    "path": ["", "missing.png", "../nowhere/fox.jpg"],
    "filename_prefix": ["fox", "shots/fox", "../escape", ""],
}


def sound_value(item: Any) -> st.SearchStrategy[Any]:
    """A value that passes validation for ``item`` (sizes kept small, so runs stay quick)."""
    if item.choices is not None:
        return st.sampled_from(item.choices)
    if item.name in SOUND_TEXT:
        return st.sampled_from(SOUND_TEXT[item.name])
    low = 0 if item.min is None else item.min
    high = 64 if item.max is None else min(item.max, 64)
    return {
        "INT": st.integers(int(low), int(high)),
        "FLOAT": st.floats(low, high, allow_nan=False),
        "BOOLEAN": st.booleans(),
        "STRING": odd_text | code_like_text,
        "*": json_like,
    }[item.type]


@st.composite
def plausible_values(draw: st.DrawFn, spec: NodeSpec | None, input_name: str) -> Any:
    """What a creator (or a damaged file) may type into one input: sound values often."""
    item = spec.inputs_by_name.get(input_name) if spec is not None else None
    choice = draw(st.integers(0, 9))
    if choice <= 2:  # a link, to a node that may or may not exist, by an output that may or may not exist
        source = draw(st.sampled_from(NODE_IDS + ["ghost"]))
        source_spec = REGISTRY.get(draw(st.sampled_from(TYPE_NAMES)))
        output = draw(st.sampled_from([output.name for output in source_spec.outputs] + ["nope"]))
        return [source, output]
    if choice <= 6 and item is not None:
        if item.choices is not None:
            return draw(st.sampled_from(item.choices))
        sound = {
            "INT": st.integers(-1, 64),
            "FLOAT": st.floats(-2, 64, allow_nan=False),
            "BOOLEAN": st.booleans(),
            "STRING": st.sampled_from(["", "#abc", "teal", "a + b", "a / b", "9**9**9", "{a} and {b}",
                                       "{{literal}}", "fox.png", "shots/fox", "../escape", "a {nope}"]),
        }.get(item.type)
        if sound is not None:
            return draw(sound)
    return draw(any_value)


@st.composite
def workflow_documents(draw: st.DrawFn) -> Any:
    """Documents from nearly right to thoroughly wrong."""
    if draw(st.integers(0, 19)) == 0:
        return draw(any_value)  # not even an object
    nodes: dict[str, Any] = {}
    for node_id in draw(st.lists(st.one_of(st.sampled_from(NODE_IDS), odd_text), max_size=6, unique=True)):
        if draw(st.integers(0, 14)) == 0:
            nodes[node_id] = draw(any_value)
            continue
        type_name = draw(st.one_of(st.sampled_from(TYPE_NAMES), st.sampled_from(["math.Ad", "acme.Warp", ""]),
                                   any_value))
        spec = REGISTRY.get(type_name) if isinstance(type_name, str) else None
        names = [item.name for item in spec.inputs] if spec is not None else []
        input_names = draw(st.lists(st.one_of(st.sampled_from(names or ["a"]), odd_text), max_size=5, unique=True))
        node: dict[str, Any] = {"type": type_name,
                                "inputs": {name: draw(plausible_values(spec, name)) for name in input_names}}
        for key, strategy in (("title", odd_text), ("pos", st.lists(numbers, min_size=2, max_size=2)),
                              ("bypass", st.booleans()), ("editor_colour", json_like)):
            if draw(st.booleans()):
                node[key] = draw(st.one_of(strategy, any_value) if draw(st.integers(0, 4)) == 0 else strategy)
        if draw(st.integers(0, 9)) == 0:
            node["inputs"] = draw(any_value)
        nodes[node_id] = node
    document: dict[str, Any] = {"format": "reelgraph.workflow", "version": 1, "nodes": nodes}
    for key in ("format", "version", "groups", "meta", "nodes", "extension"):
        if draw(st.integers(0, 14)) == 0:
            document[key] = draw(any_value)
    return document


def check_structural_error(error: WorkflowError, document: Any) -> None:
    assert error.problems, "a WorkflowError must say what is wrong"
    node_ids = document.get("nodes", {}) if isinstance(document, dict) else {}
    for problem in error.problems:
        assert problem.message
        assert problem.node_id is None or problem.node_id in node_ids, problem
        assert problem.where() == "workflow" or problem.where().startswith("node ")
    str(error)  # the summary can always be printed


@FUZZ
@given(workflow_documents())
def test_any_document_opens_or_is_refused_with_problems_that_name_the_node(document: Any) -> None:
    try:
        graph = Graph.from_dict(document)
    except WorkflowError as error:
        check_structural_error(error, document)
        return
    assert set(graph.nodes) <= set(document["nodes"])


@FUZZ
@given(workflow_documents())
def test_any_document_that_opens_validates_without_raising(document: Any) -> None:
    try:
        graph = Graph.from_dict(document)
    except WorkflowError:
        return
    report = validate(graph, REGISTRY)
    for problem in report:
        assert problem.node_id in graph.nodes, problem
        assert problem.fix, problem
    report.text()
    json.dumps(report.to_json())


@FUZZ
@given(workflow_documents())
def test_any_document_that_opens_saves_and_opens_again_unchanged(document: Any) -> None:
    try:
        graph = Graph.from_dict(document)
    except WorkflowError:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = graph.save(Path(folder) / "workflow.json")
        assert Graph.load(path).to_dict() == graph.to_dict()


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_any_bytes_open_or_are_refused_cleanly(data: bytes) -> None:
    try:
        Graph.loads(data)
    except WorkflowError as error:
        check_structural_error(error, None)


@FUZZ
@given(workflow_documents())
def test_any_document_as_json_text_opens_or_is_refused_cleanly(document: Any) -> None:
    try:
        text = json.dumps(document, ensure_ascii=False, allow_nan=True)
    except (ValueError, RecursionError):
        return  # not writable as JSON text at all (gigantic integers)
    try:
        Graph.loads(text.encode("utf-8", "surrogatepass"))
        Graph.loads(text)
    except WorkflowError as error:
        check_structural_error(error, document)


@st.composite
def sound_workflows(draw: st.DrawFn) -> Graph:
    """Graphs built the way the editor builds them — links only to earlier nodes of a
    fitting type — with the odd wrong value mixed in, so most of them validate."""
    graph = Graph()
    for number in range(draw(st.integers(1, 6))):
        spec = REGISTRY[draw(st.sampled_from(OFFLINE_TYPE_NAMES))]
        inputs: dict[str, Any] = {}
        for item in spec.inputs:
            earlier = [(node_id, output.name) for node_id, node in graph.nodes.items()
                       for output in REGISTRY[node.type].outputs
                       if output.type == item.type or item.type == "*" or (output.type, item.type) == ("INT", "FLOAT")]
            if not earlier and item.required and item.type == "IMAGE":
                size = {"width": draw(st.integers(1, 32)), "height": draw(st.integers(1, 32))}
                earlier = [(graph.add("image.Solid", size, node_id=f"{number + 1}-{item.name}"), "image")]
            if earlier and draw(st.integers(0, 2)) > 0:
                inputs[item.name] = list(draw(st.sampled_from(earlier)))
            elif draw(st.integers(0, 29)) == 0:
                inputs[item.name] = draw(plausible_values(spec, item.name))
            elif item.accepts_constant and draw(st.booleans()):
                inputs[item.name] = draw(sound_value(item))
        graph.add(spec.type_name, inputs, node_id=str(number + 1), bypass=draw(st.integers(0, 7)) == 0)
    return graph


@pytest.fixture(scope="module")
def fuzz_output_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-output")


@RUNS
@given(graph=sound_workflows())
def test_every_workflow_that_validates_also_runs_without_raising(graph: Graph, fuzz_output_folder: Path) -> None:
    try:
        graph = Graph.from_dict(graph.to_dict())  # the way a file would bring it in
    except WorkflowError:
        return
    if not validate(graph, REGISTRY).ok:
        return
    with Executor(REGISTRY, output_dir=fuzz_output_folder, cpu_workers=2) as executor:
        result = executor.run(graph)
    assert not result.cancelled
    for node_id, error in result.errors.items():
        assert error.message and node_id in graph.nodes
    for node_id in result.skipped:
        assert node_id in graph.nodes
    produced = set(result.executed) | set(result.cached) | set(result.errors) | set(result.skipped)
    assert produced <= set(graph.nodes)
    assert all(path.resolve().is_relative_to(fuzz_output_folder.resolve())
               for path in fuzz_output_folder.rglob("*.png"))


def test_the_sound_workflow_generator_mostly_makes_valid_graphs() -> None:
    """Guard for the test above: it proves nothing if almost nothing validates."""
    valid = 0

    @settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @given(sound_workflows())
    def count(graph: Graph) -> None:
        nonlocal valid
        valid += validate(graph, REGISTRY).ok

    count()
    assert valid >= 35, f"only {valid} of 100 generated workflows validate"
