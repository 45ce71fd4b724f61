"""File ▸ Export as a creator uses it: pick a preset, watch the export move, read the
check of the written file; cancel half way and find no file; export a project with a
missing file and read what to fix, fix it and export again.

Exports are real (the shared Executor computes the graph clips, PyAV writes the file)
but short: title cards and solid colours made by graphs, a second or two of timeline.
The suite saves screenshots/export_dialog.png (finished) and export_dialog_running.png.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from desktop.export_dialog import ExportDialog
from desktop.theme import apply_theme
from gpu.executor import Executor
from gpu.timeline_render import PRESETS, RenderProgress
from nodes.graph import Graph
from nodes.media_files import probe, read_frames
from nodes.registry import builtin_registry
from nodes.timeline import Clip, FileSource, GraphSource, Project, Timeline, Track
from resources import FOLDER as RESOURCES

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
EXPORT_SECONDS = 60.0  # long enough that Cancel always lands mid-export


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[Executor]:
    with Executor(builtin_registry(), output_dir=tmp_path / "graph-output", cpu_workers=2, previews=False) as running:
        yield running


def cards_project(folder: Path, picture_seconds: float = 0.5) -> Project:
    """An opening title card (a 1 s video from a graph) followed by a solid colour still."""
    cards = Graph()
    cards.add("video.TitleCard", {"text": "Chapter One", "width": 320, "height": 180, "duration": 1.0, "fps": 24.0,
                                  "fade_in": 0.0, "fade_out": 0.0}, node_id="title")
    cards.add("image.Solid", {"width": 32, "height": 18, "color": "#1d3557"}, node_id="sky")
    video = Track("V1", clips=[Clip("title", GraphSource("cards", "title", "video"), 0.0),
                               Clip("sky", GraphSource("cards", "sky", "image"), 1.0, source_out=picture_seconds)])
    return Project(Timeline(24.0, 1280, 720, [video]), {"cards": cards}, "Short Film", folder=folder)


def open_dialog(qtbot: Any, project: Project, executor: Executor, folder: Path) -> ExportDialog:
    dialog = ExportDialog(project, executor, default_folder=folder)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_export_shows_progress_and_a_passing_check(qtbot: Any, qapp: Any, tmp_path: Path,
                                                    executor: Executor) -> None:
    apply_theme(qapp)
    dialog = open_dialog(qtbot, cards_project(tmp_path), executor, tmp_path / "exports")
    names = [dialog.preset_box.itemData(index) for index in range(dialog.preset_box.count())]
    assert names == list(PRESETS)
    assert "1080×1920" in dialog.preset_box.itemText(names.index("social"))
    assert "at most 15 s" in dialog.preset_box.itemText(names.index("social"))
    assert dialog.output_path == tmp_path / "exports" / "Short-Film-low.mp4"
    dialog.set_preset("high")
    assert dialog.output_path.name == "Short-Film-high.mp4"  # the suggested name follows the preset
    dialog.set_preset("low")

    seen: list[RenderProgress] = []
    dialog.progressed.connect(seen.append)
    shown_while_encoding: list[tuple[str, str]] = []

    def shoot_while_running(progress: RenderProgress) -> None:
        if progress.stage == "frames" and progress.done > 0 and not shown_while_encoding:
            shown_while_encoding.append((dialog.stage_label.text(), dialog.time_label.text()))
            dialog.grab().save(str(SCREENSHOTS / "export_dialog_running.png"))

    SCREENSHOTS.mkdir(exist_ok=True)
    dialog.progressed.connect(shoot_while_running)
    with qtbot.waitSignal(dialog.finished_export, timeout=60_000) as finished:
        assert dialog.start_export()
        assert dialog.running and not dialog.export_button.isEnabled() and not dialog.preset_box.isEnabled()
    result = finished.args[0]
    output = tmp_path / "exports" / "Short-Film-low.mp4"
    assert result.path == output and output.is_file()
    info = probe(output)
    assert (info.width, info.height, info.fps, info.frame_count) == (1280, 720, 24.0, 36)
    frames = [progress for progress in seen if progress.stage == "frames"]
    assert [progress.done for progress in frames] == sorted(progress.done for progress in frames)
    assert frames[0].done < frames[-1].done == frames[-1].total == 36
    assert any(progress.stage == "graphs" for progress in seen)
    (stage, times), = shown_while_encoding
    assert stage == "Encoding 24/36 frames" and times.startswith("Elapsed 0:0") and "left" in times
    assert result.check.passed and json.loads(result.check_path.read_text())["passed"] is True
    assert "Check passed" in dialog.result_label.text()
    assert str(result.check_path) in dialog.details_box.toPlainText()
    assert dialog.open_folder_button.isVisible() and dialog.export_button.isEnabled()
    # the file now exists: exporting again would replace it, and the dialog says so first
    assert dialog.overwrite_label.isVisible() and "replace" in dialog.export_button.text().lower()
    dialog.grab().save(str(SCREENSHOTS / "export_dialog.png"))


def test_part_of_the_example_episode_for_social_with_a_fit_override(qtbot: Any, tmp_path: Path,
                                                                     executor: Executor) -> None:
    episode = Project.load(RESOURCES / "projects" / "example.json")
    dialog = open_dialog(qtbot, episode, executor, tmp_path)
    assert "at least 19.0 s" in dialog.whole_label.text()  # the voice lines' lengths come from their graphs
    dialog.set_preset("social")
    assert dialog.preset_note.isVisible() and "at most 15 s" in dialog.preset_note.text()
    assert dialog.output_path == tmp_path / "The-Lighthouse-Keeper-example-social.mp4"
    dialog.set_range(2.5, 4.5)  # the crossfade into the harbour, and the narrator's first words
    dialog.set_fit("letterbox")
    with qtbot.waitSignal(dialog.finished_export, timeout=120_000) as finished:
        dialog.start_export()
    result = finished.args[0]
    assert result.ok and (result.start, result.end, result.frames) == (2.5, 4.5, 60)
    assert (result.check.width, result.check.height, result.check.has_audio) == (1080, 1920, True)
    first = next(iter(read_frames(result.path)))  # the opening card, letterboxed as asked, not cropped to fill
    assert first[40, 540].max() < 8 and first[960, 40, 2] > 30


def test_cancel_mid_export_leaves_no_file(qtbot: Any, tmp_path: Path, executor: Executor) -> None:
    dialog = open_dialog(qtbot, cards_project(tmp_path, picture_seconds=EXPORT_SECONDS), executor, tmp_path)
    dialog.set_output_path(tmp_path / "long.mp4")
    encoded: list[int] = []

    def cancel_once_encoding(progress: RenderProgress) -> None:
        if progress.stage == "frames" and progress.done > 0 and not encoded:
            encoded.append(progress.done)
            dialog.cancel_button.click()

    dialog.progressed.connect(cancel_once_encoding)
    with qtbot.waitSignal(dialog.cancelled, timeout=60_000):
        dialog.start_export()
    assert encoded and encoded[0] < EXPORT_SECONDS * 24
    assert not dialog.running and dialog.export_button.isEnabled()
    assert "no file was written" in dialog.result_label.text()
    assert [path.name for path in tmp_path.iterdir() if path.is_file()] == []


def test_missing_file_is_named_and_the_creator_can_fix_it_and_retry(qtbot: Any, tmp_path: Path,
                                                                     executor: Executor) -> None:
    project = cards_project(tmp_path)
    project.timeline.video_tracks[0].clips.append(Clip("interview", FileSource("footage/interview.mp4"), 1.5,
                                                       source_out=1.0))
    dialog = open_dialog(qtbot, project, executor, tmp_path)
    dialog.set_range(0.0, 1.5)
    with qtbot.waitSignal(dialog.failed, timeout=60_000) as failure:
        dialog.start_export()
    assert "interview.mp4" in failure.args[0]
    assert "cannot be exported" in dialog.result_label.text()
    assert "interview.mp4" in dialog.details_box.toPlainText() and "'interview'" in dialog.details_box.toPlainText()
    assert dialog.isVisible() and dialog.export_button.isEnabled() and dialog.preset_box.isEnabled()
    assert not dialog.output_path.exists()
    SCREENSHOTS.mkdir(exist_ok=True)
    dialog.grab().save(str(SCREENSHOTS / "export_dialog_problems.png"))

    del project.timeline.video_tracks[0].clips[-1]  # the creator removes the clip whose file is gone
    with qtbot.waitSignal(dialog.finished_export, timeout=60_000) as finished:
        dialog.start_export()
    assert finished.args[0].ok and finished.args[0].frames == 36
    assert dialog.result_label.text().startswith("Check passed")


def test_close_while_exporting_cancels_first(qtbot: Any, tmp_path: Path, executor: Executor) -> None:
    dialog = open_dialog(qtbot, cards_project(tmp_path, picture_seconds=EXPORT_SECONDS), executor, tmp_path)
    dialog.set_output_path(tmp_path / "closing.mp4")
    with qtbot.waitSignal(dialog.cancelled, timeout=60_000):
        dialog.start_export()
        dialog.close_button.click()
        assert dialog.isVisible()  # it stays until the export has stopped
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
    assert not (tmp_path / "closing.mp4").exists()
