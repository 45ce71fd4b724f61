"""A creator starts from a picture instead of a blank canvas: repaints a photo towards a
prompt, fills a masked hole, turns a sketch into a painting (with or without a scribble
ControlNet) and enlarges a picture with a "hires fix". Tiny random-weight models from
the models folder run the real pipelines through the real executor."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gpu.events import NODE_PROGRESS
from gpu.executor import Executor
from nodes.context import CancelToken
from nodes.graph import Graph
from nodes.registry import builtin_registry

STEPS = 4
#: The transparent hole in the photo: image.Load turns it into the mask (255 = repaint).
HOLE = (slice(24, 40), slice(16, 48))


@dataclass(frozen=True)
class Case:
    """One way to start from a picture: the node, its settings and what it must give back."""

    node_type: str
    picture: str
    settings: dict[str, Any] = field(default_factory=dict)
    shape: tuple[int, int, int] = (64, 64, 3)
    #: int(STEPS × strength) steps for image-to-image, every step otherwise.
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)


CASES = {
    "image-to-image": Case("diffusion.ImageToImage", "photo", {"strength": 0.5}, fractions=(0.5, 1.0)),
    "inpaint": Case("diffusion.Inpaint", "photo", {"strength": 1.0}),
    "sketch": Case("diffusion.SketchToImage", "sketch", {"strength": 0.75}, fractions=(1 / 3, 2 / 3, 1.0)),
    "sketch with controlnet": Case("diffusion.SketchToImage", "sketch", {"controlnet": "tiny-scribble"}),
    "upscale": Case("diffusion.Upscale", "photo", {"scale": 2.0, "strength": 0.5}, (128, 128, 3), (0.5, 1.0)),
}
PICTURE_INPUTS = {"diffusion.SketchToImage": "sketch"}


def photo(width: int = 64, height: int = 64) -> np.ndarray:
    """A gradient sky with a dark house, and a transparent hole to inpaint."""
    rows, columns = np.mgrid[0:height, 0:width]
    rgb = np.stack([columns * 255 // (width - 1), rows * 255 // (height - 1), np.full_like(rows, 128)], axis=2)
    rgb[height // 2 :, width // 4 : width // 2] = (40, 30, 20)
    alpha = np.full((height, width, 1), 255)
    alpha[HOLE] = 0
    return np.concatenate([rgb, alpha], axis=2).astype(np.uint8)


def sketch(width: int = 64, height: int = 64, dark_on_light: bool = True) -> np.ndarray:
    """A house drawn in pen: a square and a roof line."""
    lines = np.zeros((height, width), dtype=np.uint8)
    lines[32, 12:52] = lines[60, 12:52] = 255
    lines[32:61, 12] = lines[32:61, 51] = 255
    for step in range(20):
        lines[32 - step, 12 + step] = lines[32 - step, 51 - step] = 255
    drawn = 255 - lines if dark_on_light else lines
    return np.repeat(drawn[:, :, None], 3, axis=2)


@pytest.fixture
def pictures(tmp_path: Path) -> dict[str, str]:
    """The creator's pictures on disk, loaded into graphs with image.Load."""
    made = {"photo": photo(), "sketch": sketch(), "light sketch": sketch(dark_on_light=False),
            "small mask": photo(32, 32), "odd size": photo(70, 75)[:, :, :3], "wide": photo(1100, 64)[:, :, :3],
            "tiny": photo(48, 48)[:, :, :3]}
    paths = {}
    for name, array in made.items():
        path = tmp_path / f"{name.replace(' ', '-')}.png"
        Image.fromarray(array).save(path)
        paths[name] = str(path)
    return paths


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory):
    """One executor for the whole file, as a creator keeps the studio open: the tiny
    models load once and stay warm, as they would between a creator's runs."""
    with Executor(builtin_registry(), output_dir=tmp_path_factory.mktemp("out")) as running:
        yield running


@pytest.fixture
def executor(studio: Executor, models_folder: Path) -> Executor:
    """The open studio with its output cache emptied, so every test paints afresh."""
    studio.cache.clear()
    return studio


def graph_for(case: Case, pictures: dict[str, str], *, seed: int = 1, lora: str | None = None,
              checkpoint: str = "tiny-sd", picture: str | None = None, mask: str | None = None,
              **settings: Any) -> tuple[Graph, str]:
    """checkpoint (+ LoRA) and a loaded picture (+ its mask, + a ControlNet) -> the node."""
    graph = Graph()
    model = graph.add("model.Checkpoint", {"checkpoint": checkpoint}, node_id="checkpoint")
    if lora:
        model = graph.add("model.LoRA", {"model": [model, "model"], "lora": lora, "weight": 1.0}, node_id="lora")
    loaded = graph.add("image.Load", {"path": pictures[picture or case.picture]}, node_id="picture")
    inputs = {"model": [model, "model"], "prompt": "a house by the sea", "seed": seed, "steps": STEPS,
              **case.settings, **settings}
    inputs[PICTURE_INPUTS.get(case.node_type, "image")] = [loaded, "image"]
    if case.node_type == "diffusion.Inpaint":
        mask_source = graph.add("image.Load", {"path": pictures[mask]}, node_id="mask") if mask else loaded
        inputs["mask"] = [mask_source, "mask"]
    controlnet = inputs.pop("controlnet", None)
    if controlnet:
        graph.add("model.ControlNet", {"controlnet": controlnet}, node_id="controlnet")
        inputs["controlnet"] = ["controlnet", "controlnet"]
    return graph, graph.add(case.node_type, inputs, node_id="paint")


