"""Opening, saving, autosave and crash recovery, as a creator lives them: a bad file
never costs the open work, a failed save never costs the file on disk, and a crash
never costs more than the last minute."""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from desktop.document import WorkflowDocument
from desktop.files import UnsavedChoice, WorkflowFiles
from desktop.recovery import RecoveryStore, process_is_alive
from gpu.executor import Executor
from nodes.graph import Graph
from resources import example_workflow

ROOT = Path(__file__).resolve().parents[2]
HELLO = example_workflow("hello")


class ScriptedFiles(WorkflowFiles):
    """WorkflowFiles whose dialogs answer from a script and record what they were asked."""

    def __init__(self, document: WorkflowDocument, **answers) -> None:
        super().__init__(document)
        self.open_answers: list[Path | None] = list(answers.get("open", []))
        self.save_answers: list[Path | None] = list(answers.get("save_as", []))
        self.unsaved_answers: list[UnsavedChoice] = list(answers.get("unsaved", []))
        self.recover_answer = answers.get("recover", lambda candidates: None)
        self.suggested: list[Path] = []
        self.offered: list[list] = []
        self.errors: list[tuple[str, str]] = []

    def ask_open_path(self):
        return self.open_answers.pop(0)

    def ask_save_path(self, suggested):
        self.suggested.append(suggested)
        return self.save_answers.pop(0)

    def ask_unsaved_choice(self):
        return self.unsaved_answers.pop(0)

    def ask_recover(self, candidates):
        self.offered.append(candidates)
        return self.recover_answer(candidates)

    def show_error(self, title, text):
        self.errors.append((title, text))


@pytest.fixture(autouse=True)
def home(tmp_path_factory, monkeypatch) -> Path:
    """Each test has its own data folder: recent files and recovery copies start empty."""
    folder = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("REELGRAPH_HOME", str(folder))
    return folder


@pytest.fixture
def document(qapp, registry):
    return WorkflowDocument(registry)


@pytest.fixture
def files(document):
    files = ScriptedFiles(document)
    yield files
    files.close_session()


def workflow_file(folder: Path, name: str = "red.json", colour: str = "#ff0000") -> Path:
    graph = Graph()
    solid = graph.add("image.Solid", {"width": 8, "height": 4, "color": colour}, node_id="solid")
    graph.add("image.Save", {"image": [solid, "image"], "filename_prefix": "card"}, node_id="save")
    return graph.save(folder / name)


def recovery_files(home: Path) -> list[str]:
    folder = home / "recovery"
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


# ----- opening ---------------------------------------------------------------------------
def test_opening_a_workflow_shows_it_clean_and_adds_it_to_the_recent_list(files, document, tmp_path):
    path = workflow_file(tmp_path)
    assert files.open_path(path)
    assert document.graph.to_dict() == Graph.load(path).to_dict()
    assert document.path == path and not document.modified
    assert files.recent_paths() == [path]


def test_the_open_dialog_opens_what_the_creator_picks_and_cancel_changes_nothing(files, document):
    files.open_answers = [None, HELLO]
    assert not files.open_dialog()
    assert document.graph.nodes == {}
    assert files.open_dialog()
    assert document.path == HELLO


def test_a_png_rendered_by_image_save_opens_as_its_workflow_without_becoming_its_file(files, document, registry,
                                                                                       tmp_path):
    graph = Graph.load(workflow_file(tmp_path, colour="#00ffea"))
    with Executor(registry, output_dir=tmp_path / "out", cpu_workers=1) as executor:
        result = executor.run(graph)
    png = Path(result.outputs["save"]["path"])
    assert files.open_path(png)
    assert document.graph.to_dict() == graph.to_dict()
    assert document.path is None  # Save must not write JSON over the picture
    assert files.recent_paths() == [png]
    files.save_answers = [tmp_path / "from-png.json"]
    assert files.save()
    assert files.suggested == [png.with_suffix(".json")]
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("content, expected", [
    (b'{"format": "reelgraph.workflow", "version": 1, "nodes": {', "not valid JSON"),
    (json.dumps({"format": "reelgraph.workflow", "version": 99, "nodes": {}}).encode(), "newer Reelgraph"),
    (json.dumps({"format": "reelgraph.workflow", "version": 1, "nodes": {"1": {"inputs": {}}}}).encode(),
     "the node has no 'type'"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "PNG is damaged"),
], ids=["corrupt-json", "newer-version", "malformed-node", "damaged-png"])
def test_a_bad_file_is_refused_with_its_report_and_the_open_work_is_untouched(files, document, tmp_path,
                                                                               content, expected):
    files.open_path(HELLO)
    document.add_node("core.Float", (5, 5))
    before = document.graph.to_dict()
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert not files.open_path(bad)
    [(title, text)] = files.errors
    assert "bad.json" in text and expected in text
    assert document.graph.to_dict() == before
    assert document.path == HELLO and document.modified
    assert files.recent_paths() == [HELLO]


