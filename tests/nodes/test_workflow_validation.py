"""Validation as a creator meets it: every problem in the workflow at once, each naming
the node, the input and a fix, before anything runs."""

from __future__ import annotations

import time

import pytest

from nodes.graph import Graph
from nodes.problems import ERROR, WARNING, Problem, ValidationReport
from nodes.registry import NodeRegistry
from nodes.validation import find_cycles, validate


def problems_of(graph: Graph, registry: NodeRegistry) -> list[Problem]:
    report = validate(graph, registry)
    for problem in report:
        assert problem.node_id in graph.nodes, f"{problem} names no node of the workflow"
        assert problem.fix, f"{problem} offers no fix"
        assert problem.message and problem.code
    return report.problems


def only_problem(graph: Graph, registry: NodeRegistry) -> Problem:
    found = problems_of(graph, registry)
    assert len(found) == 1, [str(problem) for problem in found]
    return found[0]


def test_a_sound_workflow_has_no_problems(registry: NodeRegistry) -> None:
    graph = Graph()
    size = graph.add("core.Int", {"value": 64})
    half = graph.add("math.Expression", {"expression": "a / 2", "a": (size, "value")})
    picture = graph.add("image.Solid", {"width": (half, "rounded"), "height": (size, "value"), "color": "#abc"})
    graph.add("image.Preview", {"image": (picture, "image")})
    report = validate(graph, registry)
    assert report.ok and len(report) == 0
    assert report.text() == "The workflow is valid."


def test_unknown_type_suggests_the_closest_name(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("math.Ad", {"a": 1}, node_id="sum")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.code) == ("sum", "unknown-type")
    assert "'math.Ad'" in problem.message
    assert problem.fix == "did you mean 'math.Add'?"


