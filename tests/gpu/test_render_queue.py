"""The render queue on disk, as the creator and the workers see it: the order jobs run
in, reordering, pausing, cancelling, retrying, pages of the list, batches, and jobs
taken back from a worker that died."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gpu.queue import QueueError, RenderQueue, UnknownJob
from gpu.queue_batch import BatchError, Variation, expand_batch
from nodes.graph import Graph
from nodes.spec import Input, Output, node
from nodes.types import FLOAT, INT, STRING


def card(colour: str = "#ff0000") -> Graph:
    graph = Graph()
    graph.add("core.Int", {"value": 1}, node_id="count")
    graph.add("test.Output", {"value": ["count", "value"]}, node_id="save")
    graph.meta["note"] = colour
    return graph


@pytest.fixture
def queue(tmp_path: Path) -> RenderQueue:
    with RenderQueue(tmp_path / "queue.sqlite3") as opened:
        yield opened


def claim_all(queue: RenderQueue, worker: str = "here:1:a") -> list[str]:
    names = []
    while (job := queue.claim(worker)) is not None:
        names.append(job.name)
    return names


def test_jobs_run_by_priority_then_in_the_order_they_were_added(queue):
    for name, priority in (("first", 0), ("urgent", 5), ("second", 0), ("also urgent", 5), ("later", -1)):
        queue.add(card(), name=name, priority=priority)

    assert claim_all(queue) == ["urgent", "also urgent", "first", "second", "later"]


def test_moving_a_job_before_another_puts_it_there_with_that_jobs_priority(queue):
    first, second, third = (queue.add(card(), name=name) for name in ("first", "second", "third"))
    rush = queue.add(card(), name="rush", priority=3)

    queue.move(third.id, before=first.id)
    queue.move(first.id, after=second.id)
    moved = queue.move(rush.id, after=second.id)

    assert moved.priority == 0
    assert [job.name for job in queue.list_jobs()] == ["third", "second", "rush", "first"]
    queue.set_priority(first.id, 9)
    assert claim_all(queue) == ["first", "third", "second", "rush"]


def test_many_moves_into_the_same_gap_keep_a_consistent_order(queue):
    jobs = [queue.add(card(), name=f"job {index}") for index in range(4)]
    expected = [job.name for job in jobs]
    for _ in range(70):  # always just after job 0: halves the same gap until the numbers run out
        moving = expected.pop()
        expected.insert(1, moving)
        queue.move(next(job.id for job in jobs if job.name == moving), after=jobs[0].id)

    assert [job.name for job in queue.list_jobs()] == expected


def test_a_running_or_finished_job_cannot_be_moved(queue):
    running, waiting = queue.add(card(), name="running"), queue.add(card(), name="waiting")
    queue.claim("here:1:a")
    with pytest.raises(QueueError, match="only waiting jobs"):
        queue.move(waiting.id, before=running.id)
    with pytest.raises(QueueError, match="before or after"):
        queue.move(waiting.id)


def test_a_paused_queue_starts_nothing_until_it_is_resumed(queue, tmp_path):
    queue.add(card(), name="overnight")
    queue.pause()
    with RenderQueue(tmp_path / "queue.sqlite3") as other_process:
        assert other_process.paused
        assert other_process.claim("there:2:b") is None
        queue.resume()
        assert other_process.claim("there:2:b").name == "overnight"


def test_a_held_job_waits_while_the_others_run(queue):
    held = queue.add(card(), name="held")
    queue.add(card(), name="free")

    assert queue.pause_job(held.id).status == "paused"
    assert claim_all(queue) == ["free"]
    queue.resume_job(held.id)
    assert claim_all(queue) == ["held"]


def test_cancelling_a_waiting_job_is_immediate_and_a_running_one_is_asked_to_stop(queue):
    waiting, running = queue.add(card(), name="waiting"), queue.add(card(), name="running")
    queue.move(running.id, before=waiting.id)
    assert queue.claim("here:1:a").id == running.id

    assert queue.cancel(waiting.id).status == "cancelled"
    asked = queue.cancel(running.id)
    assert asked.status == "running" and asked.stop_request == "cancel"
    assert queue.report(running.id, "here:1:a", 30.0) == "cancel"
    with pytest.raises(QueueError, match="already cancelled"):
        queue.cancel(waiting.id)


def test_retry_queues_a_cancelled_job_again_but_not_a_waiting_one(queue):
    job = queue.add(card(), name="again")
    with pytest.raises(QueueError, match="only a failed or cancelled job"):
        queue.retry(job.id)
    queue.cancel(job.id)

    again = queue.retry(job.id)

    assert again.status == "queued" and again.finished is None
    assert claim_all(queue) == ["again"]


def test_the_list_shows_running_then_waiting_in_order_then_finished_newest_first(queue):
    jobs = {name: queue.add(card(), name=name) for name in ("a", "b", "c", "d", "e")}
    queue.claim("here:1:a")  # a runs
    queue.cancel(jobs["d"].id)
    time.sleep(0.01)
    queue.cancel(jobs["b"].id)
    queue.pause_job(jobs["e"].id)

    listed = queue.list_jobs()

    assert [(job.name, job.status) for job in listed] == [
        ("a", "running"), ("c", "queued"), ("e", "paused"), ("b", "cancelled"), ("d", "cancelled")]
    assert all(job.graph is None for job in listed)  # pages leave the snapshots out
    assert [job.name for job in queue.list_jobs(page=1, page_size=2)] == ["e", "b"]
    assert [job.name for job in queue.list_jobs(page=2, page_size=2)] == ["d"]
    assert [job.name for job in queue.list_jobs("cancelled")] == ["b", "d"]
    assert [job.name for job in queue.list_jobs(["queued", "running"])] == ["a", "c"]
    assert queue.counts() == {"running": 1, "queued": 1, "paused": 1, "completed": 0, "failed": 0, "cancelled": 2}
    with pytest.raises(QueueError, match="unknown status 'done'"):
        queue.list_jobs("done")


def test_a_job_keeps_the_graph_it_was_queued_with_and_history_gives_it_back(queue):
    graph = card("#00ff00")
    job = queue.add(graph, name="green", output_dir="renders")
    graph.nodes["count"].inputs["value"] = 99  # editing afterwards does not change the job

    claimed = queue.claim("here:1:a")
    queue.finish(claimed.id, "here:1:a", "completed", outputs={"save": {"value": 2.0}})

    assert claimed.graph == card("#00ff00").to_dict()
    assert Path(job.output_dir) == Path("renders").resolve()
    [done] = queue.history()
    assert done.status == "completed" and done.progress == 1.0
    assert Graph.from_dict(done.graph).nodes["count"].inputs["value"] == 1
    assert done.outputs == {"save": {"value": 2.0}}


def test_delete_and_clear_forget_jobs_but_never_a_running_one(queue):
    running, done, waiting = (queue.add(card(), name=name) for name in ("running", "done", "waiting"))
    queue.claim("here:1:a")
    queue.cancel(done.id)
    (queue.job_folder(done.id) / "checkpoints").mkdir(parents=True)

    with pytest.raises(QueueError, match="running; cancel it first"):
        queue.delete(running.id)
    assert queue.clear_finished() == 1
    assert not queue.job_folder(done.id).exists()
    queue.delete(waiting.id)
    with pytest.raises(UnknownJob, match="no job 99"):
        queue.get(99)
    with pytest.raises(UnknownJob):
        queue.cancel(waiting.id)
    assert [job.name for job in queue.list_jobs()] == ["running"]


def test_a_panel_sees_the_revision_move_when_another_process_changes_the_queue(queue, tmp_path):
    seen = queue.revision()
    assert queue.revision() == seen
    with RenderQueue(tmp_path / "queue.sqlite3") as other_process:
        other_process.add(card(), name="from the terminal")
    moved = queue.revision()
    assert moved > seen
    queue.pause()
    assert queue.revision() > moved


def test_the_queue_survives_closing_and_opening_again(tmp_path):
    path = tmp_path / "deep" / "queue.sqlite3"
    with RenderQueue(path) as queue:
        queue.add(card(), name="kept", priority=2)
        queue.pause()
    with RenderQueue(path) as reopened:
        assert reopened.paused
        assert [(job.name, job.priority) for job in reopened.list_jobs()] == [("kept", 2)]


def test_threads_with_their_own_connections_never_take_the_same_job(tmp_path):
    path = tmp_path / "queue.sqlite3"
    with RenderQueue(path) as queue:
        queue.add_batch(card(), [{} for _ in range(60)], name="many")
    taken: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work(worker: str) -> None:
        try:
            with RenderQueue(path) as mine:
                while (job := mine.claim(worker)) is not None:
                    with lock:
                        taken.append(job.id)
        except BaseException as error:  # a claim that fails under contention fails the test too
            failures.append(error)

    threads = [threading.Thread(target=work, args=(f"here:1:{index}",)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not failures
    assert sorted(taken) == list(range(1, 61))


def test_a_job_whose_worker_stopped_answering_is_taken_back_when_its_lease_runs_out(queue):
    queue.add(card(), name="render")
    first = queue.claim("farm-node:1234:a", lease_seconds=0.3)
    assert queue.claim("here:1:b") is None  # still leased: another machine's worker may be alive

    time.sleep(0.4)
    second = queue.claim("here:1:b")

    assert second.id == first.id and second.worker == "here:1:b"
    assert [(attempt.outcome, attempt.worker) for attempt in second.attempts] == [
        ("interrupted", "farm-node:1234:a"), ("running", "here:1:b")]
    assert "stopped without finishing" in second.attempts[0].error
    with pytest.raises(QueueError, match="no longer held"):
        queue.report(first.id, "farm-node:1234:a", 30.0)


def ended_process_id() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_dead_worker_on_this_machine_is_noticed_at_once(queue):
    queue.add(card(), name="render")
    dead = f"{socket.gethostname()}:{ended_process_id()}:a"
    queue.claim(dead, lease_seconds=3600)

    resumed = queue.claim("here:1:b")

    assert resumed is not None and resumed.attempts[0].outcome == "interrupted"


def test_a_cancel_asked_of_a_worker_that_then_died_ends_the_job_cancelled(queue):
    job = queue.add(card(), name="render")
    queue.claim(f"{socket.gethostname()}:{ended_process_id()}:a", lease_seconds=3600)
    queue.cancel(job.id)

    assert queue.claim("here:1:b") is None
    assert queue.get(job.id).status == "cancelled"


@pytest.mark.parametrize("outcome", ["retrying", "stopped"])
def test_a_cancel_asked_after_the_workers_last_report_still_cancels_the_job(queue, outcome):
    job = queue.add(card(), name="render")
    queue.claim("here:1:a", lease_seconds=30)
    asked = queue.cancel(job.id)  # "the job will stop at its next step"
    assert asked.status == "running" and asked.stop_request == "cancel"

    # the attempt was ending anyway: an I/O error to retry, or its worker shutting down
    ended = queue.finish(job.id, "here:1:a", outcome, error="OSError: EIO", retry_at=time.time())

    assert ended.status == "cancelled" and ended.stop_request == ""
    assert ended.attempts[-1].outcome == outcome
    assert queue.claim("here:1:b") is None  # no worker runs it again


def test_a_pause_asked_after_the_workers_last_report_holds_the_job_back(queue):
    job = queue.add(card(), name="render")
    queue.claim("here:1:a", lease_seconds=30)
    queue.pause_job(job.id)

    ended = queue.finish(job.id, "here:1:a", "retrying", error="OSError: EIO", retry_at=time.time())

    assert ended.status == "paused"
    assert queue.claim("here:1:b") is None
    assert queue.resume_job(job.id).status == "queued"


def test_a_cancel_never_undoes_a_job_that_completed(queue):
    job = queue.add(card(), name="render")
    queue.claim("here:1:a", lease_seconds=30)
    queue.cancel(job.id)

    assert queue.finish(job.id, "here:1:a", "completed").status == "completed"


def test_a_job_whose_worker_died_can_be_cancelled_or_deleted_at_once(queue):
    doomed, unwanted = queue.add(card(), name="doomed"), queue.add(card(), name="unwanted")
    for _ in range(2):
        queue.claim(f"{socket.gethostname()}:{ended_process_id()}:a", lease_seconds=3600)

    cancelled = queue.cancel(doomed.id)  # no worker will ever come to stop it: it ends now
    queue.delete(unwanted.id)

    assert cancelled.status == "cancelled" and cancelled.attempts[-1].outcome == "interrupted"
    assert [job.id for job in queue.list_jobs()] == [doomed.id]


def test_a_running_job_whose_worker_lives_is_only_asked_to_stop(queue):
    job = queue.add(card(), name="render")
    queue.claim(f"{socket.gethostname()}:{os.getpid()}:a", lease_seconds=3600)

    assert queue.cancel(job.id).status == "running"
    with pytest.raises(QueueError, match="running"):
        queue.delete(job.id)


def test_a_job_for_a_place_no_worker_serves_is_refused(queue):
    with pytest.raises(QueueError, match="no worker runs jobs on 'locl'"):
        queue.add(card(), runs_on="locl")
    assert queue.add(card(), runs_on="local:cuda:1").runs_on == "local:cuda:1"
    assert queue.counts()["queued"] == 1


def test_randomized_seeds_are_picked_when_queued_so_a_resume_renders_the_same_picture(queue):
    graph = Graph()
    graph.add("core.Seed", {"seed": 0, "mode": "randomize"}, node_id="seed")

    jobs = queue.add_batch(graph, [{}, {}])

    seeds = [job.graph["nodes"]["seed"]["inputs"] for job in jobs]
    assert all(inputs["mode"] == "fixed" for inputs in seeds)
    assert seeds[0]["seed"] != seeds[1]["seed"]


# ----- batches ---------------------------------------------------------------------------
@node("test.Prompted", category="test", description="Stands in for a generator: a prompt and a seed.",
      inputs=[Input("prompt", STRING, default=""), Input("seed", INT, default=0, min=0),
              Input("cfg", FLOAT, default=7.0)],
      outputs=[Output("text", STRING)])
def prompted(ctx, prompt, seed, cfg):
    return f"{prompt}#{seed}"


@pytest.fixture
def batch_registry(registry):
    registry.register(prompted, "tests")
    return registry


def generator_graph() -> Graph:
    graph = Graph()
    graph.add("core.String", {"value": "a red fox"}, node_id="text")
    graph.add("test.Prompted", {"prompt": ["text", "value"]}, node_id="image")
    graph.add("test.Prompted", {"prompt": "sky"}, node_id="sky")
    return graph


def test_seeds_go_to_every_typed_in_input_named_seed(batch_registry):
    variations = expand_batch({"seeds": [1, 2]}, generator_graph(), batch_registry)

    assert variations == [Variation({"image.seed": 1, "sky.seed": 1}, "seed 1"),
                          Variation({"image.seed": 2, "sky.seed": 2}, "seed 2")]


def test_prompts_skip_linked_inputs_and_cross_with_seeds(batch_registry):
    variations = expand_batch({"prompts": ["rain", "snow"], "seeds": [7, 8]}, generator_graph(), batch_registry)

    assert [variation.overrides for variation in variations] == [
        {"sky.prompt": prompt, "image.seed": seed, "sky.seed": seed} for prompt in ("rain", "snow") for seed in (7, 8)]
    assert variations[0].label == "prompt 'rain' · seed 7"


def test_a_batch_can_name_the_input_a_prompt_goes_to(batch_registry, queue):
    graph = generator_graph()
    variations = expand_batch({"prompts": ["a cat", "a dog"], "prompt_input": "text.value"}, graph, batch_registry)

    jobs = queue.add_batch(graph, variations, name="animals")

    assert [job.name for job in jobs] == ["animals · prompt 'a cat'", "animals · prompt 'a dog'"]
    assert [job.graph["nodes"]["text"]["inputs"]["value"] for job in jobs] == ["a cat", "a dog"]
    assert jobs[0].batch and jobs[0].batch == jobs[1].batch
    assert jobs[1].overrides == {"text.value": "a dog"}


def test_an_explicit_list_sets_any_inputs(batch_registry):
    variations = expand_batch([{"sky.cfg": 3.5}, {"sky.cfg": 9, "text.value": "dusk"}], generator_graph(),
                              batch_registry)
    assert [variation.label for variation in variations] == ["#1", "#2"]


@pytest.mark.parametrize("document, message", [
    ({"seeds": [1]}, "no node in the workflow has a typed-in input named 'seed'"),
    ({"seeds": 3}, '"seeds" must be a list'),
    ({"colours": [1]}, "unknown key 'colours'"),
    ([{"nowhere.seed": 1}], "does not name a node"),
    ([{"count.seed": 1}], "not an input of core.Int"),
    ([{"count.value": "many"}], "expects a whole number"),
    ([], "the batch is empty"),
])
def test_a_batch_that_cannot_work_says_what_to_change(batch_registry, document, message):
    graph = Graph()
    graph.add("core.Int", {"value": 1}, node_id="count")
    with pytest.raises(BatchError, match=message):
        expand_batch(document, graph, batch_registry)
