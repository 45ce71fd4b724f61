"""A creator brings a still to life or films a clip from a prompt: tiny random-weight
Stable Video Diffusion, Wan and LTX-Video pipelines, saved as diffusers folders, run
through the real executor, loading code and model cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from gpu.events import NODE_PROGRESS, RunEvent, RunResult
from gpu.executor import Executor
from gpu.pipelines import ModelService
from nodes.context import CancelToken
from nodes.graph import Graph
from nodes.library.video import fit_size, nearest_frame_counts
from nodes.problems import WorkflowError
from nodes.registry import builtin_registry
from nodes.types import Video


@pytest.fixture(scope="module")
def video_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny model per video family and task, and a still-picture model to refuse."""
    from fixtures.tiny_models import save_tiny_sd
    from fixtures.tiny_video_models import build_video_models_folder

    root = build_video_models_folder(tmp_path_factory.mktemp("video-models"))
    save_tiny_sd(root / "checkpoints" / "tiny-sd")
    return root / "checkpoints"


@pytest.fixture(scope="module")
def warm_models() -> ModelService:
    """Pipelines stay loaded across the tests of this file, as they would in the app."""
    return ModelService()


def write_picture(path: Path, height: int, width: int) -> Path:
    from PIL import Image

    rows, columns = np.mgrid[0:height, 0:width]
    picture = np.stack([rows * 240 // height, columns * 240 // width, (rows + columns) % 200], axis=2)
    Image.fromarray(picture.astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def still(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40×24 picture: its sides are multiples of 8 (SVD's step here) but not of 16 (Wan's)."""
    return write_picture(tmp_path_factory.mktemp("stills") / "still.png", 24, 40)


@pytest.fixture
def executor(tmp_path: Path, warm_models: ModelService) -> Iterator[Executor]:
    with Executor(builtin_registry(), output_dir=tmp_path / "out", models=warm_models) as running:
        yield running


def animating(models: Path, still: Path, checkpoint: str, **settings: Any) -> tuple[Graph, str]:
    graph = Graph()
    model = graph.add("model.Checkpoint", {"checkpoint": str(models / checkpoint)}, node_id="checkpoint")
    picture = graph.add("image.Load", {"path": str(still)}, node_id="still")
    inputs = {"model": [model, "model"], "image": [picture, "image"], "prompt": "a cat jumps over the wave",
              "frames": 5, "steps": 2, "seed": 1, **settings}
    return graph, graph.add("video.ImageToVideo", inputs, node_id="animate")


def filming(models: Path, checkpoint: str, **settings: Any) -> tuple[Graph, str]:
    graph = Graph()
    model = graph.add("model.Checkpoint", {"checkpoint": str(models / checkpoint)}, node_id="checkpoint")
    inputs = {"model": [model, "model"], "prompt": "a dog runs on the beach at sunset", "negative": "blurry",
              "width": 32, "height": 32, "frames": 9, "steps": 2, "seed": 1, **settings}
    return graph, graph.add("video.TextToVideo", inputs, node_id="film")


def run_watched(executor: Executor, graph: Graph, node_id: str) -> tuple[RunResult, list[RunEvent]]:
    events: list[RunEvent] = []
    result = executor.run(graph, on_event=events.append)
    return result, [event for event in events if event.kind == NODE_PROGRESS and event.node_id == node_id]


def assert_clip(video: Any, frames: int, height: int, width: int, fps: float) -> None:
    assert isinstance(video, Video)
    assert video.frames.shape == (frames, height, width, 3) and video.frames.dtype == np.uint8
    assert video.fps == fps
    assert video.frames.std() > 0, "the clip is one flat colour"


def assert_progress_rises_to_one(progress: list[RunEvent]) -> None:
    fractions = [event.fraction for event in progress]
    assert fractions, "no progress was reported"
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len(fractions) >= 3, "progress should come per step, then for the decoded frames"
    assert any(event.preview is not None for event in progress), "a watched run shows step previews"
    assert all(event.preview.dtype == np.uint8 and event.preview.shape[2] == 3
               for event in progress if event.preview is not None)


def error_of(result: RunResult, node_id: str) -> str:
    assert not result.ok and node_id in result.errors, "the node should have failed"
    return result.errors[node_id].message


# ----- image to video ------------------------------------------------------------------
@pytest.mark.parametrize("checkpoint, size, fps", [
    ("tiny-svd", (24, 40), 7.0),     # SVD takes multiples of 8 here: the picture's own size, its own 7 fps
    ("tiny-wan-i2v", (32, 48), 16.0),  # Wan takes multiples of 16: 24×40 rounds to 32×48, at 16 fps
])
def test_image_to_video_brings_a_still_to_life_the_same_way_for_the_same_seed(
        video_models, still, executor, checkpoint, size, fps):
    graph, animate = animating(video_models, still, checkpoint)
    result, progress = run_watched(executor, graph, animate)
    assert result.ok, result.errors
    clip = result.output(animate, "video")
    assert_clip(clip, 5, *size, fps)
    assert_progress_rises_to_one(progress)

    executor.cache.clear()
    again = executor.run(graph).output(animate, "video")
    assert np.array_equal(again.frames, clip.frames)
    other_graph, other = animating(video_models, still, checkpoint, seed=2)
    assert not np.array_equal(executor.run(other_graph).output(other, "video").frames, clip.frames)


def test_image_to_video_keeps_the_chosen_rate_and_scales_a_large_picture_down(video_models, tmp_path, executor):
    large = write_picture(tmp_path / "large.png", 96, 160)
    graph, animate = animating(video_models, large, "tiny-svd", fps=12.5, longest_side=64, frames=3, motion=40)
    result = executor.run(graph)
    assert result.ok, result.errors
    assert_clip(result.output(animate, "video"), 3, 40, 64, 12.5)  # 96×160 at 0.4 is 38.4×64: 40×64 in 8s


def test_sizes_round_to_the_models_step_and_never_grow_past_the_longest_side():
    assert fit_size(24, 40, 1024, 16) == (32, 48)
    assert fit_size(1080, 1920, 1024, 64) == (576, 1024)
    assert fit_size(720, 1280, 832, 16) == (464, 832)
    assert fit_size(5, 7, 1024, 16) == (16, 16)


def test_svd_ignores_the_prompt_as_its_description_says(video_models, still, executor):
    graph, animate = animating(video_models, still, "tiny-svd", prompt="a red city at night")
    other_graph, other = animating(video_models, still, "tiny-svd", prompt="rain")
    assert np.array_equal(executor.run(graph).output(animate, "video").frames,
                          executor.run(other_graph).output(other, "video").frames)


# ----- text to video -------------------------------------------------------------------
@pytest.mark.parametrize("checkpoint, fps", [("tiny-wan-t2v", 16.0), ("tiny-ltx", 25.0)])
def test_text_to_video_films_a_prompt_the_same_way_for_the_same_seed(video_models, executor, checkpoint, fps):
    graph, film = filming(video_models, checkpoint)
    result, progress = run_watched(executor, graph, film)
    assert result.ok, result.errors
    clip = result.output(film, "video")
    assert_clip(clip, 9, 32, 32, fps)
    assert_progress_rises_to_one(progress)

    executor.cache.clear()
    assert np.array_equal(executor.run(graph).output(film, "video").frames, clip.frames)
    other_graph, other = filming(video_models, checkpoint, seed=2)
    assert not np.array_equal(executor.run(other_graph).output(other, "video").frames, clip.frames)


def test_text_to_video_makes_the_asked_size_length_and_rate(video_models, executor):
    graph, film = filming(video_models, "tiny-wan-t2v", width=48, height=32, frames=5, fps=24.0)
    result = executor.run(graph)
    assert result.ok, result.errors
    assert_clip(result.output(film, "video"), 5, 32, 48, 24.0)


def test_an_ltx_folder_saved_for_image_to_video_still_films_from_text(video_models, executor):
    graph, film = filming(video_models, "tiny-ltx-i2v", frames=17, fps=30.0)
    result = executor.run(graph)
    assert result.ok, result.errors
    assert_clip(result.output(film, "video"), 17, 32, 32, 30.0)


# ----- cancelling ------------------------------------------------------------------------
@pytest.mark.parametrize("checkpoint", ["tiny-svd", "tiny-wan-i2v", "tiny-wan-t2v", "tiny-ltx"])
def test_cancelling_at_the_first_step_stops_the_clip(video_models, still, executor, checkpoint):
    if checkpoint in ("tiny-svd", "tiny-wan-i2v"):
        graph, node_id = animating(video_models, still, checkpoint, steps=20)
    else:
        graph, node_id = filming(video_models, checkpoint, steps=20)
    token = CancelToken()
    seen: list[float] = []

    def cancel_at_first_progress(event: RunEvent) -> None:
        if event.kind == NODE_PROGRESS and event.node_id == node_id:
            seen.append(event.fraction)
            token.cancel()

    result = executor.run(graph, cancel=token, on_event=cancel_at_first_progress)
    assert result.cancelled and node_id in result.skipped and node_id not in result.outputs
    assert not result.errors
    assert seen == [pytest.approx(0.95 / 20)], "no step runs after the cancel"


# ----- refusals ----------------------------------------------------------------------------
def test_a_still_picture_model_is_refused_by_both_video_nodes(video_models, still, executor):
    graph, animate = animating(video_models, still, "tiny-sd")
    message = error_of(executor.run(graph), animate)
    assert "tiny-sd (Stable Diffusion 1.x) cannot bring a still to life" in message
    assert "Stable Video Diffusion or a Wan image-to-video model" in message

    graph, film = filming(video_models, "tiny-sd")
    message = error_of(executor.run(graph), film)
    assert "tiny-sd (Stable Diffusion 1.x) cannot film a clip from a prompt" in message


def test_a_model_made_for_the_other_task_is_refused_with_where_it_belongs(video_models, still, executor):
    graph, animate = animating(video_models, still, "tiny-wan-t2v")
    message = error_of(executor.run(graph), animate)
    assert "tiny-wan-t2v is a WanPipeline model and cannot bring a still to life" in message
    assert "use it in Text To Video" in message

    graph, film = filming(video_models, "tiny-wan-i2v")
    message = error_of(executor.run(graph), film)
    assert "tiny-wan-i2v is a WanImageToVideoPipeline model and cannot film a clip" in message
    assert "Image To Video" in message

    graph, animate = animating(video_models, still, "tiny-ltx")
    assert "LTX-Video" in error_of(executor.run(graph), animate)
    graph, film = filming(video_models, "tiny-svd")
    assert "Stable Video Diffusion" in error_of(executor.run(graph), film)


@pytest.mark.parametrize("checkpoint, frames, words", [
    ("tiny-wan-i2v", 6, "Wan 2.x makes clips of 4k+1 frames; 6 frames will not do (try 5 or 9)"),
    ("tiny-wan-t2v", 24, "Wan 2.x makes clips of 4k+1 frames; 24 frames will not do (try 21 or 25)"),
    ("tiny-ltx", 13, "LTX-Video makes clips of 8k+1 frames; 13 frames will not do (try 9 or 17)"),
])
def test_a_frame_count_the_model_cannot_make_is_refused_with_the_nearest_ones(
        video_models, still, executor, checkpoint, frames, words):
    if checkpoint == "tiny-wan-i2v":
        graph, node_id = animating(video_models, still, checkpoint)
    else:
        graph, node_id = filming(video_models, checkpoint)
    count = graph.add("core.Int", {"value": frames}, node_id="frames")  # linked: only the node can judge it
    graph.nodes[node_id].inputs["frames"] = [count, "value"]
    assert words in error_of(executor.run(graph), node_id)


def test_a_typed_in_frame_count_no_video_model_can_make_is_caught_by_validation(video_models, executor):
    graph, _ = filming(video_models, "tiny-ltx", frames=24, width=40)
    with pytest.raises(WorkflowError) as caught:
        executor.run(graph)
    assert sorted((problem.input, problem.fix) for problem in caught.value.problems) == [
        ("frames", "use 21 or 25"), ("width", "use 32 or 48")]


def test_ltx_sides_must_be_multiples_of_32(video_models, executor):
    graph, film = filming(video_models, "tiny-ltx", width=48)
    assert "the width 48 must be a multiple of 32 for this model (try 32 or 64)" in error_of(executor.run(graph), film)


def test_nearest_frame_counts():
    assert nearest_frame_counts(80, 4) == (77, 81)
    assert nearest_frame_counts(2, 8) == (1, 9)
    assert nearest_frame_counts(100, 8) == (97, 105)