def test_a_png_without_a_workflow_says_so(files, document, tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "photo.png")
    assert not files.open_path(tmp_path / "photo.png")
    assert "carries no Reelgraph workflow" in files.errors[0][1]
    assert document.graph.nodes == {}


def test_opening_another_file_asks_first_and_cancel_keeps_the_unsaved_work(files, document, tmp_path):
    files.open_path(HELLO)
    document.add_node("core.Float")
    edited = document.graph.to_dict()
    files.unsaved_answers = [UnsavedChoice.CANCEL, UnsavedChoice.DISCARD]
    other = workflow_file(tmp_path)
    assert not files.open_path(other)
    assert document.graph.to_dict() == edited and document.path == HELLO
    assert files.open_path(other)
    assert document.path == other and not document.modified


# ----- saving -----------------------------------------------------------------------------
def test_save_replaces_the_file_atomically_and_leaves_no_temporary_file(files, document, tmp_path):
    path = workflow_file(tmp_path)
    files.open_path(path)
    node = document.add_node("core.Float", (100, 100))
    assert document.modified
    assert files.save()
    assert not document.modified
    assert node in Graph.load(path).nodes
    assert sorted(item.name for item in tmp_path.iterdir()) == ["red.json"]


def test_a_failed_save_keeps_the_old_file_intact_and_the_changes_unsaved(files, document, tmp_path, monkeypatch):
    path = workflow_file(tmp_path)
    original = path.read_bytes()
    files.open_path(path)
    document.add_node("core.Float")

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    assert not files.save()
    assert "No space left on device" in files.errors[0][1]
    assert path.read_bytes() == original
    assert sorted(item.name for item in tmp_path.iterdir()) == ["red.json"]
    assert document.modified
    monkeypatch.undo()
    assert files.save() and not document.modified


def test_save_keeps_the_files_permissions(files, document, tmp_path):
    path = workflow_file(tmp_path)
    path.chmod(0o640)
    files.open_path(path)
    document.add_node("core.Float")
    assert files.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_save_of_a_new_workflow_asks_for_a_name_and_save_as_moves_the_document(files, document, tmp_path):
    document.add_node("core.Float")
    files.save_answers = [None, tmp_path / "first.json", tmp_path / "second.json"]
    assert not files.save()  # the creator cancelled the dialog
    assert document.modified and document.path is None
    assert files.save()
    assert document.path == tmp_path / "first.json" and not document.modified
    assert files.save_as()
    assert document.path == tmp_path / "second.json"
    assert files.suggested[-1] == tmp_path / "first.json"
    assert files.recent_paths() == [tmp_path / "second.json", tmp_path / "first.json"]
    assert Graph.load(tmp_path / "second.json").to_dict() == Graph.load(tmp_path / "first.json").to_dict()


def test_save_as_refuses_to_write_json_into_a_png_name(files, document, tmp_path):
    document.add_node("core.Float")
    files.save_answers = [tmp_path / "picture.png"]
    assert not files.save_as()
    assert "choose a .json name" in files.errors[0][1]
    assert not (tmp_path / "picture.png").exists() and document.modified


def test_recent_list_is_newest_first_without_duplicates_or_vanished_files(files, tmp_path):
    paths = [workflow_file(tmp_path, f"w{number}.json") for number in range(12)]
    for path in paths:
        files.open_path(path)
    files.open_path(paths[5])
    paths[11].unlink()
    assert files.recent_paths() == [paths[5], paths[10], paths[9], paths[8], paths[7], paths[6], paths[4],
                                    paths[3], paths[2]]
    (Path(os.environ["REELGRAPH_HOME"]) / "recent-files.json").write_text("{oops")
    assert files.recent_paths() == []


