"""The queue's promise, tested with real processes: ``kill -9`` a worker in the middle
of a 20-node job, start another, and the job completes with no finished node run
twice and no file written twice; two workers on one queue never run the same job;
processes opening a brand-new queue at the same moment all get in.

The nodes come from a node pack in the user nodes folder (as a creator would install
one); each writes to a log file when it starts and when it finishes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from gpu.queue import QueueError, RenderQueue
from nodes.graph import Graph

PACK = '''
import os
import time

from nodes.atomic_write import create_exclusively
from nodes.spec import Input, Output, node


def write_down(log, text):
    with open(log, "a", encoding="utf-8") as stream:
        stream.write(text + "\\n")
        stream.flush()
        os.fsync(stream.fileno())


def pause(ctx, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        time.sleep(0.01)


@node("crash.Step", category="test", description="Adds one, slowly, and writes down that it ran.",
      inputs=[Input("value", "INT", default=0), Input("log", "STRING", default=""),
              Input("seconds", "FLOAT", default=0.15)],
      outputs=[Output("value", "INT")])
def step(ctx, value, log, seconds):
    write_down(log, f"started {ctx.node_id} {os.getpid()}")
    pause(ctx, seconds)
    write_down(log, f"finished {ctx.node_id} {os.getpid()}")
    return value + 1


@node("crash.Save", category="test", description="Writes the value to a new file in the output folder.",
      inputs=[Input("value", "INT", default=0), Input("log", "STRING", default="")],
      outputs=[Output("value", "INT"), Output("path", "STRING")], output=True)
def save(ctx, value, log):
    write_down(log, f"started {ctx.node_id} {os.getpid()}")
    path = create_exclusively(ctx.output_dir, "count", ".txt", str(value).encode())
    write_down(log, f"finished {ctx.node_id} {os.getpid()}")
    return value, str(path)
'''

PATIENCE = 60.0
#: Workers start from the checkout, whatever folder the tests run in.
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "crash_pack.py").write_text(PACK, encoding="utf-8")
    return {"packs": packs, "db": tmp_path / "queue" / "queue.sqlite3", "log": tmp_path / "nodes.log",
            "out": tmp_path / "out", "home": tmp_path / "home"}


def start_worker(setup: dict[str, Path], *options: str) -> subprocess.Popen:
    env = {**os.environ, "REELGRAPH_NODES": str(setup["packs"]), "REELGRAPH_HOME": str(setup["home"])}
    return subprocess.Popen([sys.executable, "-m", "desktop.cli", "queue", "work", "--db", str(setup["db"]),
                             "--quiet", *options], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPOSITORY)


def log_lines(setup: dict[str, Path]) -> list[tuple[str, str, str]]:
    """(what, node id, process id) for each line of the nodes' log."""
    if not setup["log"].exists():
        return []
    return [tuple(line.split()) for line in setup["log"].read_text(encoding="utf-8").splitlines() if line]


def wait_for_line(setup: dict[str, Path], wanted: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + PATIENCE
    while not any(" ".join(line[:2]) == wanted for line in log_lines(setup)):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"never saw {wanted!r} in the log; worker said: {process.communicate()[1][-2000:]}")
        time.sleep(0.02)


def twenty_node_chain(setup: dict[str, Path]) -> Graph:
    """n01 -> n02 -> ... -> n20, where n10 and n20 save a file."""
    graph = Graph()
    for number in range(1, 21):
        node_id = f"n{number:02d}"
        inputs = {"log": str(setup["log"])}
        if number > 1:
            inputs["value"] = [f"n{number - 1:02d}", "value"]
        graph.add("crash.Save" if number % 10 == 0 else "crash.Step", inputs, node_id=node_id)
    return graph


