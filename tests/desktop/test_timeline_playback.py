"""Playing the timeline: a creator presses play and sees the export's frames in step
with the export's sound. This machine has no sound card, so the silent path runs for
real; the sound path runs against a stand-in sound card (a thread that asks for
samples at the device's pace), the one part no test machine has.

The suite saves screenshots/timeline_monitor.png: the monitor on the example project.
"""

from __future__ import annotations

import builtins
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from desktop.theme import apply_theme
from desktop.timeline_audio_output import RATE, sound_output_problem
from desktop.timeline_document import ProjectDocument
from desktop.timeline_monitor import TimelineMonitor
from desktop.timeline_playback import TimelinePlayer
from gpu.executor import Executor
from gpu.timeline_audio import AudioMixer
from gpu.timeline_frames import FrameCompositor
from nodes.media_files import VideoWriter, write_audio_file
from nodes.timeline import Project
from nodes.types import Audio

SCREENSHOT = Path(__file__).resolve().parents[2] / "screenshots" / "timeline_monitor.png"
EXAMPLE = Path(__file__).resolve().parents[2] / "resources" / "projects" / "example.json"
RED, BLUE = (220, 30, 30), (30, 30, 220)


# ----- a small real project ---------------------------------------------------------------------
def still(folder: Path, name: str, colour: tuple[int, int, int]) -> str:
    Image.fromarray(np.full((18, 32, 3), colour, np.uint8)).save(folder / name)
    return name


def tone(folder: Path, name: str, seconds: float) -> str:
    """A 440 Hz tone that starts at full swing (a cosine), so its first sample is not silence."""
    times = np.arange(int(seconds * RATE)) / RATE
    wave = (0.5 * np.cos(2 * np.pi * 440 * times)).astype(np.float32)
    write_audio_file(folder / name, Audio(np.stack([wave, wave]), RATE), "wav")
    return name


def title_graph(text: str = "Chapter one") -> dict:
    return {"format": "reelgraph.workflow", "version": 1, "nodes": {
        "card": {"type": "video.TitleCard", "inputs": {
            "text": text, "width": 320, "height": 180, "duration": 1.0, "fps": 10.0, "font_size": 36,
            "color": "#ffffff", "background": "#203040", "fade_in": 0.0, "fade_out": 0.0}}}}


def make_project(folder: Path, *, video: list[dict] | None = None, music: list[dict] | None = None,
                 graphs: dict | None = None) -> Project:
    document = {"format": "reelgraph.project", "version": 1, "name": "playback test", "graphs": graphs or {},
                "timeline": {"fps": 10.0, "width": 1280, "height": 720,
                             "video_tracks": [{"id": "V1", "clips": video or []}],
                             "audio_tracks": [{"id": "M1", "kind": "music", "clips": music}] if music else []}}
    return Project.from_dict(document, folder=folder)


def stills_and_title(folder: Path) -> Project:
    return make_project(folder, video=[
        {"id": "red", "source": {"image": still(folder, "red.png", RED)}, "start": 0.0, "out": 1.0},
        {"id": "blue", "source": {"image": still(folder, "blue.png", BLUE)}, "start": 0.6, "out": 1.0,
         "transition_in": {"kind": "crossfade", "duration": 0.4}},
        {"id": "title", "source": {"graph": "titles", "node": "card", "output": "video"}, "start": 1.6,
         "out": 1.0}], graphs={"titles": title_graph()})


# ----- the player under test ----------------------------------------------------------------------
@pytest.fixture
def executor(tmp_path: Path, registry: Any) -> Iterator[Executor]:
    with Executor(registry, output_dir=tmp_path / "graph-output", cpu_workers=2, previews=False) as running:
        yield running


@pytest.fixture
def open_player(qtbot: Any, executor: Executor, registry: Any) -> Iterator[Any]:
    players: list[TimelinePlayer] = []

    def start(project: Project, **options: Any) -> TimelinePlayer:
        document = ProjectDocument(project, registry=registry)
        player = TimelinePlayer(document, executor, **options)
        player.heard = []  # type: ignore[attr-defined]  # what the status bar would have shown
        player.message.connect(player.heard.append)  # type: ignore[attr-defined]
        player.handed = []  # type: ignore[attr-defined]  # what valuesReady gave the timeline view
        player.valuesReady.connect(player.handed.append)  # type: ignore[attr-defined]
        players.append(player)
        qtbot.waitUntil(lambda: player.ready, timeout=30000)
        return player

    yield start
    for player in players:
        player.shutdown()


