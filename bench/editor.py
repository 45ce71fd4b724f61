"""Graph editor benchmark: prints figures for issue 4's editor targets.

    python bench/editor.py [--nodes 1000] [--repeat 15]

Everything is measured side by side in one run (these machines are noisy), on
three graphs of ``--nodes`` nodes and the same graphs at half size (the ratio
shows whether doubling the graph at most doubles the time):

- a chain of ``math.Add`` (each reads the previous one), laid out in rows;
- a wide graph: one ``core.Float`` feeding every other node;
- pipelines: copies of checkpoint → text to image → blur → resize → save, with
  text-heavy nodes (ten inputs on the diffusion node).

For each: opening it (``document.replace``, scene rebuild, fit, first paint),
one repaint at fit-view (the viewport rendered into a QImage offscreen), and
repaints at 50 % and 100 % zoom for comparison; then adding nodes one by one
through the document (each an undo step, the canvas following the signals),
dragging one node (the first: in the wide graph, the one feeding all others) and
every node at once, and pushing run states. Targets: open ≤ 1 s, add 1000 ≤ 1 s,
fit-view repaint ≤ 16 ms. NodeGraphQt takes 8.9 s to create 1000 nodes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.document import WorkflowDocument  # noqa: E402
from desktop.graph_view import GraphView  # noqa: E402
from nodes.graph import Graph  # noqa: E402
from nodes.registry import builtin_registry  # noqa: E402

VIEW_SIZE = (1600, 900)
NODEGRAPHQT_ADD_1000 = 8.9


def chain(count: int) -> Graph:
    graph = Graph()
    previous = None
    for index in range(count):
        row, column = divmod(index, 25)
        x = column * 260 if row % 2 == 0 else (24 - column) * 260
        inputs = {"a": (previous, "sum") if previous else 1.0, "b": 1.0}
        previous = graph.add("math.Add", inputs, pos=(x, row * 170))
    return graph


def wide(count: int) -> Graph:
    graph = Graph()
    source = graph.add("core.Float", {"value": 2.0}, pos=(-400, count // 80 * 90))
    for index in range(count - 1):
        row, column = divmod(index, 40)
        graph.add("math.Multiply", {"a": (source, "value"), "b": float(index)}, pos=(column * 260, row * 180))
    return graph


def pipelines(count: int) -> Graph:
    graph = Graph()
    for block in range(count // 5):
        row, column = divmod(block, 5)
        x, y = column * 1500, row * 520
        checkpoint = graph.add("model.Checkpoint", {"checkpoint": "sd15.safetensors", "dtype": "auto"}, pos=(x, y))
        image = graph.add("diffusion.TextToImage", {"model": (checkpoint, "model"), "prompt": f"shot {block}",
                                                    "seed": block, "steps": 20}, pos=(x + 260, y))
        blur = graph.add("image.Blur", {"image": (image, "image"), "radius": 2.0}, pos=(x + 560, y))
        resize = graph.add("image.Resize", {"image": (blur, "image"), "width": 768, "height": 432},
                           pos=(x + 820, y))
        graph.add("image.Save", {"image": (resize, "image"), "filename_prefix": f"shot{block}"}, pos=(x + 1100, y))
    return graph


def render_once(view: GraphView, image: QImage) -> float:
    """Repaint the whole viewport into ``image`` (its paintEvent, as a screen update
    runs it: background, groups, links, nodes); seconds."""
    started = time.perf_counter()
    view.viewport().render(image)
    return time.perf_counter() - started


def repaint_times(view: GraphView, repeat: int) -> list[float]:
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32_Premultiplied)
    render_once(view, image)
    return [render_once(view, image) for _ in range(repeat)]


def new_view(registry) -> tuple[WorkflowDocument, GraphView]:
    document = WorkflowDocument(registry)
    view = GraphView(document)
    view.resize(*VIEW_SIZE)
    view.show()
    QApplication.processEvents()
    return document, view


def measure_graph(registry, make: Callable[[int], Graph], count: int, repeat: int) -> dict[str, float]:
    graph = make(count)
    document, view = new_view(registry)
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32_Premultiplied)
    started = time.perf_counter()
    document.replace(graph)
    rebuilt = time.perf_counter()
    first = render_once(view, image)
    opened = time.perf_counter() - started
    figures = {
        "open (replace + rebuild + fit + first paint)": opened,
        "  of which replace + rebuild + fit": rebuilt - started,
        "  of which first paint": first,
        "fit-view scale": view.zoom(),
    }
    fit = repaint_times(view, repeat)
    figures["repaint at fit view (median)"] = statistics.median(fit)
    figures["repaint at fit view (worst)"] = max(fit)
    view.select(list(document.graph.nodes)[: count // 2])
    figures["repaint at fit view, half selected"] = statistics.median(repaint_times(view, repeat))
    view.select([])
    for scale in (0.5, 1.0):
        view.set_zoom(scale)
        view.centerOn(view.graph_scene.content_rect().center())
        figures[f"repaint at {scale:.0%} zoom (median)"] = statistics.median(repaint_times(view, repeat))
    view.fit_all()
    node_id = next(iter(document.graph.nodes))
    drag = document.new_drag()
    steps = []
    for step in range(20):
        started = time.perf_counter()
        document.move_nodes({node_id: (step * 5.0, step * 3.0)}, drag)
        QApplication.processEvents()
        steps.append(time.perf_counter() - started)
    figures["drag step, first node (+ repaint)"] = statistics.median(steps)
    everything = {node_id: tuple(node.pos) for node_id, node in document.graph.nodes.items()}
    view.select(list(everything))
    drag = document.new_drag()
    steps = []
    for step in range(1, 6):
        started = time.perf_counter()
        document.move_nodes({node_id: (x + step, y + step) for node_id, (x, y) in everything.items()}, drag)
        QApplication.processEvents()
        steps.append(time.perf_counter() - started)
    figures["drag step, every node (+ repaint)"] = statistics.median(steps)
    view.select([])
    preview = np.zeros((64, 64, 3), np.uint8)
    started = time.perf_counter()
    for index, node_id in enumerate(document.graph.nodes):
        view.set_run_state(node_id, "running", index / count, preview if index % 10 == 0 else None)
    QApplication.processEvents()
    figures["set_run_state on every node"] = time.perf_counter() - started
    view.close()
    view.deleteLater()
    QApplication.processEvents()
    return figures


def measure_adding(registry, count: int) -> dict[str, float]:
    document, view = new_view(registry)
    started = time.perf_counter()
    for index in range(count):
        document.add_node("math.Add", ((index % 40) * 260, (index // 40) * 170))
    QApplication.processEvents()
    added = time.perf_counter() - started
    started = time.perf_counter()
    ids = list(document.graph.nodes)
    for source, reader in zip(ids, ids[1:]):
        document.connect(source, "sum", reader, "a")
    QApplication.processEvents()
    connected = time.perf_counter() - started
    started = time.perf_counter()
    document.undo_stack.undo()
    QApplication.processEvents()
    undo = time.perf_counter() - started
    view.close()
    view.deleteLater()
    QApplication.processEvents()
    return {f"add {count} nodes": added, f"connect {count - 1} links": connected, "undo one link (+ repaint)": undo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15)
    arguments = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    registry = builtin_registry()
    count, half = arguments.nodes, arguments.nodes // 2
    print(f"Graph editor benchmark — {count} nodes, view {VIEW_SIZE[0]}×{VIEW_SIZE[1]}, "
          f"Qt platform {app.platformName()}, {os.cpu_count()} cores\n")
    measure_graph(registry, chain, 50, 2)  # warm up fonts and caches
    targets = {"open (replace + rebuild + fit + first paint)": 1.0, "repaint at fit view (median)": 0.016}
    for name, make in (("chain", chain), ("wide", wide), ("pipelines", pipelines)):
        full = measure_graph(registry, make, count, arguments.repeat)
        small = measure_graph(registry, make, half, arguments.repeat)
        links = sum(1 for _ in make(count).nodes.values() for _ in _.links())
        print(f"{name}: {count} nodes, {links} links")
        print(f"  {'':46} {count:>9} {half:>9} {'ratio':>7} {'target':>8} {'of target':>9}")
        for key, value in full.items():
            other = small[key]
            if key == "fit-view scale":
                print(f"  {key:46} {value:9.3f} {other:9.3f}")
                continue
            target = targets.get(key)
            target_text = f"{target * 1e3:6.0f}ms" if target else ""
            share = f"{value / target:8.0%}" if target else ""
            print(f"  {key:46} {value * 1e3:7.1f}ms {other * 1e3:7.1f}ms {value / max(other, 1e-9):7.2f} "
                  f"{target_text:>8} {share:>9}")
        print()
    full, small = measure_adding(registry, count), measure_adding(registry, half)
    print("adding through the document (each node an undo step, the canvas following)")
    print(f"  {'':46} {count:>9} {half:>9} {'ratio':>7} {'target':>8} {'of target':>9}")
    for (key, value), other in zip(full.items(), small.values()):
        label = key.replace(str(count), "N").replace(str(count - 1), "N-1")
        target = 1.0 if key.startswith("add") else None
        extra = f"{'1000ms':>8} {value / target:8.0%}" if target else ""
        print(f"  {label:46} {value * 1e3:7.1f}ms {other * 1e3:7.1f}ms {value / max(other, 1e-9):7.2f} {extra}")
    add = full[f"add {count} nodes"]
    print(f"\n  NodeGraphQt creates 1000 nodes in {NODEGRAPHQT_ADD_1000:.1f} s: "
          f"{NODEGRAPHQT_ADD_1000 / max(add * 1000 / count, 1e-9):.0f}× faster here")


if __name__ == "__main__":
    main()
