"""Opening, saving and autosaving the episode project (the timeline and its graphs).

The project lives beside the workflow being edited: File ▸ Open Project…, Save
Project, Save Project As…. Like :class:`desktop.files.WorkflowFiles`, every
question to the creator goes through an ``ask_*`` / ``show_error`` method, so
tests replace the modal dialogs, and nothing is lost: saves are atomic, a file
that cannot be opened leaves the open project alone, and autosave keeps a
recovery copy (in its own recovery folder, with the same crash-lock rules) that
the next launch offers back after a crash.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from desktop.files import UnsavedChoice, ask_unsaved, safe_to_go_on
from desktop.recovery import RecoveryStore
from desktop.timeline_document import ProjectDocument
from nodes.atomic_write import write_atomically
from nodes.timeline import Project, ProjectError
from nodes.user_folders import data_folder

log = logging.getLogger("reelgraph.projects")

LAST_PROJECT_FORMAT = "reelgraph.last-project"


def recovery_folder() -> Path:
    return data_folder() / "recovery" / "projects"


def _last_project_file() -> Path:
    return data_folder() / "last-project.json"


class ProjectFiles(QObject):
    """File operations for the project shown on the timeline."""

    #: A recovery copy was written (its path) or failed (empty path, the reason).
    autosaved = Signal(str, str)

    def __init__(self, document: ProjectDocument, parent_widget: QWidget | None = None,
                 recovery: RecoveryStore | None = None) -> None:
        super().__init__(parent_widget)
        self.document = document
        self.parent_widget = parent_widget
        self.recovery = recovery if recovery is not None else RecoveryStore(recovery_folder())
        self._changed_since_autosave = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.autosave)
        document.changed.connect(self._note_change)

    # ----- opening -------------------------------------------------------------------------
    def new_project(self) -> bool:
        if not self.maybe_save():
            return False
        self.document.replace(Project(), None)
        return True

    def open_dialog(self) -> bool:
        path = self.ask_open_path()
        return self.open_path(path) if path is not None else False

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        """Open a project file; one that cannot be read is reported and the open project stays."""
        path = Path(path)
        try:
            project = Project.load(path)
        except ProjectError as error:
            self.show_error("Cannot open the project", f"Reelgraph could not open {path.name}.\n\n{error.text()}")
            return False
        if ask and not self.maybe_save():
            return False
        self.document.replace(project, path)
        self._remember(path)
        return True

    def open_last(self) -> bool:
        """Reopen the project opened or saved last (quietly skipped when it is gone or broken)."""
        path = self.last_path()
        if path is None:
            return False
        try:
            project = Project.load(path)
        except ProjectError as error:
            log.warning("could not reopen %s: %s", path, error)
            return False
        self.document.replace(project, path)
        return True

    # ----- saving --------------------------------------------------------------------------
    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self) -> bool:
        suggested = self.document.path or (Path.home() / f"{self.document.project.name or 'episode'}.json")
        path = self.ask_save_path(suggested)
        return self._write(Path(path)) if path is not None else False

    def maybe_save(self) -> bool:
        """Before replacing the project or closing: True when it is safe to go on."""
        return safe_to_go_on(self.document.modified, self.ask_unsaved_choice, self.save)

    def _write(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except ProjectError as error:  # rebuilding it for another folder found a problem
            self.show_error("Cannot save the project", f"Reelgraph could not save {path.name}.\n\n{error.text()}\n\n"
                            "The project is still open and unchanged.")
            return False
        except (OSError, ValueError) as error:
            self.show_error("Cannot save the project", f"Reelgraph could not save {path.name}: {error}.\n\n"
                            "The project is still open and unchanged; try Save Project As with another folder.")
            return False
        self._remember(path)
        self.recovery.remove_copy()
        return True

    # ----- the last project ------------------------------------------------------------------
    def last_path(self) -> Path | None:
        try:
            record = json.loads(_last_project_file().read_text("utf-8"))
        except (OSError, ValueError):
            return None
        path = record.get("path") if isinstance(record, dict) else None
        return Path(path) if isinstance(path, str) and Path(path).is_file() else None

    def _remember(self, path: Path) -> None:
        record = {"format": LAST_PROJECT_FORMAT, "version": 1, "path": str(Path(path).resolve())}
        try:
            write_atomically(_last_project_file(), (json.dumps(record) + "\n").encode("utf-8"))
        except OSError as error:
            log.warning("could not remember the last project: %s", error)

    # ----- autosave and recovery ---------------------------------------------------------------
    def start_autosave(self, interval_ms: int = 60_000) -> None:
        self.recovery.acquire()
        self._timer.start(interval_ms)

    def autosave(self) -> Path | None:
        """Write a recovery copy when the project changed since the last one (a project is small)."""
        if not self.document.modified:
            self.recovery.remove_copy()
            return None
        if not self._changed_since_autosave:
            return None
        try:
            path = self.recovery.write_copy(self.document.project.dumps(), self.document.path)
        except OSError as error:
            self.autosaved.emit("", str(error))
            return None
        self._changed_since_autosave = False
        self.autosaved.emit(str(path), "")
        return path

    def _note_change(self) -> None:
        self._changed_since_autosave = True

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest project copy a dead session left; others wait for next time."""
        candidates = []
        for session_id in self.recovery.crashed_sessions():
            if not self.recovery.claim(session_id):
                continue
            candidate = self.recovery.candidate(session_id)
            if candidate is None:
                self.recovery.discard(session_id)
            else:
                candidates.append(candidate)
        if not candidates:
            return False
        candidates.sort(key=lambda item: item.saved_at, reverse=True)
        chosen, later = candidates[0], candidates[1:]
        for candidate in later:
            self.recovery.unclaim(candidate.session_id)
        if not self.ask_recover(chosen.describe().replace("an unsaved workflow", "an unsaved project")):
            self.recovery.discard(chosen.session_id)
            return False
        try:
            project = Project.load(chosen.copy_path)
        except ProjectError as error:
            self.show_error("Cannot recover the project", f"The recovery copy {chosen.copy_path} could not be "
                            f"read; it is left where it is.\n\n{error.text()}")
            self.recovery.unclaim(chosen.session_id)
            return False
        if chosen.original_path is not None:
            project.folder = chosen.original_path.resolve().parent
        self.document.replace(project, chosen.original_path)
        self.document.undo_stack.resetClean()  # unsaved until the creator saves it
        self._changed_since_autosave = True
        self.recovery.acquire()
        self.autosave()
        self.recovery.discard(chosen.session_id)
        return True

    def close_session(self) -> None:
        self._timer.stop()
        self.recovery.release()

    # ----- questions to the creator (replace these in tests) ---------------------------------
    def ask_open_path(self) -> Path | None:
        start = self.document.path.parent if self.document.path else Path.home()
        chosen, _ = QFileDialog.getOpenFileName(self.parent_widget, "Open project", str(start),
                                                "Reelgraph projects (*.json);;All files (*)")
        return Path(chosen) if chosen else None

    def ask_save_path(self, suggested: Path) -> Path | None:
        dialog = QFileDialog(self.parent_widget, "Save project as", str(suggested), "Reelgraph projects (*.json)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("json")
        dialog.selectFile(str(suggested))
        if dialog.exec() != QFileDialog.DialogCode.Accepted or not dialog.selectedFiles():
            return None
        return Path(dialog.selectedFiles()[0])

    def ask_unsaved_choice(self) -> UnsavedChoice:
        name = self.document.path.name if self.document.path else "This project"
        return ask_unsaved(self.parent_widget, f"{name} has timeline changes that are not saved.")

    def ask_recover(self, description: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Recover project", "Reelgraph did not close properly last "
                          "time. Recover the timeline it autosaved?", QMessageBox.StandardButton.NoButton,
                          self.parent_widget)
        box.setInformativeText(description)
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(recover)
        box.exec()
        return box.clickedButton() is recover

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent_widget, title, text)