def test_unknown_type_with_nothing_close_says_to_install_a_pack(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("acme.WarpDrive", node_id="warp")
    assert "install the node pack" in only_problem(graph, registry).fix


def test_unknown_type_still_reports_its_dangling_links(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("acme.WarpDrive", {"power": ("gone", "value")}, node_id="warp")
    codes = sorted((problem.code, problem.input) for problem in problems_of(graph, registry))
    assert codes == [("missing-node", "power"), ("unknown-type", None)]


def test_missing_required_input_names_node_and_input(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Preview", {}, node_id="viewer")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input, problem.code) == ("viewer", "image", "missing-input")
    assert problem.fix == "connect an IMAGE output to it"
    assert str(problem).startswith("node 'viewer' (image.Preview), input 'image': is required")


def test_workflow_with_dangling_link_names_node_and_input(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Preview", {"image": ("deleted-loader", "image")}, node_id="viewer")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input, problem.code) == ("viewer", "image", "missing-node")
    assert "'deleted-loader'" in problem.message


def test_link_to_an_output_the_source_does_not_have_lists_its_outputs(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Load", {"path": "fox.png"}, node_id="loader")
    graph.add("image.Preview", {"image": ("loader", "picture")}, node_id="viewer")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input, problem.code) == ("viewer", "image", "missing-output")
    assert "'picture'" in problem.message
    assert "'image', 'mask', 'width', 'height'" in problem.fix


def test_text_linked_into_a_number_is_a_type_mismatch(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("core.String", {"value": "3"}, node_id="words")
    graph.add("math.Add", {"a": ("words", "value"), "b": 1}, node_id="sum")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input, problem.code) == ("sum", "a", "type-mismatch")
    assert "expects FLOAT" in problem.message and "STRING" in problem.message
    assert problem.fix == "link a FLOAT output instead"


def test_a_whole_number_may_feed_a_decimal_input_but_not_the_reverse(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("core.Int", {"value": 3}, node_id="count")
    graph.add("core.Float", {"value": 0.5}, node_id="strength")
    graph.add("math.Add", {"a": ("count", "value"), "b": ("strength", "value")}, node_id="sum")
    assert validate(graph, registry).ok
    graph.add("image.Solid", {"width": ("strength", "value")}, node_id="picture")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input, problem.code) == ("picture", "width", "type-mismatch")


def test_anything_may_feed_a_template_slot(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Solid", node_id="picture")
    graph.add("text.Template", {"template": "{a}", "a": ("picture", "image")}, node_id="words")
    assert validate(graph, registry).ok


def test_value_out_of_range_says_the_allowed_range(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Solid", {"width": 0, "height": 99999}, node_id="picture")
    found = {problem.input: problem for problem in problems_of(graph, registry)}
    assert found.keys() == {"width", "height"}
    assert "below the minimum 1" in found["width"].message
    assert "above the maximum 16384" in found["height"].message
    assert found["height"].fix == "use a value from 1 to 16384"
    assert {problem.code for problem in found.values()} == {"bad-value"}


def test_a_gigantic_number_is_out_of_range_not_a_crash(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("core.Int", {"value": 10**5000}, node_id="huge")  # built in code, never a file
    graph.add("core.String", {"value": -(10**5000)}, node_id="text")
    graph.add("core.Float", {"value": 10**400}, node_id="decimal")
    found = {problem.node_id: problem.message for problem in problems_of(graph, registry)}
    assert "about 5001 digits, above the maximum" in found["huge"]
    assert "expects text, got a negative number of about 5001 digits" in found["text"]
    assert "too large" in found["decimal"]


def test_value_not_among_the_choices_lists_them(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Solid", node_id="picture")
    graph.add("image.Resize", {"image": ("picture", "image"), "mode": "squash"}, node_id="resize")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input) == ("resize", "mode")
    assert "'stretch', 'fit', 'fill'" in problem.message
    assert problem.fix == "pick one of the listed values"


def test_a_choice_must_match_in_type_not_just_in_equality(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("core.Seed", {"mode": 1}, node_id="seed")
    assert only_problem(graph, registry).input == "mode"


@pytest.mark.parametrize("node_type, input_name, value", [
    ("core.Int", "value", 1.5),
    ("core.Int", "value", True),
    ("core.Float", "value", "0.5"),
    ("core.Bool", "value", 1),
    ("core.String", "value", None),
    ("math.Add", "a", [1, 2, 3]),
    ("image.Preview", "image", "fox.png"),
])
def test_a_typed_in_value_of_the_wrong_kind_is_an_error(registry: NodeRegistry, node_type: str,
                                                        input_name: str, value: object) -> None:
    graph = Graph()
    graph.add(node_type, {input_name: value}, node_id="node")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input, problem.severity) == ("node", input_name, ERROR)


def test_unknown_input_name_is_only_a_warning(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("math.Add", {"a": 1, "b": 2, "c": 3}, node_id="sum")
    report = validate(graph, registry)
    assert report.ok
    (problem,) = report.warnings
    assert (problem.node_id, problem.input, problem.severity, problem.code) == ("sum", "c", WARNING, "unknown-input")
    assert "1 error(s)" not in report.text() and "0 error(s), 1 warning(s)" in report.text()


def test_two_node_loop_names_both_nodes(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("math.Add", {"a": ("second", "sum")}, node_id="first")
    graph.add("math.Add", {"a": ("first", "sum")}, node_id="second")
    problem = only_problem(graph, registry)
    assert problem.code == "cycle"
    assert "'first'" in problem.message and "'second'" in problem.message
    assert problem.fix == "remove one of the links on the loop"


def test_three_node_loop_names_every_node_in_link_order(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("math.Add", {"a": ("c", "sum")}, node_id="a")
    graph.add("math.Add", {"a": ("a", "sum")}, node_id="b")
    graph.add("math.Add", {"a": ("b", "sum")}, node_id="c")
    graph.add("math.Add", {"a": ("c", "sum")}, node_id="reader-outside-the-loop")
    problem = only_problem(graph, registry)
    assert problem.code == "cycle"
    assert "'a' → 'b' → 'c'" in problem.message
    assert "reader-outside-the-loop" not in problem.message


def test_node_linked_to_itself_is_a_loop(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("math.Add", {"a": ("echo", "sum")}, node_id="echo")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.code) == ("echo", "cycle")
    assert "its own output" in problem.message


def test_two_separate_loops_are_two_problems(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("math.Add", {"a": ("x2", "sum")}, node_id="x1")
    graph.add("math.Add", {"a": ("x1", "sum")}, node_id="x2")
    graph.add("math.Add", {"a": ("y", "sum")}, node_id="y")
    assert sorted(problem.node_id for problem in problems_of(graph, registry)) == ["x1", "y"]


def chain(length: int, closed: bool = False) -> Graph:
    """Additions one after another; ``closed`` links the last back into the first."""
    graph = Graph()
    graph.add("math.Add", {"a": (f"n{length - 1}", "sum") if closed else 1.0, "b": 1}, node_id="n0")
    for number in range(1, length):
        graph.add("math.Add", {"a": (f"n{number - 1}", "sum"), "b": 1}, node_id=f"n{number}")
    return graph


def test_a_3000_node_chain_validates_without_hitting_the_recursion_limit(registry: NodeRegistry) -> None:
    began = time.perf_counter()
    report = validate(chain(3000), registry)
    assert report.ok, report.text()
    assert time.perf_counter() - began < 5


def test_a_3000_node_loop_is_one_problem_with_a_short_message(registry: NodeRegistry) -> None:
    problems = find_cycles(chain(3000, closed=True))
    assert len(problems) == 1
    assert problems[0].message.endswith("and 2988 more")


def test_bypassed_node_passes_its_matching_input_through(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Solid", node_id="picture")
    graph.add("image.Blur", {"image": ("picture", "image")}, node_id="blur", bypass=True)
    graph.add("image.Preview", {"image": ("blur", "image")}, node_id="viewer")
    assert validate(graph, registry).ok


def test_bypassed_node_with_nothing_to_pass_through_is_an_error(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Load", {"path": "fox.png"}, node_id="loader", bypass=True)
    graph.add("image.Preview", {"image": ("loader", "image")}, node_id="viewer")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.code) == ("loader", "bypass-without-input")
    assert "no IMAGE input to pass through to output 'image'" in problem.message


def test_bypassed_node_that_nobody_reads_is_fine(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Load", {"path": "fox.png"}, node_id="loader", bypass=True)
    assert validate(graph, registry).ok


def test_expression_syntax_error_is_caught_before_running(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("math.Expression", {"expression": "(a + b"}, node_id="formula")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input, problem.code) == ("formula", "expression", "bad-value")
    assert "cannot read the expression" in problem.message


@pytest.mark.parametrize("text, words", [
    ("a + width", "unknown name 'width'"),
    ("hypot(a, b)", "unknown function 'hypot'"),
    ("a if b else c", "'IfExp' is not allowed"),
    ("'text'", "the value 'text' is not allowed"),
    ("", "empty"),
])
def test_expression_outside_the_allowed_arithmetic_is_caught(registry: NodeRegistry, text: str, words: str) -> None:
    graph = Graph()
    graph.add("math.Expression", {"expression": text}, node_id="formula")
    assert words in only_problem(graph, registry).message


def test_template_with_unknown_slot_is_caught_before_running(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("text.Template", {"template": "a {animal} in {a}"}, node_id="prompt")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input, problem.code) == ("prompt", "template", "bad-value")
    assert "{animal}" in problem.message
    assert "{{" in problem.fix


def test_solid_with_an_unreadable_colour_is_caught_before_running(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Solid", {"color": "#12345"}, node_id="picture")
    problem = only_problem(graph, registry)
    assert (problem.node_id, problem.input) == ("picture", "color")
    assert "'#12345'" in problem.message


def test_every_problem_is_reported_in_one_pass(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("math.Ad", node_id="typo")
    graph.add("image.Preview", node_id="empty-viewer")
    graph.add("image.Preview", {"image": ("ghost", "image")}, node_id="haunted-viewer")
    graph.add("math.Expression", {"expression": "a +"}, node_id="formula")
    graph.add("math.Add", {"a": ("loop", "sum")}, node_id="loop")
    report = validate(graph, registry)
    assert {problem.node_id for problem in report.errors} == {
        "typo", "empty-viewer", "haunted-viewer", "formula", "loop"}
    assert report.text().startswith("5 error(s), 0 warning(s):")
    assert len(report.for_node("loop")) == 1


def test_validating_only_what_a_run_needs_ignores_unrelated_nodes(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Solid", node_id="picture")
    graph.add("image.Preview", {"image": ("picture", "image")}, node_id="viewer")
    graph.add("image.Preview", node_id="unfinished-viewer")
    graph.add("math.Add", {"a": ("spin", "sum")}, node_id="spin")
    assert validate(graph, registry, ["picture", "viewer"]).ok
    assert not validate(graph, registry).ok


def test_report_as_json_carries_every_field_the_editor_highlights(registry: NodeRegistry) -> None:
    graph = Graph()
    graph.add("image.Solid", {"width": -1}, node_id="picture")
    data = validate(graph, registry).to_json()
    assert data["ok"] is False
    (problem,) = data["problems"]
    assert problem == {"severity": "error", "code": "bad-value", "node_id": "picture", "node_type": "image.Solid",
                       "input": "width", "message": "is -1, below the minimum 1", "fix": "use a value from 1 to 16384"}


def test_an_empty_report_is_ok_and_falsy_in_length() -> None:
    report = ValidationReport()
    assert report.ok and len(report) == 0 and report.errors == [] and report.warnings == []
