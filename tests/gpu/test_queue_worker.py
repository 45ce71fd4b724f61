"""A queue worker running jobs through the executor: cancel and pause while a job
runs, resuming from checkpoints on a fresh executor (as a new process would), retries
with backoff for passing failures, none for a broken graph, batches of seeds, and the
checkpoint files themselves."""

from __future__ import annotations

import errno
import json
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from gpu.checkpoints import CheckpointStore
from gpu.models import ModelCache
from gpu.queue import RenderQueue
from gpu.queue_batch import expand_batch
from gpu.queue_worker import QueueWorker, RetryPolicy
from nodes.graph import Graph
from nodes.models import ModelRef
from nodes.spec import Input, NodeFailure, Output, node
from nodes.types import FLOAT, INT, STRING, Audio, Video

PATIENCE = 10.0
CALLS: Counter[str] = Counter()


@node("test.Flaky", category="test", description="Fails its first few calls the way a render can.",
      inputs=[Input("tag", STRING, default=""), Input("failures", INT, default=0, min=0),
              Input("kind", STRING, default="io", choices=("io", "memory", "bad-input"))],
      outputs=[Output("value", FLOAT)])
def flaky(ctx, tag, failures, kind):
    CALLS[tag] += 1
    if CALLS[tag] <= failures:
        if kind == "io":
            raise OSError(errno.EIO, "Input/output error", "/renders/frame_0001.png")
        if kind == "memory":  # the model cache's own answer: free the others, try once more, then give up
            def denoise():
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            ModelCache().run_guarded("cuda:0", None, denoise, "denoising")
        raise NodeFailure("the prompt is empty; type what the picture should show")
    return float(CALLS[tag])


@pytest.fixture
def queue(tmp_path: Path) -> RenderQueue:
    with RenderQueue(tmp_path / "queue.sqlite3") as opened:
        yield opened


@pytest.fixture
def make_worker(make_executor, registry, queue):
    registry.register(flaky, "tests")
    made: list[QueueWorker] = []

    def make(**options) -> QueueWorker:
        options.setdefault("retry", RetryPolicy(first_delay=0.05))
        options.setdefault("poll_seconds", 0.02)
        options.setdefault("progress_seconds", 0.05)
        worker = QueueWorker(options.pop("queue", queue), options.pop("executor", None) or make_executor(), **options)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop()


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_queued_job_runs_and_keeps_what_it_made(queue, make_worker, journal):
    graph = Graph()
    graph.add("test.Cpu", {"value": 1.0}, node_id="render")
    graph.add("test.Output", {"value": ["render", "value"]}, node_id="save")
    job = queue.add(graph, name="card")

    done = make_worker().run_next()

    assert done.id == job.id and done.status == "completed"
    assert done.outputs == {"save": {"value": 3.0}}
    assert (done.nodes_done, done.nodes_total, done.progress) == (2, 2, 1.0)
    assert [(attempt.outcome, attempt.nodes_run) for attempt in done.attempts] == [("completed", 2)]
    assert not queue.job_folder(job.id).exists()  # checkpoints go once the job is done
    assert journal.ran() == ["render", "save"]


def test_cancel_from_another_process_stops_a_running_job_within_a_step(queue, make_worker, journal, tmp_path):
    graph = Graph()
    graph.add("test.Gpu", {"steps": 400, "seconds": 40.0}, node_id="render")
    job = queue.add(graph, name="long render")
    make_worker().start()
    wait_for(lambda: journal.visits and journal.visit("render").steps_done >= 2, "the render to step")

    with RenderQueue(tmp_path / "queue.sqlite3") as panel:
        wait_for(lambda: panel.get(job.id).progress > 0, "progress in the queue")
        assert panel.get(job.id).nodes_total == 1 and "render" in panel.get(job.id).progress_message
        asked = time.monotonic()
        panel.cancel(job.id)
        wait_for(lambda: panel.get(job.id).status == "cancelled", "the job to end cancelled")

    assert time.monotonic() - asked < 2.0
    assert journal.visit("render").outcome == "stopped"
    assert journal.visit("render").steps_done < 50
    assert queue.get(job.id).attempts[-1].outcome == "cancelled"


def test_a_paused_job_resumes_on_a_fresh_executor_without_redoing_finished_nodes(
        queue, make_worker, make_executor, journal):
    graph = Graph()
    graph.add("test.Output", {"value": 1.0}, node_id="thumbnail")
    graph.add("test.Cpu", {"value": ["thumbnail", "value"], "gate": "render"}, node_id="render")
    graph.add("test.Output", {"value": ["render", "value"]}, node_id="save")
    job = queue.add(graph, name="two outputs")
    first = make_worker()
    serving = first.start()
    journal.gate("render").wait_until_entered()

    queue.pause_job(job.id)
    wait_for(lambda: queue.get(job.id).status == "paused", "the job to pause")
    assert [checkpoint.node_id for checkpoint in queue.checkpoints(job.id).load()] == ["thumbnail"]
    journal.gate("render").open()
    first.stop()  # the resumed job must go to the fresh worker, not back to this one
    serving.join(PATIENCE)
    queue.resume_job(job.id)
    resumed = make_worker(executor=make_executor()).run_next()

    assert resumed.status == "completed"
    assert journal.ran() == ["thumbnail", "render", "render", "save"]
    assert [attempt.outcome for attempt in resumed.attempts] == ["paused", "completed"]
    assert resumed.attempts[-1].nodes_resumed == 1 and resumed.attempts[-1].nodes_run == 2
    assert resumed.outputs == {"thumbnail": {"value": 2.0}, "save": {"value": 4.0}}


