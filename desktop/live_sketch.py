"""The Live Sketch panel: draw, and the picture follows the pen.

A canvas (``desktop/live_canvas_widget.py``) on one side and the painted picture on
the other (or laid over the canvas), the settings column on the left, variations and
the session's history underneath. Every change of the canvas or of a setting goes to
a :class:`gpu.live.LiveSession`, which paints the latest one through the app's shared
Executor and drops or stops stale work.

The session calls back on worker threads; :class:`LiveBridge` re-posts each call to
the GUI thread through queued Qt signals, and the panel never touches a widget from
anywhere else.

Public API: ``LiveSketchPanel(executor, parent=None, *, models_root=None)``,
``canvas``, ``session`` (None until there is a model), ``set_model(ModelRef)``,
``pin(to)``, ``export_session()``, ``shutdown()``; signals ``pinToGraph(str)``,
``pinToTimeline(str)``, ``message(str)`` and ``resultShown(LiveResult)``.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget,
)

from desktop.file_inputs import IMAGE_FILTER
from desktop.live_canvas_widget import LiveCanvasWidget
from desktop.live_controls import DEFAULT_PAINT_SIZE, ROLLED_SEEDS, LiveControls, section
from desktop.live_files import default_export_path, read_picture, save_pinned
from desktop.live_icons import live_icon
from desktop.banner import ERROR, INFO, WARNING, Banner
from desktop.live_status import LiveStatus
from desktop.live_strips import HistoryBar, VariationStrip
from desktop.live_toolbar import OVERLAY, LiveToolbar
from desktop.pictures import to_qimage
from desktop.viewer import ImageCanvas
from gpu.executor import Executor
from gpu.live import LiveError, LiveResult, LiveSession, LiveVariation
from gpu.live_settings import LiveSettings, settings_for
from nodes.models import ModelRef, models_folder

GRAPH = "graph"
TIMELINE = "timeline"
CONTROLS_WIDTH = 280
PLACEHOLDER = "Draw on the canvas: the picture follows your pen"
KEYS = "B pen · E eraser · G fill · [ ] brush size\nCtrl+Z undo · Ctrl+Shift+Z redo\nDrop a picture on the canvas"


class LiveBridge(QObject):
    """The session's worker-thread callbacks as signals, delivered on the GUI thread."""

    result = Signal(object)
    error = Signal(object)
    state = Signal(bool)
    variations = Signal(object)
    variationsFailed = Signal(object)
    exported = Signal(object)
    exportFailed = Signal(str)