def paint(executor: Executor, graph: Graph, node_id: str) -> np.ndarray:
    result = executor.run(graph)
    assert result.ok, result.errors
    return result.output(node_id, "image")


def differs(first: np.ndarray, second: np.ndarray, where: Any = ...) -> float:
    return float(np.abs(first[where].astype(int) - second[where].astype(int)).mean())


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_node_paints_a_picture_of_the_right_size_with_progress_to_the_end(case, models_folder, executor,
                                                                              pictures):
    graph, node_id = graph_for(case, pictures)
    events = []
    result = executor.run(graph, on_event=events.append)
    assert result.ok, result.errors
    image = result.output(node_id, "image")
    assert image.dtype == np.uint8 and image.shape == case.shape
    progress = [event for event in events if event.kind == NODE_PROGRESS and event.node_id == node_id]
    assert [event.fraction for event in progress] == pytest.approx(case.fractions)
    preview = progress[0].preview
    assert preview is not None and preview.dtype == np.uint8 and preview.shape[2] == 3


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_same_seed_gives_the_same_pixels_and_another_seed_others(case, models_folder, executor, pictures):
    graph, node_id = graph_for(case, pictures, seed=7)
    first = paint(executor, graph, node_id)
    executor.cache.clear()
    assert np.array_equal(paint(executor, graph, node_id), first)
    other, other_id = graph_for(case, pictures, seed=8)
    assert differs(paint(executor, other, other_id), first) > 0.5


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_cancelling_at_the_first_step_stops_the_node_and_the_next_run_paints_it(case, models_folder, executor,
                                                                                pictures):
    graph, node_id = graph_for(case, pictures)
    token = CancelToken()
    seen = []

    def cancel_at_first_step(event):
        if event.kind == NODE_PROGRESS and event.node_id == node_id:
            seen.append(event.fraction)
            token.cancel()

    result = executor.run(graph, cancel=token, on_event=cancel_at_first_step)
    assert result.cancelled and node_id in result.skipped and node_id not in result.outputs
    assert seen == [pytest.approx(case.fractions[0])], "no step runs after the cancel"
    again = executor.run(graph)
    assert again.ok and node_id in again.executed
    assert again.output(node_id, "image").shape == case.shape


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_lora_on_the_checkpoint_changes_the_picture(case, models_folder, executor, pictures):
    plain = paint(executor, *graph_for(case, pictures))
    styled = paint(executor, *graph_for(case, pictures, lora="tiny-style.safetensors"))
    where = HOLE if case.node_type == "diffusion.Inpaint" else ...
    assert differs(plain, styled, where) > 0.5


def test_a_controlnet_makes_a_sketch_paint_differently(models_folder, executor, pictures):
    free, free_id = graph_for(CASES["sketch"], pictures)
    guided, guided_id = graph_for(CASES["sketch with controlnet"], pictures)
    assert differs(paint(executor, free, free_id), paint(executor, guided, guided_id)) > 0.5


def test_a_pen_on_paper_sketch_guides_the_controlnet_like_light_lines_on_dark(models_folder, executor, pictures):
    case = CASES["sketch with controlnet"]
    pen_on_paper = paint(executor, *graph_for(case, pictures))
    light_on_dark = paint(executor, *graph_for(case, pictures, picture="light sketch"))
    assert np.array_equal(pen_on_paper, light_on_dark)


def test_control_strength_sets_how_firmly_the_sketch_guides(models_folder, executor, pictures):
    case = CASES["sketch with controlnet"]
    loose = [paint(executor, *graph_for(case, pictures, picture=name, control_strength=0.0))
             for name in ("sketch", "photo")]
    firm = [paint(executor, *graph_for(case, pictures, picture=name)) for name in ("sketch", "photo")]
    assert np.array_equal(loose[0], loose[1])
    assert differs(firm[0], firm[1]) > 0.5


def test_inpaint_repaints_the_hole_and_keeps_every_other_pixel(models_folder, executor, pictures):
    original = photo()[:, :, :3]
    painted = paint(executor, *graph_for(CASES["inpaint"], pictures))
    outside = np.ones(original.shape[:2], dtype=bool)
    outside[HOLE] = False
    assert np.array_equal(painted[outside], original[outside])
    assert differs(painted, original, HOLE) > 10


