"""The number, text and constant nodes as a creator uses them, run through the real
executor: formulas, templates, seeds that stay put or change every run."""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest

from gpu.events import RunResult

Run = Callable[..., RunResult]


def run_one(run_nodes: Run, node_type: str, inputs: dict[str, Any]) -> RunResult:
    return run_nodes({"node": {"type": node_type, "inputs": inputs}})


def value_of(run_nodes: Run, node_type: str, inputs: dict[str, Any], output: str | None = None) -> Any:
    result = run_one(run_nodes, node_type, inputs)
    assert result.ok, result.errors
    return result.output("node", output)


def error_of(run_nodes: Run, node_type: str, inputs: dict[str, Any]) -> str:
    result = run_one(run_nodes, node_type, inputs)
    assert list(result.errors) == ["node"], "the node should have failed"
    return result.errors["node"].message


# ----- constants ----------------------------------------------------------------------------

@pytest.mark.parametrize("node_type, value", [
    ("core.Int", -7), ("core.Float", 0.25), ("core.String", "a fox, 狐 🦊"), ("core.Bool", True),
])
def test_constant_nodes_give_back_what_was_typed(run_nodes: Run, node_type: str, value: Any) -> None:
    assert value_of(run_nodes, node_type, {"value": value}) == value


def test_a_whole_number_typed_into_a_float_node_comes_out_as_a_float(run_nodes: Run) -> None:
    result = value_of(run_nodes, "core.Float", {"value": 3})
    assert result == 3.0 and isinstance(result, float)


# ----- math ---------------------------------------------------------------------------------

def test_add_and_multiply_wired_together(run_nodes: Run) -> None:
    result = run_nodes({
        "width": {"type": "core.Int", "inputs": {"value": 512}},
        "sum": {"type": "math.Add", "inputs": {"a": ["width", "value"], "b": 0.5}},
        "product": {"type": "math.Multiply", "inputs": {"a": ["sum", "sum"], "b": 2}},
    })
    assert result.ok
    assert result.output("sum", "sum") == 512.5
    assert result.output("product", "product") == 1025.0


def test_add_and_multiply_use_their_defaults(run_nodes: Run) -> None:
    assert value_of(run_nodes, "math.Add", {}) == 0.0
    assert value_of(run_nodes, "math.Multiply", {"a": 6}) == 6.0


@pytest.mark.parametrize("text, values, result, rounded", [
    ("(a + b) / 2", {"a": 3, "b": 4}, 3.5, 4),
    ("max(512, a * 8)", {"a": 100}, 800, 800),
    ("max(512, a * 8)", {"a": 10}, 512, 512),
    ("min(a, b, c)", {"a": 5, "b": -2, "c": 9}, -2, -2),
    ("clamp(a, 0, 1)", {"a": 1.75}, 1, 1),
    ("clamp(a, 0, 1)", {"a": -3}, 0, 0),
    ("a // 3 + a % 3", {"a": 10}, 4, 4),
    ("2 ** -1 + abs(-d)", {"d": 2}, 2.5, 2),
    ("round(pi, 2) + floor(e)", {}, 5.14, 5),
    ("sqrt(a) * 10", {"a": 2}, 14.142135623730951, 14),
])
def test_expression_computes_a_formula_of_a_b_c_d(run_nodes: Run, text: str, values: dict, result: float,
                                                  rounded: int) -> None:
    outcome = run_one(run_nodes, "math.Expression", {"expression": text, **values})
    assert outcome.ok, outcome.errors
    assert outcome.output("node", "result") == pytest.approx(result)
    assert outcome.output("node", "rounded") == rounded
    assert isinstance(outcome.output("node", "rounded"), int)


def test_expression_takes_linked_values(run_nodes: Run) -> None:
    result = run_nodes({
        "frames": {"type": "core.Int", "inputs": {"value": 48}},
        "fps": {"type": "core.Float", "inputs": {"value": 24.0}},
        "seconds": {"type": "math.Expression", "inputs": {"expression": "a / b", "a": ["frames", "value"],
                                                          "b": ["fps", "value"]}},
    })
    assert result.output("seconds", "result") == 2.0


def test_division_by_zero_fails_the_node_with_a_clear_message(run_nodes: Run) -> None:
    result = run_nodes({
        "formula": {"type": "math.Expression", "inputs": {"expression": "a / b", "a": 1, "b": 0}},
        "fine": {"type": "math.Add", "inputs": {"a": 1, "b": 2}},
    })
    error = result.errors["formula"]
    assert error.message == "the expression 'a / b' failed: division by zero"
    assert error.exception_type == "NodeFailure"
    assert result.output("fine") == 3.0, "a failed node fails its branch, not the run"


