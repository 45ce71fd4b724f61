"""Where nodes run: CPU nodes side by side on the pool, GPU nodes one at a time on
their device's lane, and nodes that use every core one at a time."""

from __future__ import annotations

import threading

from gpu.devices import Device
from nodes.graph import Graph


def assert_one_at_a_time(visits) -> None:
    ordered = sorted(visits, key=lambda visit: visit.started)
    for before, after in zip(ordered, ordered[1:]):
        assert after.started >= before.ended, (
            f"{after.node_id} started while {before.node_id} was still running"
        )


def test_independent_cpu_branches_run_side_by_side(executor, journal):
    graph = Graph()
    left = graph.add("test.Cpu", {"seconds": 0.5})
    right = graph.add("test.Cpu", {"seconds": 0.5})
    graph.add("test.Cpu", {"value": (left, "value"), "other": (right, "value")})

    result = executor.run(graph)

    assert result.ok
    first, second = journal.visit(left), journal.visit(right)
    assert first.started < second.ended and second.started < first.ended
    assert result.elapsed < 0.85  # one second of sleeping in all, done in about half


def test_cpu_branches_meet_while_both_are_running(executor):
    graph = Graph()
    graph.add("test.Cpu", {"meet": "halfway"})
    graph.add("test.Cpu", {"meet": "halfway"})

    result = executor.run(graph)

    assert result.ok, result.errors


def test_gpu_nodes_take_turns_on_one_lane_apart_from_the_cpu_pool(executor, journal):
    graph = Graph()
    gpu_nodes = [graph.add("test.Gpu", {"seconds": 0.05}) for _ in range(3)]
    cpu_nodes = [graph.add("test.Cpu", {"seconds": 0.05}) for _ in range(3)]

    result = executor.run(graph)

    assert result.ok
    on_gpu = [journal.visit(node_id) for node_id in gpu_nodes]
    on_cpu = [journal.visit(node_id) for node_id in cpu_nodes]
    assert_one_at_a_time(on_gpu)
    assert len({visit.thread_id for visit in on_gpu}) == 1
    assert on_gpu[0].thread_id not in {visit.thread_id for visit in on_cpu}
    assert on_gpu[0].thread_id != threading.get_ident()
    assert all(visit.device == "cpu" for visit in on_gpu)


def test_the_gpu_lane_runs_beside_cpu_work(executor):
    graph = Graph()
    graph.add("test.Gpu", {"meet": "together"})
    graph.add("test.Cpu", {"meet": "together"})

    result = executor.run(graph)

    assert result.ok, result.errors


def test_each_gpu_gets_its_own_lane(make_executor, journal):
    devices = [Device("cuda:0", "cuda", "first card"), Device("cuda:1", "cuda", "second card")]
    executor = make_executor(devices=devices)
    graph = Graph()
    first = graph.add("test.Gpu", {"meet": "two cards"})
    second = graph.add("test.Gpu", {"meet": "two cards"})

    result = executor.run(graph)

    assert result.ok, result.errors
    assert {journal.visit(first).device, journal.visit(second).device} == {"cuda:0", "cuda:1"}
    assert executor.lanes.devices == devices


def test_nodes_that_use_every_core_run_one_at_a_time(executor, journal):
    graph = Graph()
    heavy = [graph.add("test.Heavy", {"seconds": 0.05}) for _ in range(3)]

    result = executor.run(graph)

    assert result.ok
    assert_one_at_a_time([journal.visit(node_id) for node_id in heavy])


def test_a_node_that_uses_every_core_still_runs_beside_light_cpu_work(executor):
    graph = Graph()
    graph.add("test.Heavy", {"meet": "beside"})
    graph.add("test.Cpu", {"meet": "beside"})

    result = executor.run(graph)

    assert result.ok, result.errors


def test_nodes_that_use_every_core_take_turns_across_runs(executor, journal):
    first, second = Graph(), Graph()
    one = first.add("test.Heavy", {"value": 1.0, "seconds": 0.3}, node_id="blur")
    two = second.add("test.Heavy", {"value": 2.0, "seconds": 0.3}, node_id="denoise")

    handles = [executor.submit(first), executor.submit(second)]
    results = [handle.result(timeout=10) for handle in handles]

    assert all(result.ok for result in results)
    assert_one_at_a_time([journal.visit(one), journal.visit(two)])


def test_a_heavy_node_waiting_its_turn_does_not_hold_back_other_cpu_work(executor, journal):
    graph = Graph()
    heavy = [graph.add("test.Heavy", {"gate": "heavy"}) for _ in range(2)]
    plain = graph.add("test.Cpu", {"gate": "plain"})

    handle = executor.submit(graph)
    journal.gate("heavy").wait_until_entered()
    journal.gate("plain").wait_until_entered()  # runs although a heavy node waits its turn
    assert len([node_id for node_id in journal.ran() if node_id in heavy]) == 1
    journal.gate("plain").open()
    journal.gate("heavy").open()

    assert handle.result(timeout=10).ok
    assert sorted(journal.ran()) == sorted([*heavy, plain])