@pytest.mark.parametrize("choice, save_as, expected, saved", [
    (UnsavedChoice.SAVE, "kept.json", True, True),
    (UnsavedChoice.SAVE, None, False, False),  # Save, then cancelled the Save As dialog
    (UnsavedChoice.DISCARD, None, True, False),
    (UnsavedChoice.CANCEL, None, False, False),
])
def test_maybe_save_follows_the_creators_choice(files, document, tmp_path, choice, save_as, expected, saved):
    assert files.maybe_save()  # nothing to ask about yet
    document.add_node("core.Float")
    files.unsaved_answers = [choice]
    files.save_answers = [tmp_path / save_as if save_as else None]
    assert files.maybe_save() is expected
    assert (tmp_path / "kept.json").is_file() is saved
    assert document.modified is not saved


# ----- autosave and recovery -----------------------------------------------------------------
def test_autosave_writes_a_recovery_copy_only_when_modified_and_never_the_users_file(files, document, tmp_path,
                                                                                    home):
    path = workflow_file(tmp_path)
    original = path.read_bytes()
    files.open_path(path)
    files.start_autosave(interval_ms=60_000)
    session = files.recovery.session_id
    assert files.autosave() is None
    assert recovery_files(home) == [f"{session}.lock"]
    node = document.add_node("core.Float")
    files.autosave().result()
    assert recovery_files(home) == [f"{session}.json", f"{session}.lock", f"{session}.meta.json"]
    assert node in Graph.load(home / "recovery" / f"{session}.json").nodes
    meta = json.loads((home / "recovery" / f"{session}.meta.json").read_text())
    assert meta["original_path"] == str(path)
    assert files.autosave() is None  # nothing changed since
    assert path.read_bytes() == original
    assert sorted(item.name for item in tmp_path.iterdir()) == ["red.json"]
    assert files.save()
    files.wait_for_autosave()
    assert recovery_files(home) == [f"{session}.lock"]  # the saved file is the truth again
    files.close_session()
    assert recovery_files(home) == []


def test_the_autosave_timer_writes_after_an_edit(files, document, qtbot, home):
    files.start_autosave(interval_ms=20)
    document.add_node("core.Float")
    with qtbot.waitSignal(files.autosaved, timeout=5000) as written:
        pass
    assert Path(written.args[0]) == home / "recovery" / f"{files.recovery.session_id}.json"


