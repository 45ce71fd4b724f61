"""`reelgraph queue ...`, as a creator or an overnight script uses it: queue workflows
and batches, look at the queue, change it, run a headless worker and watch it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from desktop.cli import main
from gpu.executor import Executor
from gpu.queue import RenderQueue
from gpu.queue_worker import QueueWorker
from nodes.graph import Graph

#: Workers start from the checkout, whatever folder the tests run in.
REPOSITORY = Path(__file__).resolve().parents[2]
SLOW_PACK = '''
from nodes.spec import Input, Output, node


@node("slow.Frames", category="test", description="Renders frames slowly, a step at a time.",
      inputs=[Input("frames", "INT", default=100)], outputs=[Output("count", "INT")], output=True)
def frames(ctx, frames):
    for frame in range(frames):
        ctx.progress(frame / frames, None, f"frame {frame + 1}")
        ctx.cancel.wait(0.05)
    return frames
'''


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "queue.sqlite3"


def queue_command(db: Path, *arguments: str) -> int:
    action, *rest = arguments
    return main(["queue", action, "--db", str(db), *rest])


def card_workflow(folder: Path, colour: str = "#ff0000", name: str = "card") -> Path:
    graph = Graph()
    graph.add("image.Solid", {"width": 8, "height": 4, "color": colour}, node_id="solid")
    graph.add("image.Save", {"image": ["solid", "image"], "filename_prefix": name}, node_id="save")
    return graph.save(folder / f"{name}.json")


def seeded_workflow(folder: Path) -> Path:
    graph = Graph()
    graph.add("core.Seed", {"seed": 0}, node_id="seed")
    graph.add("math.Add", {"a": ["seed", "seed"], "b": 0.5}, node_id="sum")
    return graph.save(folder / "noise.json")


def listed(db: Path, capsys, *options: str) -> dict:
    capsys.readouterr()
    assert queue_command(db, "list", "--json", *options) == 0
    return json.loads(capsys.readouterr().out)


def test_add_queues_a_workflow_that_list_and_show_describe(db, tmp_path, capsys):
    workflow = card_workflow(tmp_path)

    assert queue_command(db, "add", str(workflow), "--priority", "3", "--name", "red card",
                         "--out", str(tmp_path / "renders")) == 0
    assert "queued job 1: red card (priority 3)" in capsys.readouterr().out
    assert queue_command(db, "list") == 0
    printed = capsys.readouterr().out
    assert "1 queued" in printed and "red card" in printed

    [job] = listed(db, capsys)["jobs"]
    assert (job["status"], job["priority"], job["output_dir"]) == ("queued", 3, str(tmp_path / "renders"))
    assert queue_command(db, "show", "1", "--json") == 0
    assert json.loads(capsys.readouterr().out)["graph"] == Graph.load(workflow).to_dict()


def test_add_refuses_a_missing_or_invalid_workflow_and_says_why(db, tmp_path, capsys):
    assert queue_command(db, "add", str(tmp_path / "missing.json")) == 2
    assert "the file does not exist" in capsys.readouterr().err

    broken = Graph()
    broken.add("image.Blur", {"radius": 4.0}, node_id="blur")
    assert queue_command(db, "add", str(broken.save(tmp_path / "broken.json"))) == 2
    assert "image" in capsys.readouterr().err  # the missing input is named

    assert queue_command(db, "add", str(card_workflow(tmp_path)), "--set", "nowhere.width=3") == 2
    assert "not in the workflow" in capsys.readouterr().err
    assert listed(db, capsys)["jobs"] == []


def test_a_batch_file_of_seeds_queues_one_job_per_seed(db, tmp_path, capsys):
    batch = tmp_path / "seeds.json"
    batch.write_text(json.dumps({"seeds": [11, 22, 33]}))

    assert queue_command(db, "add", str(seeded_workflow(tmp_path)), "--batch", str(batch)) == 0

    jobs = listed(db, capsys)["jobs"]
    assert [job["name"] for job in jobs] == ["noise · seed 11", "noise · seed 22", "noise · seed 33"]
    assert [job["overrides"] for job in jobs] == [{"seed.seed": 11}, {"seed.seed": 22}, {"seed.seed": 33}]


def test_a_batch_that_cannot_work_is_refused_whole(db, tmp_path, capsys):
    batch = tmp_path / "prompts.json"
    batch.write_text(json.dumps({"prompts": ["a fox"]}))

    assert queue_command(db, "add", str(seeded_workflow(tmp_path)), "--batch", str(batch)) == 2
    assert "no node in the workflow has a typed-in input named 'prompt'" in capsys.readouterr().err
    batch.write_text("{not json")
    assert queue_command(db, "add", str(seeded_workflow(tmp_path)), "--batch", str(batch)) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert listed(db, capsys)["jobs"] == []


def test_the_creators_controls_change_the_queue(db, tmp_path, capsys):
    workflow = card_workflow(tmp_path)
    for name in ("first", "second", "third"):
        queue_command(db, "add", str(workflow), "--name", name)

    assert queue_command(db, "move", "3", "--before", "1") == 0
    assert queue_command(db, "move", "2", "--priority", "5") == 0
    assert [job["name"] for job in listed(db, capsys)["jobs"]] == ["second", "third", "first"]
    assert queue_command(db, "pause", "3") == 0
    assert queue_command(db, "cancel", "1") == 0
    assert queue_command(db, "pause") == 0
    state = listed(db, capsys)
    assert state["paused"] and [job["status"] for job in state["jobs"]] == ["queued", "paused", "cancelled"]

    assert queue_command(db, "resume") == 0
    assert queue_command(db, "resume", "3") == 0
    assert queue_command(db, "retry", "1") == 0
    assert queue_command(db, "delete", "2") == 0
    state = listed(db, capsys)
    assert not state["paused"] and [(job["id"], job["status"]) for job in state["jobs"]] == [(3, "queued"),
                                                                                           (1, "queued")]


def test_unknown_jobs_exit_2_and_requests_the_queue_cannot_do_exit_1(db, tmp_path, capsys):
    queue_command(db, "add", str(card_workflow(tmp_path)))

    assert queue_command(db, "cancel", "42") == 2
    assert "there is no job 42" in capsys.readouterr().err
    assert queue_command(db, "retry", "1") == 1
    assert "only a failed or cancelled job" in capsys.readouterr().err
    assert queue_command(db, "list", "--status", "finished") == 2


def test_a_place_no_worker_serves_or_a_folder_for_the_database_is_refused_clearly(db, tmp_path, capsys):
    workflow = str(card_workflow(tmp_path))

    assert queue_command(db, "add", workflow, "--runs-on", "gpu0") == 2
    error = capsys.readouterr().err
    assert "--runs-on" in error and "'gpu0'" in error and "local:cuda:0" in error
    assert listed(db, capsys)["jobs"] == []

    for action in (["list"], ["add", workflow], ["cancel", "1"], ["work", "--once"]):
        assert queue_command(tmp_path, *action) == 2
        error = capsys.readouterr().err
        assert f"{tmp_path} is a folder" in error and "Traceback" not in error


def test_work_once_renders_the_next_job_and_clear_forgets_it(db, tmp_path, capsys):
    queue_command(db, "add", str(card_workflow(tmp_path)), "--out", str(tmp_path / "renders"))

    assert queue_command(db, "work", "--once", "--quiet") == 0

    assert (tmp_path / "renders" / "card_00001.png").is_file()
    err = capsys.readouterr().err
    assert "job 1 (card) started" in err and "job 1 (card) completed" in err
    [job] = listed(db, capsys)["jobs"]
    assert job["status"] == "completed" and job["output_paths"] == [str(tmp_path / "renders" / "card_00001.png")]
    assert queue_command(db, "clear") == 0
    assert listed(db, capsys)["jobs"] == []
    assert (tmp_path / "renders" / "card_00001.png").is_file()  # the creator's files stay


def test_watch_follows_the_jobs_until_all_are_done(db, tmp_path, capsys, registry):
    for colour, name in (("#ff0000", "red"), ("#0000ff", "blue")):
        queue_command(db, "add", str(card_workflow(tmp_path, colour, name)), "--out", str(tmp_path / "renders"))
    capsys.readouterr()
    with RenderQueue(db) as queue, Executor(registry, output_dir=tmp_path) as executor:
        worker = QueueWorker(queue, executor, poll_seconds=0.05)
        thread = threading.Thread(target=worker.serve, kwargs={"idle_exit": 5.0})
        thread.start()
        try:
            assert queue_command(db, "watch", "--interval", "0.05") == 0
        finally:
            worker.stop()
            thread.join(10)

    printed = capsys.readouterr().out
    assert "job 1 (red) completed" in printed and "job 2 (blue) completed" in printed
    assert printed.rstrip().endswith("all done: 2 completed, 0 failed, 0 cancelled")


def test_sigterm_stops_a_worker_and_the_job_resumes_on_the_next(db, tmp_path):
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "slow.py").write_text(SLOW_PACK, encoding="utf-8")
    env = {**os.environ, "REELGRAPH_NODES": str(packs), "REELGRAPH_HOME": str(tmp_path / "home")}
    graph = Graph()
    graph.add("slow.Frames", {"frames": 60}, node_id="frames")
    with RenderQueue(db) as queue:
        job = queue.add(graph, name="slow")
    command = [sys.executable, "-m", "desktop.cli", "queue", "work", "--db", str(db), "--quiet"]
    worker = subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              cwd=REPOSITORY)
    with RenderQueue(db) as queue:
        deadline = time.monotonic() + 60
        while queue.get(job.id).progress < 0.1:
            assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()[1]
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)

        assert worker.returncode == 130, err
        assert "goes back to the queue" in err
        stopped = queue.get(job.id)
        assert stopped.status == "queued" and stopped.attempts[-1].outcome == "stopped"

    again = subprocess.run([*command, "--once"], env=env, text=True, capture_output=True, timeout=60,
                           cwd=REPOSITORY)
    assert again.returncode == 0, again.stderr
    with RenderQueue(db) as queue:
        assert queue.get(job.id).status == "completed"
