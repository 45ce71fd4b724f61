"""The render queue in the window, as a creator uses it: jobs listed with their status
and progress, cancel / retry / delete, dragging a job up the line, pausing the queue,
thumbnails and a notice when a render ends, re-opening the graph a job ran, and the
window's worker sharing the queue with a headless ``reelgraph queue work`` without
ever running a job twice.

The suite saves screenshots/queue_panel.png: a queue with waiting, running, finished
and failed jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QToolButton

from desktop.queue_delegate import detail_line
from desktop.queue_eta import estimate_seconds, overall_line, remaining_seconds
from desktop.queue_model import JOB_ROLE, THUMBNAIL_ROLE
from desktop.queue_panel import QueuePanel
from desktop.theme import apply_theme
from gpu.executor import Executor
from gpu.queue import RenderQueue, UnknownJob, new_worker_id
from gpu.queue_jobs import Attempt, Job
from gpu.queue_worker import QueueWorker
from nodes.graph import Graph
from nodes.registry import builtin_registry

REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOT = REPOSITORY / "screenshots" / "queue_panel.png"
PATIENCE_MS = 20_000
#: Nodes the jobs of these tests run: one that takes its time a frame at a step (and
#: writes a line per run to a journal, to count runs across processes), one that fails.
PACK = '''
import os

from nodes.spec import Input, NodeFailure, Output, node


@node("queuetest.Frames", category="test", description="Renders frames slowly, a step at a time.",
      inputs=[Input("frames", "INT", default=20), Input("seconds_per_frame", "FLOAT", default=0.05),
              Input("journal", "STRING", default=""), Input("tag", "STRING", default="")],
      outputs=[Output("tag", "STRING")], output=True)
def frames(ctx, frames, seconds_per_frame, journal, tag):
    for frame in range(frames):
        ctx.progress(frame / frames, None, f"frame {frame + 1} of {frames}")
        ctx.cancel.wait(seconds_per_frame)
    ctx.check_cancelled()
    if journal:
        with open(journal, "a", encoding="utf-8") as file:
            file.write(f"{tag} {os.getpid()}\\n")
    return tag


@node("queuetest.Broken", category="test", description="Fails the way a render can.",
      inputs=[Input("message", "STRING", default="the prompt is empty; type what the picture should show")],
      outputs=[Output("done", "STRING")], output=True)
def broken(ctx, message):
    raise NodeFailure(message)
'''


@pytest.fixture(scope="module")
def pack_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("packs")
    (folder / "queue_panel_nodes.py").write_text(PACK, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def queue_registry(pack_folder: Path):
    registry = builtin_registry()
    registry.load_folder(pack_folder)
    assert not registry.load_errors, registry.load_errors
    return registry


@pytest.fixture
def queue(tmp_path: Path):
    with RenderQueue(tmp_path / "queue.sqlite3") as opened:
        yield opened


@pytest.fixture
def executor(queue_registry, tmp_path: Path):
    with Executor(queue_registry, output_dir=tmp_path / "renders", previews=False) as made:
        yield made


@pytest.fixture
def make_panel(qtbot, queue, executor):
    made: list[QueuePanel] = []

    def make(run_jobs: bool = False) -> QueuePanel:
        panel = QueuePanel(queue, executor, run_jobs=run_jobs, refresh_ms=40, worker_poll_seconds=0.05)
        qtbot.addWidget(panel)
        panel.resize(560, 520)
        panel.show()
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.shutdown()


# ----- workflows --------------------------------------------------------------------------------
def card(colour: str = "#ff0000", prefix: str = "card") -> Graph:
    graph = Graph()
    graph.add("image.Solid", {"width": 64, "height": 36, "color": colour}, node_id="solid")
    graph.add("image.Save", {"image": ["solid", "image"], "filename_prefix": prefix}, node_id="save")
    return graph


def slow(frames: int = 40, seconds_per_frame: float = 0.05, journal: str = "", tag: str = "") -> Graph:
    graph = Graph()
    graph.add("queuetest.Frames", {"frames": frames, "seconds_per_frame": seconds_per_frame, "journal": journal,
                                   "tag": tag}, node_id="frames")
    return graph


def broken(message: str = "the prompt is empty; type what the picture should show") -> Graph:
    graph = Graph()
    graph.add("queuetest.Broken", {"message": message}, node_id="broken")
    return graph


def title_clip(text: str = "Episode 3") -> Graph:
    graph = Graph()
    graph.add("video.TitleCard", {"text": text, "width": 160, "height": 90, "duration": 0.5, "fps": 12.0,
                                  "font_size": 22, "background": "#1d2b53", "fade_in": 0.0, "fade_out": 0.0},
              node_id="title")
    graph.add("video.Save", {"video": ["title", "video"], "filename_prefix": "title"}, node_id="save")
    return graph


# ----- driving the panel -------------------------------------------------------------------------
def statuses(panel: QueuePanel) -> list[tuple[str, str]]:
    return [(job.name, job.status) for job in panel.model.jobs]


def shown(panel: QueuePanel, job_id: int) -> Job:
    row = panel.model.row_of(job_id)
    assert row is not None, f"job {job_id} is not in the list"
    return panel.model.index(row).data(JOB_ROLE)


def click(qtbot, panel: QueuePanel, action) -> None:
    """Press the button that carries ``action``, as a creator would."""
    [button] = [button for button in panel.findChildren(QToolButton) if button.defaultAction() is action]
    assert button.isEnabled(), f"{action.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_for_status(qtbot, panel: QueuePanel, job_id: int, *wanted: str) -> Job:
    qtbot.waitUntil(lambda: panel.model.row_of(job_id) is not None and shown(panel, job_id).status in wanted,
                    timeout=PATIENCE_MS)
    return shown(panel, job_id)


# ----- what the panel shows ----------------------------------------------------------------------
def test_jobs_appear_with_their_statuses_in_the_order_they_will_run(qtbot, queue, make_panel):
    first = queue.add(card(), name="red card")
    second = queue.add(card("#0000ff"), name="blue card", priority=2)
    held = queue.add(card("#00ff00"), name="green card")
    queue.pause_job(held.id)
    dropped = queue.add(card("#ffffff"), name="white card")
    queue.cancel(dropped.id)

    panel = make_panel()

    assert statuses(panel) == [("blue card", "queued"), ("red card", "queued"), ("green card", "paused"),
                               ("white card", "cancelled")]
    assert panel.overall_text() == "2 queued · 1 on hold"
    with RenderQueue(queue.path) as elsewhere:  # `reelgraph queue add` in a terminal
        late = elsewhere.add(card("#ffff00"), name="yellow card")
    qtbot.waitUntil(lambda: panel.model.row_of(late.id) is not None, timeout=PATIENCE_MS)
    assert panel.overall_text() == "3 queued · 1 on hold"
    assert "priority 2" in panel.model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert [job.id for job in panel.model.jobs[:2]] == [second.id, first.id]


def test_a_running_jobs_progress_bar_moves_and_the_overall_line_gives_an_eta(qtbot, queue, make_panel):
    job = queue.add(slow(frames=40), name="slow render")
    panel = make_panel(run_jobs=True)

    running = wait_for_status(qtbot, panel, job.id, "running")
    qtbot.waitUntil(lambda: shown(panel, job.id).progress > 0.05, timeout=PATIENCE_MS)
    early = shown(panel, job.id).progress
    qtbot.waitUntil(lambda: shown(panel, job.id).progress >= early + 0.2, timeout=PATIENCE_MS)

    assert running.status == "running"
    assert "frame" in shown(panel, job.id).progress_message
    qtbot.waitUntil(lambda: "ETA" in panel.overall_text(), timeout=PATIENCE_MS)
    assert panel.overall_text().startswith("1 running · ETA ")
    panel.grab()  # the card with its bar paints
    done = wait_for_status(qtbot, panel, job.id, "completed")
    assert done.progress == 1.0


def test_cancel_retry_and_delete_buttons_act_on_the_queue(qtbot, queue, make_panel):
    job = queue.add(slow(frames=200), name="long render")
    waiting = queue.add(card(), name="next card")
    panel = make_panel(run_jobs=True)
    wait_for_status(qtbot, panel, job.id, "running")
    panel.set_run_jobs(False)  # this window stops: the running job goes back to the queue
    wait_for_status(qtbot, panel, job.id, "queued")

    panel.select_job(waiting.id)
    click(qtbot, panel, panel.cancel_action)
    assert queue.get(waiting.id).status == "cancelled"
    assert wait_for_status(qtbot, panel, waiting.id, "cancelled")

    panel.set_run_jobs(True)
    wait_for_status(qtbot, panel, job.id, "running")
    panel.select_job(job.id)
    click(qtbot, panel, panel.cancel_action)  # a running job stops at its next step
    cancelled = wait_for_status(qtbot, panel, job.id, "cancelled")
    assert cancelled.attempts[-1].outcome == "cancelled"

    panel.select_job(waiting.id)
    click(qtbot, panel, panel.retry_action)
    assert wait_for_status(qtbot, panel, waiting.id, "completed").attempts[-1].outcome == "completed"

    panel.select_job(job.id)
    assert not panel.cancel_action.isEnabled() and panel.delete_action.isEnabled()
    click(qtbot, panel, panel.delete_action)
    with pytest.raises(UnknownJob):
        queue.get(job.id)
    assert panel.model.row_of(job.id) is None


def test_dragging_a_waiting_job_changes_the_running_order(qtbot, queue, make_panel):
    jobs = [queue.add(card(), name=name) for name in ("one", "two", "three", "four")]
    panel = make_panel()
    model = panel.model

    assert model.moveRows(QModelIndex(), 3, 1, QModelIndex(), 0)  # "four" to the front
    assert [job.name for job in queue.list_jobs()] == ["four", "one", "two", "three"]
    assert [job.name for job in model.jobs] == ["four", "one", "two", "three"]

    # what a drop carries: "one" (row 1) dropped above "three" (row 3)
    assert model.dropMimeData(model.mimeData([model.index(1)]), Qt.DropAction.MoveAction, 3, 0, QModelIndex())
    assert [job.name for job in queue.list_jobs()] == ["four", "two", "one", "three"]

    queue.cancel(jobs[2].id)  # "three" has ended: it cannot be dragged any more
    panel.refresh(force=True)
    ended = model.row_of(jobs[2].id)
    assert not model.flags(model.index(ended)) & Qt.ItemFlag.ItemIsDragEnabled
    assert not model.moveRows(QModelIndex(), ended, 1, QModelIndex(), 0)
    assert [job.name for job in queue.list_jobs(("queued",))] == ["four", "two", "one"]


def test_pausing_the_queue_stops_new_jobs_being_taken(qtbot, queue, make_panel):
    panel = make_panel(run_jobs=True)
    click(qtbot, panel, panel.pause_queue_action)
    assert queue.paused and panel.pause_queue_action.text() == "Resume queue"

    job = panel.add_graph(card(), "while paused")
    assert "paused" in panel.banner.text()
    qtbot.wait(600)  # a dozen polls of the window's worker
    assert queue.get(job.id).status == "queued" and queue.get(job.id).attempts == []
    assert panel.overall_text().startswith("Queue paused · 1 queued")

    click(qtbot, panel, panel.pause_queue_action)
    assert not queue.paused
    wait_for_status(qtbot, panel, job.id, "completed")


def test_a_finished_job_shows_its_thumbnail_and_is_announced(qtbot, queue, make_panel):
    panel = make_panel(run_jobs=True)

    with qtbot.waitSignal(panel.jobEnded, timeout=PATIENCE_MS) as ended:
        job = panel.add_graph(card("#ff0000"), "red card")
    assert ended.args[0].id == job.id and ended.args[0].status == "completed"
    assert panel.banner.isVisible() and panel.banner.kind == "success"
    assert "“red card” finished" in panel.banner.text() and "card_00001.png" in panel.banner.text()

    index = panel.model.index(panel.model.row_of(job.id))
    qtbot.waitUntil(lambda: index.data(THUMBNAIL_ROLE) is not None, timeout=PATIENCE_MS)
    picture = index.data(THUMBNAIL_ROLE)
    assert (picture.width(), picture.height()) == (64, 36)
    assert picture.pixelColor(10, 10).name() == "#ff0000"

    with qtbot.waitSignal(panel.jobEnded, timeout=PATIENCE_MS):
        clip = panel.add_graph(title_clip(), "title clip")
    index = panel.model.index(panel.model.row_of(clip.id))
    qtbot.waitUntil(lambda: index.data(THUMBNAIL_ROLE) is not None, timeout=PATIENCE_MS)
    frame = index.data(THUMBNAIL_ROLE)
    assert (frame.width(), frame.height()) == (96, 54)  # the first frame, fitted to the card
    corner = frame.pixelColor(2, 2)
    assert corner.blue() > corner.red() + 30  # the title card's navy background


def test_a_failing_job_shows_its_error_and_is_announced(qtbot, queue, make_panel):
    panel = make_panel(run_jobs=True)

    with qtbot.waitSignal(panel.jobEnded, timeout=PATIENCE_MS) as ended:
        job = panel.add_graph(broken(), "portrait")

    failed = ended.args[0]
    assert failed.id == job.id and failed.status == "failed"
    assert "the prompt is empty" in failed.last_error
    assert panel.banner.kind == "error" and "“portrait” failed: " in panel.banner.text()
    assert "the prompt is empty" in panel.banner.text()
    row = panel.model.index(panel.model.row_of(job.id))
    assert "the prompt is empty" in detail_line(row.data(JOB_ROLE))
    assert "attempt 1: failed" in row.data(Qt.ItemDataRole.ToolTipRole)
    panel.select_job(job.id)
    assert panel.retry_action.isEnabled()


def test_a_job_that_ends_in_another_process_is_announced_too(qtbot, queue, executor, make_panel):
    panel = make_panel()
    job = queue.add(card(), name="made elsewhere")
    with qtbot.waitSignal(panel.jobEnded, timeout=PATIENCE_MS) as ended:
        with RenderQueue(queue.path) as elsewhere:
            QueueWorker(elsewhere, executor).run_next()
    assert ended.args[0].id == job.id
    with qtbot.assertNotEmitted(panel.jobEnded, wait=300):  # once only
        panel.refresh(force=True)


def test_open_in_editor_emits_the_graph_the_job_ran(qtbot, queue, make_panel):
    graph = card("#336699")
    panel = make_panel()
    job = panel.add_graph(graph, "blue-grey card")
    graph.nodes["solid"].inputs["color"] = "#000000"  # edits after queueing do not reach the job

    assert panel.select_job(job.id)
    with qtbot.waitSignal(panel.openGraph) as opened:
        click(qtbot, panel, panel.open_action)

    reopened = opened.args[0]
    assert isinstance(reopened, Graph)
    assert reopened.nodes["solid"].inputs["color"] == "#336699"
    assert reopened.meta["title"] == "blue-grey card"


def test_an_invalid_workflow_is_not_queued_and_the_banner_says_why(qtbot, queue, make_panel):
    graph = Graph()
    graph.add("image.Blur", {"radius": 4.0}, node_id="blur")
    panel = make_panel()

    assert panel.add_graph(graph, "blur of nothing") is None
    assert queue.list_jobs() == []
    assert panel.banner.kind == "error" and "was not queued" in panel.banner.text()
    assert "image" in panel.banner.text()


def test_closing_the_window_puts_its_running_job_back_in_the_queue(qtbot, queue, make_panel):
    job = queue.add(slow(frames=200), name="overnight render")
    panel = make_panel(run_jobs=True)
    wait_for_status(qtbot, panel, job.id, "running")

    panel.shutdown()

    stopped = queue.get(job.id)
    assert stopped.status == "queued" and stopped.attempts[-1].outcome == "stopped"


def test_a_generation_job_loads_pytorch_on_the_gui_thread_before_it_runs(qtbot, queue, make_panel, monkeypatch):
    """A first import of PyTorch on a worker thread next to Qt can crash the app
    (desktop/preload.py): the window's worker waits while the GUI thread imports it."""
    import desktop.queue_runner as runner_module

    loaded_on: list[str] = []
    monkeypatch.setattr(runner_module, "generation_libraries_missing", lambda: not loaded_on)
    monkeypatch.setattr(runner_module, "preload_generation_libraries",
                        lambda: loaded_on.append(threading.current_thread().name) or [])
    graph = Graph()
    graph.add("diffusion.TextToImage", {}, node_id="generate")  # no model linked: it fails once it runs
    job = queue.add(graph, name="generation")
    panel = make_panel(run_jobs=True)

    failed = wait_for_status(qtbot, panel, job.id, "failed")
    assert loaded_on == [threading.main_thread().name]
    assert "input 'model'" in failed.last_error


