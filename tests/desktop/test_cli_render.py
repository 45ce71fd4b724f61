"""`reelgraph render`: a creator exports a project from the command line and learns
from the exit status whether the file is good (0), the export or its check failed
(1), or the project itself needs fixing (2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from desktop.cli import main
from nodes.graph import Graph
from nodes.media_files import probe, write_audio_file
from nodes.types import Audio


def write_project(folder: Path, video: list[dict], audio: list[dict] | None = None, graphs: dict | None = None) -> Path:
    Image.fromarray(np.full((90, 160, 3), (200, 40, 40), np.uint8)).save(folder / "red.png")
    times = np.arange(48000) / 48000
    wave = (0.3 * np.sin(2 * np.pi * 330 * times)).astype(np.float32)
    write_audio_file(folder / "hum.wav", Audio(np.stack([wave, wave]), 48000), "wav")
    document = {"format": "reelgraph.project", "version": 1, "name": "tiny", "graphs": graphs or {},
                "timeline": {"fps": 24, "width": 1280, "height": 720,
                             "video_tracks": [{"id": "V1", "clips": video}],
                             "audio_tracks": [{"id": "A1", "kind": "music", "clips": audio or []}]}}
    path = folder / "tiny.json"
    path.write_text(json.dumps(document))
    return path


def still_clip(clip_id: str = "red", start: float = 0.0, seconds: float = 0.5, **more: Any) -> dict:
    return {"id": clip_id, "source": {"image": "red.png"}, "start": start, "in": 0, "out": seconds, **more}


def hum_clip(**more: Any) -> dict:
    return {"id": "hum", "source": {"file": "hum.wav"}, "start": 0, "in": 0, "out": 0.5, **more}


def test_render_writes_the_file_and_its_check_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    project = write_project(tmp_path, [still_clip()], [hum_clip()])
    film = tmp_path / "films" / "tiny.mp4"
    assert main(["render", str(project), "--preset", "low", "-o", str(film)]) == 0
    info = probe(film)
    assert (info.width, info.height, info.fps, info.frame_count, info.has_audio) == (1280, 720, 24.0, 12, True)
    assert json.loads((tmp_path / "films" / "tiny.mp4.check.json").read_text())["passed"] is True
    printed = capsys.readouterr()
    assert f"wrote {film}" in printed.out and "check: passed" in printed.out
    assert "frames 12/12" in printed.err  # progress, one line at a time when stderr is not a terminal


def test_range_and_default_output_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = write_project(tmp_path, [still_clip(seconds=2.0)], [hum_clip()])
    monkeypatch.chdir(tmp_path)
    assert main(["render", str(project), "--preset", "low", "--range", "0.5", "1.0", "--quiet"]) == 0
    assert probe(tmp_path / "output" / "tiny-low.mp4").frame_count == 12


def test_an_invalid_project_exits_2_with_the_problems(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    project = write_project(tmp_path, [still_clip("a", 0.0, 1.0), still_clip("b", 0.5, 1.0)])
    assert main(["render", str(project), "--quiet", "-o", str(tmp_path / "film.mp4")]) == 2
    err = capsys.readouterr().err
    assert "the project cannot be rendered" in err and "track 'V1', clip 'b': overlaps clip 'a' by 0.500 s" in err
    assert not (tmp_path / "film.mp4").exists()


def test_a_file_that_is_not_a_project_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "flow.json").write_text(Graph().dumps())
    assert main(["render", str(tmp_path / "flow.json"), "--quiet"]) == 2
    assert "this is a workflow" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "nowhere.json"), "--quiet"]) == 2


def test_a_failing_graph_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    graph = Graph()
    graph.add("video.TitleCard", {"width": 64, "height": 36, "duration": 0.5, "fade_in": 1.0}, node_id="card")
    project = write_project(tmp_path, [{"id": "card", "source": {"graph": "g", "node": "card", "output": "video"},
                                        "start": 0, "in": 0, "out": None}], graphs={"g": graph.to_dict()})
    assert main(["render", str(project), "--quiet", "-o", str(tmp_path / "film.mp4")]) == 1
    assert "the export failed: graph 'g' failed" in capsys.readouterr().err
    assert not (tmp_path / "film.mp4").exists()


def test_a_failed_check_exits_1_and_keeps_the_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    project = write_project(tmp_path, [still_clip()], [hum_clip(gain_db=-96.0)])  # sound that cannot be heard
    film = tmp_path / "film.mp4"
    assert main(["render", str(project), "--quiet", "-o", str(film)]) == 1
    report = json.loads((tmp_path / "film.mp4.check.json").read_text())
    assert report["passed"] is False and "silent" in report["problems"][0]
    printed = capsys.readouterr()
    assert "check: FAILED" in printed.out and "silent" in printed.err
