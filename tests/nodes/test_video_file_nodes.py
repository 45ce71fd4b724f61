"""video.Load and video.Save as a creator uses them, through the real executor: load
a clip (a span, a new frame rate), save it as MP4, WebM or PNG frames in the output
folder without ever overwriting, and get words, not crashes, for broken files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from gpu.events import RunResult
from nodes.context import Cancelled
from nodes.media_files import VideoWriter, probe, read_audio, read_frames
from nodes.problems import WorkflowError

Run = Callable[..., RunResult]
WIDTH, HEIGHT = 64, 48


def write_numbered_clip(path: Path, count: int = 48, fps: float = 24, sound: bool = True) -> Path:
    """Frame k is grey level 4k; the sound clicks under frame 12."""
    with VideoWriter(path, WIDTH, HEIGHT, fps, audio_rate=48000 if sound else None) as writer:
        for index in range(count):
            writer.write_frame(np.full((HEIGHT, WIDTH, 3), index * 4 % 250, np.uint8))
        if sound:
            samples = np.zeros((2, int(count / fps * 48000)), np.float32)
            click = int(12 / fps * 48000)
            samples[:, click : click + 240] = 0.8
            writer.write_audio(samples)
    return path


def loaded(path: str | Path, **inputs: Any) -> dict[str, Any]:
    return {"load": {"type": "video.Load", "inputs": {"path": str(path), **inputs}}}


def saved(path: str | Path, **inputs: Any) -> dict[str, Any]:
    return {**loaded(path), "save": {"type": "video.Save", "inputs": {"video": ["load", "video"], **inputs}}}


def failure_of(result: RunResult, node_id: str) -> str:
    assert node_id in result.errors, f"{node_id} should have failed"
    return result.errors[node_id].message


def test_load_gives_the_clip_its_sound_rate_and_frame_count(run_nodes: Run, tmp_path: Path) -> None:
    path = write_numbered_clip(tmp_path / "clip.mp4")
    result = run_nodes(loaded(path), targets=["load"])
    assert result.ok, result.errors
    video = result.output("load", "video")
    assert video.frames.shape == (48, HEIGHT, WIDTH, 3) and video.fps == 24.0
    assert result.output("load", "fps") == 24.0 and result.output("load", "frame_count") == 48
    audio = result.output("load", "audio")
    assert audio is video.audio and audio.rate == 48000 and audio.duration == pytest.approx(2.0)


def test_load_a_span_at_a_new_frame_rate(run_nodes: Run, tmp_path: Path) -> None:
    path = write_numbered_clip(tmp_path / "clip.mp4")
    result = run_nodes(loaded(path, start=0.5, end=1.5, fps="12"), targets=["load"])
    assert result.ok, result.errors
    video = result.output("load", "video")
    assert result.output("load", "frame_count") == 12 and video.fps == 12.0
    levels = [round(frame.mean() / 4) for frame in video.frames]
    assert levels == list(range(12, 36, 2))
    assert video.audio.duration == pytest.approx(1.0)


def test_a_clip_without_sound_gives_silence_of_its_length(run_nodes: Run, tmp_path: Path) -> None:
    path = write_numbered_clip(tmp_path / "silent.mp4", sound=False)
    result = run_nodes(loaded(path), targets=["load"])
    assert result.ok, result.errors
    audio = result.output("load", "audio")
    assert audio.duration == pytest.approx(2.0) and not audio.samples.any()
    assert result.output("load", "video").audio is None


def test_a_changed_file_is_loaded_again_an_unchanged_one_comes_from_the_cache(run_nodes: Run, tmp_path: Path) -> None:
    path = write_numbered_clip(tmp_path / "clip.mp4")
    assert run_nodes(loaded(path), targets=["load"]).output("load", "frame_count") == 48
    assert "load" in run_nodes(loaded(path), targets=["load"]).cached
    write_numbered_clip(path, count=24)
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's resolution
    again = run_nodes(loaded(path), targets=["load"])
    assert "load" in again.executed and again.output("load", "frame_count") == 24


@pytest.mark.parametrize("fps", ["fast", "0", "-5", "1/0", "1000"])
def test_a_frame_rate_that_is_not_a_rate_is_refused_before_anything_runs(run_nodes: Run, tmp_path: Path,
                                                                        fps: str) -> None:
    with pytest.raises(WorkflowError, match="frame rate"):
        run_nodes(loaded(tmp_path / "clip.mp4", fps=fps), targets=["load"])


@pytest.mark.parametrize("content, words", [(None, "not found"), (b"", "empty"),
                                            (b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 3000, "damaged")])
def test_a_missing_or_broken_file_fails_its_branch_with_words(run_nodes: Run, tmp_path: Path,
                                                             content: bytes | None, words: str) -> None:
    path = tmp_path / "broken.mp4"
    if content is not None:
        path.write_bytes(content)
    message = failure_of(run_nodes(loaded(path), targets=["load"]), "load")
    assert words in message and "broken.mp4" in message


def test_save_writes_an_mp4_that_matches_the_clip_and_never_overwrites(run_nodes: Run, tmp_path: Path,
                                                                       output_folder: Path) -> None:
    source = write_numbered_clip(tmp_path / "clip.mp4")
    first = run_nodes(saved(source, filename_prefix="shots/take"))
    assert first.ok, first.errors
    path = Path(first.output("save", "path"))
    assert path == output_folder / "shots" / "take_00001.mp4"
    info = probe(path)
    assert (info.width, info.height, info.fps, info.frame_count) == (WIDTH, HEIGHT, 24.0, 48)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    clicks = np.flatnonzero(np.abs(read_audio(path).samples[0]) > 0.3)
    assert clicks[0] / 48000 * 24 == pytest.approx(12, abs=0.5)
    second = run_nodes(saved(source, filename_prefix="shots/take", crf=30))
    assert Path(second.output("save", "path")).name == "take_00002.mp4"
    assert sorted(entry.name for entry in (output_folder / "shots").iterdir()) == ["take_00001.mp4", "take_00002.mp4"]


def test_save_as_webm_and_as_png_frames(run_nodes: Run, tmp_path: Path) -> None:
    source = write_numbered_clip(tmp_path / "clip.mp4", count=12)
    webm = run_nodes(saved(source, format="webm", crf=30))
    assert webm.ok, webm.errors
    info = probe(webm.output("save", "path"))
    assert (info.video_codec, info.audio_codec, info.frame_count) == ("vp9", "opus", 12)
    frames = run_nodes(saved(source, format="png"))
    folder = Path(frames.output("save", "path"))
    assert folder.is_dir() and folder.name == "reelgraph_00001"
    assert len(list(folder.glob("frame_*.png"))) == 12 and (folder / "audio.wav").is_file()


def test_save_uses_a_linked_sound_instead_of_the_clips_own(run_nodes: Run, tmp_path: Path) -> None:
    source = write_numbered_clip(tmp_path / "clip.mp4", sound=False)
    voice = write_numbered_clip(tmp_path / "voice.mp4")
    nodes = {**saved(source), "voice": {"type": "video.Load", "inputs": {"path": str(voice)}}}
    nodes["save"]["inputs"]["audio"] = ["voice", "audio"]
    result = run_nodes(nodes)
    assert result.ok, result.errors
    assert probe(result.output("save", "path")).has_audio


def test_a_clip_saved_without_sound_has_no_sound_track(run_nodes: Run, tmp_path: Path) -> None:
    source = write_numbered_clip(tmp_path / "clip.mp4", sound=False)
    result = run_nodes(saved(source))
    assert result.ok, result.errors
    assert not probe(result.output("save", "path")).has_audio
    assert len(list(read_frames(result.output("save", "path")))) == 48


class CancelAfter:
    """A node context whose run is cancelled after a number of progress reports."""

    def __init__(self, output_dir: Path, reports: int) -> None:
        self.output_dir, self.reports = output_dir, reports

    def progress(self, fraction: float, preview: Any = None, message: str = "") -> None:
        self.reports -= 1
        if self.reports < 0:
            raise Cancelled("cancelled by the user")

    def check_cancelled(self) -> None:
        if self.reports < 0:
            raise Cancelled("cancelled by the user")


@pytest.mark.parametrize("format", ["mp4", "png"])
def test_a_cancelled_save_leaves_nothing_in_the_output_folder(tmp_path: Path, format: str) -> None:
    from nodes.library.video_files import save
    from nodes.media_files import load_video

    clip = load_video(write_numbered_clip(tmp_path / "clip.mp4"))
    output = tmp_path / "output"
    with pytest.raises(Cancelled):
        save(CancelAfter(output, 10), clip, "cut", format, 20)
    assert list(output.iterdir()) == []


def test_save_refuses_an_h264_quality_out_of_range_and_a_prefix_leaving_the_folder(run_nodes: Run,
                                                                                  tmp_path: Path) -> None:
    source = write_numbered_clip(tmp_path / "clip.mp4", count=4)
    assert "crf 60" in failure_of(run_nodes(saved(source, crf=60)), "save")
    assert "inside the output folder" in failure_of(run_nodes(saved(source, filename_prefix="../escape")), "save")
