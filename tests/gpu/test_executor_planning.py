"""What a run is asked to do: its targets, bypassed nodes, and workflows that cannot
run at all, which are refused before anything starts."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.graph import Graph
from nodes.problems import WorkflowError


def test_only_what_the_targets_need_runs(executor, journal):
    graph = Graph()
    prompt = graph.add("test.Cpu", {"value": 1.0})
    render = graph.add("test.Cpu", {"value": (prompt, "value")})
    graph.add("test.Cpu", {"value": (render, "value")})  # a preview of the render
    unrelated = graph.add("test.Gpu", {"value": 5.0})

    result = executor.run(graph, targets=[render])

    assert sorted(journal.ran()) == sorted([prompt, render])
    assert sorted(result.executed) == sorted([prompt, render])
    assert unrelated not in result.outputs
    assert result.targets == [render]
    assert result.output(render) == 3.0


def test_output_nodes_are_the_default_targets(executor, journal):
    graph = Graph()
    picture = graph.add("test.Cpu", {"value": 1.0})
    save = graph.add("test.Output", {"value": (picture, "value")})
    scratch = graph.add("test.Cpu", {"value": 9.0})  # a sink, but not an output node

    result = executor.run(graph)

    assert result.targets == [save]
    assert sorted(journal.ran()) == sorted([picture, save])
    assert scratch not in result.outputs


def test_without_output_nodes_every_sink_is_a_target(executor, journal):
    graph = Graph()
    source = graph.add("test.Cpu", {"value": 1.0})
    first = graph.add("test.Cpu", {"value": (source, "value")})
    second = graph.add("test.Light", {"value": (source, "value")})
    alone = graph.add("test.Gpu")

    result = executor.run(graph)

    assert sorted(result.targets) == sorted([first, second, alone])
    assert sorted(journal.ran()) == sorted([source, first, second, alone])


def test_an_unrelated_broken_node_does_not_stop_a_targeted_run(executor):
    graph = Graph()
    wanted = graph.add("test.Cpu", {"value": 1.0})
    graph.add("test.Nonexistent")

    result = executor.run(graph, targets=[wanted])

    assert result.ok and result.output(wanted) == 2.0


def test_a_target_that_is_not_in_the_workflow_is_refused(executor, journal):
    graph = Graph()
    graph.add("test.Cpu")

    with pytest.raises(WorkflowError) as caught:
        executor.run(graph, targets=["gone"])

    assert "gone" in str(caught.value)
    assert caught.value.problems[0].code == "missing-node"
    assert journal.visits == []


def invalid_graph() -> tuple[Graph, dict[str, str]]:
    graph = Graph()
    ids = {
        "fine": graph.add("test.Cpu", {"value": 1.0}),
        "unknown": graph.add("test.Upscale"),
        "unlinked": graph.add("test.Caption", {"text": ["nowhere", "text"]}),
        "out_of_range": graph.add("image.Solid", {"width": 0}),
    }
    return graph, ids


def test_an_invalid_workflow_is_refused_with_the_full_report_before_anything_runs(executor, journal):
    graph, ids = invalid_graph()

    with pytest.raises(WorkflowError) as caught:
        executor.run(graph)

    problems = caught.value.problems
    assert {(problem.node_id, problem.code) for problem in problems} >= {
        (ids["unknown"], "unknown-type"),
        (ids["unlinked"], "missing-node"),
        (ids["out_of_range"], "bad-value"),
    }
    assert "and 2 more problems" in str(caught.value)
    assert journal.visits == []
    assert len(executor.cache) == 0


def test_submitting_an_invalid_workflow_is_refused_at_once(executor, journal):
    graph, ids = invalid_graph()

    with pytest.raises(WorkflowError) as caught:
        executor.submit(graph)

    assert len(caught.value.problems) == 3
    assert journal.visits == []


def test_a_loop_of_links_is_refused_naming_its_nodes(executor, journal):
    graph = Graph()
    first = graph.add("test.Cpu", node_id="first")
    second = graph.add("test.Cpu", {"value": (first, "value")}, node_id="second")
    graph.nodes[first].inputs["value"] = [second, "value"]
    graph.add("test.Cpu", {"value": (second, "value")})

    with pytest.raises(WorkflowError) as caught:
        executor.run(graph)

    cycle = [problem for problem in caught.value.problems if problem.code == "cycle"]
    assert len(cycle) == 1
    assert "'first'" in cycle[0].message and "'second'" in cycle[0].message
    assert journal.visits == []


def test_planning_shows_what_would_run_and_what_comes_from_cache(executor, journal):
    graph = Graph()
    source = graph.add("test.Cpu", {"value": 1.0})
    executor.run(graph)
    sink = graph.add("test.Cpu", {"value": (source, "value")})

    plan = executor.plan(graph)

    assert list(plan.steps) == [sink]
    assert list(plan.cached) == [source]
    assert len(journal.visits) == 1  # planning runs nothing


# ----- bypass --------------------------------------------------------------------------

def test_a_bypassed_node_passes_its_first_input_of_a_matching_type_through(executor):
    graph = Graph()
    subject = graph.add("core.String", {"value": "a lighthouse"})
    strength = graph.add("core.Float", {"value": 0.5})
    titled = graph.add("test.Caption", {"strength": (strength, "value"), "text": (subject, "value"),
                                        "suffix": " in fog"}, bypass=True)
    shown = graph.add("text.Template", {"template": "{a}", "a": (titled, "text")})

    result = executor.run(graph)

    assert result.output(titled) == "a lighthouse"
    assert result.output(shown) == "a lighthouse"


def test_a_bypassed_blur_hands_the_picture_on_unchanged(executor, journal):
    graph = Graph()
    picture = graph.add("image.Solid", {"width": 16, "height": 8, "color": "#ff8800"})
    blur = graph.add("image.Blur", {"image": (picture, "image"), "radius": 4.0}, bypass=True)
    preview = graph.add("image.Preview", {"image": (blur, "image")})

    result = executor.run(graph)

    assert result.ok
    assert np.array_equal(result.output(preview), result.output(picture))


def test_turning_bypass_off_runs_the_node_again(executor):
    graph = Graph()
    subject = graph.add("core.String", {"value": "a fox"})
    titled = graph.add("test.Caption", {"text": (subject, "value"), "suffix": " at night"}, bypass=True)

    assert executor.run(graph).output(titled) == "a fox"
    graph.nodes[titled].bypass = False
    result = executor.run(graph)

    assert result.executed == [titled]
    assert result.output(titled) == "a fox at night"


def test_bypassing_a_node_with_nothing_to_pass_through_is_refused_when_planning(executor, journal):
    graph = Graph()
    formula = graph.add("math.Expression", {"expression": "a * 2", "a": 3.0}, bypass=True)
    graph.add("test.Cpu", {"value": (formula, "rounded")})

    with pytest.raises(WorkflowError) as caught:
        executor.plan(graph)
    with pytest.raises(WorkflowError):
        executor.run(graph)

    problem = caught.value.problems[0]
    assert (problem.node_id, problem.code) == (formula, "bypass-without-input")
    assert "INT" in problem.message and "rounded" in problem.message
    assert journal.visits == []
