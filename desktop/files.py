"""Opening, saving, autosaving and recovering workflows: the File menu's brain.

The main window wires its menu items, its close event and its canvas to one
:class:`WorkflowFiles`. Every question put to the creator goes through a small
``ask_*`` / ``show_error`` method, so tests (and other front ends) replace the
modal dialogs without touching the logic.

Nothing the creator made is lost: saves are atomic, a bad file never replaces the
open document, autosave writes a recovery copy (never the creator's own file), and
a session that crashed is offered back on the next launch.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from enum import Enum
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from desktop.document import WorkflowDocument
from desktop.recovery import RecoveryCandidate, RecoveryStore
from nodes.atomic_write import write_atomically
from nodes.graph import Graph
from nodes.png_workflow import PNG_SIGNATURE
from nodes.problems import WorkflowError
from nodes.user_folders import data_folder

log = logging.getLogger("reelgraph.files")

WORKFLOW_SUFFIXES = (".json", ".png")
MAX_RECENT = 10
RECENT_FORMAT = "reelgraph.recent-files"


class UnsavedChoice(str, Enum):
    """The answer to "save the changes first?"."""

    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


def ask_unsaved(parent: QWidget | None, headline: str) -> UnsavedChoice:
    """The "save the changes first?" question, as a modal box."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes", headline,
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, parent)
    box.setInformativeText("Save them before going on?")
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Save:
        return UnsavedChoice.SAVE
    if answer == QMessageBox.StandardButton.Discard:
        return UnsavedChoice.DISCARD
    return UnsavedChoice.CANCEL


def safe_to_go_on(modified: bool, ask: Callable[[], UnsavedChoice], save: Callable[[], bool]) -> bool:
    """Before a document is closed or replaced: True when nothing unsaved would be lost
    (saved now if the creator says so); False when the creator cancels or the save fails."""
    if not modified:
        return True
    choice = UnsavedChoice(ask())
    if choice is UnsavedChoice.SAVE:
        return save()
    return choice is UnsavedChoice.DISCARD


