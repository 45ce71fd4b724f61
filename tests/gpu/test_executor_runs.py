"""Running a graph: what a run gives back, runs in the background, and big graphs."""

from __future__ import annotations

import threading

import pytest

from gpu.executor import RunHandle
from nodes.graph import Graph


def test_run_gives_back_outputs_executed_nodes_and_timings(executor, journal):
    graph = Graph()
    number = graph.add("core.Float", {"value": 2.0})
    doubled = graph.add("test.Cpu", {"value": (number, "value"), "other": 2.0, "seconds": 0.05})
    sink = graph.add("test.Light", {"value": (doubled, "value")})

    result = executor.run(graph)

    assert result.ok
    assert result.output(sink) == 6.0
    assert result.outputs[doubled] == {"value": 5.0}
    assert result.outputs[number] == {"value": 2.0}
    assert sorted(result.executed) == sorted([number, doubled, sink])
    assert result.cached == [] and result.errors == {} and result.skipped == {}
    assert set(result.timings) == {number, doubled, sink}
    assert result.timings[doubled] >= 0.04
    assert result.elapsed >= result.timings[doubled]
    assert journal.ran() == [doubled, sink]


def test_submit_returns_at_once_while_a_slow_node_runs(executor, journal):
    graph = Graph()
    slow = graph.add("test.Cpu", {"gate": "render"})

    handle = executor.submit(graph)

    assert isinstance(handle, RunHandle)
    journal.gate("render").wait_until_entered()
    assert not handle.done()
    with pytest.raises(TimeoutError):
        handle.result(timeout=0.05)
    journal.gate("render").open()
    result = handle.result(timeout=10)
    assert handle.done()
    assert result.output(slow) == 1.0
    assert result.run_id == handle.run_id


def test_done_callbacks_hear_about_the_end_of_a_run_once(executor, journal):
    graph = Graph()
    graph.add("test.Cpu", {"gate": "render"})
    heard: list[RunHandle] = []
    finished = threading.Event()

    def on_done(handle: RunHandle) -> None:
        heard.append(handle)
        finished.set()

    handle = executor.submit(graph)
    handle.add_done_callback(on_done)
    assert heard == []
    journal.gate("render").open()
    assert finished.wait(10)
    assert heard == [handle]
    assert handle.result(timeout=0).ok

    late: list[RunHandle] = []
    handle.add_done_callback(late.append)
    assert late == [handle]  # a run that already ended calls back at once
    assert heard == [handle]


def test_a_done_callback_that_raises_does_not_stop_the_others(executor, journal, caplog):
    graph = Graph()
    graph.add("test.Cpu", {"gate": "render"})
    heard: list[str] = []
    finished = threading.Event()

    def broken(handle: RunHandle) -> None:
        raise RuntimeError("the panel was closed")

    def working(handle: RunHandle) -> None:
        heard.append(handle.run_id)
        finished.set()

    handle = executor.submit(graph)
    handle.add_done_callback(broken)
    handle.add_done_callback(working)
    journal.gate("render").open()
    assert finished.wait(10)
    assert heard == [handle.run_id]
    assert handle.result(timeout=10).ok
    assert "a run-finished callback failed" in caplog.text


def test_several_runs_in_flight_share_one_executor(executor, journal):
    first, second = Graph(), Graph()
    one = first.add("test.Cpu", {"value": 1.0, "gate": "first"})
    two = second.add("test.Cpu", {"value": 2.0, "gate": "second"})

    handles = [executor.submit(first), executor.submit(second)]
    journal.gate("first").wait_until_entered()
    journal.gate("second").wait_until_entered()
    journal.gate("second").open()
    assert handles[1].result(timeout=10).output(two) == 3.0
    assert not handles[0].done()
    journal.gate("first").open()
    assert handles[0].result(timeout=10).output(one) == 2.0
    assert handles[0].run_id != handles[1].run_id


def test_closing_the_executor_ends_the_runs_in_flight_as_cancelled(executor, journal, events):
    graph = Graph()
    frames = [graph.add("test.Gpu", {"gate": "frame"}) for _ in range(3)]
    handle = executor.submit(graph, on_event=events)
    journal.gate("frame").wait_until_entered()  # one is running, the others wait in the GPU lane's queue
    heard: list[RunHandle] = []
    handle.add_done_callback(heard.append)

    executor.close()

    result = handle.result(timeout=5)
    assert result.cancelled
    assert heard == [handle]
    assert len(journal.ran()) == 1
    assert set(result.skipped) == set(frames)


def test_editing_the_workflow_while_it_runs_does_not_change_the_run(executor, journal, events):
    graph = Graph()
    subject = graph.add("core.String", {"value": "a castle"})
    render = graph.add("test.Cpu", {"gate": "render", "steps": 2})
    titled = graph.add("test.Caption", {"strength": (render, "value"), "text": (subject, "value"),
                                        "suffix": " at dusk"})
    as_planned = Graph.from_dict(graph.to_dict())

    handle = executor.submit(graph, on_event=events)
    journal.gate("render").wait_until_entered()
    graph.nodes[titled].bypass = True  # the creator toggles bypass on a node not yet run...
    del graph.nodes[render]  # ...and deletes the node that is running
    journal.gate("render").open()
    result = handle.result(timeout=10)

    assert result.ok, (result.errors, result.skipped)
    assert result.output(titled) == "a castle at dusk"
    again = executor.run(as_planned)
    assert again.executed == []
    assert again.output(titled) == "a castle at dusk"


def test_light_nodes_run_on_the_calling_thread(executor, journal):
    graph = Graph()
    constant = graph.add("test.Light", {"value": 1.0})
    graph.add("test.Light", {"value": (constant, "value")})

    executor.run(graph)

    caller = threading.get_ident()
    assert len(journal.visits) == 2
    assert all(visit.thread_id == caller for visit in journal.visits)


def test_pool_nodes_do_not_run_on_the_calling_thread(executor, journal):
    graph = Graph()
    graph.add("test.Cpu")
    graph.add("test.Gpu")
    graph.add("test.Heavy")

    executor.run(graph)

    caller = threading.get_ident()
    assert len(journal.visits) == 3
    assert all(visit.thread_id != caller for visit in journal.visits)


def test_a_chain_of_three_thousand_nodes_runs_and_reruns_from_cache(executor):
    graph = Graph()
    previous = graph.add("math.Add", {"a": 1.0, "b": 0.0})
    for _ in range(2999):
        previous = graph.add("math.Add", {"a": (previous, "sum"), "b": 1.0})

    first = executor.run(graph)
    second = executor.run(graph)

    assert first.ok and len(first.executed) == 3000
    assert first.output(previous) == 3000.0
    assert second.executed == [] and second.cached == [previous]
    assert second.output(previous) == 3000.0


def test_a_failure_at_the_head_of_a_three_thousand_node_chain_skips_the_rest(executor):
    graph = Graph()
    head = graph.add("test.Light", {"fail": "value-error"})
    previous = head
    for _ in range(2999):
        previous = graph.add("math.Add", {"a": (previous, "value" if previous == head else "sum"), "b": 1.0})

    result = executor.run(graph)

    assert list(result.errors) == [head]
    assert len(result.skipped) == 2999
    assert result.executed == []