def test_kill_9_in_the_middle_of_a_job_then_a_new_worker_finishes_it_without_redoing_anything(setup):
    with RenderQueue(setup["db"]) as queue:
        job = queue.add(twenty_node_chain(setup), name="twenty nodes", output_dir=setup["out"])
    first = start_worker(setup, "--lease", "600")  # a long lease: the dead process itself must be noticed
    wait_for_line(setup, "started n12", first)

    first.send_signal(signal.SIGKILL)
    first.wait(PATIENCE)
    before_kill = log_lines(setup)
    finished_before = {node_id for what, node_id, _ in before_kill if what == "finished"}
    assert {"n10", "n11"} <= finished_before and "n12" not in finished_before
    with RenderQueue(setup["db"]) as queue:
        assert queue.get(job.id).status == "running"  # nobody knows yet

    began = time.monotonic()
    second = start_worker(setup, "--once", "--lease", "600")
    _, errors = second.communicate(timeout=PATIENCE)

    assert second.returncode == 0, errors
    assert time.monotonic() - began < 30
    after_kill = log_lines(setup)[len(before_kill):]
    assert not {node_id for _, node_id, _ in after_kill} & finished_before, "a node that had finished ran again"
    finished = Counter(node_id for what, node_id, _ in log_lines(setup) if what == "finished")
    assert finished == Counter(f"n{number:02d}" for number in range(1, 21)), "every node finished exactly once"
    saved = sorted(setup["out"].glob("count_*.txt"))
    assert [path.read_text() for path in saved] == ["9", "18"], "each output file written once"
    with RenderQueue(setup["db"]) as queue:
        done = queue.get(job.id)
        assert [job.id for job in queue.list_jobs()] == [job.id], "no job lost or duplicated"
    assert done.status == "completed"
    assert [attempt.outcome for attempt in done.attempts] == ["interrupted", "completed"]
    assert done.attempts[1].nodes_run == 20 - len(finished_before)
    assert sorted(done.output_paths) == [str(path) for path in saved]
    assert done.outputs["n20"]["value"] == 18
    assert not (setup["db"].parent / "jobs" / str(job.id)).exists(), "checkpoints go when the job is done"


def test_two_worker_processes_on_one_queue_never_run_the_same_job(setup):
    with RenderQueue(setup["db"]) as queue:
        queue.pause()  # both workers are up before any job may start
        for number in range(12):
            graph = Graph()
            graph.add("crash.Step", {"value": number, "log": str(setup["log"]), "seconds": 0.2},
                      node_id=f"job{number:02d}")
            queue.add(graph, name=f"job {number}")
    workers = [start_worker(setup, "--idle-exit", "1.5") for _ in range(2)]
    ready = [threading.Event() for _ in workers]
    said: list[list[str]] = [[] for _ in workers]

    def listen(index: int) -> None:
        for line in workers[index].stderr:
            said[index].append(line)
            if "serving" in line:
                ready[index].set()

    listeners = [threading.Thread(target=listen, args=(index,), daemon=True) for index in range(2)]
    for listener in listeners:
        listener.start()
    for index, event in enumerate(ready):
        assert event.wait(PATIENCE), f"worker {index} never started: {''.join(said[index])}"
    with RenderQueue(setup["db"]) as queue:
        queue.resume()
    for worker in workers:
        worker.wait(PATIENCE)
    for listener in listeners:
        listener.join(PATIENCE)

    assert [worker.returncode for worker in workers] == [0, 0], said
    started = [node_id for what, node_id, _ in log_lines(setup) if what == "started"]
    assert sorted(started) == [f"job{number:02d}" for number in range(12)], "each job ran exactly once"
    assert len({pid for _, _, pid in log_lines(setup)}) == 2, "both workers took jobs"
    with RenderQueue(setup["db"]) as queue:
        jobs = queue.list_jobs()
        assert {job.status for job in jobs} == {"completed"} and all(len(job.attempts) == 1 for job in jobs)


def open_and_add(path: str, barrier, answers) -> None:
    barrier.wait()
    try:
        with RenderQueue(path) as opened:
            opened.add({"format": "reelgraph.graph", "version": 1, "nodes": {}}, name="x")
    except Exception as error:  # reported to the test, which names it
        answers.put(f"{type(error).__name__}: {error}")
    else:
        answers.put("ok")


def test_processes_opening_a_brand_new_queue_at_once_all_get_in(tmp_path):
    context = multiprocessing.get_context("fork")
    for trial in range(8):  # the race does not show every time
        path = str(tmp_path / str(trial) / "queue.sqlite3")
        barrier, answers = context.Barrier(12), context.Queue()
        processes = [context.Process(target=open_and_add, args=(path, barrier, answers)) for _ in range(12)]
        for process in processes:
            process.start()
        said = sorted(answers.get(timeout=60) for _ in processes)
        for process in processes:
            process.join(10)
        assert said == ["ok"] * 12
        with RenderQueue(path) as opened:
            assert opened.counts()["queued"] == 12


def test_a_folder_or_a_file_that_is_not_a_queue_is_refused_with_the_reason(tmp_path):
    with pytest.raises(QueueError, match="is a folder"):
        RenderQueue(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, but long enough to look like a header of one " * 20)
    with pytest.raises(QueueError, match="cannot open the render queue"):
        RenderQueue(notes)
