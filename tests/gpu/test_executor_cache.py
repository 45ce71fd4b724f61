"""The output cache: what a second run reuses, what it must run again, and how the
cache stays within its byte budget."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gpu.cache import OutputCache
from nodes.graph import Graph
from nodes.registry import NodeRegistry
from nodes.spec import Input, Output, node
from nodes.types import FLOAT


def two_branch_graph() -> tuple[Graph, dict[str, str]]:
    """start → scale → join ← blur ← other: two sources feeding one sink."""
    graph = Graph()
    ids = {}
    ids["start"] = graph.add("test.Light", {"value": 1.0})
    ids["scale"] = graph.add("test.Cpu", {"value": (ids["start"], "value")})
    ids["other"] = graph.add("test.Light", {"value": 10.0})
    ids["blur"] = graph.add("test.Cpu", {"value": (ids["other"], "value")})
    ids["join"] = graph.add("test.Cpu", {"value": (ids["scale"], "value"), "other": (ids["blur"], "value")})
    return graph, ids


def test_a_second_run_of_the_same_workflow_executes_nothing(executor, journal):
    graph, ids = two_branch_graph()

    first = executor.run(graph)
    visits = len(journal.visits)
    second = executor.run(graph)

    assert len(first.executed) == 5
    assert second.executed == []
    assert second.cached == [ids["join"]]
    assert second.output(ids["join"]) == first.output(ids["join"]) == 16.0
    assert len(journal.visits) == visits


def test_changing_one_constant_reruns_only_that_node_and_what_follows(executor):
    graph, ids = two_branch_graph()
    executor.run(graph)

    graph.nodes[ids["start"]].inputs["value"] = 2.0
    result = executor.run(graph)

    assert sorted(result.executed) == sorted([ids["start"], ids["scale"], ids["join"]])
    assert ids["blur"] in result.cached
    assert result.output(ids["join"]) == 17.0


def test_switching_between_two_workflows_reuses_both(executor):
    first, ids = two_branch_graph()
    second = Graph()
    second.add("test.Cpu", {"value": 100.0, "other": 1.0})
    second.add("core.String", {"value": "a lighthouse"})

    runs = [executor.run(graph) for graph in (first, first, second, first)]

    assert [len(run.executed) for run in runs] == [5, 0, 2, 0]
    assert runs[3].output(ids["join"]) == 16.0


def test_a_copy_of_a_workflow_with_new_node_ids_comes_from_cache(executor):
    graph, ids = two_branch_graph()
    executor.run(graph)
    renumbered = Graph.from_dict({
        **graph.to_dict(),
        "nodes": {
            f"copy-{node_id}": {**document, "inputs": {
                name: [f"copy-{value[0]}", value[1]] if isinstance(value, list) else value
                for name, value in document["inputs"].items()
            }}
            for node_id, document in graph.to_dict()["nodes"].items()
        },
    })

    result = executor.run(renumbered)

    assert result.executed == []
    assert result.output(f"copy-{ids['join']}") == 16.0


def test_typing_in_a_default_value_does_not_invalidate_the_cache(executor):
    graph = Graph()
    sink = graph.add("test.Cpu", {"value": 3.0})
    executor.run(graph)

    graph.nodes[sink].inputs["other"] = 0.0  # the same as leaving it out

    assert executor.run(graph).executed == []


def test_the_least_recently_used_output_is_evicted_when_the_budget_is_full(make_executor):
    entry = 1000 + 56  # a 1000-byte block in a one-item output tuple
    executor = make_executor(cache_bytes=2 * entry + 100)

    def blocks(fill: int) -> Graph:
        graph = Graph()
        graph.add("test.Block", {"size": 1000, "fill": fill})
        return graph

    first, second, third = blocks(1), blocks(2), blocks(3)
    executor.run(first)
    executor.run(second)
    assert executor.run(first).executed == []  # first is now the most recently used
    executor.run(third)  # over budget: second, the least recently used, goes

    assert executor.run(first).executed == []
    assert len(executor.run(second).executed) == 1
    stats = executor.cache.stats()
    assert stats.bytes <= stats.budget
    assert stats.evictions >= 1


def test_an_output_larger_than_the_whole_budget_is_not_cached(make_executor):
    executor = make_executor(cache_bytes=5000)
    small = Graph()
    small.add("test.Block", {"size": 1000, "fill": 1})
    huge = Graph()
    sink = huge.add("test.Block", {"size": 6000, "fill": 2})
    executor.run(small)

    first = executor.run(huge)
    second = executor.run(huge)

    assert first.output(sink).nbytes == 6000
    assert len(second.executed) == 1
    assert executor.run(small).executed == []  # the huge output pushed nothing out
    assert executor.cache.stats().evictions == 0


def test_non_deterministic_nodes_and_their_descendants_always_run_again(executor):
    graph = Graph()
    noise = graph.add("test.Random")
    shaped = graph.add("test.Cpu", {"value": (noise, "value")})
    steady = graph.add("test.Cpu", {"value": 5.0})

    first = executor.run(graph)
    second = executor.run(graph)

    assert sorted(second.executed) == sorted([noise, shaped])
    assert second.cached == [steady]
    assert second.output(noise) != first.output(noise)
    assert second.output(shaped) == second.output(noise) + 1.0


def test_non_deterministic_outputs_do_not_fill_the_cache(executor):
    graph = Graph()
    noise = graph.add("test.Random")
    graph.add("test.Cpu", {"value": (noise, "value")})

    executor.run(graph)
    entries = len(executor.cache)
    for _ in range(3):
        executor.run(graph)

    assert len(executor.cache) == entries == 0


def test_a_randomized_seed_runs_again_each_time_while_a_fixed_seed_comes_from_cache(executor):
    graph = Graph()
    fixed = graph.add("core.Seed", {"seed": 42, "mode": "fixed"})
    graph.add("test.Cpu", {"value": (fixed, "seed")})
    shuffled = graph.add("core.Seed", {"seed": 42, "mode": "randomize"})
    varied = graph.add("test.Cpu", {"value": (shuffled, "seed")})

    executor.run(graph)
    second = executor.run(graph)

    assert sorted(second.executed) == sorted([shuffled, varied])


def test_changing_the_output_folder_reruns_only_the_output_nodes(make_executor, tmp_path):
    cache = OutputCache(64 * 1024**2)
    graph = Graph()
    picture = graph.add("image.Solid", {"width": 8, "height": 8, "color": "#336699"})
    save = graph.add("image.Save", {"image": (picture, "image"), "filename_prefix": "frame"})
    first_folder, second_folder = tmp_path / "renders-a", tmp_path / "renders-b"

    first = make_executor(cache=cache, output_dir=first_folder).run(graph)
    again = make_executor(cache=cache, output_dir=first_folder).run(graph)
    moved = make_executor(cache=cache, output_dir=second_folder).run(graph)

    assert sorted(first.executed) == sorted([picture, save])
    assert again.executed == []
    assert moved.executed == [save]
    assert moved.cached == [picture]
    saved = moved.output(save)
    assert saved.startswith(str(second_folder))
    assert np.array_equal(np.asarray(Image.open(saved)), first.output(picture))


def test_a_new_version_of_a_node_type_runs_again_instead_of_using_old_results(make_executor, journal):
    def versioned(version: int) -> NodeRegistry:
        @node("test.Sharpen", category="test", description="Sharper, in a new way each version.",
              inputs=[Input("amount", FLOAT, default=1.0)], outputs=[Output("amount", FLOAT)],
              type_version=version)
        def sharpen(ctx, amount: float) -> float:
            return amount * version

        registry = NodeRegistry()
        registry.register(sharpen)
        return registry

    cache = OutputCache(1024**2)
    graph = Graph()
    sharpen = graph.add("test.Sharpen", {"amount": 2.0})

    old = make_executor(cache=cache, registry=versioned(1)).run(graph)
    same = make_executor(cache=cache, registry=versioned(1)).run(graph)
    new = make_executor(cache=cache, registry=versioned(2)).run(graph)

    assert old.output(sharpen) == 2.0
    assert same.executed == []
    assert new.executed == [sharpen]
    assert new.output(sharpen) == 4.0


def test_an_image_file_changed_on_disk_is_loaded_again(executor, tmp_path):
    path = tmp_path / "sketch.png"
    Image.new("RGB", (4, 4), (255, 0, 0)).save(path)
    graph = Graph()
    load = graph.add("image.Load", {"path": str(path)})
    graph.add("image.Preview", {"image": (load, "image")})

    executor.run(graph)
    unchanged = executor.run(graph)
    Image.new("RGB", (6, 6), (0, 0, 255)).save(path)
    changed = executor.run(graph)

    assert unchanged.executed == []
    assert load in changed.executed
    assert changed.output(load).shape == (6, 6, 3)


# ----- the cache on its own ------------------------------------------------------------

def test_cache_evicts_in_least_recently_used_order():
    cache = OutputCache(3 * 100)
    for key in ("a", "b", "c"):
        assert cache.put(key, (key,), size=100)

    assert cache.get("a") == ("a",)  # a becomes the most recent
    cache.put("d", ("d",), size=100)

    assert "b" not in cache
    assert all(key in cache for key in ("a", "c", "d"))
    cache.put("e", ("e",), size=150)
    assert "c" not in cache and "a" not in cache
    assert all(key in cache for key in ("d", "e"))
    assert cache.stats().evictions == 3
    assert cache.stats().bytes == 250


def test_cache_refuses_an_output_larger_than_its_budget_and_keeps_the_rest():
    cache = OutputCache(1000)
    cache.put("small", ("small",), size=400)

    assert cache.put("huge", ("huge",), size=1001) is False

    assert "huge" not in cache and "small" in cache
    assert cache.stats().bytes == 400


def test_cache_counts_a_replaced_entry_once():
    cache = OutputCache(1000)
    cache.put("frame", ("old",), size=600)
    cache.put("frame", ("new",), size=700)

    assert cache.get("frame") == ("new",)
    stats = cache.stats()
    assert (stats.entries, stats.bytes, stats.evictions) == (1, 700, 0)


def test_cache_measures_numpy_outputs_by_their_bytes():
    cache = OutputCache(10_000)
    cache.put("image", (np.zeros((10, 10, 3), dtype=np.uint8),))

    assert 300 <= cache.stats().bytes < 1000


def test_cache_reports_hits_and_misses_and_can_be_cleared():
    cache = OutputCache(1000)
    cache.put("a", (1,), size=10)
    cache.get("a")
    cache.get("missing")

    stats = cache.stats()
    assert (stats.hits, stats.misses) == (1, 1)
    cache.clear()
    assert len(cache) == 0 and cache.stats().bytes == 0


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_cache_accepts_outputs_up_to_exactly_its_budget(size):
    cache = OutputCache(1000)
    assert cache.put("key", ("value",), size=size)
    assert cache.get("key") == ("value",)
