"""Exporting a timeline: short renders at tiny sizes, read back from the written file
to see that the frames, the transitions and the sound mix came out as the timeline
says, that a range or a cancel does what a creator expects, and that a project that
cannot render says why before anything is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PIL import Image

from gpu.executor import Executor
from gpu.timeline_render import PRESETS, ExportPreset, RenderError, render_project
from nodes.context import Cancelled, CancelToken
from nodes.graph import Graph
from nodes.media_files import VideoWriter, probe, read_audio, read_frames, write_audio_file
from nodes.registry import builtin_registry
from nodes.timeline import Project, ProjectError
from nodes.types import Audio

#: A tiny export format: 10 frames a second keeps every frame countable.
TINY = ExportPreset("tiny", 64, 36, 10.0, 18, "ultrafast")
RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 30)
RATE = 48000


@pytest.fixture
def media_executor(tmp_path: Path) -> Iterator[Executor]:
    with Executor(builtin_registry(), output_dir=tmp_path / "graph-output", cpu_workers=2, previews=False) as running:
        yield running


def still(folder: Path, name: str, colour: tuple[int, int, int], size: tuple[int, int] = (32, 18)) -> str:
    Image.fromarray(np.full((size[1], size[0], 3), colour, np.uint8)).save(folder / name)
    return name


def tone(folder: Path, name: str, frequency: float, seconds: float, amplitude: float = 0.5) -> str:
    times = np.arange(int(seconds * RATE)) / RATE
    wave = (amplitude * np.sin(2 * np.pi * frequency * times)).astype(np.float32)
    write_audio_file(folder / name, Audio(np.stack([wave, wave]), RATE), "wav")
    return name


def clip(clip_id: str, source: dict, start: float, out: float | None, **more: Any) -> dict:
    return {"id": clip_id, "source": source, "start": start, "in": more.pop("source_in", 0.0), "out": out, **more}


def project(folder: Path, video: list[dict], audio: list[dict] | None = None, music: list[dict] | None = None,
            graphs: dict | None = None, **timeline: Any) -> Project:
    tracks = []
    if audio:
        tracks.append({"id": "voice", "kind": "voice", "clips": audio})
    if music:
        tracks.append({"id": "music", "kind": "music", "clips": music})
    document = {"format": "reelgraph.project", "version": 1, "name": "test", "graphs": graphs or {},
                "timeline": {"fps": 10.0, "width": 64, "height": 36, "video_tracks": [{"id": "V1", "clips": video}],
                             "audio_tracks": tracks, **timeline}}
    return Project.from_dict(document, folder=folder)


def frames_of(path: Path) -> list[np.ndarray]:
    return list(read_frames(path))


def centre(frame: np.ndarray) -> np.ndarray:
    return frame[14:22, 28:36].reshape(-1, 3).mean(axis=0)


def level_at(samples: np.ndarray, frequency: float, start: float, seconds: float = 0.4) -> float:
    """The amplitude of one sine in a stretch of sound (a projection, so other tones do not count)."""
    piece = samples[0, int(start * RATE): int((start + seconds) * RATE)].astype(np.float64)
    times = np.arange(len(piece)) / RATE
    cosine, sine = np.cos(2 * np.pi * frequency * times), np.sin(2 * np.pi * frequency * times)
    return float(2 * np.hypot(piece @ cosine, piece @ sine) / len(piece))


# ----- frames ---------------------------------------------------------------------------------

def test_export_has_every_frame_the_sound_and_a_passing_check(tmp_path: Path) -> None:
    timeline = project(tmp_path, [clip("red", {"image": still(tmp_path, "red.png", RED)}, 0.0, 1.0),
                                  clip("blue", {"image": still(tmp_path, "blue.png", BLUE)}, 1.0, 1.0)],
                       music=[clip("bed", {"file": tone(tmp_path, "bed.wav", 440, 3.0)}, 0.0, 2.0)])
    result = render_project(timeline, TINY, tmp_path / "out.mp4")
    info = probe(result.path)
    assert (result.frames, info.frame_count, info.width, info.height, info.fps) == (20, 20, 64, 36, 10.0)
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == ("aac", 48000, 2)
    frames = frames_of(result.path)
    assert np.allclose(centre(frames[9]), RED, atol=8) and np.allclose(centre(frames[10]), BLUE, atol=8)
    report = json.loads((tmp_path / "out.mp4.check.json").read_text())
    assert result.check_path == tmp_path / "out.mp4.check.json"
    assert report["passed"] is True and report["resolution"] == "64×36" and report["has_audio"] is True
    assert result.ok


def test_crossfade_blends_like_the_crossfade_node(tmp_path: Path) -> None:
    timeline = project(tmp_path, [
        clip("red", {"image": still(tmp_path, "red.png", RED)}, 0.0, 1.0),
        clip("blue", {"image": still(tmp_path, "blue.png", BLUE)}, 0.6, 1.0,
             transition_in={"kind": "crossfade", "duration": 0.4})])
    frames = frames_of(render_project(timeline, TINY, tmp_path / "out.mp4", check=False).path)
    assert len(frames) == 16
    for k, index in enumerate(range(6, 10)):  # four frames of overlap: (k + 1) / 5 of blue
        weight = (k + 1) / 5
        expected = np.array(RED) * (1 - weight) + np.array(BLUE) * weight
        assert np.allclose(centre(frames[index]), expected, atol=8), (index, centre(frames[index]), expected)
    assert np.allclose(centre(frames[5]), RED, atol=8) and np.allclose(centre(frames[10]), BLUE, atol=8)


def test_fades_from_and_to_black(tmp_path: Path) -> None:
    timeline = project(tmp_path, [clip("green", {"image": still(tmp_path, "green.png", GREEN)}, 0.0, 1.5,
                                       transition_in={"kind": "fade_from_black", "duration": 0.4},
                                       transition_out={"kind": "fade_to_black", "duration": 0.4})])
    frames = frames_of(render_project(timeline, TINY, tmp_path / "out.mp4", check=False).path)
    greens = [centre(frame)[1] for frame in frames]
    assert len(frames) == 15
    assert np.allclose(greens[:4], [200 * (k + 1) / 5 for k in range(4)], atol=8)
    assert np.allclose(greens[4:11], 200, atol=8)
    assert np.allclose(greens[11:], [200 * (4 - k) / 5 for k in range(4)], atol=8)


def test_letterbox_keeps_the_whole_picture_and_fill_covers_the_frame(tmp_path: Path) -> None:
    square = still(tmp_path, "square.png", GREEN, (20, 20))
    for fit, bars in (("letterbox", True), ("fill", False)):
        timeline = project(tmp_path, [clip("sq", {"image": square}, 0.0, 0.5)])
        frame = frames_of(render_project(timeline, TINY, tmp_path / f"{fit}.mp4", fit=fit, check=False).path)[0]
        assert (frame[:, :6].max() < 20) == bars, fit
        assert np.allclose(centre(frame), GREEN, atol=8)


def test_upper_tracks_cover_lower_ones(tmp_path: Path) -> None:
    timeline = project(tmp_path, [clip("red", {"image": still(tmp_path, "red.png", RED)}, 0.0, 1.0)])
    timeline.timeline.video_tracks.append(project(tmp_path, [clip("blue", {"image": still(
        tmp_path, "blue.png", BLUE)}, 0.5, 0.5)]).timeline.video_tracks[0])
    timeline.timeline.video_tracks[1].id = "V2"
    frames = frames_of(render_project(timeline, TINY, tmp_path / "out.mp4", check=False).path)
    assert np.allclose(centre(frames[4]), RED, atol=8) and np.allclose(centre(frames[5]), BLUE, atol=8)


def test_transparent_pixels_show_the_track_below(tmp_path: Path) -> None:
    overlay = np.zeros((18, 32, 4), np.uint8)
    overlay[:, :16] = (*BLUE, 255)  # left half opaque blue, right half see-through
    Image.fromarray(overlay).save(tmp_path / "overlay.png")
    timeline = project(tmp_path, [clip("red", {"image": still(tmp_path, "red.png", RED)}, 0.0, 0.5)])
    timeline.timeline.video_tracks.append(project(tmp_path, [clip("overlay", {"image": "overlay.png"}, 0.0, 0.5)])
                                          .timeline.video_tracks[0])
    timeline.timeline.video_tracks[1].id = "V2"
    frame = frames_of(render_project(timeline, TINY, tmp_path / "out.mp4", check=False).path)[0]
    assert np.allclose(frame[10:26, 4:28].reshape(-1, 3).mean(axis=0), BLUE, atol=10)
    assert np.allclose(frame[10:26, 36:60].reshape(-1, 3).mean(axis=0), RED, atol=10)


def test_a_file_is_streamed_from_its_in_point_at_its_speed(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "count.mp4", 64, 36, 20.0, crf=10, preset="ultrafast", audio_rate=None) as writer:
        for number in range(80):  # frame n is as bright as 3n
            writer.write_frame(np.full((36, 64, 3), 3 * number, np.uint8))
    timeline = project(tmp_path, [clip("count", {"file": "count.mp4"}, 0.0, 3.0, source_in=1.0, speed=2.0)])
    frames = frames_of(render_project(timeline, TINY, tmp_path / "out.mp4", check=False).path)
    assert len(frames) == 10  # 2 source seconds at double speed
    shown = [centre(frame).mean() / 3 for frame in frames]
    assert np.allclose(shown, [20 + 4 * k for k in range(10)], atol=2), shown


def test_graph_outputs_are_computed_through_the_shared_executor(tmp_path: Path, media_executor: Executor) -> None:
    graph = Graph()
    graph.add("video.TitleCard", {"text": "Hi", "width": 64, "height": 36, "duration": 1.0, "fps": 10.0,
                                  "background": "#1e1ec8", "fade_in": 0.0, "fade_out": 0.0, "font_size": 8},
              node_id="card")
    graph.add("image.Solid", {"width": 16, "height": 9, "color": "#1ec81e"}, node_id="solid")
    graphs = {"titles": graph.to_dict()}
    timeline = project(tmp_path, [clip("card", {"graph": "titles", "node": "card", "output": "video"}, 0.0, None),
                                  clip("solid", {"graph": "titles", "node": "solid", "output": "image"}, 1.0, 0.5)],
                       graphs=graphs)
    first = render_project(timeline, TINY, tmp_path / "one.mp4", executor=media_executor, check=False)
    frames = frames_of(first.path)
    assert len(frames) == 15
    assert np.allclose(frames[0][2, 2], (30, 30, 200), atol=8) and np.allclose(centre(frames[12]), (30, 200, 30),
                                                                                atol=8)
    seen = []
    media_executor_run = media_executor.run

    def run(*arguments: Any, **options: Any) -> Any:
        result = media_executor_run(*arguments, **options)
        seen.append(sorted(result.cached))
        return result

    media_executor.run = run  # type: ignore[method-assign]
    render_project(timeline, TINY, tmp_path / "two.mp4", executor=media_executor, check=False)
    assert seen == [["card", "solid"]]  # the second export takes the graph outputs from the cache


# ----- sound ----------------------------------------------------------------------------------

def test_gain_fades_and_ducking_shape_the_mix(tmp_path: Path) -> None:
    timeline = project(
        tmp_path, [clip("black", {"image": still(tmp_path, "black.png", (0, 0, 0))}, 0.0, 4.0)],
        audio=[clip("line", {"file": tone(tmp_path, "voice.wav", 1000, 1.0, 0.25)}, 2.0, None)],
        music=[clip("bed", {"file": tone(tmp_path, "bed.wav", 440, 5.0)}, 0.0, 4.0, gain_db=-6.0, fade_in=0.5)],
        ducking={"amount_db": 12.0, "attack": 0.2, "release": 0.2})
    result = render_project(timeline, TINY, tmp_path / "out.mp4", check=False)
    samples = read_audio(result.path).samples
    music = 0.5 * 10 ** (-6 / 20)
    assert level_at(samples, 440, 0.0, 0.1) < music * 0.2  # fading in
    assert level_at(samples, 440, 1.0) == pytest.approx(music, rel=0.05)
    assert level_at(samples, 440, 2.3) == pytest.approx(music * 10 ** (-12 / 20), rel=0.08)  # under the voice
    assert level_at(samples, 1000, 2.3) == pytest.approx(0.25, rel=0.05)
    assert level_at(samples, 440, 3.4, 0.3) == pytest.approx(music, rel=0.05)  # released after the voice
    assert level_at(samples, 1000, 3.4, 0.3) < 0.01


def test_sound_at_another_rate_and_in_mono_is_converted(tmp_path: Path) -> None:
    times = np.arange(22050) / 22050
    write_audio_file(tmp_path / "mono.wav", Audio((0.4 * np.sin(2 * np.pi * 500 * times)).astype(np.float32)[None],
                                                  22050), "wav")
    timeline = project(tmp_path, [clip("black", {"image": still(tmp_path, "black.png", (0, 0, 0))}, 0.0, 1.0)],
                       audio=[clip("line", {"file": "mono.wav"}, 0.0, None)])
    samples = read_audio(render_project(timeline, TINY, tmp_path / "out.mp4", check=False).path).samples
    assert level_at(samples[:1], 500, 0.3) == pytest.approx(0.4, rel=0.05)
    assert level_at(samples[1:], 500, 0.3) == pytest.approx(0.4, rel=0.05)


def test_audio_crossfade_keeps_the_loudness(tmp_path: Path) -> None:
    tone(tmp_path, "a.wav", 440, 3.0)
    timeline = project(tmp_path, [clip("black", {"image": still(tmp_path, "black.png", (0, 0, 0))}, 0.0, 3.0)],
                       music=[clip("a", {"file": "a.wav"}, 0.0, 2.0),
                              clip("b", {"file": "a.wav"}, 1.0, 3.0, source_in=1.0,
                                   transition_in={"kind": "crossfade", "duration": 1.0})])
    samples = read_audio(render_project(timeline, TINY, tmp_path / "out.mp4", check=False).path).samples
    levels = [level_at(samples, 440, start, 0.2) for start in (0.4, 1.1, 1.4, 1.7, 2.4)]
    assert levels[0] == pytest.approx(0.5, rel=0.05) and levels[-1] == pytest.approx(0.5, rel=0.05)
    assert all(level > 0.5 for level in levels[1:4])  # equal power: same-phase copies add up, never dip


# ----- range, presets, cancel, failures ----------------------------------------------------------

def test_range_exports_only_that_stretch(tmp_path: Path) -> None:
    tone(tmp_path, "beep.wav", 440, 0.5)
    timeline = project(tmp_path, [clip("red", {"image": still(tmp_path, "red.png", RED)}, 0.0, 1.5),
                                  clip("blue", {"image": still(tmp_path, "blue.png", BLUE)}, 1.5, 1.5)],
                       music=[clip("beep", {"file": "beep.wav"}, 1.5, None)])
    result = render_project(timeline, TINY, tmp_path / "out.mp4", time_range=(1.0, 2.0))
    frames = frames_of(result.path)
    assert (result.start, result.end, len(frames)) == (1.0, 2.0, 10)
    assert np.allclose(centre(frames[4]), RED, atol=8) and np.allclose(centre(frames[5]), BLUE, atol=8)
    samples = read_audio(result.path).samples
    assert level_at(samples, 440, 0.0, 0.4) < 0.01 and level_at(samples, 440, 0.55, 0.4) > 0.45


def test_a_preset_with_a_length_limit_cuts_the_export_and_says_so(tmp_path: Path) -> None:
    short = ExportPreset("short", 36, 64, 10.0, 23, "ultrafast", fit="fill", max_seconds=1.0)
    timeline = project(tmp_path, [clip("red", {"image": still(tmp_path, "red.png", RED)}, 0.0, 3.0)])
    result = render_project(timeline, short, tmp_path / "out.mp4")
    assert result.frames == 10 and "at most 1 s" in result.warnings[0] and result.ok
    assert (PRESETS["social"].width, PRESETS["social"].height, PRESETS["social"].max_seconds) == (1080, 1920, 15.0)
    assert (PRESETS["low"].width, PRESETS["low"].fps, PRESETS["high"].height, PRESETS["high"].fps) == (
        1280, 24.0, 1080, 30.0)


def test_cancel_stops_the_export_and_leaves_no_file(tmp_path: Path) -> None:
    timeline = project(tmp_path, [clip("red", {"image": still(tmp_path, "red.png", RED)}, 0.0, 30.0)])
    cancel = CancelToken()
    seen = []

    def progress(update: Any) -> None:
        seen.append(update.done)
        if update.stage == "frames" and update.done >= 20:
            cancel.cancel("enough")

    with pytest.raises(Cancelled):
        render_project(timeline, TINY, tmp_path / "out" / "film.mp4", progress=progress, cancel=cancel)
    assert max(seen) < 300
    assert list((tmp_path / "out").iterdir()) == []


def test_an_invalid_project_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    red = still(tmp_path, "red.png", RED)
    timeline = project(tmp_path, [clip("a", {"image": red}, 0.0, 2.0), clip("b", {"image": red}, 1.0, 2.0),
                                  clip("c", {"file": "missing.mp4"}, 3.0, 1.0)])
    with pytest.raises(ProjectError) as caught:
        render_project(timeline, TINY, tmp_path / "out" / "film.mp4")
    assert [problem.clip for problem in caught.value.problems] == ["c", "b"]
    assert not (tmp_path / "out").exists()


def test_a_failing_graph_fails_the_export_with_its_message(tmp_path: Path, media_executor: Executor) -> None:
    graph = Graph()
    graph.add("video.TitleCard", {"width": 64, "height": 36, "duration": 0.5, "fade_in": 1.0}, node_id="card")
    timeline = project(tmp_path, [clip("card", {"graph": "g", "node": "card", "output": "video"}, 0.0, None)],
                       graphs={"g": graph.to_dict()})
    with pytest.raises(RenderError, match="graph 'g' failed: .*fades"):
        render_project(timeline, TINY, tmp_path / "film.mp4", executor=media_executor)
    assert not (tmp_path / "film.mp4").exists()


def test_a_still_cut_short_is_found_before_anything_is_written(tmp_path: Path) -> None:
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (90, 160, 3), np.uint8)).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    timeline = project(tmp_path, [clip("cut", {"image": "cut.png"}, 0.0, 1.0)])
    with pytest.raises(ProjectError, match="clip 'cut': cannot read the picture cut.png: image file is truncated"):
        render_project(timeline, TINY, tmp_path / "film.mp4")
    assert not (tmp_path / "film.mp4").exists()


def test_an_empty_timeline_or_a_range_past_its_end_is_a_project_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="the timeline is empty"):
        render_project(project(tmp_path, []), TINY, tmp_path / "film.mp4")
    timeline = project(tmp_path, [clip("red", {"image": still(tmp_path, "red.png", RED)}, 0.0, 1.0)])
    with pytest.raises(ProjectError, match="after the timeline ends"):
        render_project(timeline, TINY, tmp_path / "film.mp4", time_range=(5.0, 6.0))


# ----- the example project --------------------------------------------------------------------------

def test_the_example_project_is_valid_small_and_renders_with_no_model(tmp_path: Path,
                                                                       media_executor: Executor) -> None:
    from nodes.timeline_validation import validate_project
    from resources import FOLDER

    path = FOLDER / "projects" / "example.json"
    example = Project.load(path)
    assert validate_project(example, media_executor.registry) == []
    assets = [item for item in (FOLDER / "projects" / "example").iterdir() if item.suffix != ".py"]
    assert assets and all(item.stat().st_size < 500_000 for item in assets)
    # a second and a half around the first crossfade, where the narrator starts over the music
    result = render_project(example, ExportPreset("small", 128, 72, 12.0, 23, "ultrafast"), tmp_path / "ex.mp4",
                            time_range=(3.0, 4.5), executor=media_executor)
    assert result.ok and result.frames == 18
    samples = read_audio(result.path).samples
    assert np.abs(samples[:, : RATE // 2]).max() > 0.02  # the music bed
    assert np.abs(samples[:, int(1.1 * RATE):]).max() > np.abs(samples[:, : RATE // 2]).max()  # the voice on top


def test_untouched_source_frames_skip_the_trip_through_rgb_and_look_the_same(tmp_path: Path, monkeypatch) -> None:
    """A file that fills the frame alone goes to the encoder as decoded (faster); what the viewer
    sees is what the RGB path would have made, also when it is scaled and around a crossfade."""
    from gpu.timeline_frames import FrameCompositor
    from nodes.media_writer import VideoWriter as Writer

    rng = np.random.default_rng(3)
    for name, (width, height) in (("same.mp4", (64, 36)), ("bigger.mp4", (128, 72))):
        with VideoWriter(tmp_path / name, width, height, 10.0, crf=12, preset="ultrafast", audio_rate=None) as writer:
            for number in range(30):
                base = rng.integers(0, 255, (height // 4, width // 4, 3), dtype=np.uint8)
                writer.write_frame(np.kron(base, np.ones((4, 4, 1), np.uint8)))
    timeline = project(tmp_path, [
        clip("same", {"file": "same.mp4"}, 0.0, 3.0),
        clip("bigger", {"file": "bigger.mp4"}, 2.0, 3.0, transition_in={"kind": "crossfade", "duration": 1.0})])
    passed: list[int] = []
    original = Writer.write_decoded_frame
    monkeypatch.setattr(Writer, "write_decoded_frame",
                        lambda self, frame: (passed.append(self.frames_written), original(self, frame))[1])
    fast = frames_of(render_project(timeline, TINY, tmp_path / "fast.mp4", check=False).path)
    monkeypatch.setattr(FrameCompositor, "encoder_frame", FrameCompositor.frame)
    slow = frames_of(render_project(timeline, TINY, tmp_path / "slow.mp4", check=False).path)
    assert len(fast) == len(slow) == 50
    crossfade = set(range(20, 30))
    assert passed and not crossfade & set(passed), "the crossfade is blended in RGB, the rest passes through"
    assert set(range(0, 20)) | set(range(30, 50)) == set(passed)
    same = list(read_frames(tmp_path / "same.mp4"))
    bigger = list(read_frames(tmp_path / "bigger.mp4", size=(64, 36)))
    source = {**{index: same[index] for index in range(20)}, **{index: bigger[index - 20] for index in range(30, 50)}}
    for index, wanted in source.items():  # as close to the source as the RGB path, or closer
        mine = np.abs(fast[index].astype(int) - wanted).mean()
        reference = np.abs(slow[index].astype(int) - wanted).mean()
        assert mine <= reference + 0.5, (index, mine, reference)
    for index in crossfade:  # blended the same way; only the encoder's references differ
        assert np.abs(fast[index].astype(int) - slow[index]).mean() < 3.0, index
