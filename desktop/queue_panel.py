"""The queue panel: the render queue in the window. Every job with its status, a
progress bar while it runs, its thumbnail when it is done, its error when it failed;
one line with what waits and when it will all be done; drag to reorder; cancel,
retry, delete, pause; "Open in editor" for the graph that made a job; and a banner
(and a desktop notification) when a job finishes or fails.

The queue is on disk and shared: a headless ``reelgraph queue work`` or another
window may change it at any time. The panel polls ``RenderQueue.revision()`` (a
counter that moves on every change, from any process) and reads a page again only
when it moved; a read is about a millisecond, so it happens on the GUI thread.

By default the window also runs jobs ("Run jobs in this window", see
``desktop/queue_runner.py``) on the app's shared Executor.

    panel = QueuePanel(RenderQueue(), executor)   # a queue=None opens the user's own
    panel.add_graph(document.graph, "forest walk")
    panel.openGraph.connect(...)                  # Graph: the snapshot a job ran
    panel.jobEnded.connect(...)                   # Job: completed or failed
    panel.shutdown()                              # the window closes
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QItemSelectionModel, QPoint, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox, QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget,
)

from desktop.queue_delegate import JobList
from desktop.queue_eta import average_seconds, estimate_seconds, overall_line
from desktop.queue_model import LIST_LIMIT, QueueModel, waiting
from desktop.banner import ERROR, SUCCESS, WARNING, Banner
from desktop.queue_notice import BANNER_SECONDS, EndingWatch, TrayNotifier, ended_words
from desktop.queue_runner import QueueRunner
from desktop.theme import icon
from gpu.executor import Executor
from gpu.queue import RenderQueue
from gpu.queue_jobs import CANCELLED, COMPLETED, FAILED, PAUSED, QUEUED, RUNNING, Job, QueueError
from nodes.graph import Graph
from nodes.problems import WorkflowError
from nodes.validation import validate

log = logging.getLogger("reelgraph.desktop")

REFRESH_MS = 300
#: Finished jobs read on each change, to notice endings and to average durations.
RECENT = 20


class QueuePanel(QWidget):
    #: "Open in editor": the graph snapshot the job ran (a nodes.graph.Graph).
    openGraph = Signal(object)
    #: A job completed or failed (the gpu.queue_jobs.Job as it ended), whoever ran it.
    jobEnded = Signal(object)
    #: A short message for the status bar.
    message = Signal(str)

    def __init__(self, queue: RenderQueue | None, executor: Executor, *, run_jobs: bool = True,
                 refresh_ms: int = REFRESH_MS, worker_poll_seconds: float = 0.5,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._owns_queue = queue is None
        self.queue = queue if queue is not None else RenderQueue()
        self.executor = executor
        self.model = QueueModel(self.queue, parent=self)
        self.runner = QueueRunner(self.queue.path, executor, poll_seconds=worker_poll_seconds, parent=self)
        self.tray = TrayNotifier(self)
        self._revision: int | None = None
        self._counts: dict[str, int] = {}
        self._paused = False
        self._recent: list[Job] = []
        self.endings = EndingWatch()
        self._kept_selection: list[int] = []
        self._closed = False
        self._build(run_jobs)
        self._connect()
        self.refresh(force=True, announce=False)
        self._timer = QTimer(self)
        self._timer.setInterval(refresh_ms)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        if run_jobs:
            self.runner.start()

    # ----- building ----------------------------------------------------------------------------
    def _build(self, run_jobs: bool) -> None:
        self.overall_label = QLabel(self)
        self.overall_label.setObjectName("queueOverall")
        self.pause_queue_action = self._action("Pause queue", "pause", self._pause_toggled,
                                               "No new job starts while the queue is paused; a running job finishes")
        self.pause_queue_action.setCheckable(True)
        self.clear_action = self._action("Clear finished", "close", self.clear_finished,
                                         "Forget completed, failed and cancelled jobs (their files stay)")
        self.open_action = self._action("Open in editor", "open", self.open_selected,
                                        "Open the graph this job ran (as it was when queued) in the editor")
        self.retry_action = self._action("Retry", "redo", self.retry_selected,
                                         "Queue a failed or cancelled job again; it resumes where it stopped")
        self.cancel_action = self._action("Cancel", "stop", self.cancel_selected,
                                          "Cancel: a waiting job at once, a running one at its next step")
        self.delete_action = self._action("Delete", "close", self.delete_selected, "Forget the job (its files stay)",
                                          QKeySequence(QKeySequence.StandardKey.Delete))
        self.hold_action = self._action("Hold", "pause", self.hold_selected,
                                        "Hold a waiting job back (or pause a running one at its next step)")
        self.release_action = self._action("Release", "play", self.release_selected, "Let a held job run again")
        self.first_action = self._action("Run next", "chevron-up", self.move_selected_first,
                                         "Move the job to the front of the queue")
        self.show_file_action = self._action("Show output file", "folder", self.show_output_selected,
                                             "Open the folder with the job's output")
        self.run_here_box = QCheckBox("Run jobs in this window", self)
        self.run_here_box.setChecked(run_jobs)
        self.run_here_box.setToolTip("This window takes jobs from the queue and renders them on this computer. "
                                     "A headless `reelgraph queue work` may serve the same queue too: no job "
                                     "runs twice.")
        self.banner = Banner("queueBanner", self)
        self.list_view = JobList(self.model, self)
        self.list_view.addAction(self.delete_action)

        top = QHBoxLayout()
        top.addWidget(self.overall_label, 1)
        top.addWidget(self._button(self.pause_queue_action))
        top.addWidget(self._button(self.clear_action))
        bottom = QHBoxLayout()
        bottom.addWidget(self._button(self.open_action))
        bottom.addWidget(self.run_here_box)
        bottom.addStretch(1)
        for action in (self.retry_action, self.cancel_action, self.delete_action):
            bottom.addWidget(self._button(action))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.list_view, 1)
        layout.addLayout(bottom)

    def _action(self, text: str, icon_name: str, slot: Callable[[], object], tip: str,
                shortcut: QKeySequence | None = None) -> QAction:
        action = QAction(icon(icon_name), text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcut is not None:
            action.setShortcut(shortcut)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        return action

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton(self)
        button.setDefaultAction(action)
        button.setIconSize(QSize(14, 14))
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def _connect(self) -> None:
        self.list_view.selectionModel().selectionChanged.connect(self._update_actions)
        self.list_view.customContextMenuRequested.connect(self._show_menu)
        self.model.modelAboutToBeReset.connect(self._keep_selection)
        self.model.modelReset.connect(self._restore_selection)
        self.model.refused.connect(lambda text: self.say(f"Cannot reorder: {text}", WARNING))
        self.model.layoutChanged.connect(self._update_actions)
        self.run_here_box.toggled.connect(self.set_run_jobs)
        self.runner.attemptEnded.connect(lambda job: self.refresh())

    # ----- the queue, read again when it changed ------------------------------------------------------
    def refresh(self, force: bool = False, announce: bool = True) -> bool:
        """Read the queue again if it changed (or ``force``); True when it did. The overall
        line is redrawn either way (its ETA moves with the clock)."""
        if self._closed:
            return False
        try:
            revision = self.queue.revision()
            changed = force or revision != self._revision
            if changed:
                self._revision = revision
                self.model.refresh()
                self._counts = self.queue.counts()
                self._paused = self.queue.paused
                self._recent = self.queue.list_jobs((COMPLETED, FAILED), page_size=RECENT)
        except sqlite3.Error as error:  # the disk went away, the file was damaged...
            log.warning("could not read the render queue: %s", error)
            self.overall_label.setText(f"Cannot read the queue: {error}")
            return False
        if changed:
            self._notice_endings(announce)
            self._sync_pause_action()
            self._update_actions()
        self._update_overall()
        return changed

    def overall_text(self) -> str:
        return self.overall_label.text()

    def _update_overall(self) -> None:
        running = [job for job in self.model.jobs if job.status == RUNNING]
        average = average_seconds(self._recent)
        eta = estimate_seconds(running, self._counts.get(QUEUED, 0), average)
        text = overall_line(self._counts, self._paused, eta)
        total = sum(self._counts.values())
        if total > LIST_LIMIT:
            text += f" · showing {LIST_LIMIT} of {total}"
        if text != self.overall_label.text():
            self.overall_label.setText(text)

    def _notice_endings(self, announce: bool) -> None:
        ended = self.endings.new_endings(self._recent)
        if announce and ended:
            for job in ended:
                self.jobEnded.emit(job)
            self._announce(ended[-1], len(ended) - 1)

    def say(self, text: str, kind: str) -> None:
        """News on the banner for a few seconds (it is in the job list too)."""
        self.banner.announce(text, kind, seconds=BANNER_SECONDS)

    def _announce(self, job: Job, others: int) -> None:
        title, text = ended_words(job)
        if others:
            text += f" (and {others} more job{'s' if others > 1 else ''} ended)"
        failed = job.status == FAILED
        self.say(text, ERROR if failed else SUCCESS)
        self.message.emit(text)
        if not self.window().isActiveWindow():
            self.tray.notify(title, text, failed)

    # ----- adding --------------------------------------------------------------------------------
    def add_graph(self, graph: Graph, name: str = "", *, priority: int = 0,
                  output_dir: str | Path | None = None) -> Job | None:
        """Queue a snapshot of ``graph`` (the editor's "Queue" action); None, with the
        reason on the banner, when the workflow cannot run as it is."""
        report = validate(graph, self.executor.registry)
        label = name or str(graph.meta.get("title") or graph.meta.get("name") or "untitled")
        if not report.ok:
            first = report.errors[0]
            self.say(f"“{label}” was not queued: {first} {getattr(first, 'fix', '') or ''}".strip(), ERROR)
            self.message.emit(f"“{label}” was not queued: the workflow has errors")
            return None
        folder = output_dir if output_dir is not None else self.executor.output_dir.resolve()
        job = self.queue.add(graph, name=label, priority=priority, output_dir=folder)
        self.runner.wake()
        self.refresh(force=True)
        self.select_job(job.id)
        if self.queue.paused:
            self.say(f"“{job.name}” is queued, but the queue is paused: Resume lets it run", WARNING)
        self.message.emit(f"Queued “{job.name}”")
        return job

    # ----- acting on the selected jobs -------------------------------------------------------------
    def selected_jobs(self) -> list[Job]:
        rows = sorted(index.row() for index in self.list_view.selectionModel().selectedRows())
        return [self.model.job(row) for row in rows if row < self.model.rowCount()]

    def select_job(self, job_id: int) -> bool:
        row = self.model.row_of(job_id)
        if row is None:
            return False
        index = self.model.index(row)
        self.list_view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.list_view.scrollTo(index)
        return True

    def cancel_selected(self) -> None:
        self._act(lambda job: self.queue.cancel(job.id), (QUEUED, PAUSED, RUNNING))

    def retry_selected(self) -> None:
        self._act(lambda job: self.queue.retry(job.id), (FAILED, CANCELLED))
        self.runner.wake()

    def delete_selected(self) -> None:
        self._act(lambda job: self.queue.delete(job.id), (QUEUED, PAUSED, COMPLETED, FAILED, CANCELLED))

    def hold_selected(self) -> None:
        self._act(lambda job: self.queue.pause_job(job.id), (QUEUED, RUNNING))

    def release_selected(self) -> None:
        self._act(lambda job: self.queue.resume_job(job.id), (PAUSED,))
        self.runner.wake()

    def move_selected_first(self) -> None:
        chosen = [job.id for job in self.selected_jobs() if waiting(job)]
        first = next((row for row, job in enumerate(self.model.jobs) if waiting(job)), None)
        if chosen and first is not None:
            self.model.move_jobs(chosen, first)

    def open_selected(self) -> None:
        """Emit ``openGraph`` with the graph the selected job ran."""
        jobs = self.selected_jobs()
        if len(jobs) != 1:
            return
        try:
            job = self.queue.get(jobs[0].id)
            graph = Graph.from_dict(job.graph, source=f"queue job {job.id}")
        except (QueueError, WorkflowError) as error:
            self.say(f"Cannot open that job's graph: {error}", ERROR)
            return
        graph.meta.setdefault("title", job.name)
        self.openGraph.emit(graph)
        self.message.emit(f"Opened the graph of “{job.name}”")

    def show_output_selected(self) -> None:
        jobs = [job for job in self.selected_jobs() if job.output_paths]
        if jobs:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(jobs[0].output_paths[-1]).parent)))

    def _act(self, change: Callable[[Job], object], statuses: tuple[str, ...]) -> None:
        refused = []
        for job in self.selected_jobs():
            if job.status not in statuses:
                continue
            try:
                change(job)
            except QueueError as error:  # another worker or window changed it meanwhile
                refused.append(str(error))
        self.refresh(force=True)
        if refused:
            self.say("; ".join(refused), WARNING)

    # ----- the whole queue --------------------------------------------------------------------------
    def set_queue_paused(self, paused: bool) -> None:
        """Pause the queue (no worker, here or headless, takes a new job) or resume it."""
        if paused:
            self.queue.pause()
        else:
            self.queue.resume()
            self.runner.wake()
        self.refresh(force=True)

    def clear_finished(self) -> int:
        count = self.queue.clear_finished()
        self.refresh(force=True)
        self.message.emit(f"Forgot {count} finished job(s); their files stay")
        return count

    def set_run_jobs(self, run: bool) -> None:
        """Whether this window takes jobs from the queue ("Run jobs in this window")."""
        if run:
            self.runner.start()
        else:
            self.runner.stop()
        if self.run_here_box.isChecked() != run:
            self.run_here_box.setChecked(run)

    def shutdown(self, timeout: float = 10.0) -> None:
        """The window closes: stop polling and stop this window's worker (a running job
        goes back to the queue, to resume on the next worker)."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self.runner.shutdown(timeout)
        self.model.thumbnails.close()
        self.tray.close()
        if self._owns_queue:
            self.queue.close()

    # ----- inside ----------------------------------------------------------------------------------------
    def _pause_toggled(self, checked: bool) -> None:
        self.set_queue_paused(checked)

    def _sync_pause_action(self) -> None:
        action = self.pause_queue_action
        action.blockSignals(True)
        action.setChecked(self._paused)
        action.blockSignals(False)
        action.setText("Resume queue" if self._paused else "Pause queue")
        action.setIcon(icon("play" if self._paused else "pause"))

    def _update_actions(self, *_: object) -> None:
        jobs = self.selected_jobs()
        statuses = {job.status for job in jobs}
        self.open_action.setEnabled(len(jobs) == 1)
        self.cancel_action.setEnabled(bool(statuses & {QUEUED, PAUSED, RUNNING}))
        self.retry_action.setEnabled(bool(statuses & {FAILED, CANCELLED}))
        self.delete_action.setEnabled(bool(statuses - {RUNNING}))
        self.hold_action.setEnabled(bool(statuses & {QUEUED, RUNNING}))
        self.release_action.setEnabled(PAUSED in statuses)
        self.first_action.setEnabled(any(waiting(job) for job in jobs))
        self.show_file_action.setEnabled(any(job.output_paths for job in jobs))
        self.clear_action.setEnabled(any(self._counts.get(status, 0) for status in (COMPLETED, FAILED, CANCELLED)))

    def context_menu(self) -> QMenu:
        """The menu for the selected jobs (right-click)."""
        menu = QMenu(self)
        menu.addActions([self.open_action, self.show_file_action])
        menu.addSeparator()
        menu.addActions([self.first_action, self.hold_action, self.release_action])
        menu.addSeparator()
        menu.addActions([self.retry_action, self.cancel_action, self.delete_action])
        return menu

    def _show_menu(self, position: QPoint) -> None:
        index = self.list_view.indexAt(position)
        if index.isValid() and not self.list_view.selectionModel().isSelected(index):
            self.list_view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        menu = self.context_menu()
        menu.exec(self.list_view.viewport().mapToGlobal(position))
        menu.deleteLater()

    def _keep_selection(self) -> None:
        self._kept_selection = [job.id for job in self.selected_jobs()]

    def _restore_selection(self) -> None:
        selection = self.list_view.selectionModel()
        for job_id in self._kept_selection:
            row = self.model.row_of(job_id)
            if row is not None:
                selection.select(self.model.index(row), QItemSelectionModel.SelectionFlag.Select)
        self._kept_selection = []
        self._update_actions()
