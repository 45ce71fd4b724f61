"""Executor benchmark: prints figures for the foundation issue's targets.

    python bench/executor.py [--repeat 7]

Everything is measured side by side in one run (these machines are noisy):
- a chain of 400 ``math.Add`` (first run, fully cached re-run) and of 800 (the ratio
  shows whether doubling the chain at most doubles the time);
- 800 branches off one source;
- the same chain keyed ComfyUI's way (each node hashes its whole ancestry), as a baseline;
- two branches of nodes that wait on I/O, together vs one after the other;
- two ``image.Blur`` branches on a 4096×4096 image, together vs one after the other,
  and what happens if the executor let them overlap;
- runs A, A, B, A of two graphs: how many nodes each executes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from gpu.executor import Executor  # noqa: E402
from nodes.graph import Graph, is_link  # noqa: E402
from nodes.registry import NodeRegistry  # noqa: E402
from nodes.spec import Input, Output, node  # noqa: E402
from nodes.types import FLOAT, IMAGE  # noqa: E402

IO_WAIT_SECONDS = 0.05


@node("bench.Wait", category="bench", description="Waits like a remote call or a slow disk would.",
      inputs=[Input("value", FLOAT, default=0.0), Input("seconds", FLOAT, default=IO_WAIT_SECONDS)],
      outputs=[Output("value", FLOAT)])
def wait(ctx: Any, value: float, seconds: float) -> float:
    ctx.cancel.wait(seconds)
    return value + 1


@node("bench.BlurOverlapping", category="bench",
      description="image.Blur without the all-cores flag: what naive parallelism would do.",
      inputs=[Input("image", IMAGE), Input("radius", FLOAT, default=4.0)], outputs=[Output("image", IMAGE)])
def blur_overlapping(ctx: Any, image: np.ndarray, radius: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), sigmaX=radius, sigmaY=radius)


@node("bench.Picture", category="bench", description="A fixed noisy picture of a given size.",
      inputs=[Input("size", "INT", default=4096)], outputs=[Output("image", IMAGE)])
def picture(ctx: Any, size: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)


def registry() -> NodeRegistry:
    result = NodeRegistry()
    result.load_builtin()
    result.register_all([wait, blur_overlapping, picture], "bench")
    return result


def chain(length: int, start: float = 1.0) -> tuple[Graph, str]:
    graph = Graph()
    previous = graph.add("core.Float", {"value": start})
    output = "value"
    for _ in range(length):
        previous = graph.add("math.Add", {"a": [previous, output], "b": 1.0})
        output = "sum"
    return graph, previous


def branches(count: int) -> Graph:
    graph = Graph()
    source = graph.add("core.Float", {"value": 1.0})
    for index in range(count):
        graph.add("math.Add", {"a": [source, "value"], "b": float(index)})
    return graph


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    begun = time.perf_counter()
    value = function()
    return time.perf_counter() - begun, value


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.2f} ms (min {min(samples) * 1000:.2f})"


def chain_figures(nodes: NodeRegistry, repeat: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    chains = {length: chain(length)[0] for length in (400, 800)}
    for _ in range(repeat):  # interleaved, so drifting machine load hits both lengths alike
        for length, graph in chains.items():
            with Executor(nodes, cpu_workers=2) as executor:
                first, result = timed(lambda: executor.run(graph))
                assert len(result.executed) == length + 1, "a first run must execute every node"
                again, result = timed(lambda: executor.run(graph))
                assert not result.executed, "a cached re-run must execute nothing"
            figures.setdefault(f"chain{length}_first", []).append(first)
            figures.setdefault(f"chain{length}_cached", []).append(again)
    graph = branches(800)
    for _ in range(repeat):
        with Executor(nodes, cpu_workers=2) as executor:
            first, result = timed(lambda: executor.run(graph))
            assert len(result.executed) == 801
        figures.setdefault("branches800_first", []).append(first)
    return figures


def ancestry_keys(graph: Graph) -> dict[str, str]:
    """ComfyUI's way, rebuilt for comparison: each node's key hashes a signature of its
    whole ancestry, gathered afresh per node (O(ancestry) per node, O(n²) on a chain)."""
    keys = {}
    for node_id in graph.nodes:
        ancestry, stack, order = {node_id}, [node_id], []
        while stack:
            current = stack.pop()
            order.append(current)
            for _, source, _ in graph.nodes[current].links():
                if source not in ancestry:
                    ancestry.add(source)
                    stack.append(source)
        signature = [
            [graph.nodes[member].type,
             sorted((name, value if not is_link(value) else ["link", order.index(value[0])])
                    for name, value in graph.nodes[member].inputs.items())]
            for member in order
        ]
        keys[node_id] = hashlib.sha256(json.dumps(signature).encode()).hexdigest()
    return keys


def overlap_figures(nodes: NodeRegistry, repeat: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    graph = Graph()
    ends = []
    for branch in range(2):
        previous = graph.add("core.Float", {"value": float(branch)})
        for _ in range(3):
            previous = graph.add("bench.Wait", {"value": [previous, "value"]})
        ends.append(previous)
    for _ in range(repeat):
        with Executor(nodes, cpu_workers=2) as executor:
            together, _ = timed(lambda: executor.run(graph, ends))
        with Executor(nodes, cpu_workers=2) as executor:
            apart, _ = timed(lambda: [executor.run(graph, [end]) for end in ends])
        figures.setdefault("io_ratio", []).append(together / apart)
    for blur_type, name in (("image.Blur", "blur"), ("bench.BlurOverlapping", "blur_overlapping")):
        graph = Graph()
        source = graph.add("bench.Picture", {"size": 4096})
        ends = [graph.add(blur_type, {"image": [source, "image"], "radius": float(8 + index)})
                for index in range(2)]
        for _ in range(max(2, repeat // 2)):
            with Executor(nodes, cpu_workers=2) as executor:
                executor.run(graph, [source])  # the picture itself is not what is measured
                together, _ = timed(lambda: executor.run(graph, ends))
            with Executor(nodes, cpu_workers=2) as executor:
                executor.run(graph, [source])
                apart, _ = timed(lambda: [executor.run(graph, [end]) for end in ends])
            figures.setdefault(f"{name}_ratio", []).append(together / apart)
            figures.setdefault(f"{name}_together", []).append(together)
            figures.setdefault(f"{name}_apart", []).append(apart)
    return figures


def switching_counts(nodes: NodeRegistry) -> list[int]:
    graph_a, _ = chain(50, start=1.0)
    graph_b, _ = chain(50, start=1000.0)
    with Executor(nodes, cpu_workers=2) as executor:
        return [len(executor.run(graph).executed) for graph in (graph_a, graph_a, graph_b, graph_a)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    arguments = parser.parse_args()
    nodes = registry()
    chain_figures(nodes, 2)  # warm up imports and code paths
    figures = chain_figures(nodes, arguments.repeat * 2)
    graph, _ = chain(400)
    comfy = [timed(lambda: ancestry_keys(graph))[0] for _ in range(3)]
    figures.update(overlap_figures(nodes, arguments.repeat))
    counts = switching_counts(nodes)

    print("Reelgraph executor benchmark (median of runs; targets in brackets)")
    print(f"  chain of 400 math.Add, first run   {median_ms(figures['chain400_first'])}   [<= 20 ms]")
    print(f"  chain of 400, fully cached re-run  {median_ms(figures['chain400_cached'])}   [<= 5 ms]")
    print(f"  chain of 800, first run            {median_ms(figures['chain800_first'])}")
    print(f"  chain of 800, fully cached re-run  {median_ms(figures['chain800_cached'])}")
    first_ratio = statistics.median(figures["chain800_first"]) / statistics.median(figures["chain400_first"])
    cached_ratio = statistics.median(figures["chain800_cached"]) / statistics.median(figures["chain400_cached"])
    print(f"  doubling the chain: first run x{first_ratio:.2f}, cached x{cached_ratio:.2f}   [<= x2]")
    print(f"  800 branches off one source, first {median_ms(figures['branches800_first'])}   [<= 40 ms]")
    print(f"  ComfyUI-style ancestry keys alone, chain of 400: {median_ms(comfy)} "
          f"(x{statistics.median(comfy) / statistics.median(figures['chain400_cached']):.0f} our whole cached re-run)")
    print(f"  two I/O-waiting branches, together / one after the other: "
          f"{statistics.median(figures['io_ratio']):.2f}   [<= 0.55]")
    print(f"  two image.Blur 4096² branches, together / one after the other: "
          f"{statistics.median(figures['blur_ratio']):.2f} "
          f"({median_ms(figures['blur_together']).split('(')[0].strip()} vs "
          f"{median_ms(figures['blur_apart']).split('(')[0].strip()})   [<= 1.00]")
    print(f"  the same blur allowed to overlap (no all-cores flag): "
          f"{statistics.median(figures['blur_overlapping_ratio']):.2f}")
    print(f"  runs A, A, B, A executed nodes: {counts}   [2nd and 4th = 0]")


if __name__ == "__main__":
    main()