class LiveSketchPanel(QWidget):
    pinToGraph = Signal(str)
    pinToTimeline = Signal(str)
    message = Signal(str)
    resultShown = Signal(object)

    def __init__(self, executor: Executor, parent: QWidget | None = None, *,
                 models_root: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("liveSketch")
        self.executor = executor
        self.models_root = Path(models_root) if models_root is not None else executor.models.folder or models_folder()
        self.session: LiveSession | None = None
        self.latest: LiveResult | None = None
        self.shown: np.ndarray | None = None
        self.shown_settings: LiveSettings | None = None
        self._export: threading.Thread | None = None
        self._bridge = LiveBridge(self)
        self._build()
        self._connect()
        self.controls.show_settings(LiveSettings(seed=secrets.randbelow(ROLLED_SEEDS), size=DEFAULT_PAINT_SIZE))
        first = self.controls.chosen_model()
        if first is not None:
            self.set_model(first)
        else:
            self._say_no_model()

    # ----- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = Banner("liveBanner", self)
        self.canvas = LiveCanvasWidget(self)
        self.toolbar = LiveToolbar(self.canvas, self)
        self.controls = LiveControls(self.models_root, self)
        self.status = LiveStatus(self)
        self.result_view = ImageCanvas(self)
        self.result_view.setObjectName("liveResult")
        self.result_view.placeholder = PLACEHOLDER
        self.variation_strip = VariationStrip(self)
        self.history_bar = HistoryBar(self)

        actions = QWidget(self)
        action_layout = QVBoxLayout(actions)
        action_layout.setContentsMargins(12, 8, 12, 12)
        action_layout.setSpacing(6)
        action_layout.addWidget(section("Result", actions))
        self.pin_graph_button = self._action_button("graph", "Pin to graph", "Save the picture as a PNG and load "
                                                    "it into the node graph", lambda: self.pin(GRAPH))
        self.pin_timeline_button = self._action_button("timeline", "Pin to timeline", "Save the picture as a PNG "
                                                       "and put it on the timeline", lambda: self.pin(TIMELINE))
        self.export_button = self._action_button("export", "Export session…", "Every picture of this session "
                                                 "with its sketch, as a ZIP", self.export_session)
        for button in (self.pin_graph_button, self.pin_timeline_button, self.export_button):
            action_layout.addWidget(button)
        column = QWidget(self)
        column.setObjectName("liveColumn")
        column.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 1, 0)  # the column's border line (dark.qss) stays uncovered
        column_layout.addWidget(self.controls)
        column_layout.addWidget(actions)
        column_layout.addStretch(1)
        keys = QLabel(KEYS, column)
        keys.setObjectName("liveKeys")
        column_layout.addWidget(keys)
        scroller = QScrollArea(self)
        scroller.setObjectName("liveColumnScroller")
        scroller.setWidget(column)
        scroller.setWidgetResizable(True)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroller.setFixedWidth(CONTROLS_WIDTH)

        drawing = QWidget(self)
        drawing_layout = QVBoxLayout(drawing)
        drawing_layout.setContentsMargins(0, 0, 0, 8)
        drawing_layout.addWidget(self.canvas, 1)
        drawing_layout.addWidget(self.history_bar)
        self.picture_side = QWidget(self)
        picture_layout = QVBoxLayout(self.picture_side)
        picture_layout.setContentsMargins(0, 4, 0, 8)
        picture_layout.addWidget(self.status)
        picture_layout.addWidget(self.result_view, 1)
        picture_layout.addWidget(self.variation_strip)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(drawing)
        self.splitter.addWidget(self.picture_side)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([1, 1])

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 8, 0)
        body.setSpacing(8)
        body.addWidget(scroller)
        body.addWidget(self.splitter, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.banner)
        layout.addLayout(body, 1)

    def _action_button(self, icon_name: str, text: str, tip: str, slot: object) -> QPushButton:
        button = QPushButton(live_icon(icon_name), text, self)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _connect(self) -> None:
        bridge = self._bridge
        bridge.result.connect(self._show_result)
        bridge.error.connect(self._show_error)
        bridge.state.connect(self.status.set_busy)
        bridge.variations.connect(self.variation_strip.show_variations)
        bridge.variationsFailed.connect(self._variations_failed)
        bridge.exported.connect(lambda path: self._say(f"Exported the live session to {path}", INFO))
        bridge.exportFailed.connect(lambda text: self._say(text, ERROR))
        self.canvas.changed.connect(self._canvas_changed)
        self.canvas.fileDropped.connect(self.import_picture)
        self.toolbar.importRequested.connect(self._ask_and_import)
        self.toolbar.viewModeChanged.connect(self._set_view_mode)
        self.controls.changed.connect(self._settings_changed)
        self.controls.modelChosen.connect(self.set_model)
        self.variation_strip.requested.connect(self.request_variations)
        self.variation_strip.chosen.connect(self.adopt)
        self.history_bar.scrubbed.connect(self.show_history)
        self.history_bar.liveRequested.connect(self._show_latest)
        self.history_bar.restoreRequested.connect(self._restore_sketch)
        self.banner.action.connect(self.look_for_models)

    # ----- the model and the session ---------------------------------------------------------------
    def set_model(self, model: ModelRef) -> None:
        """Paint with ``model`` from now on, with its few-step recipe (steps, strength,
        guidance) and the creator's prompt, seed and size; the session starts with the first."""
        self.controls.select_model(model)
        chosen = self.controls.settings(LiveSettings())
        settings = settings_for(model, prompt=chosen.prompt, negative=chosen.negative, seed=chosen.seed,
                                size=chosen.size)
        self.controls.show_settings(settings)
        if self.banner.isVisible() and self.banner.kind == WARNING:
            self.banner.dismiss()
        self.result_view.placeholder = PLACEHOLDER
        self.result_view.update()
        if self.session is None:
            bridge = self._bridge
            self.session = LiveSession(self.executor, model, settings, on_result=bridge.result.emit,
                                       on_error=bridge.error.emit, on_state=bridge.state.emit)
            if not self.canvas.is_blank():
                self.session.update(self.canvas.picture())
            return
        self.session.set_model(model, repaint=False)
        self.session.update(settings=settings)

    def look_for_models(self) -> None:
        """Look in the models folder again ("Look again" on the no-model banner)."""
        if self.controls.rescan() and self.session is None:
            model = self.controls.chosen_model()
            if model is not None:
                self.set_model(model)
                return
        if self.session is None:
            self._say_no_model()

    def _say_no_model(self) -> None:
        folder = self.models_root / "checkpoints"
        text = (f"No model to paint with yet. Put a Stable Diffusion checkpoint (a .safetensors file or a "
                f"diffusers folder; SD-Turbo or an LCM model paint fastest) into {folder}, then press Look again. "
                f"You can draw meanwhile.")
        self.result_view.placeholder = f"No model in {folder}"
        self.result_view.update()
        self._say(text, WARNING, "Look again")

    def shutdown(self) -> None:
        """Stop painting and let go of the session (the window calls this as it closes)."""
        if self._export is not None:
            self._export.join()  # an export under way reads the history the session is about to drop
        session, self.session = self.session, None
        if session is not None:
            session.on_result = session.on_error = session.on_state = None
            session.close()

    # ----- changes -----------------------------------------------------------------------------------
    def _canvas_changed(self, ongoing: bool) -> None:
        if not self.history_bar.following:
            self.history_bar.follow()
        if self.session is not None:
            self.session.update(self.canvas.picture(), ongoing=ongoing)

    def _settings_changed(self, ongoing: bool) -> None:
        if self.session is None:
            return
        settings = self.controls.settings(self.session.settings)
        if settings != self.session.settings:
            self.session.update(settings=settings, ongoing=ongoing)

    def _set_view_mode(self, mode: str) -> None:
        overlay = mode == OVERLAY
        self.canvas.set_overlay_visible(overlay)
        self.picture_side.setVisible(not overlay)
        self.splitter.refresh()  # the canvas takes the picture's room at once

    def _ask_and_import(self) -> None:
        path = self.ask_image_path()
        if path is not None:
            self.import_picture(str(path))

    def ask_image_path(self) -> Path | None:
        """The picture to import (a file dialog; tests replace it)."""
        path, _ = QFileDialog.getOpenFileName(self, "Import a picture as the base layer", "", IMAGE_FILTER)
        return Path(path) if path else None

    def import_picture(self, path: str) -> None:
        """Put the picture file at ``path`` under the drawing (one undo step)."""
        try:
            picture = read_picture(path)
        except OSError as error:
            self._say(f"Cannot import {Path(path).name}: {error}", ERROR)
            return
        self.canvas.import_base(picture)

    # ----- what comes back ------------------------------------------------------------------------------
    def _show_result(self, result: LiveResult) -> None:
        self.latest = result
        if self.history_bar.following:
            self._display(result.image, result.settings)
            self.result_view.repaint()
            if result.source == "live":
                self.status.show_latency(time.perf_counter() - result.timings.requested_at, result.timings.model)
        if self.session is not None:
            self.history_bar.set_count(len(self.session.history))
        if self.banner.isVisible() and self.banner.kind == ERROR:
            self.banner.dismiss()
        self.resultShown.emit(result)

    def _display(self, image: np.ndarray, settings: LiveSettings) -> None:
        picture = to_qimage(image)
        self.result_view.set_image(picture)
        self.canvas.set_overlay(picture)
        self.shown, self.shown_settings = image, settings

    def _show_latest(self) -> None:
        if self.latest is not None:
            self._display(self.latest.image, self.latest.settings)

    def _show_error(self, error: LiveError) -> None:
        self._say(f"The picture could not be painted: {error.message}", ERROR)

    def _say(self, text: str, kind: str = INFO, action: str = "") -> None:
        self.banner.announce(text, kind, action=action)
        self.message.emit(text)

    # ----- variations ------------------------------------------------------------------------------------
    def request_variations(self, count: int) -> None:
        if self.session is None:
            self._say_no_model()
            return
        bridge = self._bridge
        try:
            self.session.request_variations(count, bridge.variations.emit, bridge.variationsFailed.emit)
        except ValueError:
            self.variation_strip.show_failure("Draw something first: variations repaint the sketch")
            return
        self.variation_strip.show_waiting(count)

    def _variations_failed(self, error: LiveError) -> None:
        self.variation_strip.show_failure("The variations could not be painted")
        self._show_error(error)

    def adopt(self, variation: LiveVariation) -> None:
        """Keep painting with ``variation``'s seed (its picture is shown at once)."""
        if self.session is None:
            return
        self.history_bar.follow()
        self.controls.show_settings(self.session.adopt(variation))

    # ----- history ------------------------------------------------------------------------------------------
    def show_history(self, position: int) -> None:
        """Show the session's picture at ``position`` (0 = the first) and its sketch."""
        if self.session is None or not 0 <= position < len(self.session.history):
            return
        entry = self.session.history[position]
        self._display(entry.image(), entry.settings)
        self.history_bar.show_entry(entry, len(self.session.history))

    def _restore_sketch(self, position: int) -> None:
        if self.session is not None and 0 <= position < len(self.session.history):
            self.canvas.restore_sketch(self.session.history[position].sketch())

    # ----- pins and export ---------------------------------------------------------------------------------------
    def pin(self, to: str) -> Path | None:
        """Save the picture shown as a PNG in the data folder and send it to the graph
        (``to`` = "graph") or the timeline ("timeline"); its path, or None without a picture."""
        if self.shown is None:
            self._say("Nothing to pin yet: draw something and wait for the picture", INFO)
            return None
        try:
            path = save_pinned(self.shown, self.shown_settings, self.session.model if self.session else None)
        except OSError as error:
            self._say(f"Cannot save the picture: {error}", ERROR)
            return None
        (self.pinToGraph if to == GRAPH else self.pinToTimeline).emit(str(path))
        self.message.emit(f"Pinned {path.name} to the {'node graph' if to == GRAPH else 'timeline'}")
        return path

    def ask_save_path(self) -> Path | None:
        """Where to export the session (a file dialog; tests replace it)."""
        suggested = default_export_path()
        suggested.parent.mkdir(parents=True, exist_ok=True)
        path, _ = QFileDialog.getSaveFileName(self, "Export the live session", str(suggested),
                                              "Live sessions (*.zip)")
        return Path(path) if path else None

    def export_session(self) -> None:
        """Write every picture and its sketch as a ZIP, on a worker thread; the banner
        says when it is done."""
        session = self.session
        if session is None or len(session.history) == 0:
            self._say("Nothing to export yet: the session has no pictures", INFO)
            return
        if self._export is not None and self._export.is_alive():
            return
        path = self.ask_save_path()
        if path is None:
            return
        if path.suffix.lower() != ".zip":
            path = path.with_name(path.name + ".zip")
        bridge = self._bridge

        def write() -> None:
            try:
                bridge.exported.emit(session.export_history(path))
            except (OSError, ValueError) as error:
                bridge.exportFailed.emit(f"Cannot export the live session to {path}: {error}")

        self._export = threading.Thread(target=write, name="reelgraph-live-export", daemon=True)
        self._export.start()
