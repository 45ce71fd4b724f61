"""Render queue benchmark: with 10 000 jobs queued, how long listing a page and taking
the next job take (issue 6's target: each under 10 ms).

    python bench/render_queue.py [--jobs 10000] [--samples 300]

The queue is a real one on disk (SQLite, WAL, synchronous=FULL) in a temporary folder;
each job holds a 20-node graph snapshot. Claims are timed the way a worker makes them:
take the next job, then finish it (the finish is not timed), so the queue keeps one
running job as in real use. Figures are milliseconds: median and 95th percentile.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpu.queue import RenderQueue  # noqa: E402
from nodes.graph import Graph  # noqa: E402


def twenty_node_graph() -> Graph:
    graph = Graph()
    graph.add("core.String", {"value": "a red fox in the snow, cinematic light, 35 mm"}, node_id="prompt")
    graph.add("core.Seed", {"seed": 1234}, node_id="seed")
    previous = "seed"
    for number in range(17):
        previous = graph.add("math.Add", {"a": [previous, "value" if number else "seed"], "b": 1.0},
                             node_id=f"step{number}", title=f"step {number}")
    graph.add("image.Solid", {"width": 64, "height": 64}, node_id="solid")
    return graph


def measure(samples: int, action: Callable[[], object]) -> list[float]:
    timings = []
    for _ in range(samples):
        began = time.perf_counter()
        action()
        timings.append((time.perf_counter() - began) * 1000)
    return timings


def line(label: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    verdict = "ok" if p95 < 10 else "OVER 10 ms"
    return f"{label:<48} median {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms   {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=300)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reelgraph-queue-bench-") as folder:
        queue = RenderQueue(Path(folder) / "queue.sqlite3")
        graph = twenty_node_graph()
        began = time.perf_counter()
        batch = 1000
        for start in range(0, arguments.jobs, batch):
            count = min(batch, arguments.jobs - start)
            queue.add_batch(graph, [{"seed.seed": start + index} for index in range(count)], name="bench",
                            priority=(start // batch) % 3)
        added = time.perf_counter() - began
        size = (Path(folder) / "queue.sqlite3").stat().st_size / 1024**2
        print(f"queued {arguments.jobs} jobs (20-node graphs) in {added:.1f} s; database {size:.1f} MB")
        for index in range(0, 300, 3):  # some history, as a day of work leaves
            job = queue.claim("bench:1:a")
            queue.finish(job.id, "bench:1:a", "completed" if index % 2 else "failed", error="")

        samples = arguments.samples
        middle = (arguments.jobs // 2) // 50
        print(line("list the first page (50 jobs)", measure(samples, lambda: queue.list_jobs())))
        print(line(f"list page {middle} (50 jobs, deep in the queue)",
                   measure(samples, lambda: queue.list_jobs(page=middle))))
        print(line("list a page of queued jobs only", measure(samples, lambda: queue.list_jobs("queued"))))
        print(line("list a page of finished jobs", measure(samples, lambda: queue.list_jobs("completed"))))
        print(line("count jobs by status", measure(samples, queue.counts)))

        claims = []
        for _ in range(samples):
            began = time.perf_counter()
            job = queue.claim("bench:1:a")
            claims.append((time.perf_counter() - began) * 1000)
            queue.finish(job.id, "bench:1:a", "completed")
        print(line("take the next job (claim)", claims))
        running = queue.claim("bench:1:b")
        progress = {"progress": 0.5, "progress_message": "5/10 nodes", "nodes_done": 5, "nodes_total": 10}
        print(line("report progress (a worker's tick, 4 a second)",
                   measure(samples, lambda: queue.report(running.id, "bench:1:b", 30.0, progress))))
        queue.close()


if __name__ == "__main__":
    main()
