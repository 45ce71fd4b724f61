"""A creator points Reelgraph at a models folder, picks a checkpoint and paints from a
prompt: tiny random-weight models built at test time run the real loading code."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from gpu.events import NODE_PROGRESS
from gpu.executor import Executor
from nodes.context import CancelToken
from nodes.graph import Graph
from nodes.models import ModelRef, detect_family, estimate_load_bytes, read_safetensors_header, scan_models
from nodes.models import ModelError, resolve_source
from nodes.registry import builtin_registry
from nodes.validation import validate


@pytest.fixture
def executor(tmp_path):
    with Executor(builtin_registry(), output_dir=tmp_path / "out") as running:
        yield running


def painting(checkpoint: str = "tiny-sd", seed: int = 1, lora: str | None = None, **settings) -> tuple[Graph, str]:
    graph = Graph()
    model = graph.add("model.Checkpoint", {"checkpoint": checkpoint}, node_id="checkpoint")
    if lora:
        model = graph.add("model.LoRA", {"model": [model, "model"], "lora": lora, "weight": 1.0}, node_id="lora")
    inputs = {"model": [model, "model"], "prompt": "a red fox in the snow", "seed": seed, "steps": 3,
              "width": 64, "height": 64, **settings}
    return graph, graph.add("diffusion.TextToImage", inputs, node_id="paint")


def test_a_comfyui_models_folder_is_scanned_with_families(models_folder):
    found = {(entry.kind, entry.name): entry for entry in scan_models()}
    assert ("checkpoint", "tiny-sd") in found and ("lora", "tiny-style.safetensors") in found
    assert ("controlnet", "tiny-scribble") in found and ("tiny_autoencoder", "taesd") in found
    assert found[("checkpoint", "tiny-sd")].family == "sd15"
    assert found[("checkpoint", "tiny-sd")].size > 100_000


def test_a_name_resolves_inside_the_kinds_folder_and_a_missing_one_says_where_it_looked(models_folder):
    assert resolve_source("tiny-sd", "checkpoint") == str((models_folder / "checkpoints" / "tiny-sd").resolve())
    with pytest.raises(ModelError, match="cannot find the checkpoint 'nope'.*checkpoints"):
        resolve_source("nope", "checkpoint")
    assert resolve_source("stabilityai/sd-turbo", "checkpoint") == "stabilityai/sd-turbo"


def test_family_is_read_from_safetensors_headers_without_loading_weights(tmp_path):
    from safetensors.numpy import save_file

    def file_with(names: list[str]) -> Path:
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.safetensors"
        save_file({name: np.zeros(2, dtype=np.float16) for name in names}, str(path))
        return path

    assert detect_family(file_with(["conditioner.embedders.1.model.ln_final.weight"])) == "sdxl"
    assert detect_family(file_with(["cond_stage_model.transformer.text_model.final_layer_norm.weight",
                                    "model.diffusion_model.input_blocks.0.0.weight"])) == "sd15"
    assert detect_family(file_with(["model.diffusion_model.input_blocks.1.0.time_stack.0.weight"])) == "svd"
    assert detect_family(file_with(["patch_embedding.weight", "blocks.0.self_attn.q.weight"])) == "wan"
    assert detect_family(file_with(["scale_shift_table", "adaln_single.linear.weight"])) == "ltx"
    assert detect_family(file_with(["something.else"])) == "unknown"
    half = file_with(["a"])
    assert estimate_load_bytes(half, 4) == 2 * estimate_load_bytes(half, 2)


def test_a_damaged_safetensors_file_is_named_not_a_stack_trace(tmp_path):
    garbage = tmp_path / "broken.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ModelError, match="broken.safetensors is damaged"):
        read_safetensors_header(garbage)
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(ModelError, match="empty or cut short"):
        read_safetensors_header(tmp_path / "empty.safetensors")


def test_text_to_image_paints_with_progress_and_the_same_seed_gives_the_same_pixels(models_folder, executor):
    graph, paint = painting()
    events = []
    first = executor.run(graph, on_event=events.append)
    assert first.ok, first.errors
    image = first.output(paint, "image")
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    fractions = [event.fraction for event in events if event.kind == NODE_PROGRESS and event.node_id == paint]
    assert fractions == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert any(event.preview is not None for event in events if event.kind == NODE_PROGRESS)

    executor.cache.clear()
    again = executor.run(graph)
    assert np.array_equal(again.output(paint, "image"), image)
    other, other_paint = painting(seed=2)
    assert not np.array_equal(executor.run(other).output(other_paint, "image"), image)


def test_running_twice_with_the_same_model_loads_it_once(models_folder, executor):
    graph, _ = painting()
    executor.run(graph)
    executor.cache.clear()
    second, _ = painting(seed=5)
    executor.run(second)
    state = executor.models.cache.state()
    assert state.loads == sum(1 for model in state.models)  # tiny-sd (+ the preview decoder at most)
    assert [model["label"] for model in state.models].count("tiny-sd") == 1


def test_a_lora_changes_the_picture_and_turning_it_off_restores_it(models_folder, executor):
    plain_graph, plain = painting()
    styled_graph, styled = painting(lora="tiny-style.safetensors")
    before = executor.run(plain_graph).output(plain, "image")
    with_lora = executor.run(styled_graph).output(styled, "image")
    assert np.abs(before.astype(int) - with_lora).mean() > 0.5
    executor.cache.clear()
    assert np.array_equal(executor.run(plain_graph).output(plain, "image"), before)


def test_batch_and_scheduler_choice(models_folder, executor):
    graph, paint = painting(batch=2, scheduler="euler")
    result = executor.run(graph)
    assert result.ok, result.errors
    images = result.output(paint, "images")
    assert len(images) == 2 and not np.array_equal(images[0], images[1])
    assert np.array_equal(result.output(paint, "image"), images[0])


def test_cancelling_mid_paint_stops_at_the_next_step(models_folder, executor):
    graph, paint = painting(steps=50)
    token = CancelToken()
    steps_seen = []

    def cancel_at_second_step(event):
        if event.kind == NODE_PROGRESS and event.node_id == paint:
            steps_seen.append(event.fraction)
            if len(steps_seen) == 2:
                token.cancel()

    result = executor.run(graph, cancel=token, on_event=cancel_at_second_step)
    assert result.cancelled and paint in result.skipped
    assert len(steps_seen) == 2, "no step runs after the cancel"
    assert "checkpoint" in executor.run(graph, targets=["checkpoint"]).cached


def test_sizes_that_are_not_multiples_of_eight_are_caught_by_validation(models_folder):
    graph, _ = painting(width=100)
    problems = validate(graph, builtin_registry()).errors
    assert [(problem.input, problem.fix) for problem in problems] == [("width", "use 96 or 104")]


def test_a_missing_checkpoint_is_caught_by_validation(models_folder):
    graph, _ = painting(checkpoint="not-there")
    problems = validate(graph, builtin_registry()).errors
    assert problems[0].node_id == "checkpoint" and "cannot find the checkpoint 'not-there'" in problems[0].message


def test_a_hub_model_while_offline_names_the_id_and_the_folder_to_put_it_in(models_folder, executor):
    graph, paint = painting(checkpoint="someone/some-model")
    result = executor.run(graph)
    message = result.errors[paint].message
    assert "cannot download someone/some-model" in message
    assert str(models_folder / "diffusers" / "someone--some-model") in message


def test_a_cut_short_checkpoint_is_reported_cleanly(models_folder, executor, tmp_path):
    broken = tmp_path / "broken-sd"
    shutil.copytree(models_folder / "checkpoints" / "tiny-sd", broken)
    weights = next((broken / "unet").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    graph, paint = painting(checkpoint=str(broken))
    message = executor.run(graph).errors[paint].message
    assert weights.name in message and "cut short" in message and "re-download" in message


def test_a_ckpt_that_would_run_code_is_refused(models_folder, executor, tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"state_dict": Payload()}))
    graph, paint = painting(checkpoint=str(evil))
    message = executor.run(graph).errors[paint].message
    assert "cannot be opened safely" in message
    assert not (tmp_path / "pwned").exists()


def test_a_video_model_is_refused_by_text_to_image(models_folder, tmp_path):
    from nodes.library.diffusion import text_to_image
    from nodes.spec import NodeFailure

    class Context:
        device = "cpu"

    with pytest.raises(NodeFailure, match="video model"):
        text_to_image(Context(), ModelRef(str(tmp_path), family="svd"), "a fox", 1, 2, 7.0, "default", 64, 64, 1)
