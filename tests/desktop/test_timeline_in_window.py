"""The creator's path from a graph to an episode in the main window: run a node, send its clip to
the timeline, edit it there with the window's Undo, open the episode project, export it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop.files import UnsavedChoice
from desktop.main_window import MainWindow
from desktop.preload import preload_picture_libraries
from desktop.theme import apply_theme
from gpu.executor import Executor
from nodes.graph import Graph
from nodes.registry import builtin_registry
from nodes.timeline import GraphSource, Project
from resources import example_project

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

TITLE_WORKFLOW = """{"format": "reelgraph.workflow", "version": 1, "nodes": {
  "card": {"type": "video.TitleCard", "inputs": {"text": "Chapter one", "width": 320, "height": 180,
           "duration": 1.5, "fps": 12, "font_size": 28, "background": "#203a60"}, "pos": [0, 0]}}}"""


@pytest.fixture
def window(qapp, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("REELGRAPH_HOME", str(tmp_path / "home"))
    apply_theme(qapp)
    preload_picture_libraries()
    executor = Executor(builtin_registry(), output_dir=tmp_path / "output", cpu_workers=2)
    made = MainWindow(executor.registry, executor, open_last=False, autosave=False, audio=False)
    made.files.ask_unsaved_choice = lambda: UnsavedChoice.DISCARD
    made.timeline.files.ask_unsaved_choice = lambda: UnsavedChoice.DISCARD
    made.timeline.files.show_error = lambda title, text: pytest.fail(f"error dialog: {title}: {text}")
    made.resize(1440, 900)
    made.show()
    qtbot.waitExposed(made)
    yield made
    made.close()
    executor.close()


def run_and_wait(qtbot: Any, window: MainWindow) -> None:
    with qtbot.waitSignal(window.run_controller.runFinished, timeout=60_000):
        assert window.run()


def test_a_titles_clip_goes_to_the_timeline_and_the_timelines_undo_takes_it_back(window: MainWindow,
                                                                                  qtbot: Any) -> None:
    window.document.replace(Graph.loads(TITLE_WORKFLOW), None)
    run_and_wait(qtbot, window)
    window.graph_view.select(["card"])
    window.timeline.send_action.trigger()
    project = window.timeline.document.project
    (track, clip), = list(project.timeline.clips())
    assert isinstance(clip.source, GraphSource) and clip.source.node == "card"
    assert clip.source_out == pytest.approx(1.5) and not track.is_audio
    assert window.timeline.view.selected_clips() == [clip.id]
    # Working in the timeline, the window's Undo undoes the timeline, not the graph.
    window.timeline.view.setFocus()
    qtbot.waitUntil(lambda: window.undo_group.activeStack() is window.timeline.document.undo_stack)
    window.undo_action.trigger()
    assert list(project.timeline.clips()) == [] and not project.graphs
    assert "card" in window.document.graph.nodes
    window.redo_action.trigger()
    assert len(list(project.timeline.clips())) == 1
    window.graph_view.setFocus()
    qtbot.waitUntil(lambda: window.undo_group.activeStack() is window.document.undo_stack)


def test_nothing_to_send_says_so(window: MainWindow, qtbot: Any) -> None:
    window.document.replace(Graph.loads(TITLE_WORKFLOW), None)
    window.graph_view.select(["card"])
    with qtbot.waitSignal(window.timeline.hint) as said:
        window.timeline.send_action.trigger()
    assert "Run the graph first" in said.args[0]
    assert not list(window.timeline.document.project.timeline.clips())


def test_the_example_episode_opens_plays_silently_and_exports(window: MainWindow, qtbot: Any, tmp_path: Path) -> None:
    timeline = window.timeline
    assert timeline.files.open_path(example_project())
    assert window.windowTitle().find("example.json") > 0
    timeline.view.zoom_to_fit()
    with qtbot.waitSignal(timeline.player.valuesReady, timeout=60_000) as computed:
        timeline.player.seek(5.0)
    assert {"opening", "line1"} <= set(computed.args[0])
    qtbot.waitUntil(lambda: timeline.player.shown_time is not None and abs(timeline.player.shown_time - 5.0) < 0.1,
                    timeout=60_000)
    window.timeline_panel.raise_()
    window.monitor_panel.raise_()
    QApplication.processEvents()
    qtbot.waitUntil(lambda: timeline.view.grab() is not None and not timeline.view.loader.busy, timeout=30_000)
    qtbot.wait(200)
    SCREENSHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SCREENSHOTS / "main_window_timeline.png"))
    dialog = timeline.open_export()
    dialog.set_output_path(tmp_path / "cut.mp4")
    dialog.set_range(2.5, 3.5)
    with qtbot.waitSignal(dialog.finished_export, timeout=120_000) as finished:
        assert dialog.start_export()
    result = finished.args[0]
    assert result.path == tmp_path / "cut.mp4" and result.path.is_file() and result.ok
    dialog.close()


def test_a_pinned_live_result_goes_to_the_graph_and_to_the_timeline(window: MainWindow, qtbot: Any,
                                                                     tmp_path: Path) -> None:
    from PIL import Image

    picture = tmp_path / "live-sketch_00001.png"
    Image.new("RGB", (64, 64), (250, 120, 30)).save(picture)
    window.document.replace(Graph(), None)
    window.show_live_sketch()
    assert window.central_tabs.currentWidget() is window.live_sketch
    window.live_sketch.pinToGraph.emit(str(picture))
    (node,) = window.document.graph.nodes.values()
    assert node.type == "image.Load" and node.inputs["path"] == str(picture)
    window.live_sketch.pinToTimeline.emit(str(picture))
    ((track, clip),) = list(window.timeline.document.project.timeline.clips())
    assert clip.source.path == str(picture) and not track.is_audio
    QApplication.processEvents()
    window.grab().save(str(SCREENSHOTS / "main_window_live_sketch.png"))