def frame_at(qtbot: Any, player: TimelinePlayer, seconds: float) -> np.ndarray:
    """Seek and wait for the frame of that time."""
    frames: list[np.ndarray] = []
    player.frameReady.connect(frames.append)
    start = int(np.floor(seconds * player.fps + 1e-6)) / player.fps
    player.seek(seconds)
    qtbot.waitUntil(lambda: bool(frames) and player.shown_time == pytest.approx(start), timeout=10000)
    player.frameReady.disconnect(frames.append)
    return frames[-1]


def play_for(qtbot: Any, player: TimelinePlayer, seconds: float) -> None:
    player.play()
    qtbot.wait(round(seconds * 1000))


# ----- without sound --------------------------------------------------------------------------------
def test_without_a_sound_card_it_plays_silently_and_says_why(qtbot: Any, open_player: Any, tmp_path: Path) -> None:
    if not sound_output_problem():
        pytest.skip("this machine has a sound output; the silent path needs one without")
    player = open_player(make_project(tmp_path, video=[
        {"id": "red", "source": {"image": still(tmp_path, "red.png", RED)}, "start": 0.0, "out": 1.0}],
        music=[{"id": "bed", "source": {"file": tone(tmp_path, "bed.wav", 1.0)}, "start": 0.0, "out": None}]))
    assert player.audio_status == "Playing without sound: no audio output device was found"
    positions: list[float] = []
    player.positionChanged.connect(positions.append)
    with qtbot.waitSignal(player.playingChanged, timeout=5000) as started:
        player.play()
    assert started.args == [True]
    with qtbot.waitSignal(player.playingChanged, timeout=5000) as stopped:
        pass
    assert stopped.args == [False] and not player.playing
    assert player.position == pytest.approx(1.0)  # it stopped at the end of the timeline
    assert len(positions) >= 5 and positions == sorted(positions)  # about one per frame, forwards
    assert player.heard.count(player.audio_status) == 1
    play_for(qtbot, player, 0.2)  # a second play does not say it again
    assert player.heard.count(player.audio_status) == 1