def test_the_window_and_a_headless_worker_never_run_a_job_twice(qtbot, queue, make_panel, pack_folder, tmp_path):
    journal = tmp_path / "journal.txt"
    env = {**os.environ, "REELGRAPH_NODES": str(pack_folder), "REELGRAPH_HOME": str(tmp_path / "home")}
    headless = subprocess.Popen(
        [sys.executable, "-m", "desktop.cli", "queue", "work", "--db", str(queue.path), "--quiet", "--idle-exit", "60"],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPOSITORY)
    said: list[str] = []
    listener = threading.Thread(target=lambda: said.extend(headless.stderr), daemon=True)
    listener.start()
    try:
        qtbot.waitUntil(lambda: any("serving" in line for line in said) or headless.poll() is not None,
                        timeout=60_000)
        assert headless.poll() is None, "".join(said)
        panel = make_panel(run_jobs=True)
        jobs = [panel.add_graph(slow(frames=8, journal=str(journal), tag=f"job{number}"), f"job{number}")
                for number in range(8)]
        qtbot.waitUntil(lambda: all(queue.get(job.id).status == "completed" for job in jobs), timeout=60_000)
        headless.send_signal(signal.SIGTERM)  # Ctrl+C in its terminal: it stops cleanly
        assert headless.wait(60) == 130, "".join(said)
    finally:
        if headless.poll() is None:
            headless.kill()
            headless.wait()
    listener.join(5)

    runs = [line.split() for line in journal.read_text(encoding="utf-8").splitlines()]
    assert sorted(tag for tag, _ in runs) == sorted(f"job{number}" for number in range(8))  # each once
    assert {int(pid) for _, pid in runs} == {os.getpid(), headless.pid}  # both took jobs
    for job in jobs:
        assert [attempt.outcome for attempt in queue.get(job.id).attempts] == ["completed"]