def test_a_node_after_a_failed_formula_is_skipped_and_says_why(run_nodes: Run) -> None:
    result = run_nodes({
        "formula": {"type": "math.Expression", "inputs": {"expression": "a % b", "b": 0}},
        "after": {"type": "math.Add", "inputs": {"a": ["formula", "result"]}},
    })
    assert list(result.errors) == ["formula"]
    assert "formula" in result.skipped["after"]


@pytest.mark.parametrize("text", ["9**9**9", "2 ** 100000", "(a + 7) ** 99999999", "10 ** 1000 * 10 ** 1000"])
def test_an_enormous_power_is_refused_quickly(run_nodes: Run, text: str) -> None:
    began = time.perf_counter()
    message = error_of(run_nodes, "math.Expression", {"expression": text, "a": 5})
    assert time.perf_counter() - began < 1.0
    assert "too large" in message


@pytest.mark.parametrize("text, words", [
    ("sqrt(a)", "math domain error"),
    ("log(0)", "math domain error"),
    ("(-8) ** 0.5", "negative number cannot be raised to a fractional power"),
    ("exp(1000)", "too large"),
    ("1e308 * 10", "not a finite number"),
])
def test_math_errors_are_node_errors_in_words(run_nodes: Run, text: str, words: str) -> None:
    assert words in error_of(run_nodes, "math.Expression", {"expression": text, "a": -1})


# ----- text -----------------------------------------------------------------------------------

def test_template_fills_its_slots_from_typed_and_linked_values(run_nodes: Run) -> None:
    result = run_nodes({
        "style": {"type": "core.String", "inputs": {"value": "ukiyo-e"}},
        "steps": {"type": "core.Int", "inputs": {"value": 30}},
        "prompt": {"type": "text.Template", "inputs": {
            "template": "a {a} in the style of { b }, {c} steps{d}", "a": "fox",
            "b": ["style", "value"], "c": ["steps", "value"]}},
    })
    assert result.output("prompt") == "a fox in the style of ukiyo-e, 30 steps"


@pytest.mark.parametrize("template, text", [
    ("{{a}}", "{a}"),
    ("{{{a}}}", "{fox}"),
    ("set(}} {{)", "set(} {)"),
    ("no slots at all", "no slots at all"),
    ("", ""),
])
def test_template_double_braces_are_literal_braces(run_nodes: Run, template: str, text: str) -> None:
    assert value_of(run_nodes, "text.Template", {"template": template, "a": "fox"}) == text


def test_template_with_a_null_slot_leaves_it_empty(run_nodes: Run) -> None:
    assert value_of(run_nodes, "text.Template", {"template": "[{a}]", "a": None}) == "[]"


# ----- seeds ------------------------------------------------------------------------------------

def test_fixed_seed_comes_from_the_cache_on_the_second_run(run_nodes: Run) -> None:
    workflow = {"seed": {"type": "core.Seed", "inputs": {"seed": 1234, "mode": "fixed"}},
                "offset": {"type": "math.Add", "inputs": {"a": ["seed", "seed"], "b": 1}}}
    first, second = run_nodes(workflow), run_nodes(workflow)
    assert first.output("seed") == 1234
    assert first.output("offset") == second.output("offset") == 1235
    assert sorted(first.executed) == ["offset", "seed"]
    assert second.executed == [] and sorted(second.cached) == ["offset"]


def test_randomized_seed_runs_again_every_time_with_a_new_value(run_nodes: Run) -> None:
    workflow = {"seed": {"type": "core.Seed", "inputs": {"mode": "randomize"}},
                "offset": {"type": "math.Add", "inputs": {"a": ["seed", "seed"], "b": 1}}}
    runs = [run_nodes(workflow) for _ in range(3)]
    seeds = [result.output("offset") - 1 for result in runs]
    assert all(sorted(result.executed) == ["offset", "seed"] for result in runs)
    assert all(result.cached == [] for result in runs)
    assert len(set(seeds)) == 3
    assert all(0 <= seed < 2**64 for seed in seeds)


def test_switching_a_seed_from_randomize_back_to_fixed_is_cached_again(run_nodes: Run) -> None:
    random = {"seed": {"type": "core.Seed", "inputs": {"seed": 7, "mode": "randomize"}}}
    fixed = {"seed": {"type": "core.Seed", "inputs": {"seed": 7, "mode": "fixed"}}}
    run_nodes(random)
    assert run_nodes(fixed).executed == ["seed"]
    assert run_nodes(fixed).cached == ["seed"]