def test_missing_portaudio_is_named_and_playback_still_runs(qtbot: Any, open_player: Any, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def without_portaudio(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sounddevice":  # what sounddevice raises when libportaudio2 is not installed
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_portaudio)
    player = open_player(make_project(tmp_path, video=[
        {"id": "red", "source": {"image": still(tmp_path, "red.png", RED)}, "start": 0.0, "out": 3.0}]))
    assert "PortAudio" in player.audio_status and "libportaudio2" in player.audio_status
    play_for(qtbot, player, 0.5)
    assert player.playing and 0.3 < player.position < 1.5
    assert any("PortAudio" in sentence for sentence in player.heard)


# ----- with sound -----------------------------------------------------------------------------------
class StandInSoundCard:
    """An output stream as sounddevice's: ``start`` makes a thread ask ``callback`` for
    ``blocksize`` frames at the device's pace; ``stalled`` holds it (a device that hangs)."""

    def __init__(self, samplerate: float, channels: int, dtype: str, callback: Any, blocksize: int = 1024,
                 **settings: Any) -> None:
        self.rate, self.channels, self.callback, self.blocksize = samplerate, channels, callback, blocksize
        self.received: list[np.ndarray] = []
        self.stalled = threading.Event()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        opened.append(self)

    def start(self) -> None:
        self._running.set()
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def _play(self) -> None:
        due = time.monotonic()
        while self._running.is_set():
            if not self.stalled.is_set():
                block = np.full((self.blocksize, self.channels), np.nan, np.float32)
                self.callback(block, self.blocksize, None, 0)
                self.received.append(block.copy())
            due += self.blocksize / self.rate
            time.sleep(max(0.0, due - time.monotonic()))

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join()

    abort = stop

    def close(self) -> None:
        self.stop()

    def played(self) -> np.ndarray:
        """What reached the speakers, frames × channels, less the silence before the sound arrived."""
        blocks = list(self.received)
        while blocks and not blocks[0].any():
            blocks.pop(0)
        return np.concatenate(blocks) if blocks else np.zeros((0, self.channels), np.float32)


opened: list[StandInSoundCard] = []


@pytest.fixture
def sound_card(monkeypatch: pytest.MonkeyPatch) -> list[StandInSoundCard]:
    module = types.ModuleType("sounddevice")
    module.OutputStream = StandInSoundCard  # type: ignore[attr-defined]
    module.query_devices = lambda: [{"name": "stand-in speakers", "max_output_channels": 2}]  # type: ignore
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    opened.clear()
    return opened


def test_with_sound_the_position_is_the_samples_played_not_the_wall_clock(
        qtbot: Any, open_player: Any, tmp_path: Path, sound_card: list[StandInSoundCard]) -> None:
    project = make_project(tmp_path, video=[
        {"id": "red", "source": {"image": still(tmp_path, "red.png", RED)}, "start": 0.0, "out": 4.0}],
        music=[{"id": "bed", "source": {"file": tone(tmp_path, "bed.wav", 4.0)}, "start": 0.0, "out": None}])
    player = open_player(project)
    assert player.audio_status == ""
    play_for(qtbot, player, 0.6)
    card = sound_card[-1]
    card.stalled.set()  # the device hangs: time goes on, the sound does not
    qtbot.wait(60)
    held = player.position
    qtbot.wait(400)
    assert player.position == held and player.playing
    played = card.played()
    assert held == pytest.approx(len(played) / RATE)
    assert 0.3 < held < 0.8
    card.stalled.clear()
    qtbot.waitUntil(lambda: player.position > held + 0.2, timeout=3000)
    player.pause()
    # what the device was handed is the export's mix, sample for sample
    expected = AudioMixer(project, {}, {"bed": 4.0, "red": 4.0}).mix(0, len(card.played())).T
    assert np.allclose(card.played(), expected, atol=1e-6)
    assert player.position == pytest.approx(len(card.played()) / RATE)


def test_with_sound_playback_stops_when_the_last_sample_is_played(
        qtbot: Any, open_player: Any, tmp_path: Path, sound_card: list[StandInSoundCard]) -> None:
    player = open_player(make_project(tmp_path, music=[
        {"id": "bed", "source": {"file": tone(tmp_path, "bed.wav", 0.5)}, "start": 0.0, "out": None}]))
    with qtbot.waitSignal(player.playingChanged, timeout=5000, check_params_cb=lambda playing: not playing):
        player.play()
    assert player.position == pytest.approx(0.5)
    assert len(sound_card[-1].played()) >= RATE // 2 and not sound_card[-1]._running.is_set()


# ----- pictures ---------------------------------------------------------------------------------------
def test_a_seek_shows_the_frame_the_export_draws_there(qtbot: Any, open_player: Any, tmp_path: Path) -> None:
    project = stills_and_title(tmp_path)
    player = open_player(project, audio=False)
    (values,) = player.handed  # the graph outputs, computed once through the executor
    assert set(values) == {"title"}
    lengths = {"red": 1.0, "blue": 1.0, "title": 1.0}
    sizes = {"red": (32, 18), "blue": (32, 18), "title": (320, 180)}
    preview = FrameCompositor(project, values, lengths, sizes, (640, 360), 10.0, "letterbox")
    full = FrameCompositor(project, values, lengths, sizes, (1280, 720), 10.0, "letterbox")
    for seconds in (0.25, 0.8, 1.35, 2.0, 0.0):  # red, the crossfade, blue, the title, and back
        shown = frame_at(qtbot, player, seconds)
        start = np.floor(seconds * 10 + 1e-6) / 10
        assert shown.shape == (360, 640, 3)
        assert np.array_equal(shown, preview.frame(start)), seconds
        scaled = cv2.resize(full.frame(start), (640, 360), interpolation=cv2.INTER_AREA)
        assert np.abs(shown.astype(int) - scaled).mean() < 4, seconds
    assert not player.playing


def counting_video(folder: Path, name: str, frames: int = 20) -> str:
    """A 10 fps video whose frame k is grey level 12·k: what shows tells which frame it is."""
    with VideoWriter(folder / name, 64, 36, 10.0, crf=1, preset="ultrafast", audio_rate=None) as writer:
        for index in range(frames):
            writer.write_frame(np.full((36, 64, 3), 12 * index, np.uint8))
    return name


def test_seeking_in_a_video_file_shows_its_frame_forwards_and_back(qtbot: Any, open_player: Any,
                                                                   tmp_path: Path) -> None:
    player = open_player(make_project(tmp_path, video=[
        {"id": "film", "source": {"file": counting_video(tmp_path, "film.mp4")}, "start": 0.0, "out": None}]),
        audio=False)
    assert player.duration == pytest.approx(2.0)
    for seconds in (0.5, 0.7, 0.75, 0.3, 1.8, 0.0, 1.95):  # small steps play through, jumps and going back seek
        level = int(frame_at(qtbot, player, seconds)[180, 320, 0])
        assert abs(level - 12 * int(seconds * 10 + 1e-6)) <= 3, (seconds, level)
    player.seek(0.0)
    shown: list[tuple[float | None, int]] = []
    player.frameReady.connect(lambda frame: shown.append((player.shown_time, int(frame[180, 320, 0]))))
    with qtbot.waitSignal(player.playingChanged, timeout=8000, check_params_cb=lambda playing: not playing):
        player.play()
    assert len(shown) >= 10 and all(abs(level - 12 * round(time * 10)) <= 3 for time, level in shown), shown


def test_a_file_that_breaks_after_opening_shows_black_and_says_so(qtbot: Any, open_player: Any,
                                                                  tmp_path: Path) -> None:
    player = open_player(make_project(tmp_path, video=[
        {"id": "film", "source": {"file": counting_video(tmp_path, "film.mp4")}, "start": 0.0, "out": None,
         "name": "Drone shot"}]), audio=False)
    (tmp_path / "film.mp4").write_bytes(b"not a video any more")  # the disk changed under the timeline
    assert not frame_at(qtbot, player, 1.0).any()
    qtbot.waitUntil(lambda: any("'Drone shot' (film)" in sentence for sentence in player.heard))
    assert not frame_at(qtbot, player, 1.5).any()  # left out from then on, and still playing along
    play_for(qtbot, player, 0.3)
    assert player.playing


def test_graph_clips_are_computed_and_handed_out(qtbot: Any, executor: Executor, registry: Any,
                                                 tmp_path: Path) -> None:
    document = ProjectDocument(stills_and_title(tmp_path), registry=registry)
    player = TimelinePlayer(document, executor, audio=False)
    try:
        with qtbot.waitSignal(player.valuesReady, timeout=30000) as ready:
            pass
        assert set(ready.args[0]) == {"title"}
        assert ready.args[0]["title"].frames.shape[1:] == (180, 320, 3)
        assert document.source_length("title") == pytest.approx(1.0)  # the timeline learns how long it is
    finally:
        player.shutdown()


def test_a_graph_that_fails_shows_black_and_names_its_clip(qtbot: Any, open_player: Any, tmp_path: Path) -> None:
    broken = {"format": "reelgraph.workflow", "version": 1, "nodes": {
        "photo": {"type": "image.Load", "inputs": {"path": str(tmp_path / "gone.png")}}}}
    player = open_player(make_project(tmp_path, video=[
        {"id": "red", "source": {"image": still(tmp_path, "red.png", RED)}, "start": 0.0, "out": 1.0},
        {"id": "photo", "source": {"graph": "pictures", "node": "photo", "output": "image"}, "start": 1.0,
         "out": 1.0, "name": "Holiday photo"}], graphs={"pictures": broken}), audio=False)
    (sentence,) = [sentence for sentence in player.heard if "photo" in sentence]
    assert "'Holiday photo' (photo)" in sentence and "gone.png" in sentence
    assert not frame_at(qtbot, player, 1.5).any()
    assert frame_at(qtbot, player, 0.5)[180, 320].tolist() == list(RED)


def test_an_edit_is_followed_and_the_position_kept(qtbot: Any, open_player: Any, tmp_path: Path) -> None:
    player = open_player(stills_and_title(tmp_path), audio=False)
    assert frame_at(qtbot, player, 1.3)[180, 320].tolist() == list(BLUE)
    frames: list[np.ndarray] = []
    player.frameReady.connect(frames.append)
    with qtbot.waitSignal(player.prepared, timeout=10000):
        player.document.delete_clips(["blue"])
    qtbot.waitUntil(lambda: bool(frames), timeout=5000)
    assert player.position == pytest.approx(1.3) and not frames[-1].any()


# ----- the monitor -------------------------------------------------------------------------------------
def test_monitor_shows_the_example_frame_the_time_and_why_it_is_silent(qtbot: Any, qapp: Any,
                                                                       open_player: Any) -> None:
    apply_theme(qapp)
    player = open_player(Project.load(EXAMPLE))
    monitor = TimelineMonitor(player)
    qtbot.addWidget(monitor)
    monitor.resize(720, 460)
    monitor.show()
    qtbot.waitExposed(monitor)
    shown = frame_at(qtbot, player, 5.0)
    qtbot.waitUntil(lambda: monitor.canvas.image is not None)
    assert shown[180, 320].any()  # the harbour, not black
    assert monitor.time_label.text() == "00:00:05:00 / 00:00:19:00"
    if player.audio_status:
        assert monitor.audio_label.isVisible() and monitor.audio_label.text() == player.audio_status
    rect = monitor.canvas.frame_rect()
    assert rect.width() / rect.height() == pytest.approx(16 / 9, rel=0.01)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    monitor.grab().save(str(SCREENSHOT))
    monitor.setFocus()
    qtbot.keyClick(monitor, Qt.Key.Key_Space)
    assert player.playing
    qtbot.wait(300)
    qtbot.keyClick(monitor, Qt.Key.Key_Space)
    assert not player.playing and player.position > 5.1
    monitor.to_start_button.click()
    assert player.position == 0.0
