"""A creator's episode project on disk: open, save elsewhere, unsaved-changes question, crash recovery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from desktop.files import UnsavedChoice
from desktop.project_files import ProjectFiles, recovery_folder
from desktop.recovery import RecoveryStore
from desktop.timeline_document import ProjectDocument
from nodes.timeline import ImageSource, Project, Timeline, Track


def still_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 36), (200, 40, 40)).save(folder / "red.png")
    project = Project(Timeline(video_tracks=[Track("V1")]), name="Pilot", folder=folder)
    document = ProjectDocument(project)
    document.add_clip("V1", ImageSource("red.png"), 0.0, source_out=2.0)
    return project.save(folder / "pilot.json")


class QuietFiles(ProjectFiles):
    """The dialogs answered the way the story says."""

    def __init__(self, document: ProjectDocument, **answers: Any) -> None:
        super().__init__(document)
        self.answers = answers
        self.errors: list[str] = []

    def ask_save_path(self, suggested: Path) -> Path | None:
        return self.answers.get("save_path")

    def ask_unsaved_choice(self) -> UnsavedChoice:
        return self.answers.get("unsaved", UnsavedChoice.CANCEL)

    def ask_recover(self, description: str) -> bool:
        self.answers["asked"] = description
        return self.answers.get("recover", True)

    def show_error(self, title: str, text: str) -> None:
        self.errors.append(text)


def test_saving_into_another_folder_keeps_the_clips_pointing_at_the_same_files(tmp_path: Path, qtbot: Any) -> None:
    source = still_project(tmp_path / "episode")
    document = ProjectDocument()
    files = QuietFiles(document, save_path=tmp_path / "elsewhere" / "copy.json")
    (tmp_path / "elsewhere").mkdir()
    assert files.open_path(source)
    assert files.save_as()
    reopened = Project.load(tmp_path / "elsewhere" / "copy.json")
    (_, clip), = list(reopened.timeline.clips())
    assert reopened.resolve(clip.source.path).resolve() == (tmp_path / "episode" / "red.png").resolve()
    assert files.last_path() == (tmp_path / "elsewhere" / "copy.json").resolve()


def test_a_broken_project_file_is_reported_and_the_open_project_stays(tmp_path: Path, qtbot: Any) -> None:
    document = ProjectDocument()
    files = QuietFiles(document)
    assert files.open_path(still_project(tmp_path / "episode"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "reelgraph.project", "version": 1, "timeline": {"fps": "fast"}}')
    assert not files.open_path(broken)
    assert "broken.json" in files.errors[0] and "fps" in files.errors[0]
    assert document.path.name == "pilot.json" and len(list(document.project.timeline.clips())) == 1


def test_unsaved_timeline_changes_are_asked_about_and_cancel_keeps_them(tmp_path: Path, qtbot: Any) -> None:
    document = ProjectDocument()
    files = QuietFiles(document, unsaved=UnsavedChoice.CANCEL)
    files.open_path(still_project(tmp_path / "episode"))
    document.add_marker(1.0, "cut")
    assert not files.new_project()
    assert document.project.timeline.markers and document.modified
    files.answers["unsaved"] = UnsavedChoice.SAVE
    assert files.new_project()
    assert Project.load(tmp_path / "episode" / "pilot.json").timeline.markers[0].name == "cut"


def test_a_crashed_sessions_timeline_is_offered_back(tmp_path: Path, qtbot: Any) -> None:
    source = still_project(tmp_path / "episode")
    crashed = subprocess.run([sys.executable, "-c", CRASHING_SESSION, str(source)], env=dict(os.environ),
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == -9, crashed.stderr
    document = ProjectDocument()
    files = QuietFiles(document, recover=True)
    assert files.offer_recovery()
    assert "pilot.json" in files.answers["asked"]
    assert [marker.name for marker in document.project.timeline.markers] == ["after the last save"]
    assert document.modified and document.path == source
    files.close_session()
    assert not any(RecoveryStore(recovery_folder()).folder.glob("*.lock"))


CRASHING_SESSION = """
import os, signal, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtWidgets import QApplication
from desktop.project_files import ProjectFiles
from desktop.timeline_document import ProjectDocument
app = QApplication([])
document = ProjectDocument()
files = ProjectFiles(document)
assert files.open_path(sys.argv[1])
files.start_autosave(60_000)
document.add_marker(1.0, "after the last save")
assert files.autosave() is not None
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_project_that_cannot_be_rewritten_for_another_folder_is_reported_and_stays_open(tmp_path: Path,
                                                                                        qtbot: Any) -> None:
    source = still_project(tmp_path / "episode")
    document = ProjectDocument()
    files = QuietFiles(document, save_path=tmp_path / "elsewhere" / "copy.json")
    (tmp_path / "elsewhere").mkdir()
    assert files.open_path(source)
    document.project.meta["loudness"] = float("nan")  # put there by a script: no JSON file can hold it
    assert not files.save_as()
    assert len(files.errors) == 1 and "could not save copy.json" in files.errors[0]
    assert "not a finite number" in files.errors[0]
    assert document.path == source and not (tmp_path / "elsewhere" / "copy.json").exists()