def test_inpaint_with_an_empty_mask_gives_the_picture_back(models_folder, executor, pictures):
    graph, node_id = graph_for(CASES["inpaint"], pictures, picture="odd size", mask="odd size")
    assert np.array_equal(paint(executor, graph, node_id), photo(70, 75)[:72, :64, :3])


def test_inpaint_refuses_a_mask_of_another_size(models_folder, executor, pictures):
    graph, node_id = graph_for(CASES["inpaint"], pictures, mask="small mask")
    message = executor.run(graph).errors[node_id].message
    assert "the mask is 32×32 but the picture is 64×64" in message and "size of its picture" in message


def test_a_picture_whose_sides_are_not_multiples_of_eight_loses_its_right_and_bottom_edges(
        models_folder, executor, pictures):
    graph, node_id = graph_for(CASES["image-to-image"], pictures, picture="odd size")
    assert paint(executor, graph, node_id).shape == (72, 64, 3)


def test_a_picture_too_small_for_the_model_is_refused(models_folder, executor, pictures):
    graph, node_id = graph_for(CASES["image-to-image"], pictures, picture="tiny")
    message = executor.run(graph).errors[node_id].message
    assert "the image is 48×48; the model needs at least 64 pixels a side" in message


def test_upscale_doubles_the_size_and_strength_zero_is_the_plain_lanczos_resize(models_folder, executor, pictures):
    import cv2

    case = CASES["upscale"]
    hires = paint(executor, *graph_for(case, pictures))
    plain = paint(executor, *graph_for(case, pictures, strength=0.0))
    assert hires.shape == plain.shape == (128, 128, 3)
    assert np.array_equal(plain, cv2.resize(photo()[:, :, :3], (128, 128), interpolation=cv2.INTER_LANCZOS4))
    assert differs(hires, plain) > 0.5


def test_upscale_rounds_sides_to_multiples_of_eight(models_folder, executor, pictures):
    graph, node_id = graph_for(CASES["upscale"], pictures, picture="odd size", scale=1.5)
    assert paint(executor, graph, node_id).shape == (112, 104, 3)  # 75 × 1.5 = 112.5, 70 × 1.5 = 105


def test_upscale_refuses_a_result_over_4096_pixels_with_the_largest_scale_that_fits(models_folder, executor,
                                                                                    pictures):
    graph, node_id = graph_for(CASES["upscale"], pictures, picture="wide", scale=4.0)
    message = executor.run(graph).errors[node_id].message
    assert "upscaling 1100×64 by 4 gives 4400×256, over the 4096 pixels" in message
    assert "lower the scale to 3.72 or less" in message


def test_a_strength_too_low_for_the_steps_says_what_to_raise(models_folder, executor, pictures):
    graph, node_id = graph_for(CASES["image-to-image"], pictures, strength=0.2)
    message = executor.run(graph).errors[node_id].message
    assert "a strength of 0.2 over 4 steps leaves no step to run" in message
    assert "raise the strength to 0.25 or the steps to 5" in message


def test_progress_ends_at_one_with_a_two_stage_scheduler(models_folder, executor, pictures):
    graph, node_id = graph_for(CASES["image-to-image"], pictures, scheduler="heun", strength=1.0)
    events = []
    assert executor.run(graph, on_event=events.append).ok
    fractions = [event.fraction for event in events if event.kind == NODE_PROGRESS and event.node_id == node_id]
    assert len(fractions) > STEPS and fractions[-1] == 1.0
    assert all(earlier < later for earlier, later in zip(fractions, fractions[1:]))


def test_the_default_scheduler_is_the_models_own_whatever_ran_before(models_folder, pictures, tmp_path):
    graph, node_id = graph_for(CASES["image-to-image"], pictures)
    with Executor(builtin_registry(), output_dir=tmp_path / "first") as fresh:
        alone = paint(fresh, graph, node_id)
    with Executor(builtin_registry(), output_dir=tmp_path / "second") as used:
        euler = Graph()
        model = euler.add("model.Checkpoint", {"checkpoint": "tiny-sd"})
        euler.add("diffusion.TextToImage", {"model": [model, "model"], "prompt": "a fox", "steps": 2, "width": 64,
                                            "height": 64, "scheduler": "euler"})
        assert used.run(euler).ok
        assert np.array_equal(paint(used, graph, node_id), alone)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_video_model_is_refused_with_its_family_named(case, models_folder, executor, pictures, tmp_path):
    video = tmp_path / "tiny-video"
    video.mkdir()
    (video / "model_index.json").write_text(json.dumps({"_class_name": "StableVideoDiffusionPipeline"}))
    graph, node_id = graph_for(case, pictures, checkpoint=str(video))
    message = executor.run(graph).errors[node_id].message
    assert "tiny-video (Stable Video Diffusion) cannot paint still pictures (it is a video model)" in message
