"""A creator sketches in the Live Sketch panel and the picture follows the pen: strokes
drawn with real mouse and tablet events, undo, fill, an imported picture under the
drawing, prompt and seed edits, variations to pick from, the session's history,
pins to the graph and the timeline, an exported session, the latency on screen, and
clear words when a model is missing or broken. Tiny random-weight models run the real
pipelines through the real executor on the CPU.

The suite saves screenshots/live_sketch.png: a sketch, its picture and variations."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QInputDevice, QPointingDevice, QTabletEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop.live_canvas_edits import FILL, pressure_width
from desktop.live_canvas_widget import LiveCanvasWidget
from desktop.live_sketch import LiveSketchPanel
from desktop.banner import ERROR, WARNING
from desktop.live_toolbar import OVERLAY, SIDE_BY_SIDE
from desktop.theme import apply_theme
from gpu.executor import Executor
from gpu.live import LiveResult
from gpu.live_history import read_history
from nodes.models import ModelRef
from nodes.user_folders import data_folder

SCREENSHOT = Path(__file__).resolve().parents[2] / "screenshots" / "live_sketch.png"
PATIENCE_MS = 60_000
PAINT_SIZE = 128


@pytest.fixture
def models(live_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REELGRAPH_MODELS", str(live_models))
    return live_models


Opener = Callable[..., LiveSketchPanel]


@pytest.fixture
def open_panel(qtbot, qapp, studio: Executor, models: Path) -> Iterator[Opener]:
    opened: list[LiveSketchPanel] = []
    apply_theme(qapp)

    def open_one(models_root: Path | None = None, model: str | None = "tiny-sd-x8") -> LiveSketchPanel:
        panel = LiveSketchPanel(studio, models_root=models_root or models)
        qtbot.addWidget(panel)
        opened.append(panel)
        panel.resize(1440, 860)
        panel.show()
        qtbot.waitExposed(panel)
        if model is not None:
            pick(panel.controls.model_combo, model)  # the creator picks the style
        pick(panel.controls.paint_size, f"{PAINT_SIZE} px")
        panel.controls.steps.setValue(1)
        return panel

    yield open_one
    for panel in opened:
        panel.shutdown()


def pick(combo, text: str) -> None:
    index = combo.findText(text)
    assert index >= 0, f"{text!r} is not offered"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def draw(canvas: LiveCanvasWidget, points: list[tuple[float, float]], pause_ms: int = 0) -> None:
    """A stroke with the mouse through canvas pixels ``points``: press, moves, release."""
    at = [canvas.from_canvas(QPointF(x, y)).toPoint() for x, y in points]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[0])
    for point in at[1:]:
        QTest.mouseMove(canvas, point)
        if pause_ms:
            QTest.qWait(pause_ms)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[-1])


def line(start: tuple[float, float], end: tuple[float, float], count: int = 12) -> list[tuple[float, float]]:
    return [(start[0] + (end[0] - start[0]) * step / count, start[1] + (end[1] - start[1]) * step / count)
            for step in range(count + 1)]


def box(left: float, top: float, right: float, bottom: float) -> list[tuple[float, float]]:
    return (line((left, top), (right, top)) + line((right, top), (right, bottom))[1:]
            + line((right, bottom), (left, bottom))[1:] + line((left, bottom), (left, top))[1:])


def wait_for_picture(qtbot, panel: LiveSketchPanel,
                     arrived: Callable[[LiveResult], bool] = lambda result: True) -> LiveResult:
    """Wait until the newest picture passes ``arrived`` and the session rests, as the
    panel sees it too: its busy dot goes out after the last picture was delivered."""
    qtbot.waitUntil(lambda: panel.latest is not None and arrived(panel.latest) and panel.session is not None
                    and not panel.session.busy and not panel.status.dot.busy, timeout=PATIENCE_MS)
    assert panel.latest is not None
    return panel.latest


def thickness(ink: np.ndarray, column: int) -> int:
    """How many rows the ink covers in one column."""
    return int((ink[:, column, 3] > 127).sum())


# ----- drawing and the picture that follows --------------------------------------------------------
def test_a_stroke_drawn_with_the_mouse_changes_the_canvas_and_its_picture_follows(open_panel, qtbot):
    panel = open_panel()
    canvas = panel.canvas
    assert canvas.is_blank() and panel.result_view.image is None
    with qtbot.waitSignal(panel.resultShown, timeout=PATIENCE_MS):
        draw(canvas, line((80, 400), (420, 120), 30))
    assert canvas.ink[:, :, 3].any(), "the stroke is on the canvas"
    result = wait_for_picture(qtbot, panel)
    assert result.image.shape == (PAINT_SIZE, PAINT_SIZE, 3)
    assert np.array_equal(result.sketch, canvas.picture()), "the picture was painted from the finished stroke"
    assert panel.result_view.image is not None and panel.result_view.image.width() == PAINT_SIZE
    latency = panel.status.latency.text()
    assert latency.startswith("stroke → picture ") and "ms (model " in latency
    shown, model = (float(part.split(" ms")[0]) for part in latency.split("picture ")[1].split("(model "))
    assert 0 < model <= shown, "the model's time is part of the stroke's"
    assert panel.status.state.text() == "Ready" and not panel.status.dot.busy
    kept = result.sketch.copy()
    draw(canvas, box(100, 100, 200, 200))
    assert np.array_equal(result.sketch, kept), "the session keeps its own copy: new strokes do not reach it"
    wait_for_picture(qtbot, panel, lambda newer: newer.canvas_version > result.canvas_version)


def test_the_session_hears_of_a_moving_pen_at_most_every_30_ms_and_once_at_pen_up(open_panel, qtbot):
    panel = open_panel()
    heard: list[bool] = []
    panel.canvas.changed.connect(heard.append)
    started = time.perf_counter()
    draw(panel.canvas, line((50, 50), (450, 450), 60))  # 60 moves as fast as events go
    elapsed = time.perf_counter() - started
    assert heard[-1] is False, "pen up paints at once"
    assert heard.count(False) == 1 and 1 <= heard.count(True) <= 2 + elapsed / 0.030 < 60
    wait_for_picture(qtbot, panel)


def test_a_light_tablet_pen_draws_a_thinner_line_than_full_pressure(open_panel, qtbot):
    panel = open_panel(model=None)
    canvas = panel.canvas
    canvas.set_brush_size(24)
    stylus = QPointingDevice("test stylus", 7, QInputDevice.DeviceType.Stylus, QPointingDevice.PointerType.Pen,
                             QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 2)
    for kind, x in ((QEvent.Type.TabletPress, 100), *((QEvent.Type.TabletMove, x) for x in range(110, 420, 10)),
                    (QEvent.Type.TabletRelease, 410)):
        position = canvas.from_canvas(QPointF(x, 150))
        held = Qt.MouseButton.NoButton if kind == QEvent.Type.TabletRelease else Qt.MouseButton.LeftButton
        event = QTabletEvent(kind, stylus, position, canvas.mapToGlobal(position), 0.2, 0.0, 0.0, 0.0, 0.0, 0.0,
                             Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, held)
        assert QApplication.sendEvent(canvas, event) and event.isAccepted()
    draw(canvas, line((100, 350), (410, 350), 30))  # a mouse presses fully
    light, full = thickness(canvas.ink[:250], 250), thickness(canvas.ink[250:], 250)
    assert 0 < light < full / 2, f"a light touch ({light} px) draws thinner than a full one ({full} px)"
    assert pressure_width(24, 1.0) == 24 and pressure_width(24, 0.0) > 0
    assert pressure_width(24, 0.2) < pressure_width(24, 0.6) < pressure_width(24, 1.0)


def test_undo_takes_back_the_last_stroke_and_redo_brings_it_back(open_panel, qtbot):
    panel = open_panel()
    canvas = panel.canvas
    draw(canvas, line((60, 100), (460, 100)))
    first = canvas.picture()
    draw(canvas, box(150, 200, 350, 400))
    both = canvas.picture()
    assert not np.array_equal(first, both)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(canvas.picture(), first), "Ctrl+Z takes the box away"
    wait_for_picture(qtbot, panel, lambda result: np.array_equal(result.sketch, first))
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(canvas.picture(), both), "Ctrl+Shift+Z brings it back"
    panel.toolbar.undo_button.click()
    panel.toolbar.undo_button.click()
    assert canvas.is_blank()
    assert not panel.toolbar.undo_button.isEnabled() and panel.toolbar.redo_button.isEnabled()
    wait_for_picture(qtbot, panel)


def test_fill_colours_the_inside_of_a_shape_and_not_the_outside(open_panel, qtbot):
    panel = open_panel()
    canvas = panel.canvas
    draw(canvas, box(150, 150, 350, 350))
    panel.toolbar.tool_buttons[FILL].click()
    panel.toolbar.set_colour(QColor("#e84545"))
    assert canvas.tool == FILL
    draw(canvas, [(250, 250)])  # a click inside the box
    assert canvas.ink[250, 250].tolist() == [0xE8, 0x45, 0x45, 255]
    assert canvas.ink[160, 160].tolist() == [0xE8, 0x45, 0x45, 255], "the fill reaches the corner"
    assert canvas.ink[50, 50, 3] == 0 and canvas.ink[400, 250, 3] == 0, "outside the box stays paper"
    assert canvas.ink[150, 250, :3].tolist() != [0xE8, 0x45, 0x45], "the line stays on top"
    result = wait_for_picture(qtbot, panel, lambda result: result.sketch[250, 250, 0] == 0xE8)
    assert result.image.shape == (PAINT_SIZE, PAINT_SIZE, 3)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.ink[250, 250, 3] == 0, "the fill is one undo step"


def test_an_imported_picture_lies_under_the_drawing_and_the_eraser_uncovers_it(open_panel, qtbot, tmp_path):
    panel = open_panel()
    canvas = panel.canvas
    photo = np.zeros((100, 200, 3), dtype=np.uint8)
    photo[:, :, 2] = 200  # a blue picture twice as wide as high
    Image.fromarray(photo).save(tmp_path / "sky.png")
    panel.ask_image_path = lambda: tmp_path / "sky.png"
    panel.toolbar.importRequested.emit()
    assert canvas.base is not None and canvas.base.shape == (512, 512, 3)
    assert canvas.base[256, 256].tolist() == [0, 0, 200] and canvas.base[10, 256].tolist() == [255, 255, 255]
    draw(canvas, line((100, 256), (400, 256)))
    assert canvas.picture()[256, 250].tolist() == [27, 31, 36], "ink over the picture"
    canvas.set_tool("eraser")
    canvas.set_brush_size(30)
    draw(canvas, line((100, 256), (400, 256)))
    assert canvas.picture()[256, 250].tolist() == [0, 0, 200], "erasing uncovers the picture"
    result = wait_for_picture(qtbot, panel, lambda result: result.sketch.shape == (512, 512, 3))
    assert result.sketch[256, 250].tolist() == [0, 0, 200]


def test_clear_gives_a_blank_page_and_undo_brings_the_drawing_back(open_panel, qtbot):
    panel = open_panel()
    canvas = panel.canvas
    draw(canvas, box(100, 100, 200, 200))
    drawn = canvas.picture()
    canvas.clear()
    assert canvas.is_blank()
    canvas.undo_stack.undo()
    assert np.array_equal(canvas.picture(), drawn)
    pick(panel.toolbar.size_combo, "768 × 512")
    assert canvas.picture().shape == (512, 768, 4), "a wider canvas, the drawing scaled to it"
    wait_for_picture(qtbot, panel, lambda result: result.sketch.shape == (512, 768, 4))


# ----- settings -------------------------------------------------------------------------------------------
def test_typing_a_new_prompt_paints_the_sketch_again(open_panel, qtbot):
    panel = open_panel()
    draw(panel.canvas, box(120, 120, 380, 380))
    first = wait_for_picture(qtbot, panel)
    panel.controls.prompt.setFocus()
    qtbot.keyClicks(panel.controls.prompt, "a lighthouse at night")
    again = wait_for_picture(qtbot, panel, lambda result: result.settings.prompt == "a lighthouse at night")
    assert again.request > first.request and again.canvas_version == first.canvas_version
    assert not np.array_equal(first.image, again.image), "another prompt, another picture"
    seed = panel.session.settings.seed
    panel.controls.dice.click()
    rolled = wait_for_picture(qtbot, panel, lambda result: result.settings.seed != seed)
    assert rolled.settings.seed == panel.session.settings.seed != seed


def test_variations_fill_the_strip_and_clicking_one_adopts_its_seed(open_panel, qtbot):
    panel = open_panel()
    draw(panel.canvas, box(100, 150, 400, 380))
    wait_for_picture(qtbot, panel)
    seed = panel.session.settings.seed
    panel.variation_strip.count.setValue(3)
    panel.variation_strip.ask_button.click()
    qtbot.waitUntil(lambda: len(panel.variation_strip.buttons) == 3, timeout=PATIENCE_MS)
    strip = panel.variation_strip.variations
    assert len({variation.seed for variation in strip}) == 3
    with qtbot.waitSignal(panel.resultShown, timeout=PATIENCE_MS) as shown:
        panel.variation_strip.buttons[1].click()
    assert shown.args[0].source == "variation" and shown.args[0].image is strip[1].image
    assert panel.session.settings.seed == strip[1].seed != seed
    assert panel.controls.seed.text() == str(strip[1].seed), "the seed field shows the adopted seed"
    assert panel.variation_strip.buttons[1].isChecked()
    assert panel.shown is strip[1].image


def test_the_history_scrubs_back_to_an_older_picture_and_its_sketch(open_panel, qtbot):
    panel = open_panel()
    canvas = panel.canvas
    draw(canvas, line((60, 60), (460, 60)))
    first = wait_for_picture(qtbot, panel)
    draw(canvas, box(150, 150, 400, 400))
    second = wait_for_picture(qtbot, panel, lambda result: result.canvas_version > first.canvas_version)
    history = panel.session.history
    assert len(history) >= 2 and panel.history_bar.following
    panel.history_bar.scrub_to(0)
    assert not panel.history_bar.following
    assert np.array_equal(panel.shown, history[0].image()) and np.array_equal(panel.shown, first.image)
    assert not panel.history_bar.sketch.pixmap().isNull(), "its sketch is shown beside the slider"
    assert panel.history_bar.position.text().startswith(f"1 / {len(history)}")
    panel.history_bar.restore_button.click()
    assert np.array_equal(canvas.picture(), first.sketch), "the old sketch can come back to the canvas"
    assert panel.history_bar.following, "drawing (or restoring) follows the newest picture again"
    wait_for_picture(qtbot, panel, lambda result: result.canvas_version > second.canvas_version)


def test_export_writes_the_session_as_a_zip_that_reads_back(open_panel, qtbot, tmp_path):
    panel = open_panel()
    for top in (100, 250):
        draw(panel.canvas, line((80, top), (430, top)))
        wait_for_picture(qtbot, panel, lambda result, top=top: result.sketch[top, 250, 3] > 0)
    target = tmp_path / "my sketch"
    panel.ask_save_path = lambda: target
    with qtbot.waitSignal(panel.message, timeout=PATIENCE_MS,
                          check_params_cb=lambda text: text.startswith("Exported")):
        panel.export_button.click()
    manifest, entries = read_history(tmp_path / "my sketch.zip")
    history = panel.session.history.entries()
    assert manifest["format"] == "reelgraph.live-session" and len(entries) == len(history) >= 2
    assert np.array_equal(entries[-1].image, panel.latest.image)
    assert np.array_equal(entries[-1].sketch, panel.canvas.picture())


def test_pinning_saves_a_png_and_sends_it_to_the_graph_or_the_timeline(open_panel, qtbot):
    panel = open_panel()
    assert panel.pin("graph") is None and "Nothing to pin" in panel.banner.text()
    draw(panel.canvas, box(200, 100, 300, 400))
    result = wait_for_picture(qtbot, panel)
    with qtbot.waitSignal(panel.pinToGraph) as pinned:
        panel.pin_graph_button.click()
    path = Path(pinned.args[0])
    assert path.parent == data_folder() / "live" and path.suffix == ".png"
    assert [item.name for item in path.parent.iterdir() if item.name.startswith(".")] == [], "no temporary left"
    with Image.open(path) as saved:
        assert np.array_equal(np.asarray(saved), result.image)
        assert '"seed": %d' % result.settings.seed in saved.text["reelgraph.live"]
    with qtbot.waitSignal(panel.pinToTimeline) as sent:
        panel.pin_timeline_button.click()
    assert Path(sent.args[0]) != path and Path(sent.args[0]).is_file()


def test_overlay_lays_the_picture_over_the_canvas_at_the_chosen_opacity(open_panel, qtbot):
    panel = open_panel()
    draw(panel.canvas, box(100, 100, 400, 400))
    wait_for_picture(qtbot, panel)
    panel.toolbar.view_buttons[OVERLAY].click()
    assert panel.canvas.overlay_visible and not panel.picture_side.isVisible()
    assert panel.toolbar.opacity_slider.isEnabled()
    panel.toolbar.opacity_slider.setValue(45)
    assert panel.grab().save(str(SCREENSHOT.with_name("live_sketch_overlay.png")))
    panel.toolbar.opacity_slider.setValue(100)
    middle = panel.canvas.from_canvas(QPointF(256, 256)).toPoint()
    covered = panel.canvas.grab().toImage().pixelColor(middle)
    picture = panel.canvas.overlay.scaled(512, 512).pixelColor(256, 256)
    assert covered != QColor("white"), "the picture covers the paper"
    assert abs(covered.red() - picture.red()) < 40 and abs(covered.green() - picture.green()) < 40
    panel.toolbar.view_buttons[SIDE_BY_SIDE].click()
    assert panel.picture_side.isVisible() and not panel.canvas.overlay_visible


# ----- when something is missing or broken ----------------------------------------------------------------
def test_without_a_model_the_panel_says_where_to_put_one_and_the_canvas_still_draws(open_panel, qtbot,
                                                                                     tmp_path, models):
    empty = tmp_path / "empty-models"
    panel = open_panel(models_root=empty, model=None)
    assert panel.session is None
    assert panel.banner.isVisible() and panel.banner.kind == WARNING
    assert str(empty / "checkpoints") in panel.banner.text() and "Look again" == panel.banner.action_button.text()
    draw(panel.canvas, line((50, 50), (300, 300)))
    assert panel.canvas.ink[:, :, 3].any(), "drawing works without a model"
    qtbot.wait(200)  # the first layout settles
    assert panel.grab().save(str(SCREENSHOT.with_name("live_sketch_no_model.png")))
    shutil.copytree(models / "checkpoints" / "tiny-sd-x8", empty / "checkpoints" / "tiny-sd-x8")
    panel.banner.action_button.click()
    assert panel.session is not None and not panel.banner.isVisible()
    assert "No model" not in panel.result_view.placeholder
    pick(panel.controls.paint_size, f"{PAINT_SIZE} px")
    panel.controls.steps.setValue(1)
    result = wait_for_picture(qtbot, panel)
    assert np.array_equal(result.sketch, panel.canvas.picture()), "the sketch drawn before is painted"


def test_a_broken_model_is_said_in_a_banner_and_the_canvas_keeps_working(open_panel, qtbot, tmp_path, models):
    panel = open_panel()
    draw(panel.canvas, line((50, 200), (450, 200)))
    wait_for_picture(qtbot, panel)
    panel.set_model(ModelRef(str(tmp_path / "nowhere")))
    qtbot.waitUntil(lambda: panel.banner.isVisible() and panel.banner.kind == ERROR, timeout=PATIENCE_MS)
    assert "does not exist" in panel.banner.text()
    before = panel.canvas.picture()
    draw(panel.canvas, line((50, 300), (450, 300)))
    assert not np.array_equal(before, panel.canvas.picture()), "the canvas keeps drawing"
    pick(panel.controls.model_combo, "tiny-sd-x8")
    panel.controls.steps.setValue(1)
    result = wait_for_picture(qtbot, panel, lambda result: result.sketch[300, 250, 3] > 0)
    assert result.image.shape == (PAINT_SIZE, PAINT_SIZE, 3) and not panel.banner.isVisible()


# ----- the screenshot ----------------------------------------------------------------------------------------
def test_screenshot_of_a_sketch_its_picture_and_variations(open_panel, qtbot):
    panel = open_panel()
    canvas = panel.canvas
    panel.controls.prompt.setPlainText("a lighthouse on a cliff at dusk, watercolour")
    panel.controls.steps.setValue(2)
    canvas.set_brush_size(7)
    draw(canvas, [(40 + step * 9, 430 - 40 * math.sin(step / 6)) for step in range(50)])  # the cliff
    wait_for_picture(qtbot, panel)
    draw(canvas, box(210, 170, 300, 420))  # the tower
    draw(canvas, line((190, 170), (320, 170)) + line((320, 170), (255, 110))[1:] + line((255, 110), (190, 170))[1:])
    panel.toolbar.set_colour(QColor("#ffd93d"))
    canvas.set_tool(FILL)
    draw(canvas, [(255, 150)])  # the lamp
    canvas.set_tool("pen")
    canvas.set_brush_size(4)
    for angle in (-0.35, -0.15, 0.15, 0.35):
        draw(canvas, line((330, 140), (330 + 150 * math.cos(angle), 140 + 150 * math.sin(angle)), 8))
    wait_for_picture(qtbot, panel, lambda result: np.array_equal(result.sketch, canvas.picture()))
    panel.variation_strip.ask_button.click()
    qtbot.waitUntil(lambda: len(panel.variation_strip.buttons) == 4 and not panel.session.busy,
                    timeout=PATIENCE_MS)
    time.sleep(0.05)
    qtbot.wait(50)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(SCREENSHOT))
