"""The timeline widget, driven the way a creator drives it: dragging clips and their
edges with the mouse, keys for split, delete and zoom, the ruler to scrub. Every
gesture lands in the ProjectDocument as one undo step, refusals come back as a hint
with the clip where it was, and thumbnails and waveforms show up from real files
(a damaged one is marked, not fatal)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from desktop import timeline_style as style
from desktop.timeline_document import ProjectDocument
from desktop.timeline_media import Peaks, envelope
from desktop.timeline_view import TimelineView
from nodes.media_files import VideoWriter, write_audio_file
from nodes.timeline import Project
from nodes.types import Audio

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
LEFT = Qt.MouseButton.LeftButton
NO_KEYS = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
RATE = 8000
#: The zoom most tests work at: a second is 100 pixels, so pixels read as hundredths.
SCALE = 100.0
RED, BLUE = (220, 40, 40), (40, 60, 220)


# ----- media and projects ------------------------------------------------------------------------------
def write_video(path: Path, seconds: float = 3.0, fps: float = 10.0) -> Path:
    """A small H.264 file: red for its first second, blue after, with a loud tone."""
    with VideoWriter(path, 64, 36, fps, preset="ultrafast", audio_rate=RATE, audio_channels=1) as writer:
        for number in range(round(seconds * fps)):
            writer.write_frame(np.full((36, 64, 3), RED if number < fps else BLUE, np.uint8))
        times = np.arange(round(seconds * RATE)) / RATE
        writer.write_audio((0.8 * np.sin(2 * np.pi * 330 * times)).astype(np.float32)[None], RATE)
    return path


def write_tone(path: Path, seconds: float = 3.0) -> Path:
    times = np.arange(round(seconds * RATE)) / RATE
    return write_audio_file(path, Audio((0.8 * np.sin(2 * np.pi * 220 * times)).astype(np.float32)[None], RATE))


def clip(clip_id: str, source: dict, start: float, out: float, source_in: float = 0.0, **more: Any) -> dict:
    return {"id": clip_id, "source": source, "start": start, "in": source_in, "out": out, **more}


@pytest.fixture
def media(tmp_path: Path) -> Path:
    write_video(tmp_path / "walk.mp4")
    write_tone(tmp_path / "voice.wav")
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return tmp_path


def make_project(folder: Path, video: list[list[dict]], audio: list[list[dict]] | None = None,
                 markers: list[dict] | None = None) -> Project:
    document = {
        "format": "reelgraph.project", "version": 1, "name": "Test", "graphs": {},
        "timeline": {"fps": 10, "width": 64, "height": 36,
                     "video_tracks": [{"id": f"V{index + 1}", "clips": clips} for index, clips in enumerate(video)],
                     "audio_tracks": [{"id": f"A{index + 1}", "kind": "voice", "clips": clips}
                                      for index, clips in enumerate(audio or [])],
                     "markers": markers or []},
    }
    return Project.from_dict(document, folder=folder)


@pytest.fixture
def two_clips(media: Path) -> Project:
    """V1: walk 0–2 s ("a"), walk 4–6 s ("b"); V2 empty; A1: a voice 0–3 s."""
    walk = {"file": "walk.mp4"}
    return make_project(media, [[clip("a", walk, 0.0, 2.0), clip("b", walk, 4.0, 3.0, source_in=1.0)], []],
                        [[clip("voice", {"file": "voice.wav"}, 0.0, 3.0)]])


def make_view(qtbot: Any, project: Project) -> TimelineView:
    document = ProjectDocument(project)
    view = TimelineView(document)
    view.resize(1100, 380)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.set_pixels_per_second(SCALE)
    view.canvas.scroll_to_x(-style.LEFT_PAD)
    view.canvas.setFocus()
    return view


@pytest.fixture
def view(qtbot: Any, two_clips: Project) -> TimelineView:
    return make_view(qtbot, two_clips)


# ----- pointing at things -------------------------------------------------------------------------------
def start_of(view: TimelineView, clip_id: str) -> float:
    return view.document.find_clip(clip_id)[1].start


def track_of(view: TimelineView, clip_id: str) -> str:
    return view.document.find_clip(clip_id)[0].id


def on_clip(view: TimelineView, clip_id: str, x: float | None = None) -> QPoint:
    """Viewport pixels of a point in a clip: ``x`` pixels from its left edge (default: the middle)."""
    item = view.timeline_scene.items_by_id[clip_id]
    local = item.width / 2 if x is None else x
    return view.canvas.mapFromScene(item.pos() + QPointF(local, item.height / 2))


def drag(qtbot: Any, view: TimelineView, start: QPoint, end: QPoint, modifiers=NO_KEYS, steps: int = 6,
         during: Any = None) -> None:
    viewport = view.canvas.viewport()
    qtbot.mousePress(viewport, LEFT, modifiers, start)
    for step in range(1, steps + 1):
        qtbot.mouseMove(viewport, start + (end - start) * (step / steps))
    if during is not None:
        during()
    qtbot.mouseRelease(viewport, LEFT, modifiers, end)


def press_key(qtbot: Any, view: TimelineView, key: Qt.Key, modifiers=NO_KEYS) -> None:
    qtbot.keyClick(view.canvas, key, modifiers)


def wheel(view: TimelineView, at: QPoint, delta: QPoint, modifiers=NO_KEYS) -> None:
    viewport = view.canvas.viewport()
    event = QWheelEvent(QPointF(at), QPointF(viewport.mapToGlobal(at)), QPoint(), delta, Qt.MouseButton.NoButton,
                        modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def colour_at(image: QImage, point: QPoint) -> tuple[int, int, int]:
    colour = QColor(image.pixel(point))
    return colour.red(), colour.green(), colour.blue()


# ----- moving ---------------------------------------------------------------------------------------------
def test_dragging_a_clip_moves_it_by_the_dragged_seconds_and_ctrl_z_puts_it_back(qtbot, view):
    drag(qtbot, view, on_clip(view, "b"), on_clip(view, "b") + QPoint(150, 0))
    assert start_of(view, "b") == pytest.approx(5.5, abs=0.011)
    assert view.document.undo_stack.count() == 1
    assert view.selected_clips() == ["b"]
    item = view.timeline_scene.items_by_id["b"]
    assert item.x() == pytest.approx(start_of(view, "b") * SCALE)
    press_key(qtbot, view, Qt.Key.Key_Z, CTRL)
    assert start_of(view, "b") == 4.0
    assert item.x() == pytest.approx(400.0)
    assert view.selected_clips() == ["b"]  # the selection survives the undo


def test_a_click_without_moving_only_selects(qtbot, view):
    with qtbot.waitSignal(view.selectionChanged) as selected:
        qtbot.mouseClick(view.canvas.viewport(), LEFT, NO_KEYS, on_clip(view, "a"))
    assert selected.args == [["a"]]
    assert view.document.undo_stack.count() == 0


def test_selected_clips_move_together_and_onto_another_track(qtbot, view):
    qtbot.mouseClick(view.canvas.viewport(), LEFT, NO_KEYS, on_clip(view, "a"))
    qtbot.mouseClick(view.canvas.viewport(), LEFT, CTRL, on_clip(view, "b"))
    assert view.selected_clips() == ["a", "b"]
    up_one_row = QPoint(60, -style.VIDEO_ROW)  # V2 is drawn above V1
    drag(qtbot, view, on_clip(view, "b"), on_clip(view, "b") + up_one_row)
    assert (track_of(view, "a"), track_of(view, "b")) == ("V2", "V2")
    assert start_of(view, "a") == pytest.approx(0.6, abs=0.011)
    assert start_of(view, "b") == pytest.approx(4.6, abs=0.011)
    assert view.document.undo_stack.count() == 1
    assert track_of(view, "voice") == "A1"  # sound stays on the audio tracks


def test_a_refused_move_jumps_back_and_says_why(qtbot, view):
    before = view.timeline_scene.items_by_id["a"].x()
    with qtbot.waitSignal(view.hint) as hint:
        drag(qtbot, view, on_clip(view, "a"), on_clip(view, "a") + QPoint(330, 0))  # onto "b"
    assert "overlap" in hint.args[0]
    assert start_of(view, "a") == 0.0
    assert view.timeline_scene.items_by_id["a"].x() == before
    assert view.document.undo_stack.count() == 0


# ----- trimming, splitting, deleting ------------------------------------------------------------------------
def test_dragging_an_edge_trims_the_clip(qtbot, view):
    item = view.timeline_scene.items_by_id["a"]
    view.canvas.viewport().setMouseTracking(True)
    qtbot.mouseMove(view.canvas.viewport(), on_clip(view, "a", item.width - 2))
    assert view.canvas.viewport().cursor().shape() == Qt.CursorShape.SizeHorCursor
    drag(qtbot, view, on_clip(view, "a", item.width - 2), on_clip(view, "a", item.width - 52))
    _, trimmed = view.document.find_clip("a")
    assert trimmed.source_out == pytest.approx(1.5, abs=0.011)
    assert item.width == pytest.approx(view.document.clip_length("a") * SCALE)
    drag(qtbot, view, on_clip(view, "b", 2), on_clip(view, "b", 102))  # the left edge takes the source with it
    _, late = view.document.find_clip("b")
    assert late.start == pytest.approx(5.0, abs=0.011) and late.source_in == pytest.approx(2.0, abs=0.011)
    assert view.document.undo_stack.count() == 2


def test_s_splits_the_selected_clip_at_the_playhead(qtbot, view):
    qtbot.mouseClick(view.canvas.viewport(), LEFT, NO_KEYS, on_clip(view, "b"))
    view.set_playhead(5.0)
    press_key(qtbot, view, Qt.Key.Key_S)
    track = view.document.track("V1")
    assert [(clip.start, clip.source_in) for clip in track.clips] == [(0.0, 0.0), (4.0, 1.0), (5.0, 2.0)]
    assert len(view.timeline_scene.items_by_id) == 4
    assert view.document.undo_stack.count() == 1
    press_key(qtbot, view, Qt.Key.Key_Z, CTRL)
    assert len(view.document.track("V1").clips) == 2 and len(view.timeline_scene.items_by_id) == 3


def test_s_with_nothing_selected_splits_every_clip_under_the_playhead_in_one_step(qtbot, view):
    view.set_playhead(1.0)
    press_key(qtbot, view, Qt.Key.Key_S)
    assert len(view.document.track("V1").clips) == 3 and len(view.document.track("A1").clips) == 2
    assert view.document.undo_stack.count() == 1
    view.set_playhead(3.5)
    with qtbot.waitSignal(view.hint) as hint:
        press_key(qtbot, view, Qt.Key.Key_S)
    assert "no clip under the playhead" in hint.args[0]


def test_delete_and_shift_delete_ripple(qtbot, view):
    qtbot.mouseClick(view.canvas.viewport(), LEFT, NO_KEYS, on_clip(view, "a"))
    press_key(qtbot, view, Qt.Key.Key_Delete, SHIFT)
    assert [clip.id for clip in view.document.track("V1").clips] == ["b"]
    assert start_of(view, "b") == pytest.approx(2.0)  # the gap closed
    assert start_of(view, "voice") == 0.0  # other tracks stay
    assert view.selected_clips() == []
    press_key(qtbot, view, Qt.Key.Key_Z, CTRL)
    qtbot.mouseClick(view.canvas.viewport(), LEFT, NO_KEYS, on_clip(view, "a"))
    press_key(qtbot, view, Qt.Key.Key_Delete)
    assert start_of(view, "b") == 4.0
    assert "a" not in view.timeline_scene.items_by_id


# ----- snapping -------------------------------------------------------------------------------------------
def test_snapping_pulls_a_drag_onto_a_neighbours_edge_and_n_turns_it_off(qtbot, view):
    seen: list[bool] = []
    grab = on_clip(view, "b", 50)
    snap_line = view.timeline_scene.snap_line
    drag(qtbot, view, grab, grab - QPoint(195, 0), during=lambda: seen.append(snap_line.isVisible()))
    assert seen == [True]  # the snap line showed where it would land
    assert start_of(view, "b") == pytest.approx(2.0)  # onto the end of "a" (2.05 s dragged)
    assert not view.timeline_scene.snap_line.isVisible()
    press_key(qtbot, view, Qt.Key.Key_Z, CTRL)
    press_key(qtbot, view, Qt.Key.Key_N)
    assert not view.snapping
    drag(qtbot, view, grab, grab - QPoint(195, 0))
    assert start_of(view, "b") == pytest.approx(2.05, abs=0.011)


def test_a_trimmed_edge_snaps_to_the_playhead(qtbot, view):
    view.set_playhead(1.25)
    item = view.timeline_scene.items_by_id["a"]
    drag(qtbot, view, on_clip(view, "a", item.width - 2), on_clip(view, "a", item.width - 72))  # to 1.28 s
    assert view.document.find_clip("a")[1].source_out == pytest.approx(1.25)


# ----- the ruler, the playhead, zoom ---------------------------------------------------------------------
def test_scrubbing_the_ruler_moves_the_playhead_and_says_where(qtbot, view):
    ruler = view.ruler
    x = round(ruler.x_of(3.0))
    with qtbot.waitSignal(view.playheadMoved) as moved:
        qtbot.mousePress(ruler, LEFT, NO_KEYS, QPoint(x, 20))
    assert moved.args == [pytest.approx(3.0)]
    positions: list[float] = []
    view.playheadMoved.connect(positions.append)
    qtbot.mouseMove(ruler, QPoint(x + 50, 20))
    qtbot.mouseRelease(ruler, LEFT, NO_KEYS, QPoint(x + 50, 20))
    assert positions and positions[-1] == pytest.approx(3.5)
    assert view.playhead == pytest.approx(3.5)
    assert view.timeline_scene.playhead_line.x() == pytest.approx(350.0)
    assert view.timecode.text() == "00:00:03:05"
    quiet: list[float] = []
    view.playheadMoved.connect(quiet.append)
    view.set_playhead(1.0)  # from playback: shown, not echoed
    assert quiet == [] and view.playhead == 1.0


def test_playback_past_the_right_edge_pages_the_tracks_along(qtbot, view):
    width = view.canvas.viewport().width()
    view.set_playhead(width / SCALE + 5.0)
    x = view.canvas.mapFromScene(view.timeline_scene.playhead_line.pos()).x()
    assert 0 < x < width
    press_key(qtbot, view, Qt.Key.Key_Home)  # back to the start, shown and said
    assert view.playhead == 0.0 and view.canvas.left_scene_x() < 1


def test_zoom_with_keys_ctrl_wheel_and_fit(qtbot, view):
    item = view.timeline_scene.items_by_id["b"]
    press_key(qtbot, view, Qt.Key.Key_Plus)
    assert view.pixels_per_second == pytest.approx(SCALE * style.ZOOM_STEP)
    assert item.width == pytest.approx(2.0 * SCALE * style.ZOOM_STEP)
    press_key(qtbot, view, Qt.Key.Key_Minus)
    assert view.pixels_per_second == pytest.approx(SCALE)
    cursor = on_clip(view, "b")
    under = view.timeline_scene.time_of(view.canvas.mapToScene(cursor).x())
    wheel(view, cursor, QPoint(0, 240), CTRL)
    assert view.pixels_per_second > SCALE * 1.3
    assert view.timeline_scene.time_of(view.canvas.mapToScene(cursor).x()) == pytest.approx(under, abs=0.02)
    view.zoom_to_fit()
    right = view.canvas.mapFromScene(QPointF(view.timeline_scene.x_of(view.document.duration()), 0)).x()
    assert 0 < right <= view.canvas.viewport().width()
    assert view.zoom_slider.value() > 0


def test_the_wheel_scrolls_along_the_time(qtbot, view):
    view.set_pixels_per_second(400.0)
    before = view.canvas.left_scene_x()
    wheel(view, QPoint(200, 40), QPoint(0, -240))
    assert view.canvas.left_scene_x() > before


def test_opening_another_project_rebuilds_the_tracks_and_keeps_the_selection_by_id(qtbot, view, media):
    view.select_clips(["b", "voice"])
    walk = {"file": "walk.mp4"}
    other = make_project(media, [[clip("b", walk, 1.0, 2.0)], [clip("c", walk, 0.0, 1.0)], []])
    with qtbot.waitSignal(view.selectionChanged) as selected:
        view.document.replace(other)
    assert selected.args == [["b"]]  # "voice" is gone, "b" is still there
    scene = view.timeline_scene
    assert sorted(scene.items_by_id) == ["b", "c"]
    assert [row.track_id for row in scene.rows] == ["V3", "V2", "V1"]  # the last video track on top
    assert scene.items_by_id["c"].y() < scene.items_by_id["b"].y()


def test_m_adds_a_marker_at_the_playhead(qtbot, view):
    view.set_playhead(2.5)
    press_key(qtbot, view, Qt.Key.Key_M)
    assert [marker.time for marker in view.document.project.timeline.markers] == [2.5]
    assert view.document.undo_stack.count() == 1


# ----- pictures and sound -------------------------------------------------------------------------------------
def settled_image(qtbot: Any, view: TimelineView, timeout: int = 15000) -> QImage:
    """The tracks as drawn once the media loader has made everything they asked for: each
    grab paints (and so asks), the wait lets the background work arrive."""
    images: list[QImage] = []

    def settled() -> bool:
        images.append(view.canvas.viewport().grab().toImage())
        return not view.loader.busy and len(images) > 1

    qtbot.waitUntil(settled, timeout=timeout)
    return images[-1]


def test_thumbnails_and_waveforms_appear_and_a_damaged_file_is_marked(qtbot, media):
    Image.fromarray(np.full((36, 64, 3), (240, 200, 0), np.uint8)).save(media / "title.png")
    project = make_project(media, [[clip("walk", {"file": "walk.mp4"}, 0.0, 3.0),
                                    clip("broken", {"file": "broken.mp4"}, 4.0, 6.0),
                                    clip("title", {"image": "title.png"}, 7.0, 2.0)]],
                           [[clip("voice", {"file": "voice.wav"}, 0.0, 3.0)]])
    view = make_view(qtbot, project)
    items = view.timeline_scene.items_by_id
    walk, voice, broken, title = (items[name] for name in ("walk", "voice", "broken", "title"))
    image = settled_image(qtbot, view)
    yellow = colour_at(image, view.canvas.mapFromScene(QPointF(title.x() + 150, title.y() + style.LABEL_HEIGHT + 8)))
    assert yellow[0] > 200 and yellow[1] > 160 and yellow[2] < 60  # the still, repeated along its clip
    assert "broken.mp4" in broken.problem() and "damaged" in broken.problem()
    assert walk.problem() is None and voice.problem() is None
    thumbnail_row = walk.y() + style.LABEL_HEIGHT + 8
    red = colour_at(image, view.canvas.mapFromScene(QPointF(walk.x() + 20, thumbnail_row)))
    blue = colour_at(image, view.canvas.mapFromScene(QPointF(walk.x() + 250, thumbnail_row)))
    assert red[0] > 150 and red[2] < 100  # the first second of the file
    assert blue[2] > 150 and blue[0] < 100  # the rest
    middle = voice.y() + style.LABEL_HEIGHT + (voice.height - style.LABEL_HEIGHT) / 2
    wave = colour_at(image, view.canvas.mapFromScene(QPointF(voice.x() + 100, middle - 8)))
    body = style.clip_colours("voice").body.color()
    assert sum(wave) > sum((body.red(), body.green(), body.blue())) + 150  # a loud tone fills the clip
    band = colour_at(image, view.canvas.mapFromScene(QPointF(walk.x() + 100, walk.y() + walk.height - 8)))
    assert band[1] > 120  # the walk's own sound, drawn at its foot
    hatch = [colour_at(image, view.canvas.mapFromScene(QPointF(broken.x() + x, broken.y() + broken.height - 6)))
             for x in range(20, 60)]
    assert any(red > 120 and red > blue + 40 for red, _, blue in hatch)  # marked in red, not left blank


def test_a_short_click_in_the_sound_shows_at_every_zoom():
    """The envelope is read once; each zoom takes the loudest bucket under each pixel column."""
    samples = np.zeros((1, 10 * RATE), np.float32)
    click = 5 * RATE + 17
    samples[0, click] = 0.9
    peaks = Peaks(*envelope(samples, RATE, 200.0), 200.0)
    for seconds_per_column in (0.001, 0.01, 0.37, 2.0):
        peak, rms = peaks.columns(0.0, seconds_per_column, int(np.ceil(10 / seconds_per_column)))
        column = int(click / RATE / seconds_per_column)
        assert peak[column] == pytest.approx(0.9)
        assert peak.max() == pytest.approx(0.9) and 0 < rms[column] < 0.9
        assert (peak > 0).sum() <= max(1, round(0.005 / seconds_per_column)) + 1  # silence stays silent
    assert peaks.columns(9.5, 0.1, 20)[0][5:].max() == 0.0  # past the end of the source: nothing


def test_graph_outputs_handed_over_draw_their_pictures_and_lengths(qtbot, media):
    from nodes.types import Video

    project = make_project(media, [[clip("made", {"graph": "g", "node": "n", "output": "video"}, 1.0, None)]])
    view = make_view(qtbot, project)
    item = view.timeline_scene.items_by_id["made"]
    assert item.look.media is None  # not computed yet: drawn with the default length
    assert item.width == pytest.approx(5.0 * SCALE)
    frames = np.zeros((20, 36, 64, 3), np.uint8)
    frames[:, :, :, 1] = 200
    view.set_clip_values({"made": Video(frames, 10.0)})
    assert view.document.clip_length("made") == pytest.approx(2.0)
    assert item.width == pytest.approx(2.0 * SCALE)
    image = settled_image(qtbot, view)
    green = colour_at(image, view.canvas.mapFromScene(QPointF(item.x() + 30, item.y() + style.LABEL_HEIGHT + 10)))
    assert green[1] > 150 and green[0] < 80


# ----- the screenshot ----------------------------------------------------------------------------------------
def test_screenshot_of_the_example_project(qtbot):
    """The shipped example with its graphs computed, as a creator sees it after opening it."""
    from desktop.theme import apply_theme
    from gpu.executor import Executor
    from gpu.timeline_render import compute_graph_outputs
    from nodes.context import CancelToken
    from nodes.registry import builtin_registry
    from resources import FOLDER

    apply_theme(QApplication.instance())
    project = Project.load(FOLDER / "projects" / "example.json")
    with Executor(builtin_registry(), output_dir=Path(tempfile.mkdtemp()), cpu_workers=2, previews=False) as running:
        values, _ = compute_graph_outputs(project, running, CancelToken(), lambda *parts: None)
    document = ProjectDocument(project)
    view = TimelineView(document)
    view.resize(1440, 330)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.set_clip_values(values)
    view.zoom_to_fit()
    view.select_clips(["harbour"])
    view.set_playhead(6.5)

    settled_image(qtbot, view, timeout=20000)
    assert view.timecode.text() == "00:00:06:12"
    SCREENSHOTS.mkdir(exist_ok=True)
    assert view.grab().save(str(SCREENSHOTS / "timeline_view.png"))
