"""The main window as a creator uses it: open, build, edit, connect, undo, run with
Ctrl+Enter, look at the results, cancel with Esc, and find the layout as they left it.

Runs offscreen through the real Executor; a test node type steps slowly so runs can
be watched and cancelled. The suite saves screenshots/main_window.png for a person
to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from desktop.files import UnsavedChoice
from desktop.file_inputs import ColourEditor, FileEditor, ImageDropTarget, ModelEditor
from desktop.input_widgets import BoolEditor, ChoiceEditor, LinkedView, MultilineEditor, UnlinkedView
from desktop.number_inputs import NumberEditor, SeedEditor
from desktop.inspector import RANDOMIZE_FIELD
from desktop.preload import preload_picture_libraries
from desktop.main_window import MainWindow, settings_file
from desktop.theme import apply_theme
from gpu.executor import Executor
from nodes.graph import Graph
from nodes.registry import builtin_registry
from nodes.spec import Input, Output, node
from nodes.types import FLOAT, IMAGE, INT, Video
from resources import example_workflow

SCREENSHOT = Path(__file__).resolve().parents[2] / "screenshots" / "main_window.png"


@node("test.SlowSteps", category="test", description="Draws a bar one slow step at a time, with step previews.",
      inputs=[Input("steps", INT, default=20, min=1, max=100_000), Input("delay", FLOAT, default=0.02, min=0.0,
                                                                          max=5.0)],
      outputs=[Output("image", IMAGE)], output=True)
def slow_steps(ctx: Any, steps: int, delay: float) -> np.ndarray:
    image = np.zeros((24, 64, 3), np.uint8)
    for step in range(steps):
        ctx.cancel.wait(delay)
        image[:, : round(64 * (step + 1) / steps)] = (0, 255, 234)
        ctx.progress((step + 1) / steps, preview=image.copy())
    return image


@pytest.fixture(scope="module")
def test_registry():
    registry = builtin_registry()
    registry.register(slow_steps, "tests")
    return registry


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """Each test gets its own user data folder: settings, recent files, recovery copies."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("REELGRAPH_HOME", str(folder))
    return folder


@pytest.fixture
def open_window(qapp, qtbot, test_registry, home, tmp_path):
    apply_theme(qapp)
    preload_picture_libraries()  # as the app does (see desktop/preload.py)
    made: list[tuple[MainWindow, Executor]] = []

    def open_one(**options: Any) -> MainWindow:
        executor = Executor(test_registry, output_dir=tmp_path / "output", cpu_workers=2)
        window = MainWindow(test_registry, executor, autosave=False, **options)
        window.files.ask_unsaved_choice = lambda: UnsavedChoice.DISCARD  # no modal dialog in tests
        window.files.show_error = lambda title, text: pytest.fail(f"error dialog: {title}: {text}")
        window.resize(1440, 900)
        window.show()
        qtbot.waitExposed(window)
        made.append((window, executor))
        return window

    yield open_one
    for window, executor in made:
        window.close()
        executor.close()


@pytest.fixture
def window(open_window) -> MainWindow:
    return open_window()


@pytest.fixture
def states(window) -> list[tuple[str, str, str]]:
    """Every run state the controller gives the canvas: (node id, state, message)."""
    seen: list[tuple[str, str, str]] = []
    original = window.graph_view.set_run_state

    def record(node_id: str, state: str, fraction: Any = None, preview: Any = None, message: str = "") -> None:
        seen.append((node_id, state, message))
        original(node_id, state, fraction, preview, message)

    window.graph_view.set_run_state = record
    return seen


def press(qtbot, window: MainWindow, key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier):
    """A key press as the creator makes it, on the canvas (shortcuts work window-wide)."""
    window.activateWindow()
    window.graph_view.setFocus()
    qtbot.keyClick(window.graph_view, key, modifiers)


