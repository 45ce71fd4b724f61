"""The timeline widget: a time ruler, a column of track headers, the tracks with their
clips (a QGraphicsView) and a bar with snapping and zoom, over a ProjectDocument.

The view turns mouse and keys into document edits, one document call (one undo
step) per gesture or key, and never changes the Project itself; it follows the
document's ``changed`` and ``reset`` signals, so undo and redo show by themselves.
It owns the playhead's position as drawn: the player moves it with
:meth:`TimelineView.set_playhead`, the creator with the ruler (``playheadMoved``).

Keys (tracks focused): S split the selected clips (or those under the playhead) at
the playhead; Delete delete; Shift+Delete ripple delete; M add a marker; N snapping
on/off; + / - zoom, \\ zoom to fit; Ctrl+A select all; Left / Right one frame,
Home / End to the start / end; Ctrl+Z / Ctrl+Shift+Z undo / redo. The wheel scrolls
along the time, Shift+wheel across the tracks, Ctrl+wheel zooms.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from desktop import theme
from desktop import timeline_style as style
from desktop.timeline_canvas import TimelineCanvas
from desktop.timeline_document import ProjectDocument
from desktop.timeline_headers import TrackHeaders
from desktop.timeline_media import MediaLoader
from desktop.timeline_ruler import TimelineRuler
from desktop.timeline_scene import TimelineScene
from desktop.timeline_time import frame_rate, on_frame, timecode
from nodes.timeline_edits import TimelineEditRefused
from nodes.types import Audio, Video

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier
#: Steps of the zoom slider between the closest and the farthest zoom.
SLIDER_STEPS = 1000
#: Pixels kept free right of the last clip by zoom to fit.
FIT_MARGIN = 48.0


class TimelineView(QWidget):
    #: The creator scrubbed or clicked the ruler (or stepped with the keys): seconds.
    playheadMoved = Signal(float)
    #: The selected clip ids, in timeline order.
    selectionChanged = Signal(list)
    #: A refused edit or a tip, for the status bar.
    hint = Signal(str)

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setObjectName("timelineView")
        self.loader = MediaLoader(self)
        self.timeline_scene = TimelineScene(document, self.loader, self)
        self.canvas = TimelineCanvas(self.timeline_scene, self.handle_key, self.owns_key, self)
        self.ruler = TimelineRuler(self.canvas, self)
        self.headers = TrackHeaders(self.canvas, self)
        self.timecode = QLabel(self)
        self.timecode.setObjectName("timelineTimecode")
        self.timecode.setFixedSize(style.HEADER_WIDTH, style.RULER_HEIGHT)
        self.timecode.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.timecode.setFont(style.fonts().timecode)
        self._build_bar()
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.timecode, 0, 0)
        layout.addWidget(self.ruler, 0, 1)
        layout.addWidget(self.headers, 1, 0)
        layout.addWidget(self.canvas, 1, 1)
        layout.addWidget(self.bar, 2, 0, 1, 2)
        self.setFocusProxy(self.canvas)
        self._fitted = False
        document.changed.connect(self._document_changed)
        document.reset.connect(self._document_reset)
        self.timeline_scene.selectionChangedIds.connect(self.selectionChanged)
        self.canvas.hint.connect(self.hint)
        self.canvas.viewChanged.connect(self._zoom_changed)
        self.ruler.scrubbed.connect(self._scrubbed)
        self.headers.muteToggled.connect(self._mute)
        self._show_timecode()
        self._show_duration()

    def _build_bar(self) -> None:
        self.bar = QWidget(self)
        self.bar.setObjectName("timelineBar")
        row = QHBoxLayout(self.bar)
        row.setContentsMargins(8, 2, 8, 2)
        row.setSpacing(4)
        self.snap_button = QToolButton(self.bar)
        self.snap_button.setObjectName("timelineSnap")
        self.snap_button.setText("Snap")
        self.snap_button.setCheckable(True)
        self.snap_button.setChecked(True)
        self.snap_button.setToolTip("Snap dragged edges to clips, markers and the playhead (N)")
        self.snap_button.toggled.connect(self._snapping_toggled)
        self.duration_label = QLabel(self.bar)
        self.duration_label.setObjectName("timelineDuration")
        self.duration_label.setMinimumWidth(1)  # a narrow dock may cut it
        zoom_out, zoom_in = QToolButton(self.bar), QToolButton(self.bar)
        zoom_out.setText("−")
        zoom_out.setToolTip("Zoom out (-)")
        zoom_in.setText("+")
        zoom_in.setToolTip("Zoom in (+)")
        zoom_out.clicked.connect(lambda: self.zoom_by(1 / style.ZOOM_STEP))
        zoom_in.clicked.connect(lambda: self.zoom_by(style.ZOOM_STEP))
        self.zoom_slider = QSlider(Qt.Orientation.Horizontal, self.bar)
        self.zoom_slider.setObjectName("timelineZoom")
        self.zoom_slider.setRange(0, SLIDER_STEPS)
        self.zoom_slider.setMinimumWidth(60)
        self.zoom_slider.setMaximumWidth(160)
        self.zoom_slider.setToolTip("Zoom (Ctrl+wheel)")
        self.zoom_slider.valueChanged.connect(self._slider_moved)
        fit = QToolButton(self.bar)
        fit.setIcon(theme.icon("fit"))
        fit.setToolTip("Zoom to fit the whole timeline (\\)")
        fit.clicked.connect(self.zoom_to_fit)
        row.addWidget(self.snap_button)
        row.addSpacing(8)
        row.addWidget(self.duration_label)
        row.addStretch(2)
        for widget in (zoom_out, self.zoom_slider, zoom_in, fit):
            row.addWidget(widget, 1 if widget is self.zoom_slider else 0)
        self._sync_slider()

    # ----- the contract --------------------------------------------------------------------------------
    @property
    def playhead(self) -> float:
        return self.timeline_scene.playhead

    def set_playhead(self, seconds: float) -> None:
        """Show the playhead at ``seconds`` (from playback); keeps it in view, emits nothing."""
        self._place_playhead(seconds)
        if not self.canvas.dragging and not self.ruler.scrubbing:
            self._keep_playhead_in_view()

    @property
    def pixels_per_second(self) -> float:
        return self.timeline_scene.pixels_per_second

    def set_pixels_per_second(self, value: float) -> None:
        """Zoom to ``value`` pixels per second, keeping the playhead (else the middle) in place."""
        x = self.timeline_scene.x_of(self.playhead) - self.canvas.left_scene_x()
        anchor = x if 0 <= x <= self.canvas.viewport().width() else None
        self.canvas.zoom_at(value, anchor)

    def zoom_by(self, factor: float) -> None:
        self.set_pixels_per_second(self.pixels_per_second * factor)

    def zoom_to_fit(self) -> None:
        """Zoom so the whole timeline fits the width, and scroll to its start."""
        duration = self.document.duration()
        width = max(100.0, self.canvas.viewport().width() - style.LEFT_PAD - FIT_MARGIN)
        self.canvas.zoom_at(width / duration if duration > 0 else style.DEFAULT_PIXELS_PER_SECOND, 0)
        self.canvas.scroll_to_x(-style.LEFT_PAD)

    def selected_clips(self) -> list[str]:
        return list(self.timeline_scene.selected_ids)

    def select_clips(self, clip_ids: list[str]) -> None:
        self.timeline_scene.select(clip_ids)

    def set_clip_values(self, values: dict[str, Any]) -> None:
        """Computed graph outputs by clip id (Video, picture, Audio): their thumbnails and
        waveforms are drawn from them, and their lengths tell the document how long they are."""
        self.loader.set_values(values)
        lengths = {clip_id: value.duration for clip_id, value in values.items() if isinstance(value, (Video, Audio))}
        if lengths:
            self.document.set_known_lengths(lengths)
        self.timeline_scene.sync()

    @property
    def snapping(self) -> bool:
        return self.canvas.snapping

    @snapping.setter
    def snapping(self, on: bool) -> None:
        self.snap_button.setChecked(on)

    # ----- actions ----------------------------------------------------------------------------------------
    def split_at_playhead(self) -> None:
        """Split the selected clips under the playhead (none selected: every clip under it), one undo step."""
        time = self.playhead
        under = self._clips_under(time)
        selected = self.selected_clips()
        targets = [clip_id for clip_id in selected if clip_id in under] if selected else under
        if not targets:
            self.hint.emit("Move the playhead onto a selected clip to split it." if selected
                           else "There is no clip under the playhead to split.")
            return
        stack = self.document.undo_stack
        if len(targets) == 1:
            self._attempt(lambda: self.document.split_clip(targets[0], time))
            return
        stack.beginMacro(f"Split {len(targets)} clips")
        try:
            for clip_id in targets:
                self.document.split_clip(clip_id, time)
        except TimelineEditRefused as refusal:
            stack.endMacro()
            stack.undo()
            self.hint.emit(str(refusal))
            return
        stack.endMacro()

    def delete_selected(self, ripple: bool = False) -> None:
        chosen = self.selected_clips()
        if not chosen:
            self.hint.emit("Select the clips to delete first.")
            return
        self._attempt(lambda: self.document.delete_clips(chosen, ripple=ripple))

    def add_marker(self) -> None:
        self._attempt(lambda: self.document.add_marker(self.playhead))

    def step_playhead(self, seconds: float) -> None:
        """Move the playhead to the frame at ``seconds`` as the creator asked (keys): said and shown."""
        self._scrubbed(on_frame(max(0.0, seconds), self.document.project.timeline.fps))
        self._keep_playhead_in_view()

    def _keep_playhead_in_view(self) -> None:
        """Page along when the playhead leaves the visible part (playback runs off its right edge)."""
        x = self.timeline_scene.x_of(self.playhead) - self.canvas.left_scene_x()
        width = self.canvas.viewport().width()
        if x > width - 8 or x < 0:
            self.canvas.scroll_to_x(self.timeline_scene.x_of(self.playhead) - width * 0.1)

    def _clips_under(self, time: float) -> list[str]:
        half_frame = 0.5 / frame_rate(self.document.project.timeline.fps)
        lengths = self.document.lengths()
        return [clip.id for _, clip in self.document.project.timeline.clips()
                if clip.start + half_frame <= time <= clip.start + lengths.get(clip.id, 0.0) - half_frame]

    def _attempt(self, edit: Any) -> None:
        try:
            edit()
        except TimelineEditRefused as refusal:
            self.hint.emit(str(refusal))

    # ----- keys -------------------------------------------------------------------------------------------
    def _actions(self) -> dict[tuple[int, Any], Any]:
        frame = 1.0 / frame_rate(self.document.project.timeline.fps)
        stack = self.document.undo_stack
        return {
            (Qt.Key.Key_S, 0): self.split_at_playhead,
            (Qt.Key.Key_Delete, 0): self.delete_selected,
            (Qt.Key.Key_Backspace, 0): self.delete_selected,
            (Qt.Key.Key_Delete, SHIFT): lambda: self.delete_selected(ripple=True),
            (Qt.Key.Key_Backspace, SHIFT): lambda: self.delete_selected(ripple=True),
            (Qt.Key.Key_M, 0): self.add_marker,
            (Qt.Key.Key_N, 0): lambda: setattr(self, "snapping", not self.snapping),
            (Qt.Key.Key_Plus, 0): lambda: self.zoom_by(style.ZOOM_STEP),
            (Qt.Key.Key_Plus, SHIFT): lambda: self.zoom_by(style.ZOOM_STEP),
            (Qt.Key.Key_Equal, 0): lambda: self.zoom_by(style.ZOOM_STEP),
            (Qt.Key.Key_Minus, 0): lambda: self.zoom_by(1 / style.ZOOM_STEP),
            (Qt.Key.Key_Backslash, 0): self.zoom_to_fit,
            (Qt.Key.Key_A, CTRL): lambda: self.select_clips([clip.id for _, clip in
                                                             self.document.project.timeline.clips()]),
            (Qt.Key.Key_Left, 0): lambda: self.step_playhead(self.playhead - frame),
            (Qt.Key.Key_Right, 0): lambda: self.step_playhead(self.playhead + frame),
            (Qt.Key.Key_Home, 0): lambda: self.step_playhead(0.0),
            (Qt.Key.Key_End, 0): lambda: self.step_playhead(self.document.duration()),
            (Qt.Key.Key_Z, CTRL): stack.undo,
            (Qt.Key.Key_Z, CTRL | SHIFT): stack.redo,
            (Qt.Key.Key_Y, CTRL): stack.redo,
        }

    def owns_key(self, event: QKeyEvent) -> bool:
        """Whether the tracks keep this key for themselves while focused (over window shortcuts)."""
        return _combo(event) in self._actions()

    def handle_key(self, event: QKeyEvent) -> bool:
        action = self._actions().get(_combo(event))
        if action is None:
            return False
        action()
        return True

    # ----- following the document and the parts -------------------------------------------------------
    def _document_changed(self) -> None:
        self.timeline_scene.sync()
        if any(clip_id not in self.timeline_scene.items_by_id for clip_id in self.canvas.dragged_clips()):
            self.canvas.cancel_gesture()  # what was being dragged is gone (newly known lengths keep the drag)
        self.ruler.update()
        self.headers.update()
        self._show_timecode()
        self._show_duration()

    def _document_reset(self) -> None:
        self.canvas.cancel_gesture()
        self.loader.forget_values()
        self.timeline_scene.sync()
        self.zoom_to_fit()

    def _scrubbed(self, seconds: float) -> None:
        self._place_playhead(seconds)
        self.playheadMoved.emit(seconds)

    def _place_playhead(self, seconds: float) -> None:
        self.timeline_scene.set_playhead(seconds)
        self.ruler.update()
        self._show_timecode()

    def _show_timecode(self) -> None:
        self.timecode.setText(timecode(self.playhead, self.document.project.timeline.fps))

    def _show_duration(self) -> None:
        fps = self.document.project.timeline.fps
        self.duration_label.setText(f"Duration {timecode(self.document.duration(), fps)}")

    def _snapping_toggled(self, on: bool) -> None:
        self.canvas.snapping = on
        self.hint.emit("Snapping on" if on else "Snapping off")

    def _mute(self, track_id: str, muted: bool) -> None:
        """Mute or unmute a track: one undo step through the document's ``set_track``."""
        self._attempt(lambda: self.document.set_track(track_id, muted=muted))

    def _zoom_changed(self) -> None:
        self._sync_slider()

    def _sync_slider(self) -> None:
        low, high = math.log(style.MIN_PIXELS_PER_SECOND), math.log(style.MAX_PIXELS_PER_SECOND)
        position = (math.log(self.pixels_per_second) - low) / (high - low)
        self.zoom_slider.blockSignals(True)
        self.zoom_slider.setValue(round(position * SLIDER_STEPS))
        self.zoom_slider.blockSignals(False)

    def _slider_moved(self, value: int) -> None:
        low, high = math.log(style.MIN_PIXELS_PER_SECOND), math.log(style.MAX_PIXELS_PER_SECOND)
        self.set_pixels_per_second(math.exp(low + (high - low) * value / SLIDER_STEPS))

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            self.zoom_to_fit()


def _combo(event: QKeyEvent) -> tuple[int, Any]:
    modifiers = event.modifiers() & (CTRL | SHIFT | ALT)
    return event.key(), (modifiers if modifiers else 0)
