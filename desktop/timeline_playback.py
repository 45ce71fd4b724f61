"""Playing the timeline: pictures from the export's FrameCompositor, sound from the
export's AudioMixer, so what the creator sees and hears is what the file will hold.

::

    player = TimelinePlayer(document, executor)
    player.frameReady.connect(monitor_canvas.show)      # preview frames (ndarrays)
    player.positionChanged.connect(timeline_view.set_playhead)
    player.play(); player.seek(12.5); player.pause()

With a sound card the sound sets the pace: the position is what the device has
been handed, and pictures follow it (dropped when late, never ahead of the sound).
Without one (no PortAudio, no output device) the timeline plays silently on a
monotonic clock and :attr:`TimelinePlayer.audio_status` says why.

Preparing (graph outputs through the shared Executor, probing files, building the
compositor and mixer) and composing frames both happen off the GUI thread; the
GUI thread only moves the clock and receives frames. Edits to the document are
followed after a short pause, keeping the position.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from desktop.timeline_audio_output import SILENT, SilentClock, SoundOutput, sound_output_problem
from desktop.timeline_preview import FrameWorker, Preview, PreviewBuilder, frame_index, preview_size

#: Edits closer together than this are prepared once.
REBUILD_DELAY_MS = 200


class TimelinePlayer(QObject):
    """Plays a ProjectDocument's timeline: the clock, frames and sound, and the transport."""

    positionChanged = Signal(float)
    frameReady = Signal(object)
    playingChanged = Signal(bool)
    message = Signal(str)
    valuesReady = Signal(dict)
    #: ``audio_status`` changed (the sentence, "" when sound plays).
    audioStatusChanged = Signal(str)
    #: A preparation of the timeline is in use (after opening and after each edit): duration, problems.
    prepared = Signal()
    _composed = Signal(object, float)
    _prepared = Signal(int, object, str)
    _reported = Signal(str)

    def __init__(self, document: Any, executor: Any, parent: QObject | None = None, *,
                 preview_height: int = 360, audio: bool = True) -> None:
        super().__init__(parent)
        self.document, self.executor = document, executor
        self.preview_height = preview_height
        self.sound = audio
        self._audio_status = sound_output_problem() if audio else f"{SILENT}: sound is turned off"
        self._told: set[str] = set()
        self._problems: set[str] = set()
        self._values_seen: dict[str, int] | None = None
        self._position = 0.0
        self._playing = False
        self._clock: SilentClock | SoundOutput | None = None
        self._preview: Preview | None = None
        self._generation = 0
        self._requested: int | None = None
        self._shown_time: float | None = None
        self._stopped = False

        self._composed.connect(self._on_composed, Qt.ConnectionType.QueuedConnection)
        self._prepared.connect(self._on_prepared, Qt.ConnectionType.QueuedConnection)
        self._reported.connect(self._tell, Qt.ConnectionType.QueuedConnection)
        self._frames = FrameWorker(self._composed.emit, self._reported.emit)
        self._builder = PreviewBuilder(executor, self._prepared.emit)
        self._rebuild_timer = QTimer(self)
        self._rebuild_timer.setSingleShot(True)
        self._rebuild_timer.setInterval(REBUILD_DELAY_MS)
        self._rebuild_timer.timeout.connect(self._rebuild)
        self._ticker = QTimer(self)
        self._ticker.setTimerType(Qt.TimerType.PreciseTimer)
        self._ticker.timeout.connect(self._tick)
        document.changed.connect(self._rebuild_timer.start)
        document.reset.connect(self._document_reset)
        self._rebuild()

    # ----- reading ------------------------------------------------------------------------------
    @property
    def position(self) -> float:
        """The timeline second playing (or the playhead, when paused)."""
        return self._clock.position() if self._clock is not None else self._position

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def audio_status(self) -> str:
        """"" when sound plays, else a sentence saying why playback is silent."""
        return self._audio_status

    @property
    def duration(self) -> float:
        """Seconds to the end of the last clip: the document's, or the prepared timeline's when longer
        (a preparation of the project as it was may still be in use while the new one is made)."""
        prepared = self._preview.duration if self._preview is not None else 0.0
        return max(prepared, float(self.document.duration()))

    @property
    def fps(self) -> float:
        """Frames per second of the timeline (24 while its own rate is out of range)."""
        if self._preview is not None:
            return self._preview.fps
        fps = float(self.document.project.timeline.fps)
        return fps if fps > 0 else 24.0

    @property
    def shown_time(self) -> float | None:
        """The timeline second where the frame last handed out by ``frameReady`` starts."""
        return self._shown_time

    @property
    def ready(self) -> bool:
        """Whether the timeline has been prepared once (before that no frame comes and nothing sounds)."""
        return self._preview is not None

    @property
    def problems(self) -> list[str]:
        """Why clips are left out of playback (black, silent), one sentence each."""
        return list(self._preview.problems) if self._preview is not None else []

    # ----- transport ----------------------------------------------------------------------------
    def play(self) -> None:
        """Play from the position; from the start when it is at the end."""
        if self._playing or self._stopped or self.duration <= 0:
            return
        if self._position >= self.duration - 0.5 / self.fps:
            self._position = 0.0
        self._playing = True
        self._start_clock()
        self._ticker.start(max(4, round(250 / self.fps)))
        self.playingChanged.emit(True)
        self._moved(self._position, force=True)

    def pause(self) -> None:
        if not self._playing:
            return
        self._stop_clock()
        self._playing = False
        self._ticker.stop()
        self.playingChanged.emit(False)
        self._moved(self._position, force=True)

    def toggle(self) -> None:
        self.pause() if self._playing else self.play()

    def seek(self, seconds: float) -> None:
        """Go to ``seconds`` (kept within the timeline) and show that frame, playing or not."""
        seconds = min(max(0.0, float(seconds)), max(0.0, self.duration))
        if self._playing:
            self._stop_clock()
            self._position = seconds
            self._start_clock()
        else:
            self._position = seconds
        self._moved(seconds, force=True)

    def shutdown(self) -> None:
        """Stop the sound and the worker threads; the player cannot play again."""
        if self._stopped:
            return
        self._stopped = True
        self._rebuild_timer.stop()
        self._ticker.stop()
        self._stop_clock()
        self._playing = False
        for signal, slot in ((self.document.changed, self._rebuild_timer.start),
                             (self.document.reset, self._document_reset)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # the document is already gone
                pass
        self._builder.stop()
        self._frames.stop()

    # ----- the clock ----------------------------------------------------------------------------
    def _start_clock(self) -> None:
        start, end = self._position, self.duration
        if self.sound and self._preview is not None:
            output = SoundOutput(self._preview.mixer.mix, start, end, on_error=self._reported.emit)
            problem = output.open()
            self._set_audio_status(problem)
            if not problem:
                self._clock = output
                return
        self._clock = SilentClock(start, end)

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self._position = self._clock.position()
            self._clock.stop()
            self._clock = None

    def _set_audio_status(self, status: str) -> None:
        if status and status not in self._told:
            self._told.add(status)
            self.message.emit(status)
        if status != self._audio_status:
            self._audio_status = status
            self.audioStatusChanged.emit(status)

    def _tick(self) -> None:
        if self._clock is None:
            return
        position = self._clock.position()
        if position >= self._clock.end - 1e-9:
            self._stop_clock()
            self._position = self.duration
            self._playing = False
            self._ticker.stop()
            self.playingChanged.emit(False)
            self._moved(self._position)
        elif self._index(position) != self._requested:
            self._moved(position)

    def _index(self, seconds: float) -> int:
        """The frame to show at ``seconds``: the last frame once the end is reached."""
        last = max(0, math.ceil(self.duration * self.fps - 1e-6) - 1)
        return min(frame_index(seconds, self.fps), last)

    def _moved(self, seconds: float, force: bool = False) -> None:
        self.positionChanged.emit(seconds)
        index = self._index(seconds)
        if force or index != self._requested:
            self._requested = index
            self._frames.request(index)

    def _on_composed(self, frame: np.ndarray, time: float) -> None:
        if not self._stopped:
            self._shown_time = time
            self.frameReady.emit(frame)

    # ----- following the document ---------------------------------------------------------------
    def _rebuild(self) -> None:
        if self._stopped:
            return
        self._generation += 1
        project = copy.deepcopy(self.document.project)
        timeline = project.timeline
        size = preview_size(timeline.width, timeline.height, self.preview_height)
        self._builder.build(self._generation, project, size, self.document.lengths())

    def _document_reset(self) -> None:
        self.pause()
        self._position = 0.0
        self._rebuild_timer.start()
        self.positionChanged.emit(0.0)

    def _on_prepared(self, generation: int, preview: Preview | None, problem: str) -> None:
        if self._stopped or generation != self._generation:
            if preview is not None:
                preview.compositor.close()
            return
        if preview is None:
            self._tell(problem)
            return
        self._preview = preview
        self._frames.use(preview)
        for sentence in preview.problems:
            if sentence not in self._problems:
                self.message.emit(sentence)
        self._problems = set(preview.problems)
        seen = {clip_id: id(value) for clip_id, value in preview.values.items()}
        if seen != (self._values_seen or {}) or (seen and self._values_seen is None):
            self.valuesReady.emit(dict(preview.values))
        self._values_seen = seen
        self.document.set_known_lengths(preview.source_lengths)  # the timeline draws graph clips as long as they are
        if self._playing:  # the new mixer plays from where the old one was
            self._stop_clock()
            self._position = min(self._position, preview.duration)
            self._start_clock()
        else:
            self._position = min(self._position, preview.duration)
        self.prepared.emit()
        self._moved(self.position, force=True)

    def _tell(self, sentence: str) -> None:
        if not self._stopped and sentence:
            self.message.emit(sentence)