def run_and_wait(qtbot, window: MainWindow, timeout: int = 20_000) -> Any:
    with qtbot.waitSignal(window.run_controller.runFinished, timeout=timeout) as finished:
        press(qtbot, window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    return finished.args[0]


def build_new(window: MainWindow) -> None:
    window.new_action.trigger()
    assert window.document.graph.nodes == {}


# ----- opening ------------------------------------------------------------------------------------
def test_the_window_opens_with_the_starter_workflow_and_every_panel(window):
    assert len(window.document.graph.nodes) == 10
    assert window.windowTitle().startswith("Hello, Reelgraph")
    assert not window.document.modified and window.document.path is None
    assert window.centralWidget() is window.central_tabs and window.central_tabs.widget(0) is window.graph_view
    for panel in window.panels:
        assert panel.isVisible() and not panel.collapsed
    assert window.run_action.shortcuts()[0].toString() == "Ctrl+Return"
    assert window.undo_action.shortcuts()[0].toString() == "Ctrl+Z"
    assert window.redo_action.shortcuts()[0].toString() == "Ctrl+Shift+Z"
    assert window.cancel_action.shortcuts()[0].toString() == "Esc" and not window.cancel_action.isEnabled()


def test_a_panel_folds_to_its_title_and_unfolds(window, qtbot):
    panel = window.inspector_panel
    tall, wide = panel.height(), panel.width()
    panel.set_collapsed(True)
    qtbot.waitUntil(lambda: panel.height() < 60)
    assert panel.widget().height() == 0 and panel.width() == wide  # the column keeps its width
    qtbot.waitUntil(lambda: window.viewer_panel.height() > tall)  # the panel below takes the room
    panel.set_collapsed(False)
    qtbot.waitUntil(lambda: panel.height() > tall - 40)

    row = window.progress_panel  # beside the log: folds to its title's width, the log keeps its height
    log_height = window.log_dock.height()
    row.set_collapsed(True)
    qtbot.waitUntil(lambda: row.width() < 260)
    assert window.log_dock.height() == log_height and row.widget().width() == 0


# ----- building and editing ---------------------------------------------------------------------------
def test_build_edit_connect_and_undo_from_the_ui(window, qtbot):
    build_new(window)
    document = window.document
    solid = window.graph_view.add_node_at_cursor("image.Solid")
    blur = window.graph_view.add_node_at_cursor("image.Blur")
    document.connect(solid, "image", blur, "image")
    window.graph_view.select([blur])
    inspector = window.inspector
    assert inspector.node_id == blur
    assert isinstance(inspector.editor("image"), LinkedView)
    assert "linked to Solid" in inspector.editor("image").label.text()

    radius = inspector.editor("radius")
    assert isinstance(radius, NumberEditor) and radius.slider is not None
    radius.spin.setValue(12.5)
    assert document.graph.nodes[blur].inputs["radius"] == 12.5
    assert window.isWindowModified()

    press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the edit
    assert document.graph.nodes[blur].inputs["radius"] == 4.0
    assert radius.spin.value() == 4.0  # the inspector follows the document
    press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert document.graph.nodes[blur].inputs["radius"] == 12.5

    window.undo_action.trigger()
    window.undo_action.trigger()  # the link
    assert "image" not in document.graph.nodes[blur].inputs
    qtbot.waitUntil(lambda: isinstance(inspector.editors.get("image"), ImageDropTarget))
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert document.graph.nodes == {}
    assert inspector.node_id is None


def test_inspector_editors_follow_each_spec(window, qtbot, home, monkeypatch):
    models = home / "models"
    (models / "checkpoints").mkdir(parents=True)
    (models / "checkpoints" / "dreamy.ckpt").write_bytes(b"not really weights")
    monkeypatch.setenv("REELGRAPH_MODELS", str(models))
    build_new(window)
    add = window.document.add_node
    expected = {
        "image.Solid": {"width": NumberEditor, "color": ColourEditor},
        "image.Blend": {"base": ImageDropTarget, "factor": NumberEditor, "mode": ChoiceEditor},
        "image.Load": {"path": FileEditor},
        "core.Seed": {"seed": SeedEditor, "mode": ChoiceEditor},
        "core.String": {"value": MultilineEditor},
        "core.Bool": {"value": BoolEditor},
        "model.Checkpoint": {"checkpoint": ModelEditor},
        "model.LoRA": {"model": UnlinkedView},
    }
    for type_name, editors in expected.items():
        window.graph_view.select([add(type_name)])
        for name, kind in editors.items():
            assert isinstance(window.inspector.editor(name), kind), (type_name, name)
    assert window.inspector.editor("lora").names() == []  # no LoRAs in the folder
    checkpoint = next(node_id for node_id, item in window.document.graph.nodes.items()
                      if item.type == "model.Checkpoint")
    window.graph_view.select([checkpoint])
    picker = window.inspector.editor("checkpoint")
    assert picker.names() == ["dreamy.ckpt"]
    picker.combo.setCurrentIndex(0)
    picker.combo.activated.emit(0)
    assert window.document.graph.nodes[checkpoint].inputs["checkpoint"] == "dreamy.ckpt"


def test_seed_rolls_locks_and_every_change_is_undoable(window, qtbot):
    build_new(window)
    document = window.document
    seed = document.add_node("core.Seed", inputs={"seed": 7})
    window.graph_view.select([seed])
    editor = window.inspector.editor("seed")
    editor.randomize()
    rolled = document.graph.nodes[seed].inputs["seed"]
    assert rolled != 7 or editor.field.text() == "7"
    window.undo_action.trigger()
    assert document.graph.nodes[seed].inputs["seed"] == 7 and editor.field.text() == "7"

    editor.lock_button.click()  # unlocked: a new seed on every run
    assert document.field(seed, RANDOMIZE_FIELD) == ["seed"]
    run_and_wait(qtbot, window)
    assert document.graph.nodes[seed].inputs["seed"] != 7
    assert window.run_controller.last_result.outputs[seed]["seed"] == document.graph.nodes[seed].inputs["seed"]
    window.undo_action.trigger()  # the roll
    assert document.graph.nodes[seed].inputs["seed"] == 7
    window.undo_action.trigger()  # the unlock
    assert document.field(seed, RANDOMIZE_FIELD) is None
    assert window.inspector.editor("seed").lock_button.isChecked()


def test_dropping_a_picture_on_an_image_input_loads_it_in_one_undo_step(window, tmp_path):
    picture = tmp_path / "sketch.png"
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(picture)
    build_new(window)
    document = window.document
    blur = document.add_node("image.Blur", (400, 0))
    window.graph_view.select([blur])
    target = window.inspector.editor("image")
    assert isinstance(target, ImageDropTarget)
    target.fileChosen.emit(str(picture))
    loader = document.graph.nodes[blur].inputs["image"][0]
    assert document.graph.nodes[loader].type == "image.Load"
    assert document.graph.nodes[loader].inputs["path"] == str(picture)
    window.undo_action.trigger()
    assert list(document.graph.nodes) == [blur]


def test_the_inspector_commits_a_prompt_being_typed_when_the_run_starts(window, qtbot):
    build_new(window)
    text = window.document.add_node("core.String")
    window.graph_view.select([text])
    editor = window.inspector.editor("value")
    editor.field.setPlainText("a red fox at dawn")
    result = run_and_wait(qtbot, window)
    assert window.document.graph.nodes[text].inputs["value"] == "a red fox at dawn"
    assert result.outputs[text]["value"] == "a red fox at dawn"


# ----- running --------------------------------------------------------------------------------------
def test_ctrl_enter_runs_the_graph_and_the_result_appears_in_the_viewer(window, qtbot, states):
    result = run_and_wait(qtbot, window)
    assert result.ok and len(result.executed) == 10
    assert window.viewer.source_node == "10"  # the Preview node
    assert window.viewer.array.shape == (216, 384, 3)
    assert {state for node_id, state, _ in states if node_id == "4"} >= {"queued", "running", "done"}
    assert window.progress.state_of("9") == "done" and window.progress.overall() == 1.0
    assert any("saved" in entry.message for entry in window.log_panel.entries())
    assert window.run_action.isEnabled() and not window.cancel_action.isEnabled()

    window.graph_view.select(["1"])  # the selected node's output goes to the viewer
    assert window.viewer.source_node == "1" and window.viewer.array.shape == (432, 768, 3)


def test_a_second_run_comes_from_the_cache_and_only_changed_nodes_run_again(window, qtbot, states):
    run_and_wait(qtbot, window)
    states.clear()
    second = run_and_wait(qtbot, window)
    assert second.ok and second.executed == [] and set(second.cached) == {"9", "10"}  # the outputs, at once
    assert window.progress.state_of("10") == "cached"
    assert ("10", "cached", "") in states
    assert "cached" in window.log_panel.entries()[-1].message

    window.graph_view.select(["5"])
    window.inspector.editor("color").field.setText("#ff8800")
    window.inspector.editor("color").commit_pending()
    third = run_and_wait(qtbot, window)
    assert set(third.executed) == {"5", "6", "8", "9", "10"}
    assert set(third.cached) == {"4", "7"}  # the untouched branches come from the cache


def test_the_ui_keeps_working_while_a_slow_graph_runs(window, qtbot, states):
    build_new(window)
    document = window.document
    slow = [document.add_node("test.SlowSteps", (0, 120 * index), {"steps": 15, "delay": 0.02})
            for index in range(3)]
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    with qtbot.waitSignal(window.run_controller.runFinished, timeout=20_000) as finished:
        assert window.run() is True
        assert window.run_controller.running  # submit returned while the nodes still run
        qtbot.waitUntil(lambda: window.progress.state_of(slow[0]) == "running")
        qtbot.waitUntil(lambda: 0 < window.progress.overall())
        assert window.progress.overall() < 1
        assert window.progress.headline.text().startswith("Running 3 node(s)")
        document.add_node("core.Int")  # editing goes on during the run
    timer.stop()
    assert finished.args[0].ok and ticks
    assert window.viewer.array.shape == (24, 64, 3)
    assert {"running", "done"} <= {state for node_id, state, _ in states if node_id == slow[2]}
    assert len(document.graph.nodes) == 4


def test_esc_cancels_a_slow_run_and_keeps_what_finished(window, qtbot, states):
    build_new(window)
    slow = window.document.add_node("test.SlowSteps", inputs={"steps": 2000, "delay": 0.01})
    assert window.run()
    qtbot.waitUntil(lambda: window.progress.state_of(slow) == "running")
    assert window.cancel_action.isEnabled()
    with qtbot.waitSignal(window.run_controller.runFinished, timeout=10_000) as finished:
        press(qtbot, window, Qt.Key.Key_Escape)
    result = finished.args[0]
    assert result.cancelled and result.elapsed < 5
    assert window.progress.state_of(slow) == "idle"
    assert (slow, "idle", "cancelled") in states
    assert not window.log_panel.errors()
    assert window.log_panel.entries()[-1].message.startswith("Cancelled")
    assert window.run_action.isEnabled()


def test_a_failing_node_is_highlighted_and_its_error_listed(window, qtbot, states, tmp_path):
    build_new(window)
    document = window.document
    load = document.add_node("image.Load", inputs={"path": str(tmp_path / "missing.png")})
    preview = document.add_node("image.Preview", (300, 0))
    solid = document.add_node("image.Solid", (0, 200), {"width": 8, "height": 8})
    document.connect(load, "image", preview, "image")
    other = document.add_node("image.Preview", (300, 200))
    document.connect(solid, "image", other, "image")
    result = run_and_wait(qtbot, window)
    assert load in result.errors and other in result.outputs  # the other branch still ran
    assert any(node_id == load and state == "error" and "not found" in message for node_id, state, message in states)
    errors = window.log_panel.errors()
    assert errors[0].node_id == load and "missing.png" in errors[0].message
    assert window.log_dock.isVisible() and not window.log_dock.collapsed

    window.graph_view.select([])
    window.log_panel.tree.itemClicked.emit(window.log_panel.tree.topLevelItem(0), 0)
    assert window.graph_view.selected_ids() == [load]  # the log entry leads to the node


def test_an_invalid_workflow_shows_its_report_and_highlights_the_nodes(window, qtbot, states):
    build_new(window)
    blur = window.document.add_node("image.Blur")
    preview = window.document.add_node("image.Preview")
    window.document.connect(blur, "image", preview, "image")
    with qtbot.waitSignal(window.run_controller.runFinished) as finished:
        press(qtbot, window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert finished.args[0] is None and not window.run_controller.running
    assert any(node_id == blur and state == "error" for node_id, state, _ in states)
    logged = [entry for entry in window.log_panel.errors() if entry.node_id == blur]
    assert logged and "image" in logged[0].where


# ----- the viewer --------------------------------------------------------------------------------
def test_the_viewer_steps_through_video_frames(window):
    frames = np.zeros((5, 16, 24, 3), np.uint8)
    for index in range(5):
        frames[index] = index * 50
    viewer = window.viewer
    assert viewer.show_value(Video(frames, 8.0), "clip")
    assert not viewer.frame_bar.isHidden() and viewer.frame_slider.maximum() == 4
    viewer.frame_slider.setValue(3)
    assert int(viewer.array[0, 0, 0]) == 150 and viewer.frame_label.text() == "4 / 5"
    viewer.toggle_playing()
    assert viewer._player.isActive()
    viewer.toggle_playing()
    assert not viewer.show_value("some text")  # not a picture: the viewer keeps what it shows
    viewer.canvas.set_zoom(3.0)
    viewer.canvas.fit()
    assert viewer.canvas.zoom is None


# ----- layout and the last workflow --------------------------------------------------------------------
def test_the_layout_and_the_last_workflow_come_back_on_the_next_launch(open_window, qtbot, tmp_path, home):
    first = open_window()
    saved = tmp_path / "mine.json"
    first.files.ask_save_path = lambda suggested: saved
    first.document.add_node("core.Int")
    assert first.files.save()
    first.resize(760, 620)  # the offscreen screen is 800×800; a restore keeps the window on it
    first.viewer_panel.hide()
    first.inspector_panel.set_collapsed(True)
    first.removeDockWidget(first.log_dock)
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.log_dock)
    first.log_dock.show()
    QApplication.processEvents()
    first.close()
    assert settings_file().is_file()
    assert QSettings(str(settings_file()), QSettings.Format.IniFormat).value("window/state") is not None

    second = MainWindow(first.registry, first.executor, autosave=False)
    second.files.ask_unsaved_choice = lambda: UnsavedChoice.DISCARD
    try:
        assert (second.width(), second.height()) == (760, 620)
        assert second.viewer_panel.isHidden()
        assert second.inspector_panel.collapsed
        assert second.dockWidgetArea(second.log_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
        assert second.document.path == saved and len(second.document.graph.nodes) == 11
        assert second.windowTitle().startswith("mine.json")
        second.reset_layout()
        assert not second.inspector_panel.collapsed and not second.viewer_panel.isHidden()
    finally:
        second.close()


# ----- the screenshot ----------------------------------------------------------------------------------
def test_screenshot_of_the_main_window_after_a_run(window, qtbot):
    run_and_wait(qtbot, window)
    window.graph_view.select(["6"])
    window.graph_view.fit_all()
    QApplication.processEvents()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert window.grab().save(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_run_gets_its_own_copy_of_the_workflow(window):
    from desktop.run_controller import snapshot

    graph = window.document.graph
    graph.nodes["1"].extra["collapsed"] = True
    copied = snapshot(graph)
    assert copied.to_dict() == Graph.from_dict(graph.to_dict()).to_dict()
    copied.nodes["4"].inputs["base"][0] = "2"
    copied.nodes["1"].extra["collapsed"] = False
    assert graph.nodes["4"].inputs["base"] == ["1", "image"] and graph.nodes["1"].extra["collapsed"] is True


def test_text_being_typed_stays_with_its_own_workflow(window):
    window.graph_view.select(["7"])
    window.inspector.editor("expression").field.setText("a * 3")  # typed, not committed yet
    window.document.replace(Graph.load(example_workflow("hello")), None)  # another workflow opens
    assert window.document.graph.nodes["7"].inputs["expression"] == "a / 2"
    assert window.inspector.node_id is None and not window.document.modified


def test_generation_libraries_are_loaded_on_the_gui_thread_before_the_first_gpu_run(window, qtbot, monkeypatch):
    import threading

    import desktop.run_controller as run_controller

    loads = []
    monkeypatch.setattr(run_controller, "generation_libraries_missing", lambda: not loads)
    monkeypatch.setattr(run_controller, "preload_generation_libraries",
                        lambda: loads.append(threading.current_thread() is threading.main_thread()) or [])
    run_and_wait(qtbot, window)  # the starter workflow has no GPU node
    assert loads == []
    build_new(window)
    window.document.add_node("diffusion.TextToImage")  # a GPU node (invalid here: no model linked)
    with qtbot.waitSignal(window.run_controller.runFinished):
        window.run()
    assert loads == [True]
    with qtbot.waitSignal(window.run_controller.runFinished):
        window.run()
    assert loads == [True]  # once


def test_files_dropped_on_the_canvas_open_a_workflow_or_load_pictures(window, qtbot, tmp_path):
    picture = tmp_path / "photo.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(picture)
    build_new(window)
    window.open_dropped_files([str(picture)])
    (loader,) = window.document.graph.nodes.values()
    assert loader.type == "image.Load" and loader.inputs["path"] == str(picture)

    workflow = tmp_path / "dropped.json"
    Graph.load(example_workflow("hello")).save(workflow)
    window.document.undo_stack.setClean()
    window.open_dropped_files([str(workflow)])
    qtbot.waitUntil(lambda: window.document.path == workflow)
    assert len(window.document.graph.nodes) == 10