class WorkflowFiles(QObject):
    """File operations for one document and the window that shows it."""

    #: The recent-files list changed (rebuild the File ▸ Open Recent menu).
    recentChanged = Signal()
    #: A recovery copy was written (its path), for the status bar.
    autosaved = Signal(str)
    #: An autosave failed (the reason); it is tried again on the next tick.
    autosaveFailed = Signal(str)
    _copy_written = Signal(str, str)

    def __init__(self, document: WorkflowDocument, parent_widget: QWidget | None = None,
                 recovery: RecoveryStore | None = None) -> None:
        super().__init__(parent_widget)
        self.document = document
        self.parent_widget = parent_widget
        self.recovery = recovery if recovery is not None else RecoveryStore()
        self._changed_since_autosave = False
        self._has_copy = False
        #: Where Save As proposes to write a workflow that came from a PNG.
        self._png_origin: Path | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.autosave)
        self._copy_written.connect(self._announce_autosave, Qt.ConnectionType.QueuedConnection)
        document.undo_stack.indexChanged.connect(self._note_change)
        document.reset.connect(self._note_change)

    # ----- opening ------------------------------------------------------------------
    def open_dialog(self) -> bool:
        path = self.ask_open_path()
        return self.open_path(path) if path is not None else False

    def open_path(self, path: str | os.PathLike[str]) -> bool:
        """Open a workflow JSON, or a PNG that carries one; a bad file leaves the document as it is.

        The file is read before asking to save the current changes, so a file that
        cannot be opened costs the creator nothing.
        """
        path = Path(path)
        try:
            graph = Graph.load(path)
        except WorkflowError as error:
            self.show_error("Cannot open the workflow",
                            f"Reelgraph could not open {path.name}.\n\n{error.report.text()}")
            return False
        if not self.maybe_save():
            return False
        # A PNG is a picture, not the workflow's home: saving asks for a JSON name instead of overwriting it.
        self._png_origin = path if _is_png(path) else None
        self.document.replace(graph, None if self._png_origin else path)
        self._remember(path)
        return True

    # ----- saving -------------------------------------------------------------------
    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self) -> bool:
        path = self.ask_save_path(self._suggested_path())
        if path is None:
            return False
        path = Path(path)
        if path.suffix.lower() == ".png":
            self.show_error("Cannot save as PNG", "Save As writes the workflow as JSON. A PNG carries a workflow "
                            "when the image.Save node renders it; choose a .json name.")
            return False
        return self._write(path)

    def maybe_save(self) -> bool:
        """Before closing or replacing the document: True when it is safe to go on."""
        return safe_to_go_on(self.document.modified, self.ask_unsaved_choice, self.save)

    def _write(self, path: Path) -> bool:
        target = path.resolve() if path.is_symlink() else path  # write through a link, never replace it
        try:
            mode = _mode_to_keep(target)
            self.document.graph.save(target)
        except (OSError, ValueError) as error:
            self.show_error("Cannot save the workflow",
                            f"Reelgraph could not save {path.name}: {error}.\n\n"
                            "Your work is still open and unchanged; try Save As with another folder.")
            return False
        try:
            os.chmod(target, mode)
        except OSError as error:
            log.warning("saved %s but could not set its permissions: %s", target, error)
        self.document.mark_saved(path)
        self._remember(path)
        self._drop_recovery_copy()
        return True

    def _suggested_path(self) -> Path:
        if self.document.path is not None:
            return self.document.path
        if self._png_origin is not None:
            return self._png_origin.with_suffix(".json")
        folder = next((recent.parent for recent in self.recent_paths()), Path.home())
        return folder / "workflow.json"

    # ----- recent files -------------------------------------------------------------
    def recent_paths(self) -> list[Path]:
        """Recently opened or saved workflows that still exist, newest first."""
        return [path for path in self._read_recent() if path.is_file()]

    def _remember(self, path: Path) -> None:
        path = path.absolute()
        paths = [path] + [other for other in self._read_recent() if other != path]
        document = {"format": RECENT_FORMAT, "version": 1, "paths": [str(item) for item in paths[:MAX_RECENT]]}
        try:
            write_atomically(_recent_file(), (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode())
        except OSError as error:
            log.warning("cannot update the recent-files list: %s", error)
            return
        self.recentChanged.emit()

    @staticmethod
    def _read_recent() -> list[Path]:
        try:
            document = json.loads(_recent_file().read_text(encoding="utf-8"))
            paths = document["paths"]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring an unreadable recent-files list: %s", error)
            return []
        return [Path(item) for item in paths if isinstance(item, str)] if isinstance(paths, list) else []

    # ----- autosave -----------------------------------------------------------------
    def start_autosave(self, interval_ms: int = 60_000) -> None:
        """Lock the session (so a crash is noticed next launch) and autosave on a timer."""
        self.recovery.acquire()
        self._timer.start(interval_ms)

    def autosave(self) -> Future | None:
        """Write a recovery copy now if the document changed since the last one.

        The document is turned into text here, on the UI thread; writing and syncing
        it to disk happens on a background thread so a slow disk never freezes the
        editor. Returns the write's future, or None when there was nothing to do.
        """
        if not self.document.modified:
            return self._drop_recovery_copy()
        if not self._changed_since_autosave:
            return None
        text = self.document.graph.dumps()
        original = self.document.path
        self._changed_since_autosave = False
        self._has_copy = True
        return self._in_background(self._write_copy, text, original)

    def _write_copy(self, text: str, original: Path | None) -> None:
        try:
            path = self.recovery.write_copy(text, original)
        except OSError as error:
            log.warning("autosave failed: %s", error)
            self._copy_written.emit("", str(error))
            raise
        self._copy_written.emit(str(path), "")

    def _announce_autosave(self, path: str, failure: str) -> None:
        if failure:
            self._changed_since_autosave = True
            self.autosaveFailed.emit(failure)
        else:
            self.autosaved.emit(path)

    def _drop_recovery_copy(self) -> Future | None:
        if not self._has_copy:
            return None
        self._has_copy = False
        return self._in_background(self.recovery.remove_copy)

    def _note_change(self) -> None:
        self._changed_since_autosave = True

    def _in_background(self, function, *arguments) -> Future:  # type: ignore[no-untyped-def]
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelgraph-autosave")
        return self._writer.submit(function, *arguments)

    def wait_for_autosave(self) -> None:
        """Block until every recovery write already started has finished."""
        if self._writer is not None:
            self._writer.submit(lambda: None).result()

    # ----- recovery -----------------------------------------------------------------
    def offer_recovery(self) -> bool:
        """After a crash: offer the copies left by dead sessions, newest first.

        Accepting opens the chosen copy as a modified document tied to its original
        file; the copies declined are removed, and any not chosen wait for the next launch.
        """
        candidates = []
        for session_id in self.recovery.crashed_sessions():
            if not self.recovery.claim(session_id):
                continue  # another Reelgraph window is offering it right now
            candidate = self.recovery.candidate(session_id)
            if candidate is None:
                self.recovery.discard(session_id)  # crashed before it had anything to keep
            else:
                candidates.append(candidate)
        if not candidates:
            return False
        candidates.sort(key=lambda item: item.saved_at, reverse=True)
        chosen = self.ask_recover(candidates)
        if chosen is None:
            for candidate in candidates:
                self.recovery.discard(candidate.session_id)
            return False
        for candidate in candidates:
            if candidate.session_id != chosen.session_id:
                self.recovery.unclaim(candidate.session_id)
        if not self._recover(chosen):
            self.recovery.unclaim(chosen.session_id)
            return False
        self.recovery.discard(chosen.session_id)
        return True

    def _recover(self, candidate: RecoveryCandidate) -> bool:
        try:
            graph = Graph.load(candidate.copy_path)
        except WorkflowError as error:
            self.show_error("Cannot recover the workflow", f"The recovery copy {candidate.copy_path} could not be "
                            f"read; it is left where it is.\n\n{error.report.text()}")
            return False
        if not self.maybe_save():
            return False
        self.document.replace(graph, candidate.original_path)
        self.document.undo_stack.resetClean()  # unsaved until the creator saves it
        self._changed_since_autosave = True
        self.recovery.acquire()
        try:
            self.autosave().result()  # our own copy exists before the old one is removed
        except OSError:
            return False
        return True

    def close_session(self) -> None:
        """Clean exit: stop autosaving, remove this session's recovery copy and lock."""
        self._timer.stop()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        self.recovery.release()
        self._has_copy = False

    # ----- drag and drop ------------------------------------------------------------
    def install_drop_target(self, widget: QWidget) -> QObject:
        """Open .json and .png files dropped on ``widget`` (for the canvas: the view's viewport)."""
        dropper = _WorkflowDropFilter(self, widget)
        widget.setAcceptDrops(True)
        widget.installEventFilter(dropper)
        return dropper

    # ----- questions to the creator (replace these in tests) ---------------------------
    def ask_open_path(self) -> Path | None:
        start = self.document.path.parent if self.document.path else self._suggested_path().parent
        chosen, _ = QFileDialog.getOpenFileName(
            self.parent_widget, "Open workflow", str(start),
            "Workflows (*.json *.png);;Workflow JSON (*.json);;PNG with a workflow (*.png);;All files (*)")
        return Path(chosen) if chosen else None

    def ask_save_path(self, suggested: Path) -> Path | None:
        dialog = QFileDialog(self.parent_widget, "Save workflow as", str(suggested), "Workflow JSON (*.json)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("json")  # before the overwrite check, so "name" asks about "name.json"
        dialog.selectFile(str(suggested))
        if dialog.exec() != QFileDialog.DialogCode.Accepted or not dialog.selectedFiles():
            return None
        return Path(dialog.selectedFiles()[0])

    def ask_unsaved_choice(self) -> UnsavedChoice:
        name = self.document.path.name if self.document.path else "This workflow"
        return ask_unsaved(self.parent_widget, f"{name} has changes that are not saved.")

    def ask_recover(self, candidates: list[RecoveryCandidate]) -> RecoveryCandidate | None:
        """Which copy to recover (None: discard them all)."""
        text = "Reelgraph did not close properly last time. Recover the work it autosaved?"
        if len(candidates) == 1:
            box = QMessageBox(QMessageBox.Icon.Question, "Recover work", text, QMessageBox.StandardButton.NoButton,
                              self.parent_widget)
            box.setInformativeText(candidates[0].describe())
            recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
            box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
            box.setDefaultButton(recover)
            box.exec()
            return candidates[0] if box.clickedButton() is recover else None
        labels = [candidate.describe() for candidate in candidates]
        label, accepted = QInputDialog.getItem(self.parent_widget, "Recover work", text + "\n(Cancel discards them "
                                               "all; copies not chosen are offered again next time.)", labels, 0,
                                               False)
        return candidates[labels.index(label)] if accepted and label in labels else None

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent_widget, title, text)


class _WorkflowDropFilter(QObject):
    """Accepts drags of workflow files; other drags (palette, nodes) pass through untouched."""

    def __init__(self, files: WorkflowFiles, widget: QWidget) -> None:
        super().__init__(widget)
        self.files = files

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return False
        path = dropped_workflow(event.mimeData())
        if path is None:
            return False
        event.acceptProposedAction()
        if kind == QEvent.Type.Drop:
            # Opened after the drop finishes: a "save changes?" dialog inside a drop handler
            # would hold the drag source (the file manager) hostage.
            QTimer.singleShot(0, lambda: self.files.open_path(path))
        return True


def dropped_workflow(mime) -> Path | None:  # type: ignore[no-untyped-def]
    """The first local .json or .png file in dragged data."""
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.suffix.lower() in WORKFLOW_SUFFIXES:
                return path
    return None


def _is_png(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    except OSError:
        return path.suffix.lower() == ".png"


def _mode_to_keep(path: Path) -> int:
    """The permissions a save should leave: the file's own, or the usual ones for a new file
    (the temporary file a save goes through is created private)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _recent_file() -> Path:
    return data_folder() / "recent-files.json"