CRASHING_SESSION = textwrap.dedent("""
    import sys
    from PySide6.QtWidgets import QApplication
    from desktop.document import WorkflowDocument
    from desktop.files import WorkflowFiles
    from nodes.registry import builtin_registry

    app = QApplication([])
    document = WorkflowDocument(builtin_registry())
    files = WorkflowFiles(document)
    assert files.open_path(sys.argv[1])
    document.add_node("core.Float", (300, 40), inputs={"value": 2.5}, title="made before the crash")
    document.set_value("solid", "color", "#123456")
    files.autosaved.connect(lambda path: print("autosaved", path, flush=True))
    files.start_autosave(interval_ms=50)
    app.exec()
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_after_a_real_crash_the_next_session_recovers_the_edits(document, tmp_path, home):
    path = workflow_file(tmp_path)
    original = path.read_bytes()
    environment = {**os.environ, "REELGRAPH_HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
                   "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    crashing = subprocess.Popen([sys.executable, "-c", CRASHING_SESSION, str(path)], cwd=ROOT, env=environment,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([crashing.stdout], [], [], 30)
        line = crashing.stdout.readline() if ready else ""
        assert line.startswith("autosaved"), crashing.stderr.read() if crashing.poll() is not None else line
    finally:
        crashing.send_signal(signal.SIGKILL)
        crashing.wait(10)
    assert crashing.returncode == -signal.SIGKILL
    assert path.read_bytes() == original

    files = ScriptedFiles(document, recover=lambda candidates: candidates[0])
    try:
        assert files.offer_recovery()
        [[candidate]] = files.offered
        assert candidate.original_path == path and not candidate.original_changed_later
        made = [node for node in document.graph.nodes.values() if node.title == "made before the crash"]
        assert [node.inputs["value"] for node in made] == [2.5]
        assert document.graph.nodes["solid"].inputs["color"] == "#123456"
        assert document.path == path and document.modified
        assert path.read_bytes() == original  # recovered, but only the creator's Save writes the file
        own = files.recovery.session_id
        assert recovery_files(home) == [f"{own}.json", f"{own}.lock", f"{own}.meta.json"]
        assert not files.offer_recovery()  # recovered once, never offered again
        assert files.save()
        assert Graph.load(path).nodes["solid"].inputs["color"] == "#123456"
    finally:
        files.close_session()
    assert recovery_files(home) == []


def crashed_session(home: Path, pid: int, text: str, original: Path | None, saved_at: float) -> str:
    """Leave the files a session with ``pid`` would leave had it crashed."""
    store = RecoveryStore(home / "recovery")
    store.write_copy(text, original)
    store.lock_path().write_text(json.dumps({"pid": pid}))
    meta = json.loads(store.meta_path().read_text())
    store.meta_path().write_text(json.dumps({**meta, "saved_at": saved_at}))
    return store.session_id


def dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def test_recovery_offers_dead_sessions_newest_first_and_declining_removes_them(files, document, home, tmp_path):
    pid = dead_pid()
    older = crashed_session(home, pid, Graph.load(HELLO).dumps(), HELLO, time.time() - 600)
    newer = crashed_session(home, pid, Graph().dumps(), None, time.time() - 60)
    empty = RecoveryStore(home / "recovery")
    empty.lock_path().parent.mkdir(parents=True, exist_ok=True)
    empty.lock_path().write_text(json.dumps({"pid": pid}))  # crashed before it had anything to keep
    alive = RecoveryStore(home / "recovery")
    alive.write_copy(Graph().dumps(), None)  # another window, still running

    assert not files.offer_recovery()
    [offered] = files.offered
    assert [candidate.session_id for candidate in offered] == [newer, older]
    assert "unsaved workflow" in offered[0].describe() and "hello.json" in offered[1].describe()
    assert document.graph.nodes == {}
    assert recovery_files(home) == sorted(path.name for path in alive.folder.glob(f"{alive.session_id}*"))
    alive.release()


def test_copies_not_chosen_wait_for_the_next_launch(files, document, home):
    pid = dead_pid()
    older = crashed_session(home, pid, Graph.load(HELLO).dumps(), HELLO, time.time() - 600)
    crashed_session(home, pid, Graph().dumps(), None, time.time() - 60)
    files.recover_answer = lambda candidates: candidates[1]
    assert files.offer_recovery()
    assert document.path == HELLO and document.modified
    later = ScriptedFiles(WorkflowDocument(document.registry))
    assert not later.offer_recovery()
    assert [candidate.original_path for candidate in later.offered[0]] == [None]
    assert older not in " ".join(recovery_files(home))


def test_a_lock_whose_pid_now_belongs_to_another_program_counts_as_a_crash():
    assert process_is_alive({"pid": os.getpid()})
    if Path("/proc/self/stat").exists():
        assert not process_is_alive({"pid": os.getpid(), "process_start": 1})
    assert not process_is_alive({"pid": dead_pid()})
    assert not process_is_alive({"pid": "12"})


# ----- drag and drop -------------------------------------------------------------------------
def drag_data(*paths: Path) -> QMimeData:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    return data


def test_dropping_a_workflow_file_on_the_canvas_opens_it(files, document, qtbot, tmp_path):
    canvas = QWidget()
    qtbot.addWidget(canvas)
    files.install_drop_target(canvas)
    assert canvas.acceptDrops()
    path = workflow_file(tmp_path)
    data = drag_data(tmp_path / "notes.txt", path)
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier, QEvent.Type.Drop)
    QApplication.sendEvent(canvas, drop)
    qtbot.waitUntil(lambda: document.path == path, timeout=2000)
    assert document.graph.to_dict() == Graph.load(path).to_dict()


def test_drags_that_carry_no_workflow_file_pass_through(files, document, qtbot, tmp_path):
    canvas = QWidget()
    qtbot.addWidget(canvas)
    files.install_drop_target(canvas)
    text = QMimeData()
    text.setText("math.Add")
    for data in (text, drag_data(tmp_path / "notes.txt")):
        enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
        enter.ignore()
        QApplication.sendEvent(canvas, enter)
        assert not enter.isAccepted()
