"""A creator draws on the live sketch canvas and the picture follows the pen: only the
latest stroke is painted, a stale picture stops at its next step, a fixed seed keeps
the picture, the prompt is encoded once, variations come from one batched call, the
history exports as a ZIP, and a broken model is said in words. Tiny random-weight
models (an SD whose VAE shrinks 8× like a real one, TAESD, a scribble ControlNet) run
the real pipelines through the real executor on the CPU."""

from __future__ import annotations

import shutil
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from gpu.events import NODE_STARTED, RunEvent
from gpu.executor import Executor
from gpu.live import LiveError, LiveFailure, LiveResult, LiveSession
from gpu.live_graph import PAINT
from gpu.live_history import FORMAT, read_history
from gpu.live_settings import AdaptivePause, LiveSettings, settings_for
from nodes.graph import Graph
from nodes.live_canvas import open_canvas
from nodes.models import CONTROLNET, ModelRef

PATIENCE = 60.0
SIZE = 128


@pytest.fixture
def models(live_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REELGRAPH_MODELS", str(live_models))
    return live_models


def checkpoint(models: Path, name: str = "tiny-sd-x8") -> ModelRef:
    return ModelRef(str(models / "checkpoints" / name))


def sketch(shift: int = 0, size: int = SIZE) -> np.ndarray:
    """A house drawn in pen on white paper; ``shift`` moves it, as a new stroke would."""
    paper = np.full((size, size, 3), 255, dtype=np.uint8)
    top, left = 40 + shift, 30 + shift
    paper[top : top + 3, left : left + 60] = 0
    paper[top + 50 : top + 53, left : left + 60] = 0
    paper[top : top + 53, left : left + 3] = 0
    paper[top : top + 53, left + 57 : left + 60] = 0
    return paper


class Watcher:
    """What the panel would hear: results, errors, busy states, run events."""

    def __init__(self) -> None:
        self.results: list[LiveResult] = []
        self.errors: list[LiveError] = []
        self.states: list[bool] = []
        self.painting_started: list[tuple[str, float]] = []
        self._arrived = threading.Condition()

    def result(self, result: LiveResult) -> None:
        with self._arrived:
            self.results.append(result)
            self._arrived.notify_all()

    def error(self, error: LiveError) -> None:
        with self._arrived:
            self.errors.append(error)
            self._arrived.notify_all()

    def state(self, busy: bool) -> None:
        self.states.append(busy)

    def event(self, event: RunEvent) -> None:
        if event.kind == NODE_STARTED and event.node_id == PAINT:
            self.painting_started.append((event.run_id, time.perf_counter()))

    def wait(self, arrived: Callable[["Watcher"], bool]) -> None:
        with self._arrived:
            assert self._arrived.wait_for(lambda: arrived(self), PATIENCE), "the live picture never arrived"

    def wait_for_version(self, session: LiveSession, version: int) -> LiveResult:
        self.wait(lambda watcher: any(result.canvas_version == version for result in watcher.results))
        deadline = time.monotonic() + PATIENCE
        while session.busy and time.monotonic() < deadline:
            time.sleep(0.005)
        return next(result for result in self.results if result.canvas_version == version)


Opener = Callable[..., tuple[LiveSession, Watcher]]


@pytest.fixture
def open_session(studio: Executor, models: Path, tmp_path: Path) -> Iterator[Opener]:
    opened: list[LiveSession] = []

    def open_one(model: ModelRef | None = None, **options: Any) -> tuple[LiveSession, Watcher]:
        watcher = Watcher()
        settings = options.pop("settings", LiveSettings(prompt="a house by the sea", steps=1, size=SIZE))
        session = LiveSession(studio, model or checkpoint(models), settings, on_result=watcher.result,
                              on_error=watcher.error, on_state=watcher.state, on_event=watcher.event,
                              history_folder=tmp_path / f"history{len(opened)}", **options)
        opened.append(session)
        return session, watcher

    yield open_one
    for session in opened:
        session.close()


def hooked_module(studio: Executor, model: ModelRef, part: str) -> Any:
    """The warm model's ``unet`` or ``text_encoder``, as every live run uses it."""
    return getattr(studio.models.pipeline(model, "cpu"), part)


def test_a_stroke_becomes_a_picture_painted_with_the_tiny_decoder(open_session, models):
    session, watcher = open_session()
    drawn = sketch()
    session.update(drawn)
    result = watcher.wait_for_version(session, 1)
    assert session.tiny_decoder == (models / "vae_approx" / "taesd").resolve()
    assert result.image.shape == (SIZE, SIZE, 3) and result.image.dtype == np.uint8
    assert np.shares_memory(result.sketch, drawn) and not result.sketch.flags.writeable
    timings = result.timings
    assert timings.model > 0 and timings.pause == 0 and timings.overhead >= 0
    assert timings.stroke_to_shown == pytest.approx(timings.pause + timings.model + timings.overhead)
    assert watcher.states == [True, False] and watcher.errors == []


def test_a_burst_of_strokes_paints_only_the_latest(open_session):
    session, watcher = open_session(pause=AdaptivePause(shortest=1.0, longest=2.0, longest_wait=5.0))
    for shift in range(12):
        session.update(sketch(shift), ongoing=True)  # the pen is still moving
    session.update(sketch(12))  # pen up
    latest = watcher.wait_for_version(session, 13)
    assert len(watcher.painting_started) == 1, "only the last stroke is painted"
    assert session.started == 1 and session.dropped == 12
    assert [result.canvas_version for result in watcher.results] == [13]
    assert np.array_equal(latest.sketch, sketch(12))


def test_a_stale_picture_stops_within_one_step_of_being_superseded(open_session, studio, models):
    model = checkpoint(models)
    steps_run: list[tuple[float, float]] = []
    begun: list[float] = []
    three_steps = threading.Event()
    unet = hooked_module(studio, model, "unet")
    before = unet.register_forward_pre_hook(lambda module, args: begun.append(time.perf_counter()))

    def step_done(module: Any, args: Any, output: Any) -> None:
        steps_run.append((begun[-1], time.perf_counter()))
        if len(steps_run) >= 3:
            three_steps.set()

    after = unet.register_forward_hook(step_done)
    try:
        session, watcher = open_session(settings=LiveSettings(prompt="a slow house", steps=40, strength=1.0,
                                                              size=SIZE))
        session.update(sketch())
        assert three_steps.wait(PATIENCE)
        session.update(sketch(8))
        result = watcher.wait_for_version(session, 2)
    finally:
        before.remove()
        after.remove()
    assert [result.canvas_version for result in watcher.results] == [2]
    [stale] = session.superseded
    assert [run_id for run_id, _ in watcher.painting_started][0] == stale.run_id
    second_run_started = watcher.painting_started[1][1]
    stale_steps = [step for step in steps_run if step[0] < second_run_started]
    after_superseded = [step for step in stale_steps if step[1] > stale.superseded_at]
    assert len(after_superseded) <= 1, "the stale run stops at the step boundary after it was superseded"
    assert len(stale_steps) < 40 and not stale.finished
    assert result.image.shape == (SIZE, SIZE, 3)


def test_a_fixed_seed_keeps_the_picture_for_the_same_canvas(open_session):
    session, watcher = open_session()
    session.update(sketch())
    first = watcher.wait_for_version(session, 1).image
    session.update(sketch(10))
    moved = watcher.wait_for_version(session, 2).image
    session.update(sketch())  # the stroke undone: the same drawing, a new version
    again = watcher.wait_for_version(session, 3).image
    session.update(settings=session.settings.with_seed(99))
    watcher.wait(lambda seen: any(result.request == 4 for result in seen.results))
    reseeded = next(result for result in watcher.results if result.request == 4).image
    assert np.array_equal(first, again)
    assert np.abs(first.astype(int) - moved.astype(int)).mean() > 0.5
    assert np.abs(first.astype(int) - reseeded.astype(int)).mean() > 0.5


def test_the_prompt_is_encoded_once_while_it_does_not_change(open_session, studio, models):
    encoder = hooked_module(studio, checkpoint(models), "text_encoder")
    calls: list[int] = []
    hook = encoder.register_forward_hook(lambda module, args, output: calls.append(1))
    try:
        session, watcher = open_session(settings=LiveSettings(prompt="a lighthouse, only here", size=SIZE))
        for shift in range(3):
            session.update(sketch(shift))
            watcher.wait_for_version(session, shift + 1)
        assert len(calls) == 1
        session.update(settings=replace(session.settings, prompt="a windmill, only here"))
        watcher.wait(lambda seen: any(result.request == 4 for result in seen.results))
        session.update(sketch(5), replace(session.settings, prompt="a lighthouse, only here"))
        watcher.wait_for_version(session, 4)
    finally:
        hook.remove()
    assert len(calls) == 2, "each prompt is encoded once; going back to one reuses it"


def test_variations_paint_different_pictures_in_one_batched_call_and_one_can_be_adopted(open_session, studio,
                                                                                       models):
    unet = hooked_module(studio, checkpoint(models), "unet")
    batches: list[int] = []
    hook = unet.register_forward_pre_hook(lambda module, args: batches.append(args[0].shape[0]))
    try:
        session, watcher = open_session()
        session.update(sketch())
        watcher.wait_for_version(session, 1)
        batches.clear()
        strip = session.variations(3, timeout=PATIENCE)
    finally:
        hook.remove()
    assert batches == [3], "one denoising step, all three pictures in one batch"
    assert len({variation.seed for variation in strip}) == 3
    for first, second in ((0, 1), (0, 2), (1, 2)):
        assert np.abs(strip[first].image.astype(int) - strip[second].image.astype(int)).mean() > 0.5
    adopted = session.adopt(strip[1])
    assert adopted.seed == strip[1].seed == session.settings.seed
    assert watcher.results[-1].source == "variation" and watcher.results[-1].image is strip[1].image
    session.update(sketch())  # the same drawing again, painted alone with the adopted seed
    alone = watcher.wait_for_version(session, 2).image
    assert np.abs(alone.astype(int) - strip[1].image.astype(int)).mean() < 1.0


def test_adopting_a_variation_painted_before_the_prompt_changed_repaints_it_with_the_new_prompt(open_session):
    session, watcher = open_session()
    session.update(sketch())
    watcher.wait_for_version(session, 1)
    strip = session.variations(2, timeout=PATIENCE)  # painted for "a house by the sea"
    session.update(settings=replace(session.settings, prompt="a fortress on a hill"))
    watcher.wait(lambda seen: any(result.request == 2 for result in seen.results))
    adopted = session.adopt(strip[0])
    assert (adopted.prompt, adopted.seed) == ("a fortress on a hill", strip[0].seed)
    watcher.wait(lambda seen: any(result.request == 3 for result in seen.results))
    shown = watcher.results[-1]
    assert shown.source == "live", "the old prompt's picture is not passed off as the new prompt's"
    assert shown.settings == adopted and shown.entry.settings == adopted and shown.image is not strip[0].image


def test_adopting_a_variation_painted_by_another_model_repaints_it_with_the_model_in_use(open_session, models):
    session, watcher = open_session()
    session.update(sketch())
    watcher.wait_for_version(session, 1)
    strip = session.variations(2, timeout=PATIENCE)
    session.set_model(checkpoint(models, "tiny-sd"))
    watcher.wait(lambda seen: any(result.request == 2 for result in seen.results))
    adopted = session.adopt(strip[1])
    watcher.wait(lambda seen: any(result.request == 3 for result in seen.results))
    assert [result.source for result in watcher.results] == ["live", "live", "live"]
    assert watcher.results[-1].settings == adopted and adopted.seed == strip[1].seed


class HeldSubmitting:
    """The studio's executor, whose ``submit`` waits until ``release()`` says so: planning
    a big graph takes that long, and a window closing then must still stop the run."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self.release: Callable[[], bool] = lambda: True
        self.submitting = threading.Event()
        self.handles: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._executor, name)

    def submit(self, graph: Graph, targets: list[str], **options: Any) -> Any:
        self.submitting.set()
        deadline = time.monotonic() + PATIENCE
        while not self.release() and time.monotonic() < deadline:
            time.sleep(0.002)
        handle = self._executor.submit(graph, targets, **options)
        self.handles.append(handle)
        return handle


def test_closing_while_a_stroke_is_being_submitted_cancels_it_and_nobody_hears_after(studio, models, tmp_path):
    held = HeldSubmitting(studio)
    watcher = Watcher()
    heard_after_close: list[str] = []
    session = LiveSession(held, checkpoint(models), LiveSettings(prompt="a house", size=SIZE),  # type: ignore[arg-type]
                          on_result=lambda result: heard_after_close.append("result") if session.closed else None,
                          on_error=watcher.error, on_state=watcher.state, history_folder=tmp_path / "history")
    held.release = lambda: session.closed  # the dispatcher took the stroke; close() comes mid-submit
    session.update(sketch())
    assert held.submitting.wait(PATIENCE)
    session.close()
    [handle] = held.handles
    stopped_by_close = handle.done()
    result = handle.result(PATIENCE)
    time.sleep(0.1)  # a late callback would have come by now
    assert watcher.errors == [] and heard_after_close == [], "a closed session says nothing"
    assert result.cancelled and stopped_by_close, "close() cancels the run and waits for it to stop"
    assert not session.history.folder.exists() or list(session.history.folder.iterdir()) == []


def test_closing_while_variations_are_submitted_cancels_them_and_ends_the_wait(studio, models, tmp_path):
    held = HeldSubmitting(studio)
    watcher = Watcher()
    session = LiveSession(held, checkpoint(models), LiveSettings(prompt="a house", size=SIZE),  # type: ignore[arg-type]
                          on_result=watcher.result, on_error=watcher.error, history_folder=tmp_path / "history")
    session.update(sketch())
    watcher.wait_for_version(session, 1)
    held.release = lambda: session.closed
    held.submitting.clear()
    failures: list[BaseException] = []

    def wait_for_strip() -> None:
        try:
            session.variations(3, timeout=PATIENCE)
        except LiveFailure as failure:
            failures.append(failure)

    waiting = threading.Thread(target=wait_for_strip)
    waiting.start()
    assert held.submitting.wait(PATIENCE)
    session.close()
    waiting.join(PATIENCE)
    strip_run = held.handles[-1]
    assert strip_run.done() and strip_run.result(0).cancelled
    assert [str(failure) for failure in failures] == ["the live session was closed before the variations arrived"]
    assert watcher.errors == [] and len(watcher.results) == 1
    with pytest.raises(RuntimeError, match="closed"):
        session.request_variations(1, lambda strip: None)


def test_history_spills_to_pngs_and_exports_as_a_zip_that_reads_back(open_session, tmp_path):
    session, watcher = open_session(history_bytes=0)
    for shift in range(3):
        session.update(sketch(shift * 5))
        watcher.wait_for_version(session, shift + 1)
    session.history.flush()
    entries = session.history.entries()
    assert [entry.canvas_version for entry in entries] == [1, 2, 3]
    assert not any(entry.in_memory for entry in entries), "past the memory budget pictures live on disk"
    assert sorted(path.name for path in session.history.folder.iterdir())[:2] == ["00001-image.png",
                                                                                  "00001-sketch.png"]
    for entry, shown in zip(entries, watcher.results):
        assert np.array_equal(entry.image(), shown.image) and np.array_equal(entry.sketch(), shown.sketch)
    exported = session.export_history(tmp_path / "session.zip")
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".session")] == []
    manifest, archived = read_history(exported)
    assert manifest["format"] == FORMAT and manifest["version"] == 1
    assert manifest["prompt"] == "a house by the sea" and manifest["seed"] == 0
    assert [item.canvas_version for item in archived] == [1, 2, 3]
    for item, shown in zip(archived, watcher.results):
        assert np.array_equal(item.image, shown.image) and np.array_equal(item.sketch, shown.sketch)
        assert item.settings == shown.settings and item.timings["model"] > 0
    with zipfile.ZipFile(exported) as archive:
        assert "manifest.json" in archive.namelist()


def test_a_broken_model_is_said_in_words_and_the_session_keeps_working(open_session, models, tmp_path):
    broken = tmp_path / "tiny-sd-broken"
    shutil.copytree(models / "checkpoints" / "tiny-sd-x8", broken)
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.unlink()
    session, watcher = open_session(ModelRef(str(broken)))
    session.update(sketch())
    watcher.wait(lambda seen: len(seen.errors) == 1)
    assert "cannot load tiny-sd-broken" in watcher.errors[0].message
    session.set_model(ModelRef(str(tmp_path / "nowhere")))
    watcher.wait(lambda seen: len(seen.errors) == 2)
    assert "does not exist" in watcher.errors[1].message
    session.set_model(checkpoint(models))
    result = watcher.wait_for_version(session, 1)
    assert result.image.shape == (SIZE, SIZE, 3) and not session.busy


def test_a_controlnet_paints_from_the_lines_without_a_tiny_decoder_that_does_not_fit(open_session, models):
    scribble = ModelRef(str(models / "controlnet" / "tiny-scribble"), CONTROLNET)
    settings = LiveSettings(prompt="a house", steps=2, size=SIZE, controlnet=scribble)
    session, watcher = open_session(checkpoint(models, "tiny-sd"), settings=settings)
    assert session.tiny_decoder is None, "TAESD shrinks 8×, this model's VAE 2×"
    session.update(sketch())
    guided = watcher.wait_for_version(session, 1).image
    session.update(settings=replace(settings, control_strength=0.0))
    watcher.wait(lambda seen: any(result.request == 2 for result in seen.results))
    loose = watcher.results[-1].image
    assert guided.shape == (SIZE, SIZE, 3) and np.abs(guided.astype(int) - loose.astype(int)).mean() > 0.5


def test_live_tiny_decoding_does_not_leak_into_normal_graphs(open_session, studio, models, tmp_path):
    from PIL import Image

    Image.fromarray(sketch()).save(tmp_path / "sketch.png")
    graph = Graph()
    model = graph.add("model.Checkpoint", {"checkpoint": str(models / "checkpoints" / "tiny-sd-x8")})
    loaded = graph.add("image.Load", {"path": str(tmp_path / "sketch.png")})
    painted = graph.add("diffusion.SketchToImage", {"model": [model, "model"], "sketch": [loaded, "image"],
                                                    "prompt": "a house", "steps": 4, "seed": 3})
    studio.cache.clear()
    before = studio.run(graph).output(painted, "image")
    session, watcher = open_session()
    session.update(sketch())
    watcher.wait_for_version(session, 1)
    studio.cache.clear()
    assert np.array_equal(studio.run(graph).output(painted, "image"), before)


def test_reused_prompt_embeddings_paint_the_pixels_the_prompt_text_paints(studio, models):
    from diffusers import StableDiffusionPipeline

    from nodes.generation import generator

    graph = Graph()
    model = graph.add("model.Checkpoint", {"checkpoint": str(models / "checkpoints" / "tiny-sd")})
    painted = graph.add("diffusion.TextToImage", {"model": [model, "model"], "prompt": "a fox", "negative": "blur",
                                                  "steps": 3, "cfg": 7.0, "width": 64, "height": 64, "seed": 5})
    studio.cache.clear()
    through_embeddings = studio.run(graph).output(painted, "image")
    raw = StableDiffusionPipeline.from_pretrained(models / "checkpoints" / "tiny-sd", local_files_only=True)
    raw.set_progress_bar_config(disable=True)
    text = raw(prompt="a fox", negative_prompt="blur", num_inference_steps=3, guidance_scale=7.0, width=64,
               height=64, generator=generator(5), output_type="np").images[0]
    assert np.array_equal(through_embeddings, (np.clip(text, 0, 1) * 255 + 0.5).astype(np.uint8))


def test_the_canvas_reaches_the_graph_as_a_read_only_view_scaled_only_when_asked(studio):
    canvas = open_canvas()
    drawn = sketch()
    version, reference = canvas.put(drawn)
    graph = Graph()
    node = graph.add("live.Canvas", {"canvas": reference})
    arrived = studio.run(graph).output(node, "image")
    assert np.shares_memory(arrived, drawn) and not arrived.flags.writeable
    transparent = np.zeros((64, 64, 4), dtype=np.uint8)
    transparent[:, :32] = (10, 20, 30, 255)
    _, reference = canvas.put(transparent)
    graph.nodes[node].inputs["canvas"] = reference
    on_paper = studio.run(graph).output(node, "image")
    assert on_paper[0, 0].tolist() == [10, 20, 30] and on_paper[0, 40].tolist() == [255, 255, 255]
    _, reference = canvas.put(np.zeros((100, 200, 3), dtype=np.uint8))
    graph.nodes[node].inputs.update(canvas=reference, size=128)
    assert studio.run(graph).output(node, "image").shape == (64, 128, 3), "the longer side becomes the size"
    canvas.close()
    graph.nodes[node].inputs["canvas"] = f"{canvas.id}@4"  # a version never painted: not in the output cache
    message = studio.run(graph).errors[node].message
    assert "is closed" in message and "live sketch" in message


def test_the_pause_grows_while_the_pen_moves_fast_and_ends_at_pen_up():
    pause = AdaptivePause()
    waits = [pause.due(now, True, 0.0, 0.0) - now for now in (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07)]
    assert waits[:3] == pytest.approx([0.030, 0.045, 0.060])
    assert max(waits) == pytest.approx(0.120)
    assert pause.due(0.08, False, 0.0, 0.0) == 0.08, "pen up paints at once"
    assert pause.due(1.0, True, None, 0.0) == pytest.approx(1.030), "after a rest it starts short again"
    assert pause.due(1.26, True, 1.0, 0.0) == pytest.approx(1.26), "a long stroke still paints every 250 ms"


def test_few_step_models_get_their_recipe_and_steps_count_what_runs():
    turbo = settings_for(ModelRef("/models/sd-turbo"), prompt="a cat")
    assert (turbo.steps, turbo.cfg, turbo.scheduler, turbo.prompt) == (1, 0.0, "euler_trailing", "a cat")
    assert turbo.node_steps() == 2 and int(turbo.node_steps() * turbo.strength) == 1
    lcm = settings_for(ModelRef("/models/dreamshaper").with_lora(ModelRef("/loras/lcm-lora-sdv1-5"), 1.0))
    assert (lcm.steps, lcm.cfg, lcm.scheduler) == (4, 1.0, "lcm")
    for strength in (0.3, 0.45, 0.7, 0.9, 1.0):
        for steps in (1, 2, 3, 4):
            node_steps = LiveSettings(steps=steps, strength=strength).node_steps()
            assert int(node_steps * strength) == steps


def test_strokes_do_not_fill_the_shared_output_cache(open_session, studio):
    """A creator sketching for an hour must not push the graph editor's results out of the cache."""
    session, watcher = open_session()
    session.update(sketch(1))
    watcher.wait_for_version(session, 1)
    after_one = studio.cache.stats().entries  # the warm model's handles
    for version in range(2, 6):
        session.update(sketch(version))
        watcher.wait_for_version(session, version)
    assert studio.cache.stats().entries == after_one, "strokes' canvases and pictures leave the cache"
    assert len(watcher.results) == 5
