"""A volume producer relies on video.Check to flag broken renders (too short, the wrong
shape, no sound or silent sound, black or frozen stretches) and to pass good ones;
export runs the same check on each rendered file and writes its report beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from fixtures.made_up_media import registry_with_made_up_media
from gpu.events import RunResult
from gpu.executor import Executor
from nodes.graph import Graph
from nodes.media_checks import CheckReport, Expectations, aspect_name, check_file, check_video
from nodes.problems import WorkflowError
from nodes.registry import NodeRegistry
from nodes.types import Audio, Video

Run = Callable[..., RunResult]


@pytest.fixture(scope="module")
def registry_with_test_clips() -> NodeRegistry:
    return registry_with_made_up_media()


@pytest.fixture
def run_nodes(registry_with_test_clips: NodeRegistry, tmp_path: Path,
              make_document: Callable[..., dict[str, Any]]) -> Iterator[Run]:
    with Executor(registry_with_test_clips, output_dir=tmp_path, cpu_workers=2) as executor:
        yield lambda nodes, targets=None: executor.run(Graph.from_dict(make_document(nodes)), targets)


def moving_clip(seconds: float = 4.0, **move: Any) -> dict[str, Any]:
    """A slow Ken Burns move across a textured picture, 16:9: a good clip."""
    return {"picture": {"type": "test.Noise", "inputs": {}},
            "moving": {"type": "video.KenBurns", "inputs": {"image": ["picture", "image"], "width": 160,
                                                            "height": 90, "duration": seconds, "fps": 12.0,
                                                            **move}}}


def checked(video_source: list[str], **expectations: Any) -> dict[str, Any]:
    return {"type": "video.Check", "inputs": {"video": video_source, **expectations}}


def report_of(run_nodes: Run, nodes: dict[str, Any]) -> dict[str, Any]:
    result = run_nodes(nodes, ["check"])
    assert result.ok, result.errors
    return json.loads(result.output("check", "report"))


def test_a_good_clip_passes_and_the_report_says_what_it_is(run_nodes: Run) -> None:
    nodes = {**moving_clip(), "sound": {"type": "test.Tone", "inputs": {"video": ["moving", "video"]}},
             "check": checked(["sound", "video"], min_duration=3.0, max_duration=5.0, aspect="16:9",
                              require_audio=True, max_black_seconds=0.0, max_frozen_seconds=0.25,
                              fail_on_problems=True)}
    result = run_nodes(nodes, ["check"])
    assert result.ok, result.errors
    report = json.loads(result.output("check", "report"))
    assert result.output("check", "passed") is True
    assert result.output("check", "video") is result.output("sound", "video")  # passed through untouched
    assert report["problems"] == [] and report["passed"] is True
    assert (report["duration"], report["frame_count"], report["fps"]) == (4.0, 48, 12.0)
    assert (report["resolution"], report["aspect"]) == ("160×90", "16:9")
    assert report["has_audio"] and not report["silent_audio"]
    assert report["audio_peak_db"] == pytest.approx(-6.0, abs=0.1)
    assert report["black_seconds"] == 0
    assert report["longest_frozen_seconds"] < 0.2  # a slow move is not frozen; only its eased start rests


def test_black_stretches_are_found_and_fail_the_branch_with_what_failed(run_nodes: Run) -> None:
    nodes = {**moving_clip(2.0),
             "black": {"type": "image.Solid", "inputs": {"width": 160, "height": 90, "color": "#050505"}},
             "gap": {"type": "video.FromImages", "inputs": {"image": ["black", "image"], "duration": 1.5,
                                                             "fps": 12.0}},
             "joined": {"type": "video.Concat", "inputs": {"video_1": ["moving", "video"],
                                                           "video_2": ["gap", "video"]}},
             "check": checked(["joined", "video"], max_black_seconds=1.0)}
    report = report_of(run_nodes, nodes)
    assert report["black_seconds"] == 1.5 and report["black_stretches"] == [[2.0, 3.5]]
    assert report["longest_frozen_seconds"] == 0  # black is reported as black, not also as frozen
    assert report["problems"] == ["it has 1.50 s of black frames (2.00–3.50 s), more than the 1 s allowed"]
    nodes["check"]["inputs"]["fail_on_problems"] = True
    nodes["after"] = {"type": "video.Frame", "inputs": {"video": ["check", "video"]}}
    nodes["other"] = {"type": "video.Frame", "inputs": {"video": ["moving", "video"]}}
    result = run_nodes(nodes, ["after", "other"])
    assert result.errors["check"].message.startswith("the clip failed its check: it has 1.50 s of black frames")
    assert "after" not in result.outputs and "other" in result.outputs  # only the checked branch stops


def test_a_still_picture_is_found_frozen(run_nodes: Run) -> None:
    nodes = {**moving_clip(1.0),
             "still": {"type": "video.FromImages", "inputs": {"image": ["picture", "image"], "duration": 3.0,
                                                              "fps": 12.0}},
             "joined": {"type": "video.Concat", "inputs": {"video_1": ["moving", "video"],
                                                           "video_2": ["still", "video"]}},
             "check": checked(["joined", "video"], max_frozen_seconds=2.0)}
    report = report_of(run_nodes, nodes)
    assert report["longest_frozen_seconds"] == 3.0 and report["frozen_stretches"] == [[1.0, 4.0]]
    assert report["problems"] == ["its picture stands still for 3.00 s (1.00–4.00 s), more than the 2 s allowed"]


def test_missing_and_silent_sound_fail_when_sound_is_required(run_nodes: Run) -> None:
    nodes = {**moving_clip(1.0), "check": checked(["moving", "video"], require_audio=True)}
    assert report_of(run_nodes, nodes)["problems"] == ["it has no sound, and sound is required"]
    nodes["quiet"] = {"type": "test.Tone", "inputs": {"video": ["moving", "video"], "level": 0.0001}}
    nodes["check"] = checked(["quiet", "video"], require_audio=True)
    report = report_of(run_nodes, nodes)
    assert report["silent_audio"] is True and report["silent_seconds"] == 1.0
    assert report["problems"] == ["its sound is silent throughout (-83 dBFS RMS), and sound is required"]


def test_wrong_aspect_and_length_are_named(run_nodes: Run) -> None:
    nodes = {**moving_clip(1.0), "check": checked(["moving", "video"], aspect="9:16", min_duration=2.0)}
    assert report_of(run_nodes, nodes)["problems"] == [
        "it lasts 1.00 s, shorter than the 2 s expected", "it is 160×90 (16:9), not the 9:16 expected"]
    nodes["check"] = checked(["moving", "video"], max_duration=0.5)
    assert report_of(run_nodes, nodes)["problems"] == ["it lasts 1.00 s, longer than the 0.5 s allowed"]


def test_a_title_card_is_not_a_black_frame(run_nodes: Run) -> None:
    nodes = {"title": {"type": "video.TitleCard", "inputs": {"text": "The end", "width": 640, "height": 360,
                                                             "duration": 2.0, "fps": 12.0, "font_size": 36,
                                                             "fade_in": 0.0, "fade_out": 0.0}},
             "check": checked(["title", "video"], max_black_seconds=0.0)}
    report = report_of(run_nodes, nodes)
    assert report["passed"] and report["longest_frozen_seconds"] == 2.0  # a card stands still on purpose


def test_a_bad_aspect_is_refused_before_the_run(run_nodes: Run) -> None:
    nodes = {**moving_clip(1.0), "check": checked(["moving", "video"], aspect="wide")}
    with pytest.raises(WorkflowError, match="not an aspect ratio"):
        run_nodes(nodes, ["check"])


def test_check_video_reports_an_empty_clip_and_names_aspects() -> None:
    report = check_video(Video(np.zeros((0, 8, 8, 3), np.uint8), 24.0))
    assert not report.passed and report.problems == ("it has no frames",)
    assert [aspect_name(*size) for size in [(1920, 1080), (854, 480), (1080, 1920), (1000, 700), (1234, 1000)]] == [
        "16:9", "16:9", "9:16", "10:7", "1.234:1"]
    with pytest.raises(ValueError, match="not an aspect ratio"):
        Expectations(aspect="sixteen by nine")


# ----- files, as export checks them -------------------------------------------------------------

def write_clip(path: Path, frames: np.ndarray, fps: int, sound: np.ndarray | None = None, rate: int = 48000) -> Path:
    """An H.264/AAC MP4 written straight through PyAV, independent of the writer under test elsewhere."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        audio = container.add_stream("aac", rate=rate, layout="mono") if sound is not None else None
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode())
        if audio is not None:
            for begin in range(0, sound.shape[0], 1024):
                chunk = av.AudioFrame.from_ndarray(sound[None, begin : begin + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = rate, begin
                container.mux(audio.encode(chunk))
            container.mux(audio.encode())
    return path


@pytest.fixture(scope="module")
def rendered_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s at 12 fps, 96×54: one second moving, half a second black, half a second still; a tone throughout."""
    rng = np.random.default_rng(1)
    frames = np.zeros((24, 54, 96, 3), dtype=np.uint8)
    frames[:12] = rng.integers(0, 256, (12, 54, 96, 3), dtype=np.uint8)
    frames[18:] = 128
    frames[18:, 10:40, 20:60] = (200, 60, 30)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(96000) / 48000)).astype(np.float32)
    return write_clip(tmp_path_factory.mktemp("renders") / "episode.mp4", frames, 12, tone)


def test_check_file_streams_a_rendered_file(rendered_file: Path) -> None:
    progress: list[float] = []
    report = check_file(rendered_file, Expectations(aspect="16:9", require_audio=True, max_black_seconds=0.25,
                                                    min_duration=1.5), progress=progress.append)
    assert (report.width, report.height, report.fps, report.frame_count) == (96, 54, 12.0, 24)
    assert report.duration == pytest.approx(2.0, abs=0.05)
    assert report.has_audio and report.audio_rate == 48000 and report.audio_channels == 1
    assert report.silent_audio is False and report.audio_rms_db == pytest.approx(-13.5, abs=1.0)  # 0.3 sine
    assert [(round(item.start, 2), round(item.end, 2)) for item in report.black_stretches] == [(1.0, 1.5)]
    assert report.frozen_stretches[0].start == pytest.approx(1.5) and report.longest_frozen_seconds == 0.5
    assert report.problems == ("it has 0.50 s of black frames (1.00–1.50 s), more than the 0.25 s allowed",)
    assert progress and progress[-1] == 1.0
    written = rendered_file.with_suffix(".check.json")
    written.write_text(report.to_text(), encoding="utf-8")
    data = json.loads(written.read_text(encoding="utf-8"))
    assert data["passed"] is False and data["source"] == str(rendered_file) and data["aspect"] == "16:9"


def test_check_file_reports_a_damaged_file_instead_of_crashing(rendered_file: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "cut.mp4"
    damaged.write_bytes(rendered_file.read_bytes()[:600])
    report = check_file(damaged)
    assert isinstance(report, CheckReport) and not report.passed
    assert report.problems[0].startswith("it cannot be read: ") and "cut.mp4" in report.problems[0]
    assert json.loads(report.to_text())["frame_count"] == 0


def test_check_video_measures_sound_in_memory() -> None:
    frames = np.random.default_rng(2).integers(0, 256, (10, 18, 32, 3), dtype=np.uint8)
    quiet_then_loud = np.zeros((2, 8000), np.float32)
    quiet_then_loud[:, 4000:] = 0.5
    report = check_video(Video(frames, 10.0, Audio(quiet_then_loud, 8000)), Expectations(require_audio=True))
    assert report.passed and report.silent_seconds == 0.5 and report.audio_peak_db == pytest.approx(-6.0, abs=0.1)
    assert report.audio_channels == 2 and report.audio_duration == 1.0