def test_a_stopping_worker_gives_its_job_back_and_a_finished_output_node_is_not_asked_again(
        queue, make_worker, make_executor, journal):
    graph = Graph()
    graph.add("test.Random", {}, node_id="noise")
    graph.add("test.Output", {"value": ["noise", "value"]}, node_id="preview")  # its key differs every run
    graph.add("test.Cpu", {"gate": "render"}, node_id="render")
    graph.add("test.Output", {"value": ["render", "value"]}, node_id="save")
    job = queue.add(graph, name="stopped")
    worker = make_worker()
    thread = worker.start()
    journal.gate("render").wait_until_entered()
    wait_for(lambda: "preview" in {c.node_id for c in queue.checkpoints(job.id).load()}, "the preview's checkpoint")

    worker.stop()
    thread.join(PATIENCE)
    stopped = queue.get(job.id)
    assert stopped.status == "queued" and stopped.attempts[-1].outcome == "stopped" and stopped.tries == 0
    journal.gate("render").open()
    resumed = make_worker(executor=make_executor()).run_next()

    assert resumed.status == "completed"
    assert Counter(journal.ran()) == {"noise": 1, "preview": 1, "render": 2, "save": 1}
    assert set(resumed.outputs) == {"preview", "save"}


def test_a_cancel_while_the_worker_is_stopping_ends_the_job_instead_of_queueing_it_again(
        queue, make_worker, journal, tmp_path):
    graph = Graph()
    graph.add("test.Cpu", {"seconds": 1.0}, node_id="render")  # a step that does not look at cancel
    graph.add("test.Output", {"value": ["render", "value"]}, node_id="save")
    job = queue.add(graph, name="unwanted")
    worker = make_worker()
    thread = worker.start()
    wait_for(lambda: journal.visits, "the render to start")

    worker.stop()  # the window closes ...
    with RenderQueue(tmp_path / "queue.sqlite3") as panel:
        assert panel.cancel(job.id).status == "running"  # ... as the creator cancels the job
    thread.join(PATIENCE)

    ended = queue.get(job.id)
    assert ended.status == "cancelled" and ended.attempts[-1].outcome == "cancelled"
    assert journal.ran() == ["render"]


def test_a_slow_start_keeps_the_job_so_a_second_worker_never_runs_it_too(queue, make_worker, journal, tmp_path):
    graph = Graph()
    graph.add("test.Cpu", {"value": 1.0, "seconds": 0.3}, node_id="render")
    graph.add("test.Output", {"value": ["render", "value"]}, node_id="save")
    job = queue.add(graph, name="slow start")
    # the window's worker waits for PyTorch to load on the GUI thread before the job starts
    window = make_worker(lease_seconds=1.0, on_job=lambda taken: time.sleep(1.6) if taken.status == "running" else None)
    starting = threading.Thread(target=window.run_next)
    starting.start()
    time.sleep(1.3)  # longer than the lease: only renewals keep the job the window's

    with RenderQueue(tmp_path / "queue.sqlite3") as other:
        assert make_worker(queue=other, lease_seconds=1.0).run_next() is None
    starting.join(PATIENCE)

    done = queue.get(job.id)
    assert done.status == "completed" and [attempt.outcome for attempt in done.attempts] == ["completed"]
    assert journal.ran() == ["render", "save"]


def test_a_checkpoint_bigger_than_the_output_cache_still_counts_on_resume(queue, make_worker, make_executor, journal):
    graph = Graph()
    graph.add("test.Cpu", {"value": 1.0}, node_id="frames")
    graph.add("test.Cpu", {"value": ["frames", "value"], "gate": "render"}, node_id="render")
    graph.add("test.Output", {"value": ["render", "value"]}, node_id="save")
    job = queue.add(graph, name="long clip")
    first = make_worker()
    serving = first.start()
    journal.gate("render").wait_until_entered()
    first.stop()
    serving.join(PATIENCE)
    journal.gate("render").open()
    assert queue.get(job.id).status == "queued"
    assert [checkpoint.node_id for checkpoint in queue.checkpoints(job.id).load()] == ["frames"]

    # "frames" stands for a clip larger than the whole output cache: a budget of one byte
    resumed = make_worker(executor=make_executor(cache_bytes=1)).run_next()

    assert resumed.status == "completed" and resumed.outputs == {"save": {"value": 4.0}}
    assert Counter(journal.ran()) == {"frames": 1, "render": 2, "save": 1}
    assert resumed.attempts[-1].nodes_resumed == 1


