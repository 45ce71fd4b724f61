"""A failed node fails its branch, not the run: the rest of the workflow finishes,
the creator reads what went wrong in words, and the traceback goes to the log."""

from __future__ import annotations

import logging

import pytest

from nodes.graph import Graph

LANES = ["test.Light", "test.Cpu", "test.Gpu", "test.Heavy"]


@pytest.mark.parametrize("failing_type", LANES)
def test_a_failing_node_fails_only_its_descendants(executor, journal, failing_type):
    graph = Graph()
    upscale = graph.add(failing_type, {"fail": "value-error"}, title="Upscale")
    sharpen = graph.add("test.Cpu", {"value": (upscale, "value")})
    save = graph.add("test.Output", {"value": (sharpen, "value")})
    background = graph.add("test.Heavy", {"value": 1.0})
    backdrop = graph.add("test.Gpu", {"value": (background, "value")})
    keep = graph.add("test.Output", {"value": (backdrop, "value")})

    result = executor.run(graph)

    assert list(result.errors) == [upscale]
    assert set(result.skipped) == {sharpen, save}
    for node_id in (sharpen, save):
        assert result.skipped[node_id] == f"not run because Upscale ({upscale}) failed"
    assert sorted(result.executed) == sorted([background, backdrop, keep])
    assert result.output(keep) == 4.0
    assert sharpen not in journal.ran() and save not in journal.ran()
    assert not result.ok


def test_a_node_with_two_parents_is_skipped_when_either_fails(executor, journal):
    graph = Graph()
    broken = graph.add("test.Cpu", {"fail": "node-failure"})
    working = graph.add("test.Cpu", {"seconds": 0.05})
    joined = graph.add("test.Cpu", {"value": (broken, "value"), "other": (working, "value")})

    result = executor.run(graph)

    assert working in result.executed
    assert joined in result.skipped and joined not in journal.ran()


@pytest.mark.parametrize("failure, expected", [
    ("node-failure", "the prompt is empty; type what the picture should show"),
    ("missing-file", "file not found: /models/missing.safetensors"),
])
def test_an_error_message_says_in_words_what_went_wrong(executor, failure, expected):
    graph = Graph()
    load = graph.add("test.Cpu", {"fail": failure}, title="Load model")

    error = executor.run(graph).errors[load]

    assert error.message == expected
    assert error.node_id == load and error.node_type == "test.Cpu" and error.title == "Load model"
    assert str(error) == f"Load model ({load}): {expected}"


def test_an_unexpected_exception_is_named_and_points_to_the_log(executor):
    graph = Graph()
    resize = graph.add("test.Gpu", {"fail": "value-error"})

    error = executor.run(graph).errors[resize]

    assert "ValueError" in error.message and "width must be positive" in error.message
    assert "log" in error.message
    assert error.exception_type == "ValueError"
    assert "Traceback" in error.traceback


def test_the_traceback_of_a_failed_node_goes_to_the_executor_log(executor, caplog):
    graph = Graph()
    broken = graph.add("test.Heavy", {"fail": "value-error"}, title="Denoise")

    with caplog.at_level(logging.ERROR, logger="reelgraph.executor"):
        executor.run(graph)

    records = [record for record in caplog.records if record.name == "reelgraph.executor"]
    assert len(records) == 1
    assert f"Denoise ({broken})" in records[0].getMessage()
    assert "Traceback (most recent call last)" in caplog.text
    assert "in run_probe" in caplog.text  # the node's own frame, for whoever fixes it
    assert "ValueError: width must be positive" in caplog.text


def test_a_failed_node_is_tried_again_on_the_next_run(executor, journal):
    graph = Graph()
    broken = graph.add("test.Cpu", {"fail": "node-failure"})
    fine = graph.add("test.Cpu", {"value": 2.0})

    executor.run(graph)
    again = executor.run(graph)

    assert broken in again.errors
    assert again.cached == [fine]
    assert journal.ran().count(broken) == 2


def test_a_node_returning_the_wrong_number_of_outputs_fails_in_words(make_executor, registry):
    from nodes.spec import Output, node

    @node("test.Split", category="test", description="Should give two values, gives one.",
          outputs=[Output("left", "FLOAT"), Output("right", "FLOAT")])
    def split(ctx) -> float:
        return 1.0

    registry.register(split)
    graph = Graph()
    broken = graph.add("test.Split")

    result = make_executor().run(graph)

    assert "expected 2 outputs" in result.errors[broken].message


def test_a_node_that_changes_its_input_in_place_fails_and_the_cache_stays_intact(tmp_path):
    from gpu.executor import Executor
    from nodes.registry import NodeRegistry
    from nodes.spec import Input, Output, node

    @node("test.PaintInPlace", category="test", description="Paints over its input instead of a copy.",
          inputs=[Input("image", "IMAGE")], outputs=[Output("image", "IMAGE")])
    def paint_in_place(ctx, image):
        image[:] = 0
        return image

    registry = NodeRegistry()
    registry.load_builtin()
    registry.register(paint_in_place, "tests")
    graph = Graph()
    solid = graph.add("image.Solid", {"width": 4, "height": 4, "color": "#ffffff"})
    painter = graph.add("test.PaintInPlace", {"image": [solid, "image"]})
    with Executor(registry, output_dir=tmp_path) as executor:
        result = executor.run(graph, [painter])
        assert "change an input in place" in result.errors[painter].message
        cached = executor.run(graph, [solid])
    assert cached.cached == [solid]
    assert (cached.output(solid) == 255).all()


def test_a_node_raising_cancelled_on_its_own_is_a_failure_not_a_cancelled_run(tmp_path):
    from gpu.executor import Executor
    from nodes.context import Cancelled
    from nodes.registry import NodeRegistry
    from nodes.spec import Output, node

    @node("test.GivesUp", category="test", description="Raises Cancelled though nobody cancelled.",
          outputs=[Output("value", "INT")])
    def gives_up(ctx):
        raise Cancelled("gave up")

    registry = NodeRegistry()
    registry.register(gives_up, "tests")
    graph = Graph()
    quitter = graph.add("test.GivesUp", {})
    with Executor(registry, output_dir=tmp_path) as executor:
        result = executor.run(graph)
    assert not result.cancelled
    assert "stopped itself as if cancelled" in result.errors[quitter].message


def test_video_frames_and_sound_handed_on_are_read_only(tmp_path):
    import numpy as np

    from gpu.executor import Executor
    from nodes.registry import NodeRegistry
    from nodes.spec import Output, node
    from nodes.types import Audio, Video

    @node("test.MakeClip", category="test", description="A tiny clip with sound.",
          outputs=[Output("video", "VIDEO")])
    def make_clip(ctx):
        sound = Audio(np.zeros((2, 100), np.float32), 48000)
        return Video(np.zeros((2, 4, 4, 3), np.uint8), 24.0, sound)

    registry = NodeRegistry()
    registry.register(make_clip, "tests")
    graph = Graph()
    maker = graph.add("test.MakeClip", {})
    with Executor(registry, output_dir=tmp_path) as executor:
        clip = executor.run(graph).output(maker)
    assert not clip.frames.flags.writeable and not clip.audio.samples.flags.writeable