# ----- the estimate --------------------------------------------------------------------------------
def made_job(status: str, progress: float = 0.0, started: float = 0.0, ended: float | None = None) -> Job:
    attempts = [Attempt(1, "here", started, ended, "running" if ended is None else "completed")] if started else []
    return Job(1, "job", status, 0, 1.0, "local", 0.0, progress=progress, attempts=attempts)


def test_the_eta_follows_the_running_jobs_pace_and_the_average_of_finished_ones():
    now = 1000.0
    finished = [made_job("completed", 1.0, 100.0, 160.0), made_job("completed", 1.0, 200.0, 320.0)]  # 60 s, 120 s
    average = 90.0
    running = made_job("running", 0.25, now - 30.0)  # a quarter done in 30 s: 90 s to go

    assert remaining_seconds(running, average, now) == pytest.approx(90.0)
    assert estimate_seconds([running], 2, average, now) == pytest.approx(90.0 + 2 * 90.0)
    just_started = made_job("running", 0.0, now - 10.0)
    assert remaining_seconds(just_started, average, now) == pytest.approx(80.0)
    assert estimate_seconds([just_started], 1, None, now) is None  # nothing to go by yet
    assert estimate_seconds([], 0, average, now) is None
    assert overall_line({"queued": 3, "running": 1}, False, 240.0) == "3 queued · 1 running · ETA 4 min"
    assert overall_line({"queued": 3}, True, 240.0) == "Queue paused · 3 queued"
    assert overall_line({}, False, None).startswith("Nothing waiting")
    from desktop.queue_eta import average_seconds
    assert average_seconds(finished) == pytest.approx(average)


