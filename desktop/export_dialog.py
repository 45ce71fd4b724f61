"""File ▸ Export: a project's timeline to a video file, with the export's progress and
the check of the written file in the same dialog.

The creator picks a preset (``gpu.timeline_render.PRESETS``), the file, the part of
the timeline and, when the preset's choice does not suit, how pictures meet the frame.
The export renders a snapshot of the project on its own thread (``desktop.export_job``)
through the app's shared Executor, so graphs already computed come from the cache and
edits made meanwhile do not reach the file. A cancelled or failed export leaves no file;
the dialog stays open so the creator can fix what it names and export again.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget,
)

from desktop.export_job import ExportClock, ExportJob
from desktop.export_texts import Outcome, error_outcome, file_stem, preset_label, result_outcome
from desktop.theme import ERROR, WARNING
from gpu.executor import Executor
from gpu.timeline_render import PRESETS, ExportPreset, RenderProgress, RenderResult
from nodes.clip_editing import FIT_MODES
from nodes.context import Cancelled
from nodes.timeline import Project
from nodes.timeline_validation import clip_lengths, source_facts

log = logging.getLogger("reelgraph.desktop")

FIT_LABELS = {"letterbox": "Letterbox (bars, whole picture)", "fill": "Fill (crop to the frame)",
              "stretch": "Stretch (distort to the frame)"}
TICK_MS = 250
DETAILS_HEIGHT = 140


def known_duration(project: Project, executor: Executor) -> tuple[float, bool] | None:
    """(seconds, exact) the timeline lasts as far as is known before graphs run (files are
    probed); not exact when some clip runs to the end of a graph output not computed yet.
    None when nothing on it has a known length."""
    try:
        lengths = clip_lengths(project, source_facts(project, executor.registry, problems=[]), {})
    except Exception:  # a broken project is reported by the export itself, with every problem named
        log.debug("the timeline's length could not be estimated", exc_info=True)
        return None
    ends = [clip.start + length for _, clip in project.timeline.clips()
            if (length := lengths.get(clip.id)) is not None]
    if not ends:
        return None
    return max(ends), len(ends) == sum(1 for _ in project.timeline.clips())


class ExportDialog(QDialog):
    """Export a project; see the module docstring."""

    #: The export ended with a file: its RenderResult (check passed or not: ``result.ok``).
    finished_export = Signal(object)
    #: The export could not be finished: what went wrong, in words.
    failed = Signal(str)
    #: The creator stopped the export; no file was written.
    cancelled = Signal()
    #: A RenderProgress, on the GUI thread.
    progressed = Signal(object)

    def __init__(self, project: Project, executor: Executor, parent: QWidget | None = None, *,
                 default_folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export")
        self.project = project
        self.executor = executor
        self.default_folder = Path(default_folder) if default_folder is not None else project.folder
        self.result: RenderResult | None = None
        self._job: ExportJob | None = None
        self._clock: ExportClock | None = None
        self._close_when_stopped = False
        self._automatic_path = ""
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._preset_changed()

    # ----- building ---------------------------------------------------------------------------
    def _build(self) -> None:
        heading = QLabel(f"Export “{self.project.name or 'Untitled project'}”")
        heading.setObjectName("inspectorTitle")
        self.preset_box = QComboBox()
        for name, preset in PRESETS.items():
            self.preset_box.addItem(preset_label(preset), name)
        self.preset_box.currentIndexChanged.connect(self._preset_changed)
        self.preset_note = self._hint_label()

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("the video file to write (.mp4)")
        self.path_edit.textChanged.connect(self._path_changed)
        self.choose_button = QPushButton("Choose…")
        self.choose_button.clicked.connect(self.choose_file)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.choose_button)
        self.overwrite_label = self._hint_label()
        self.overwrite_label.setStyleSheet(f"color: {WARNING};")

        known = known_duration(self.project, self.executor)
        self.duration = known[0] if known is not None else None
        length = "" if known is None else f" ({'' if known[1] else 'at least '}{known[0]:.1f} s)"
        self.whole_label = QLabel(f"Whole timeline{length}")
        self.part_check = QCheckBox("Only from")
        self.part_check.toggled.connect(self._range_toggled)
        self.start_spin = self._seconds_spin(0.0)
        self.end_spin = self._seconds_spin(self.duration or 10.0)
        part_row = QHBoxLayout()
        part_row.addWidget(self.part_check)
        part_row.addWidget(self.start_spin)
        part_row.addWidget(QLabel("to"))
        part_row.addWidget(self.end_spin)
        part_row.addStretch(1)
        range_column = QVBoxLayout()
        range_column.addWidget(self.whole_label)
        range_column.addLayout(part_row)
        self._range_toggled(False)

        self.fit_box = QComboBox()
        self.fit_box.addItem("", None)  # "as the preset says": its text follows the preset
        for mode in FIT_MODES:
            self.fit_box.addItem(FIT_LABELS.get(mode, mode), mode)

        form = QFormLayout()
        form.addRow("Preset", self.preset_box)
        form.addRow("", self.preset_note)
        form.addRow("File", path_row)
        form.addRow("", self.overwrite_label)
        form.addRow("Range", range_column)
        form.addRow("Fit", self.fit_box)
        self.settings = [self.preset_box, self.path_edit, self.choose_button, self.part_check, self.start_spin,
                         self.end_spin, self.fit_box]

        self.stage_label = QLabel("Ready to export")
        self.stage_label.setObjectName("progressHeadline")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.time_label = QLabel("")
        self.time_label.setObjectName("progressElapsed")
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        self.result_label.setStyleSheet("font-weight: bold;")
        self.details_box = QPlainTextEdit()
        self.details_box.setReadOnly(True)
        self.details_box.setMaximumHeight(DETAILS_HEIGHT)
        self.details_box.setVisible(False)

        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.clicked.connect(self.open_folder)
        self.open_folder_button.setVisible(False)
        self.cancel_button = QPushButton("Cancel export")
        self.cancel_button.clicked.connect(self.cancel_export)
        self.cancel_button.setEnabled(False)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addSpacing(8)
        for widget in (self.stage_label, self.progress_bar, self.time_label, self.result_label, self.details_box):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.setMinimumWidth(560)

    def _hint_label(self) -> QLabel:
        label = QLabel("")
        label.setObjectName("hint")
        label.setWordWrap(True)
        label.setVisible(False)
        return label

    def _seconds_spin(self, value: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(0.0, 24 * 3600.0)
        spin.setDecimals(2)
        spin.setSingleStep(0.5)
        spin.setSuffix(" s")
        spin.setValue(value)
        return spin

    # ----- the settings -------------------------------------------------------------------------
    @property
    def preset(self) -> ExportPreset:
        return PRESETS[self.preset_box.currentData()]

    def set_preset(self, name: str) -> None:
        self.preset_box.setCurrentIndex(self.preset_box.findData(name))

    @property
    def output_path(self) -> Path:
        return Path(self.path_edit.text().strip()).expanduser()

    def set_output_path(self, path: Path | str) -> None:
        self.path_edit.setText(str(path))

    def set_range(self, start: float | None, end: float | None = None) -> None:
        """A part of the timeline in seconds; ``None`` exports the whole timeline."""
        if start is not None and end is not None:
            self.start_spin.setValue(start)
            self.end_spin.setValue(end)
        self.part_check.setChecked(start is not None and end is not None)

    @property
    def time_range(self) -> tuple[float, float] | None:
        return (self.start_spin.value(), self.end_spin.value()) if self.part_check.isChecked() else None

    def set_fit(self, mode: str | None) -> None:
        self.fit_box.setCurrentIndex(self.fit_box.findData(mode))

    @property
    def fit(self) -> str | None:
        return self.fit_box.currentData()

    def default_path(self) -> Path:
        """``<folder>/<project name>-<preset>.mp4``."""
        return self.default_folder / f"{file_stem(self.project.name)}-{self.preset.name}.mp4"

    def _preset_changed(self) -> None:
        preset = self.preset
        if not self.path_edit.text().strip() or self.path_edit.text() == self._automatic_path:
            self._automatic_path = str(self.default_path())
            self.path_edit.setText(self._automatic_path)
        self.fit_box.setItemText(0, f"As the preset says ({FIT_LABELS.get(preset.fit, preset.fit)})")
        note = ""
        if preset.max_seconds is not None:
            note = (f"{preset.name.capitalize()} exports at most {preset.max_seconds:g} s: the first "
                    f"{preset.max_seconds:g} s of the range.")
            if self.duration is not None and self.duration > preset.max_seconds:
                note += " Choose the part with Range."
        self.preset_note.setText(note)
        self.preset_note.setVisible(bool(note))

    def _range_toggled(self, part: bool) -> None:
        self.whole_label.setEnabled(not part)
        for spin in (self.start_spin, self.end_spin):
            spin.setEnabled(part and not self.running)

    def _path_changed(self) -> None:
        path = self.output_path
        exists = bool(self.path_edit.text().strip()) and path.is_file()
        self.path_edit.setToolTip(str(path))
        self.overwrite_label.setText(f"{path.name} already exists: exporting replaces it." if exists else "")
        self.overwrite_label.setVisible(exists)
        self.export_button.setText("Export and replace" if exists else "Export")
        self.export_button.setEnabled(bool(self.path_edit.text().strip()) and not self.running)

    def choose_file(self) -> None:
        """The file picker; it asks before choosing a file that exists."""
        chosen, _ = QFileDialog.getSaveFileName(self, "Export to", str(self.output_path), "MP4 video (*.mp4)")
        if chosen:
            if not Path(chosen).suffix:
                chosen += ".mp4"
            self.set_output_path(chosen)

    # ----- exporting --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._job is not None

    def start_export(self) -> bool:
        """Export with the settings shown; False when it cannot start (the dialog says why)."""
        if self.running:
            return False
        if not self.path_edit.text().strip():
            self._show_outcome(Outcome("Choose the file to write first.", "", ERROR))
            return False
        output = self.output_path
        if not output.suffix and not output.is_dir():
            output = output.with_name(output.name + ".mp4")
            self.set_output_path(output)
        if output.is_dir():
            self._show_outcome(Outcome(f"{output} is a folder: give a file name ending in .mp4.", "", ERROR))
            return False
        self.result = None
        self._clock = ExportClock()
        job = ExportJob(copy.deepcopy(self.project), self.preset, output, self.executor,
                        time_range=self.time_range, fit=self.fit)
        job.progressed.connect(self._progressed)
        job.succeeded.connect(self._succeeded)
        job.stopped.connect(self._stopped)
        self._job = job
        self._set_running(True)
        self.stage_label.setText("Starting the export…")
        self.progress_bar.setRange(0, 0)
        self._show_outcome(None)
        self.open_folder_button.setVisible(False)
        self.time_label.setText(self._clock.text())
        self._timer.start()
        job.start()
        return True

    def cancel_export(self) -> None:
        """Stop the export at its next frame; no file is left."""
        if self._job is not None:
            self._job.cancel()
            self.cancel_button.setEnabled(False)
            self.stage_label.setText("Cancelling…")

    def wait_for_export(self, timeout: float | None = None) -> bool:
        """Block until the export thread ends (the dialog hears of it at the next event loop turn)."""
        return self._job.wait(timeout) if self._job is not None else True

    def _set_running(self, running: bool) -> None:
        for widget in self.settings:
            widget.setEnabled(not running)
        self._range_toggled(self.part_check.isChecked())
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(not running and bool(self.path_edit.text().strip()))

    def _progressed(self, progress: RenderProgress) -> None:
        if self._job is None or self._clock is None:
            return
        self._clock.update(progress)
        if self._job.cancel_token.cancelled:
            return
        if progress.stage == "graphs":
            count = f" ({progress.done} of {progress.total} graphs)" if progress.total > 1 else ""
            self.stage_label.setText(f"Computing graph outputs{count}…")
            self.progress_bar.setRange(0, max(progress.total, 1))
            self.progress_bar.setValue(progress.done)
        elif progress.stage == "frames":
            self.stage_label.setText(f"Encoding {progress.done}/{progress.total} frames")
            self.progress_bar.setRange(0, max(progress.total, 1))
            self.progress_bar.setValue(progress.done)
        else:
            self.stage_label.setText("Checking the file…")
            self.progress_bar.setRange(0, 0)
        self.time_label.setText(self._clock.text())
        self.progressed.emit(progress)

    def _tick(self) -> None:
        if self._clock is not None and self._job is not None and not self._job.cancel_token.cancelled:
            self.time_label.setText(self._clock.text())

    def _ended(self) -> None:
        self._timer.stop()
        if self._job is not None:
            self._job.wait(5.0)  # the thread has emitted its last signal; let it finish returning
        self._job = None
        self._set_running(False)
        self._path_changed()
        if self._close_when_stopped:
            self._close_when_stopped = False
            QTimer.singleShot(0, self.reject)

    def _succeeded(self, result: RenderResult) -> None:
        self.result = result
        elapsed = self._clock.elapsed if self._clock is not None else result.elapsed
        self._ended()
        self.progress_bar.setRange(0, max(result.frames, 1))
        self.progress_bar.setValue(result.frames)
        self.stage_label.setText(f"Exported {result.frames} frames to {result.path.name}")
        self.time_label.setText(f"Took {elapsed:.1f} s ({result.frames_per_second:.1f} frames a second)")
        self._show_outcome(result_outcome(result))
        self.open_folder_button.setVisible(True)
        self.finished_export.emit(result)

    def _stopped(self, error: BaseException) -> None:
        elapsed = self._clock.elapsed if self._clock is not None else 0.0
        self._ended()
        self.time_label.setText(f"Stopped after {elapsed:.1f} s")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        outcome = error_outcome(error)
        if outcome.unexpected:
            log.error("the export to %s failed unexpectedly", self.output_path, exc_info=error)
        self._show_outcome(outcome)
        if isinstance(error, Cancelled):
            self.stage_label.setText("Export cancelled")
            self.cancelled.emit()
        else:
            self.stage_label.setText("Export stopped")
            self.failed.emit(outcome.message)

    def _show_outcome(self, outcome: Outcome | None) -> None:
        """The outcome under the progress bar (None: nothing yet)."""
        outcome = outcome or Outcome("", "", "")
        colour = f" color: {outcome.colour};" if outcome.colour else ""
        self.result_label.setText(outcome.headline)
        self.result_label.setStyleSheet(f"font-weight: bold;{colour}")
        self.result_label.setVisible(bool(outcome.headline))
        self.details_box.setPlainText(outcome.details)
        self.details_box.setVisible(bool(outcome.details))
        wanted = self.sizeHint().height()
        if self.isVisible() and self.height() < wanted:  # room for the outcome, without squeezing the settings
            self.resize(self.width(), wanted)

    # ----- after -------------------------------------------------------------------------------------
    def open_folder(self) -> None:
        """Show the folder of the written file in the system's file manager."""
        folder = (self.result.path if self.result is not None else self.output_path).parent
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder.resolve())))

    def reject(self) -> None:
        """Close (or Esc): an export still running is cancelled first, then the dialog closes."""
        if self.running:
            self._close_when_stopped = True
            self.cancel_export()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            event.ignore()
            self.reject()
            return
        super().closeEvent(event)

