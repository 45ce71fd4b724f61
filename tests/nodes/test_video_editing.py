"""A creator cuts clips together through the real executor: joins and crossfades them,
trims, resizes, crops and pads them (9:16 for social), turns stills into Ken Burns
moves and title cards, and takes frames back out, with the sound kept in step."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from gpu.events import RunResult
from gpu.executor import Executor
from nodes.graph import Graph
from nodes.problems import WorkflowError
from fixtures.made_up_media import registry_with_made_up_media
from nodes.registry import NodeRegistry
from nodes.types import Video

Run = Callable[..., RunResult]


@pytest.fixture(scope="module")
def registry_with_test_clips() -> NodeRegistry:
    return registry_with_made_up_media()


@pytest.fixture
def run_nodes(registry_with_test_clips: NodeRegistry, tmp_path: Path,
              make_document: Callable[..., dict[str, Any]]) -> Iterator[Run]:
    with Executor(registry_with_test_clips, output_dir=tmp_path, cpu_workers=2) as executor:
        yield lambda nodes, targets=None: executor.run(Graph.from_dict(make_document(nodes)), targets)


def solid(colour: str, width: int = 64, height: int = 36) -> dict[str, Any]:
    return {"type": "image.Solid", "inputs": {"width": width, "height": height, "color": colour}}


def still_clip(picture: str, seconds: float = 1.0, fps: float = 10.0) -> dict[str, Any]:
    return {"type": "video.FromImages", "inputs": {"image": [picture, "image"], "duration": seconds, "fps": fps}}


def clip(**inputs: Any) -> dict[str, Any]:
    return {"type": "test.Clip", "inputs": inputs}


def step(kind: str, **inputs: Any) -> dict[str, Any]:
    return {"type": kind, "inputs": inputs}


def video_after(run_nodes: Run, nodes: dict[str, Any], node_id: str = "result") -> Video:
    result = run_nodes(nodes, [node_id])
    assert result.ok, result.errors
    return result.output(node_id, "video")


def failure_of(run_nodes: Run, nodes: dict[str, Any], node_id: str = "result") -> str:
    result = run_nodes(nodes, [node_id])
    assert node_id in result.errors, f"{node_id} should have failed"
    return result.errors[node_id].message


# ----- FromImages and Frame ---------------------------------------------------------------------

def test_one_picture_held_for_a_duration_becomes_a_clip(run_nodes: Run) -> None:
    video = video_after(run_nodes, {"red": solid("#ff0000"), "result": still_clip("red", 2.0, 12)})
    assert video.frames.shape == (24, 36, 64, 3) and video.fps == 12 and video.audio is None
    assert (video.frames == (255, 0, 0)).all()


def test_pictures_become_a_sequence_or_a_slideshow_letterboxed_to_the_first(run_nodes: Run) -> None:
    nodes = {"pictures": {"type": "test.Pictures", "inputs": {"sizes": "64x36,36x36"}},
             "result": step("video.FromImages", images=["pictures", "images"], fps=10.0)}
    sequence = video_after(run_nodes, nodes)
    assert sequence.frames.shape == (3, 36, 64, 3)
    assert sequence.frames[1, 18, 32, 0] == 100 and sequence.frames[1, 18, 2, 0] == 0  # bars beside the square
    nodes["result"]["inputs"]["duration"] = 0.25
    slideshow = video_after(run_nodes, nodes)
    assert len(slideshow.frames) == 8  # 0.25 s at 10 fps, each ending on the frame nearest its time: no drift
    assert [int(frame[18, 32, 0]) for frame in slideshow.frames] == [0, 0, 100, 100, 100, 200, 200, 200]


def test_from_images_refuses_both_inputs_and_too_short_durations(run_nodes: Run) -> None:
    nodes = {"red": solid("#ff0000"), "pictures": {"type": "test.Pictures", "inputs": {}},
             "result": step("video.FromImages", images=["pictures", "images"], image=["red", "image"])}
    assert "not both" in failure_of(run_nodes, nodes)
    nodes["result"] = still_clip("red", 0.01, 24)
    assert "less than one frame" in failure_of(run_nodes, nodes)


def test_frame_picks_by_number_from_the_end_or_by_time(run_nodes: Run) -> None:
    nodes = {"clip": clip(frames=20, fps=10.0),
             "third": step("video.Frame", video=["clip", "video"], index=3),
             "last": step("video.Frame", video=["clip", "video"], index=-1),
             "at": step("video.Frame", video=["clip", "video"], by="time", time=1.25)}
    result = run_nodes(nodes, ["third", "last", "at"])
    assert result.ok, result.errors
    assert result.output("third", "image")[0, 0, 0] == 30
    assert result.output("last", "image")[0, 0, 0] == 190
    assert result.output("at", "image")[0, 0, 0] == 120
    nodes["missing"] = step("video.Frame", video=["clip", "video"], index=20)
    assert "no frame 20" in failure_of(run_nodes, nodes, "missing")


# ----- Concat and Crossfade ----------------------------------------------------------------------

def test_concat_converts_size_and_rate_to_the_first_clip_and_keeps_sound_in_step(run_nodes: Run) -> None:
    nodes = {"first": clip(frames=10, fps=10.0, tone=0.5),
             "small_fast": clip(width=32, height=36, frames=20, fps=20.0, step=5),
             "third": clip(frames=5, fps=10.0, tone=0.25, rate=16000, channels=2),
             "result": step("video.Concat", video_1=["first", "video"], video_2=["small_fast", "video"],
                            video_3=["third", "video"])}
    video = video_after(run_nodes, nodes)
    assert video.fps == 10 and video.frames.shape == (25, 36, 64, 3)
    # The 20 fps clip keeps its second of length: 10 frames, each the frame showing at its middle.
    assert [int(level) for level in video.frames[10:20, 18, 32, 0]] == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]
    assert (video.frames[10:20, :, :16] == 0).all()  # letterboxed: bars either side of the narrow clip
    audio = video.audio
    assert audio.rate == 8000 and audio.channels == 1 and audio.samples.shape[1] == 20000  # 2.5 s
    assert np.allclose(audio.samples[0, :8000], 0.5)
    assert np.allclose(audio.samples[0, 8000:16000], 0.0)  # the silent clip stays silent where it plays
    assert np.allclose(audio.samples[0, 16200:19800], 0.25, atol=1e-3)  # resampled and mixed down to mono


def test_concat_needs_two_clips_and_refuses_an_empty_one(run_nodes: Run) -> None:
    with pytest.raises(WorkflowError, match="video_2"):
        run_nodes({"a": clip(), "result": step("video.Concat", video_1=["a", "video"])}, ["result"])
    nodes = {"a": clip(), "empty": clip(frames=0),
             "result": step("video.Concat", video_1=["a", "video"], video_2=["empty", "video"])}
    assert "video 2 is empty" in failure_of(run_nodes, nodes)


def test_crossfade_blends_evenly_and_shortens_by_the_overlap(run_nodes: Run) -> None:
    nodes = {"red": solid("#ff0000"), "blue": solid("#0000ff", 32, 18),
             "a": still_clip("red"), "b": still_clip("blue", 1.0, 20),
             "result": step("video.Crossfade", first=["a", "video"], second=["b", "video"], overlap=0.3)}
    video = video_after(run_nodes, nodes)
    assert video.frames.shape == (17, 36, 64, 3) and video.fps == 10
    assert [tuple(video.frames[index, 18, 32]) for index in range(6, 11)] == [
        (255, 0, 0), (191, 0, 64), (128, 0, 128), (64, 0, 191), (0, 0, 255)]


def test_crossfade_fades_the_sound_with_equal_power(run_nodes: Run) -> None:
    nodes = {"a": clip(frames=10, tone=0.5), "b": clip(frames=10, tone=0.5),
             "result": step("video.Crossfade", first=["a", "video"], second=["b", "video"], overlap=0.4)}
    audio = video_after(run_nodes, nodes).audio
    assert audio.samples.shape == (1, 12800)  # 16 frames at 10 fps
    middle = audio.samples[0, 6400]  # halfway through the overlap (0.6 s to 1.0 s)
    assert middle == pytest.approx(0.5 * 2 * np.cos(np.pi / 4), abs=2e-3)
    assert np.allclose(audio.samples[0, :4800], 0.5) and np.allclose(audio.samples[0, 8000:], 0.5)


def test_crossfade_longer_than_a_clip_is_refused(run_nodes: Run) -> None:
    nodes = {"a": clip(frames=20), "b": clip(frames=5),
             "result": step("video.Crossfade", first=["a", "video"], second=["b", "video"], overlap=1.0)}
    assert "longer than the second clip (0.5 s)" in failure_of(run_nodes, nodes)


# ----- Trim, Resize, Crop, Pad -------------------------------------------------------------------

def test_trim_keeps_the_frames_and_sound_between_start_and_end(run_nodes: Run) -> None:
    nodes = {"clip": clip(frames=20, tone=0.5), "result": step("video.Trim", video=["clip", "video"],
                                                              start=0.5, end=1.2)}
    video = video_after(run_nodes, nodes)
    assert [int(level) for level in video.frames[:, 0, 0, 0]] == [50, 60, 70, 80, 90, 100, 110]
    assert video.audio.samples.shape == (1, 5600)
    nodes["result"]["inputs"] = {"video": ["clip", "video"], "start": 1.5, "end": 0.0}
    assert len(video_after(run_nodes, nodes).frames) == 5


@pytest.mark.parametrize("start, end, words", [(2.0, 0.0, "at or after the clip's end"),
                                               (1.0, 0.5, "not after its start"),
                                               (0.0, 3.0, "after the clip's end (2 s)")])
def test_trim_outside_the_clip_is_refused(run_nodes: Run, start: float, end: float, words: str) -> None:
    nodes = {"clip": clip(frames=20), "result": step("video.Trim", video=["clip", "video"], start=start, end=end)}
    assert words in failure_of(run_nodes, nodes)


@pytest.mark.parametrize("mode, size, expected", [("stretch", (32, 32), (32, 32)), ("fit", (32, 32), (32, 18)),
                                                  ("fill", (32, 32), (32, 32)), ("stretch", (0, 72), (128, 72))])
def test_resize_modes_give_the_sizes_asked(run_nodes: Run, mode: str, size: tuple[int, int],
                                           expected: tuple[int, int]) -> None:
    nodes = {"clip": clip(frames=3, tone=0.5),
             "result": step("video.Resize", video=["clip", "video"], width=size[0], height=size[1], mode=mode)}
    video = video_after(run_nodes, nodes)
    assert video.frames.shape == (3, expected[1], expected[0], 3)
    assert video.frames[2, 0, 0, 0] == 20 and video.audio is not None


def test_crop_cuts_the_same_rectangle_out_of_every_frame(run_nodes: Run) -> None:
    nodes = {"clip": clip(frames=3, tone=0.5),
             "result": step("video.Crop", video=["clip", "video"], x=60, y=10, width=10, height=5)}
    video = video_after(run_nodes, nodes)
    assert video.frames.shape == (3, 5, 4, 3) and video.frames.flags.c_contiguous  # cut at the frame's edge
    assert video.frames[2, 0, 0, 0] == 20 and video.audio is not None
    nodes["result"]["inputs"]["x"] = 64
    assert "outside the 64×36 frame" in failure_of(run_nodes, nodes)


def test_pad_letterboxes_a_landscape_clip_into_9_16_with_coloured_bars(run_nodes: Run) -> None:
    nodes = {"red": solid("#ff0000"), "a": still_clip("red", 0.5),
             "result": step("video.Pad", video=["a", "video"], width=36, height=64, color="#00ff00")}
    video = video_after(run_nodes, nodes)
    assert video.frames.shape == (5, 64, 36, 3)
    column = video.frames[0, :, 18]
    painted = np.flatnonzero((column == (255, 0, 0)).all(axis=1))
    assert (painted[0], painted[-1]) == (22, 41)  # 36 × 20.25 shown, centred
    assert (column[:21] == (0, 255, 0)).all() and (column[43:] == (0, 255, 0)).all()


def test_pad_fill_crops_and_an_aspect_alone_keeps_the_resolution(run_nodes: Run) -> None:
    nodes = {"clip": clip(frames=2),
             "fill": step("video.Pad", video=["clip", "video"], width=0, height=0, aspect="9:16", mode="fill"),
             "bars": step("video.Pad", video=["clip", "video"], width=0, height=0, aspect="9:16"),
             "sized": step("video.Pad", video=["clip", "video"], width=540, height=0, aspect="9:16")}
    result = run_nodes(nodes, ["fill", "bars", "sized"])
    assert result.ok, result.errors
    assert result.output("fill", "video").frames.shape == (2, 36, 20, 3)
    assert result.output("bars", "video").frames.shape == (2, 114, 64, 3)
    assert result.output("sized", "video").frames.shape == (2, 960, 540, 3)


def test_pad_refuses_a_size_that_is_not_the_aspect_and_a_bad_aspect(run_nodes: Run) -> None:
    nodes = {"clip": clip(frames=2), "result": step("video.Pad", video=["clip", "video"], aspect="9:16",
                                                    width=100, height=100)}
    assert "100×100 is not 9:16" in failure_of(run_nodes, nodes)
    nodes["result"]["inputs"]["aspect"] = "tall"
    with pytest.raises(WorkflowError, match="not an aspect ratio"):
        run_nodes(nodes, ["result"])


# ----- Ken Burns and title cards -----------------------------------------------------------------

@pytest.fixture(scope="module")
def ramp_picture() -> np.ndarray:
    """Brightness equals the column (0..255), so each frame shows which columns it samples."""
    return np.repeat(np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 144, axis=0), 3, axis=2)


def ken_burns(ctx_free_picture: np.ndarray, **inputs: Any) -> Video:
    from nodes.library.video_editing import ken_burns as make
    from nodes.context import CancelToken, NodeContext

    context = NodeContext("k", "video.KenBurns", "", CancelToken(), Path("."))
    settings = {"width": 128, "height": 72, "duration": 1.0, "fps": 10.0, "start_zoom": 1.0, "end_zoom": 2.0,
                "start_x": 0.5, "start_y": 0.5, "end_x": 0.5, "end_y": 0.5, "easing": "linear", **inputs}
    return make(context, ctx_free_picture, **settings)


def test_ken_burns_zooms_steadily_with_sub_pixel_accuracy(ramp_picture: np.ndarray) -> None:
    video = ken_burns(ramp_picture)
    assert video.frames.shape == (10, 72, 128, 3) and video.fps == 10
    row = video.frames[:, 36, :, 0].astype(float)
    # Frame pixel u samples column left + (u + ½)·scale − ½: the whole picture at zoom 1, its middle half at 2.
    assert np.abs(row[0, 1:-1] - (2 * np.arange(1, 127) + 0.5)).max() <= 1.0
    assert np.abs(row[-1] - (64 + np.arange(128))).max() <= 1.0
    slopes = [np.polyfit(np.arange(20, 108), frame[20:108], 1)[0] for frame in row]
    zooms = 2.0 / np.array(slopes)
    assert np.allclose(zooms, 2 ** (np.arange(10) / 9), atol=0.01)  # an even pace to the eye: geometric


def test_ken_burns_pans_and_eases(ramp_picture: np.ndarray) -> None:
    video = ken_burns(ramp_picture, start_zoom=2.0, end_zoom=2.0, start_x=0.0, end_x=1.0, easing="ease_in_out")
    lefts = video.frames[:, 36, 0, 0].astype(int)
    assert lefts[0] == 0 and lefts[-1] == 128  # moved in from the edges: the view never leaves the picture
    moves = np.diff(lefts)
    assert (moves >= 0).all() and moves[0] < moves[4] and moves[-1] < moves[4]  # gentle start and end


def test_ken_burns_refuses_a_clip_too_large_to_hold(run_nodes: Run) -> None:
    nodes = {"red": solid("#ff0000"),
             "result": step("video.KenBurns", image=["red", "image"], width=8192, height=8192, duration=3600.0)}
    assert "GiB of memory" in failure_of(run_nodes, nodes)


def test_title_card_letters_fade_in_over_the_background(run_nodes: Run) -> None:
    nodes = {"result": step("video.TitleCard", text="Episode one", width=320, height=180, duration=2.0,
                            fps=10.0, font_size=40, color="#ffffff", background="#202060", fade_in=0.5,
                            fade_out=0.5)}
    video = video_after(run_nodes, nodes)
    assert video.frames.shape == (20, 180, 320, 3)
    held = video.frames[10]
    lettered = (held == 255).all(axis=2)
    assert lettered.sum() > 300  # the words are drawn, in white
    rows, columns = np.nonzero(lettered)
    assert 60 < rows.mean() < 120 and 120 < columns.mean() < 200  # centred
    assert (held[0, 0] == (32, 32, 96)).all() and (held[-1, -1] == (32, 32, 96)).all()
    brightness = [int(frame.max()) for frame in video.frames]
    assert brightness[0] < brightness[2] < brightness[4] <= brightness[10] == 255 and brightness[-1] < 255


def test_title_card_aligns_left_and_refuses_text_that_cannot_fit(run_nodes: Run) -> None:
    nodes = {"result": step("video.TitleCard", text="Left", width=320, height=180, duration=1.0, align="left",
                            font_size=40, fade_in=0.0, fade_out=0.0)}
    columns = np.nonzero(video_after(run_nodes, nodes).frames[0].max(axis=2) > 128)[1]
    assert 5 < columns.min() < 40 and columns.max() < 160
    nodes["result"]["inputs"].update(text="Unbreakablewordthatgoesonandon", font_size=120)
    assert "use a smaller font size" in failure_of(run_nodes, nodes)
    nodes["result"]["inputs"].update(text="Hi", font_size=40, fade_in=0.8, fade_out=0.8)
    assert "fades" in failure_of(run_nodes, nodes)


def test_title_card_on_a_picture_fills_the_card(run_nodes: Run) -> None:
    nodes = {"picture": solid("#804020", 100, 100),
             "result": step("video.TitleCard", text="Hi", width=160, height=90, duration=0.5, font_size=20,
                            fade_in=0.0, fade_out=0.0, background_image=["picture", "image"])}
    frame = video_after(run_nodes, nodes).frames[0]
    assert frame.shape == (90, 160, 3) and (frame[0, 0] == (128, 64, 32)).all()


# ----- values stay shared safely ----------------------------------------------------------------

def test_edited_clips_are_read_only_and_inputs_are_untouched(run_nodes: Run) -> None:
    nodes = {"clip": clip(frames=10, tone=0.5),
             "trimmed": step("video.Trim", video=["clip", "video"], start=0.2, end=0.9),
             "padded": step("video.Pad", video=["clip", "video"], width=36, height=64)}
    result = run_nodes(nodes, ["clip", "trimmed", "padded"])
    assert result.ok, result.errors
    for node_id in ("trimmed", "padded"):
        video = result.output(node_id, "video")
        with pytest.raises(ValueError, match="read-only"):
            video.frames[0, 0, 0, 0] = 1
    assert result.output("clip", "video").frames[3, 0, 0, 0] == 30


def test_a_zero_duration_is_a_message_before_the_run(run_nodes: Run) -> None:
    nodes = {"red": solid("#ff0000"), "result": step("video.KenBurns", image=["red", "image"], duration=0.0)}
    with pytest.raises(WorkflowError, match="duration"):
        run_nodes(nodes, ["result"])