@pytest.mark.parametrize("kind, failures", [("io", 2), ("memory", 1)])
def test_a_passing_failure_is_tried_again_after_a_growing_pause(queue, make_worker, kind, failures):
    graph = Graph()
    graph.add("test.Flaky", {"tag": f"passing-{kind}", "failures": failures, "kind": kind}, node_id="render")
    job = queue.add(graph, name="flaky disk")

    make_worker(retry=RetryPolicy(first_delay=0.1, factor=2.0)).serve(idle_exit=0.5)

    done = queue.get(job.id)
    assert done.status == "completed"
    assert [attempt.outcome for attempt in done.attempts] == ["retrying"] * failures + ["completed"]
    pauses = [later.started - earlier.ended for earlier, later in zip(done.attempts, done.attempts[1:])]
    assert all(pause >= 0.1 * 2**index for index, pause in enumerate(pauses))
    assert "memory" in done.attempts[0].error or "Input/output error" in done.attempts[0].error


def test_retries_stop_after_three_attempts(queue, make_worker):
    graph = Graph()
    graph.add("test.Flaky", {"tag": "hopeless", "failures": 10}, node_id="render")
    job = queue.add(graph, name="broken disk")

    make_worker().serve(idle_exit=0.4)

    done = queue.get(job.id)
    assert done.status == "failed" and CALLS["hopeless"] == 3
    assert [attempt.outcome for attempt in done.attempts] == ["retrying", "retrying", "failed"]
    assert "gave up after 3 attempts" in done.last_error


def test_a_failure_of_the_creators_input_is_not_retried(queue, make_worker):
    graph = Graph()
    graph.add("test.Flaky", {"tag": "empty-prompt", "failures": 10, "kind": "bad-input"}, node_id="render")
    job = queue.add(graph, name="empty prompt")

    make_worker().serve(idle_exit=0.2)

    done = queue.get(job.id)
    assert done.status == "failed" and len(done.attempts) == 1
    assert "the prompt is empty" in done.last_error


def test_an_invalid_graph_fails_at_once_with_the_validation_report(queue, make_worker):
    graph = Graph()
    graph.add("test.NoSuchNode", {}, node_id="ghost")
    job = queue.add(graph, name="ghost")

    make_worker().serve(idle_exit=0.2)

    done = queue.get(job.id)
    assert done.status == "failed" and [attempt.outcome for attempt in done.attempts] == ["failed"]
    assert "test.NoSuchNode" in done.last_error and "cannot run" in done.last_error


def test_a_batch_of_seeds_renders_one_job_per_seed(queue, make_worker, registry):
    graph = Graph()
    graph.add("core.Seed", {"seed": 0}, node_id="seed")
    graph.add("test.Output", {"value": ["seed", "seed"]}, node_id="save")
    queue.add_batch(graph, expand_batch({"seeds": [10, 20, 30]}, graph, registry), name="seeds")

    assert make_worker().serve(idle_exit=0.1) == 3

    jobs = queue.history()
    assert sorted(job.outputs["save"]["value"] for job in jobs) == [11.0, 21.0, 31.0]
    assert sorted(job.name for job in jobs) == ["seeds · seed 10", "seeds · seed 20", "seeds · seed 30"]


def test_checkpoints_keep_pictures_clips_sounds_and_models_in_safe_files(tmp_path):
    store = CheckpointStore(tmp_path / "checkpoints")
    sound = Audio(np.linspace(-1, 1, 20, dtype=np.float32).reshape(2, 10), 8000)
    clip = Video(np.full((2, 4, 6, 3), 7, dtype=np.uint8), 24.0, sound)
    model = ModelRef("/models/tiny.safetensors", family="sd15").with_lora(ModelRef("/loras/ink.safetensors"), 0.8)
    outputs = (clip, [np.zeros((2, 2, 3), np.uint8)], model, {"width": 512, "nan": float("nan")}, 2**70, "text", None)

    assert store.save("7", "video.Make", "key7", outputs)
    assert not store.save("8", "test.Thing", "key8", (threading.Lock(),))

    found = {checkpoint.node_id: checkpoint for checkpoint in store.load()}
    restored = found["7"].outputs
    assert found["8"].outputs is None
    assert restored[0].fps == 24.0 and (restored[0].frames == 7).all() and restored[0].audio.rate == 8000
    assert not restored[0].frames.flags.writeable
    assert restored[2] == model and restored[2].loras[0][1] == 0.8
    assert restored[3]["width"] == 512 and restored[3]["nan"] != restored[3]["nan"]
    assert restored[4:] == (2**70, "text", None)
    manifest = json.loads((tmp_path / "checkpoints" / "key7" / "manifest.json").read_text())
    assert manifest["format"] == "reelgraph.checkpoint"
    assert sorted(path.suffix for path in (tmp_path / "checkpoints" / "key7").iterdir()) == [".json"] + [".npy"] * 3


def test_a_checkpoint_holding_a_pickle_is_refused_and_its_node_runs_again(tmp_path):
    store = CheckpointStore(tmp_path)
    store.save("1", "image.Blur", "key1", (np.zeros(3, np.uint8),))
    np.save(tmp_path / "key1" / "0.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)

    assert store.load() == []
