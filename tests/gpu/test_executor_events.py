"""What a run tells its listeners while it happens: the editor's progress bars,
previews and error badges are drawn from these events."""

from __future__ import annotations

import logging
import threading
import time

from gpu.events import (
    NODE_CACHED, NODE_ERROR, NODE_FINISHED, NODE_PROGRESS, NODE_STARTED, RUN_FINISHED, RUN_STARTED, RunEvent,
)
from nodes.graph import Graph


def assert_node_story(kinds: list[str]) -> None:
    """started, progress..., then finished or error, and nothing after that."""
    assert kinds[0] == NODE_STARTED, kinds
    assert kinds[-1] in (NODE_FINISHED, NODE_ERROR), kinds
    assert all(kind == NODE_PROGRESS for kind in kinds[1:-1]), kinds


def test_events_tell_the_story_of_a_run_in_order(executor, events):
    graph = Graph()
    prompt = graph.add("test.Light", {"value": 1.0})
    render = graph.add("test.Cpu", {"value": (prompt, "value"), "steps": 4})
    upscale = graph.add("test.Gpu", {"value": (render, "value"), "steps": 3})
    save = graph.add("test.Output", {"value": (upscale, "value")})

    result = executor.run(graph, on_event=events)

    assert result.ok
    assert events.kinds()[0] == RUN_STARTED and events.kinds()[-1] == RUN_FINISHED
    assert events.events[0].counts == (4, 0)
    assert events.events[-1].message == "ok"
    assert events.events[-1].elapsed is not None
    for node_id in (prompt, render, upscale, save):
        assert_node_story(events.kinds(node_id))
    fractions = [event.fraction for event in events.of_kind(NODE_PROGRESS) if event.node_id == render]
    assert fractions == [0.0, 0.25, 0.5, 0.75, 1.0]
    finished = {event.node_id: event for event in events.of_kind(NODE_FINISHED)}
    assert finished[render].elapsed is not None and finished[render].node_type == "test.Cpu"
    order = [event.node_id for event in events.of_kind(NODE_FINISHED)]
    assert order.index(prompt) < order.index(render) < order.index(upscale) < order.index(save)
    assert {event.run_id for event in events.events} == {result.run_id}


def test_a_cached_rerun_reports_cached_nodes_instead_of_running_them(executor, events):
    graph = Graph()
    source = graph.add("test.Cpu", {"value": 1.0})
    sink = graph.add("test.Cpu", {"value": (source, "value")})
    executor.run(graph)

    executor.run(graph, on_event=events)

    assert events.kinds() == [RUN_STARTED, NODE_CACHED, RUN_FINISHED]
    assert events.events[0].counts == (0, 1)
    assert events.events[1].node_id == sink and events.events[1].node_type == "test.Cpu"


def test_a_failing_node_reports_an_error_event_and_the_run_summary_counts_it(executor, events):
    graph = Graph()
    broken = graph.add("test.Cpu", {"fail": "node-failure"})
    graph.add("test.Cpu")

    executor.run(graph, on_event=events)

    assert_node_story(events.kinds(broken))
    error = events.of_kind(NODE_ERROR)[0]
    assert error.node_id == broken
    assert "the prompt is empty" in error.message
    assert events.events[-1].kind == RUN_FINISHED and events.events[-1].message == "1 failed"


def test_progress_can_carry_a_preview_picture(executor, events):
    graph = Graph()
    render = graph.add("test.Gpu", {"steps": 2, "preview": True})

    executor.run(graph, on_event=events)

    progress = [event for event in events.of_kind(NODE_PROGRESS) if event.preview is not None]
    assert len(progress) == 2
    assert progress[0].preview.shape == (4, 6, 3)
    assert progress[0].message == "step 1 of 2"
    line = progress[1].to_json()
    assert line["preview_shape"] == [4, 6, 3]
    assert line["event"] == NODE_PROGRESS and line["node_id"] == render and line["fraction"] == 0.5


def test_event_callbacks_never_run_at_the_same_time(executor):
    graph = Graph()
    for _ in range(4):
        graph.add("test.Cpu", {"steps": 25})
    graph.add("test.Gpu", {"steps": 25})
    graph.add("test.Heavy", {"steps": 25})
    inside = threading.Lock()
    overlaps: list[RunEvent] = []
    heard: list[RunEvent] = []

    def slow_listener(event: RunEvent) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(event)
            return
        try:
            heard.append(event)
            time.sleep(0.0005)
        finally:
            inside.release()

    result = executor.run(graph, on_event=slow_listener)

    assert result.ok
    assert overlaps == []
    assert len([event for event in heard if event.kind == NODE_PROGRESS]) == 6 * 26


def test_a_listener_that_raises_does_not_break_the_run(executor, caplog):
    graph = Graph()
    source = graph.add("test.Cpu", {"value": 1.0, "steps": 2})
    sink = graph.add("test.Light", {"value": (source, "value")})

    def broken_listener(event: RunEvent) -> None:
        raise RuntimeError("the progress bar was already deleted")

    with caplog.at_level(logging.ERROR, logger="reelgraph.executor"):
        result = executor.run(graph, on_event=broken_listener)

    assert result.ok
    assert result.output(sink) == 3.0
    assert "an event listener failed" in caplog.text
    assert "the progress bar was already deleted" in caplog.text


def test_events_of_a_submitted_run_carry_its_run_id(executor, events):
    graph = Graph()
    graph.add("test.Cpu", {"steps": 2})

    handle = executor.submit(graph, on_event=events)
    result = handle.result(timeout=10)

    assert result.ok
    assert events.kinds()[-1] == RUN_FINISHED
    assert {event.run_id for event in events.events} == {handle.run_id}


def test_run_started_counts_what_will_run_and_what_comes_from_cache(executor, events):
    graph = Graph()
    steady = graph.add("test.Cpu", {"value": 1.0})
    executor.run(graph)
    graph.add("test.Cpu", {"value": (steady, "value")})
    graph.add("test.Cpu", {"value": 7.0})

    executor.run(graph, on_event=events)

    assert events.events[0].kind == RUN_STARTED
    assert events.events[0].counts == (2, 1)
    assert events.kinds().count(NODE_CACHED) == 1
