"""The episode side of the main window: the project on the timeline, its monitor, the
Project menu and Export, and "send this node's output to the timeline".

The main window owns one :class:`TimelineWorkspace`; it makes the panels' widgets and
actions, wires the playhead between the timeline and the player, and keeps the
project's files (open, save, autosave, recovery). The window only places the panels
and menu entries, so it stays about windows and this stays about episodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from desktop.export_dialog import ExportDialog
from desktop.project_files import ProjectFiles
from desktop.run_controller import RunController
from desktop.theme import icon
from desktop.timeline_document import ProjectDocument
from desktop.timeline_monitor import TimelineMonitor
from desktop.timeline_playback import TimelinePlayer
from desktop.timeline_sending import send_output_to_timeline, sendable_outputs
from desktop.timeline_view import TimelineView
from gpu.executor import Executor
from nodes.registry import NodeRegistry
from nodes.timeline_edits import TimelineEditRefused


class TimelineWorkspace(QObject):
    #: A sentence for the status bar.
    hint = Signal(str)

    def __init__(self, registry: NodeRegistry, executor: Executor, run_controller: RunController,
                 output_folder: Callable[[], Path], window: QWidget, *, audio: bool = True) -> None:
        super().__init__(window)
        self.registry, self.executor, self.run_controller = registry, executor, run_controller
        self.output_folder = output_folder
        self.window = window
        self.document = ProjectDocument(registry=registry)
        self.files = ProjectFiles(self.document, window)
        self.view = TimelineView(self.document)
        self.player = TimelinePlayer(self.document, executor, self, audio=audio)
        self.monitor = TimelineMonitor(self.player)
        # Docked beside other panels on a small screen: they may squeeze (their bars clip), never
        # force the window wider than the screen.
        self.view.setMinimumWidth(160)
        self.monitor.setMinimumWidth(160)
        self.export_dialog: ExportDialog | None = None
        self._build_actions()
        self._connect()

    # ----- building --------------------------------------------------------------------------
    def _action(self, text: str, slot: Callable[[], object], shortcut: str = "", tip: str = "",
                icon_name: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        if icon_name:
            action.setIcon(icon(icon_name))
        action.triggered.connect(slot)
        self.window.addAction(action)
        return action

    def _build_actions(self) -> None:
        files = self.files
        self.new_project_action = self._action("New Project", files.new_project,
                                               tip="Start an empty episode timeline")
        self.open_project_action = self._action("Open Project…", files.open_dialog, "Ctrl+Shift+O",
                                                "Open an episode project (its timeline and graphs)")
        self.save_project_action = self._action("Save Project", files.save, "Ctrl+Alt+S", "Save the episode project")
        self.save_project_as_action = self._action("Save Project As…", files.save_as,
                                                   tip="Save the episode project under a new name")
        self.export_action = self._action("&Export…", self.open_export, "Ctrl+E",
                                          "Export the timeline as a video file (Low, High or Social)", "save")
        self.send_action = self._action("Send Output to &Timeline", self.send_selected, "Ctrl+T",
                                        "Put the selected node's video, picture or sound on the timeline at the "
                                        "playhead")

    def _connect(self) -> None:
        view, player = self.view, self.player
        view.playheadMoved.connect(player.seek)
        player.positionChanged.connect(view.set_playhead)
        player.valuesReady.connect(view.set_clip_values)
        view.hint.connect(self.hint)
        player.message.connect(self.hint)
        self.files.autosaved.connect(self._autosaved)

    # ----- opening at start-up -------------------------------------------------------------------
    def start(self, open_last: bool, autosave: bool) -> None:
        if not (autosave and self.files.offer_recovery()) and open_last:
            self.files.open_last()
        if autosave:
            self.files.start_autosave()

    # ----- actions -------------------------------------------------------------------------------
    def open_export(self) -> ExportDialog:
        """The Export dialog for the project as it is now (modeless: the creator can keep working)."""
        if self.export_dialog is not None and self.export_dialog.running:
            self.export_dialog.raise_()
            return self.export_dialog
        folder = self.document.path.parent if self.document.path is not None else self.output_folder()
        self.export_dialog = ExportDialog(self.document.project, self.executor, self.window, default_folder=folder)
        self.export_dialog.show()
        return self.export_dialog

    def send_selected(self) -> str | None:
        """Send the selected node's first video, picture or sound output to the timeline at the playhead."""
        selected = self.run_controller.selected
        if len(selected) != 1:
            self.hint.emit("Select one node whose video, picture or sound should go on the timeline")
            return None
        return self.send(selected[0])

    def send(self, node_id: str, output: str | None = None) -> str | None:
        graph = self.run_controller.last_graph
        outputs = self.run_controller.outputs.get(node_id, {})
        if graph is None or node_id not in graph.nodes or not outputs:
            self.hint.emit("Run the graph first: the timeline takes what a node has made")
            return None
        names = [name for name, _ in sendable_outputs(self.registry, graph, node_id) if name in outputs]
        if output is None:
            output = names[0] if names else None
        if output is None or output not in outputs:
            self.hint.emit("This node has no video, picture or sound to put on the timeline")
            return None
        try:
            clip_id = send_output_to_timeline(self.document, graph, node_id, output, outputs[output],
                                              at=self.view.playhead)
        except TimelineEditRefused as refused:
            self.hint.emit(str(refused))
            return None
        self.view.select_clips([clip_id])
        self.hint.emit(f"Sent {output!r} of node {node_id} to the timeline")
        return clip_id

    def _autosaved(self, path: str, failure: str) -> None:
        if failure:
            self.hint.emit(f"Autosaving the project failed: {failure}")

    # ----- closing ------------------------------------------------------------------------------
    def may_close(self) -> bool:
        """Ask about unsaved timeline changes; an export still running is cancelled."""
        if not self.files.maybe_save():
            return False
        if self.export_dialog is not None and self.export_dialog.running:
            self.export_dialog.cancel_export()
            self.export_dialog.wait_for_export(30.0)
        return True

    def shutdown(self) -> None:
        self.player.shutdown()
        self.files.close_session()
