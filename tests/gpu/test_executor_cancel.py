"""Stopping a run: the creator presses Stop, running nodes stop at their next step,
and whatever already finished is kept for the next run."""

from __future__ import annotations

import time

from gpu.events import NODE_ERROR, NODE_FINISHED, NODE_PROGRESS, NODE_STARTED, RUN_FINISHED, RunEvent
from nodes.context import CancelToken
from nodes.graph import Graph


def test_the_cancel_token_reaches_every_node(executor, journal):
    graph = Graph()
    light = graph.add("test.Light")
    graph.add("test.Cpu", {"value": (light, "value")})
    graph.add("test.Gpu")
    graph.add("test.Heavy")
    graph.add("test.Output")
    token = CancelToken()

    executor.run(graph, targets=list(graph.nodes), cancel=token)

    assert len(journal.visits) == 5
    assert all(visit.cancel is token for visit in journal.visits)


def test_a_stepping_node_stops_within_one_step_of_the_cancel(executor, journal):
    graph = Graph()
    render = graph.add("test.Cpu", {"steps": 50, "seconds": 0.5})
    token = CancelToken()

    def stop_at_the_third_step(event: RunEvent) -> None:
        if event.kind == NODE_PROGRESS and event.fraction == 2 / 50:
            token.cancel()

    result = executor.run(graph, cancel=token, on_event=stop_at_the_third_step)

    assert result.cancelled
    assert journal.visit(render).steps_done == 3  # it finished the step it was in, and began no other
    assert journal.visit(render).outcome == "stopped"
    assert result.skipped[render] == "cancelled while running"
    assert render not in result.errors


def test_cancel_mid_run_keeps_finished_nodes_in_cache(executor, journal, events):
    graph = Graph()
    prompt = graph.add("test.Cpu", {"value": 1.0})
    render = graph.add("test.Cpu", {"value": (prompt, "value"), "gate": "render", "steps": 2})
    save = graph.add("test.Output", {"value": (render, "value")})
    thumbnail = graph.add("test.Output", {"value": (prompt, "value")})

    handle = executor.submit(graph, on_event=events)
    journal.gate("render").wait_until_entered()
    events.wait_for(NODE_FINISHED, thumbnail)
    handle.cancel()
    result = handle.result(timeout=10)

    assert result.cancelled and not result.ok
    assert sorted(result.executed) == sorted([prompt, thumbnail])
    assert result.skipped == {render: "cancelled while running", save: "not run: the run was cancelled"}
    assert result.outputs[thumbnail] == {"value": 3.0}
    assert events.kinds()[-1] == RUN_FINISHED and events.events[-1].message == "cancelled"
    assert events.kinds(render)[-1] == NODE_ERROR

    journal.gate("render").open()
    before = len(journal.visits)
    again = executor.run(graph)

    assert again.ok
    assert sorted(again.executed) == sorted([render, save])
    assert sorted(again.cached) == sorted([prompt, thumbnail])
    assert journal.ran()[before:] == [render, save]
    assert again.output(save) == 4.0


def test_cancel_from_another_thread_stops_a_long_render_promptly(executor, journal, events):
    graph = Graph()
    render = graph.add("test.Gpu", {"steps": 200, "seconds": 10.0})

    handle = executor.submit(graph, on_event=events)
    events.wait_for(NODE_PROGRESS, render)
    handle.cancel()
    result = handle.result(timeout=5)  # the render alone would take ten seconds

    assert result.cancelled
    assert journal.visit(render).outcome == "stopped"
    assert journal.visit(render).steps_done < 100


def test_a_run_cancelled_before_it_starts_runs_nothing(executor, journal):
    graph = Graph()
    source = graph.add("test.Light")
    graph.add("test.Cpu", {"value": (source, "value")})
    token = CancelToken()
    token.cancel("the window was closed")

    result = executor.run(graph, cancel=token)

    assert result.cancelled
    assert journal.visits == []
    assert result.executed == []
    assert set(result.skipped) == set(graph.nodes)


def test_cancel_drops_nodes_still_waiting_for_the_gpu(executor, journal, events):
    graph = Graph()
    frames = [graph.add("test.Gpu", {"gate": "frame"}) for _ in range(4)]

    handle = executor.submit(graph, on_event=events)
    journal.gate("frame").wait_until_entered()  # one frame runs on the one GPU lane
    handle.cancel()
    result = handle.result(timeout=10)

    assert result.cancelled
    assert len(journal.ran()) == 1  # the frames queued behind it never began...
    assert set(result.skipped) == set(frames)
    assert len(events.of_kind(NODE_STARTED)) == 1  # ...and were never shown as started


def test_cancel_stops_nodes_on_every_lane(executor, journal):
    graph = Graph()
    for kind in ("test.Cpu", "test.Gpu", "test.Heavy"):
        graph.add(kind, {"steps": 100, "seconds": 10.0})
    token = CancelToken()
    started: set[str] = set()

    def cancel_once_all_are_stepping(event: RunEvent) -> None:
        if event.kind == NODE_PROGRESS:
            started.add(event.node_id)
            if len(started) == 3:
                token.cancel()

    begun = time.monotonic()
    result = executor.run(graph, cancel=token, on_event=cancel_once_all_are_stepping)

    assert result.cancelled
    assert time.monotonic() - begun < 5.0
    assert all(visit.outcome == "stopped" for visit in journal.visits)
    assert set(result.skipped) == set(graph.nodes)