# ----- what a person sees -----------------------------------------------------------------------------
def forest_picture(folder: Path) -> Path:
    """A picture with some depth to it (sky, hills, a sun) for the thumbnail."""
    height, width = 216, 384
    rows = np.linspace(0.0, 1.0, height)[:, None]
    columns = np.linspace(0.0, 1.0, width)[None, :]
    sky = np.stack([40 + 160 * rows, 60 + 120 * rows, 120 + 60 * rows], axis=-1) * np.ones((1, width, 1))
    hills = rows > 0.62 + 0.12 * np.sin(columns * 9.0)
    sky[hills[..., None].repeat(3, axis=2)] = 0
    sky += np.where(hills[..., None], np.array([20, 70 + 60 * (1 - rows[..., 0:1].mean()), 45]), 0)
    sun = (rows - 0.35) ** 2 * 4 + (columns - 0.72) ** 2 < 0.01
    sky[sun] = [255, 214, 140]
    path = folder / "forest.png"
    Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8)).save(path)
    return path


def test_screenshot_of_a_queue_with_waiting_running_finished_and_failed_jobs(qtbot, qapp, queue, executor,
                                                                             make_panel, tmp_path):
    apply_theme(qapp)
    picture = Graph()
    picture.add("image.Load", {"path": str(forest_picture(tmp_path))}, node_id="load")
    picture.add("image.Blur", {"image": ["load", "image"], "radius": 1.0}, node_id="blur")
    picture.add("image.Save", {"image": ["blur", "image"], "filename_prefix": "forest_walk"}, node_id="save")
    panel = make_panel()
    panel.resize(620, 650)
    finished = [panel.add_graph(picture, "forest walk · seed 11"), panel.add_graph(title_clip(), "episode 3 · title"),
                panel.add_graph(broken("CUDA out of memory. Tried to allocate 2.00 GiB (gave up after 3 attempts)"),
                                "portrait · seed 42")]
    with RenderQueue(queue.path) as elsewhere:
        worker = QueueWorker(elsewhere, executor)
        for _ in finished:
            worker.run_next()
        running = panel.add_graph(slow(), "city at dusk · seed 7")
        holder = new_worker_id()
        assert elsewhere.claim(holder).id == running.id
        elsewhere.report(running.id, holder, 60.0, {"progress": 0.4, "nodes_done": 3, "nodes_total": 7,
                                                    "progress_message": "3/7 nodes · diffusion.TextToImage 40%"})
    panel.add_graph(card(), "forest walk · seed 12")
    panel.add_graph(card(), "forest walk · seed 13")
    panel.add_graph(card(), "trailer cut", priority=2)
    qtbot.waitUntil(lambda: all(panel.model.index(panel.model.row_of(job.id)).data(THUMBNAIL_ROLE) is not None
                                for job in finished[:2]), timeout=PATIENCE_MS)
    qtbot.waitUntil(lambda: panel.banner.kind == "error", timeout=PATIENCE_MS)  # the last job to end failed
    panel.select_job(finished[2].id)
    qtbot.wait(100)

    assert [job.status for job in panel.model.jobs] == ["running", "queued", "queued", "queued", "failed",
                                                        "completed", "completed"]
    assert panel.overall_text().startswith("3 queued · 1 running")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert panel.grab().save(str(SCREENSHOT))
