"""The main window: the graph editor in the centre, panels around it (inspector,
viewer, run progress, log), menus and a toolbar; the layout is remembered.

On open it shows the last workflow the creator opened or saved, or the starter
workflow. One Executor is shared by everything the window runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMenu, QTabWidget, QToolBar, QToolButton, QWidget

from desktop.document import WorkflowDocument
from desktop.files import WorkflowFiles
from desktop.graph_view import GraphView
from desktop.file_inputs import IMAGE_SUFFIXES
from desktop.inspector import Inspector
from desktop.live_sketch import LiveSketchPanel
from desktop.log_panel import WARNING_LEVEL, LogPanel
from desktop.panels import Panel
from desktop.progress_panel import ProgressPanel
from desktop.queue_panel import QueuePanel
from desktop.run_controller import RunController
from desktop.theme import icon
from desktop.timeline_sending import send_picture_to_timeline
from desktop.timeline_workspace import TimelineWorkspace
from desktop.viewer import Viewer
from gpu.executor import Executor
from nodes.graph import Graph
from nodes.problems import WorkflowError
from nodes.registry import NodeRegistry, default_registry
from nodes.user_folders import data_folder
from resources import example_workflow

log = logging.getLogger("reelgraph.desktop")

#: Bump when the panels change so an old saved layout is not forced onto new panels.
LAYOUT_VERSION = 3
DEFAULT_SIZE = QSize(1440, 900)
SIDE_WIDTH = 380
BOTTOM_HEIGHT = 280


def settings_file() -> Path:
    return data_folder() / "settings.ini"


def open_settings() -> QSettings:
    """The app's settings: an ini file in the data folder (REELGRAPH_HOME moves it)."""
    return QSettings(str(settings_file()), QSettings.Format.IniFormat)


def carries_workflow(path: Path) -> bool:
    try:
        Graph.load(path)
    except WorkflowError:
        return False
    return True


def output_folder() -> Path:
    """Where output nodes (image.Save...) write their files."""
    return data_folder() / "output"


class MainWindow(QMainWindow):
    def __init__(self, registry: NodeRegistry | None = None, executor: Executor | None = None, *,
                 open_last: bool = True, autosave: bool = True, audio: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowIcon(icon("reelgraph"))
        self.registry = registry if registry is not None else default_registry()
        self._owns_executor = executor is None
        self.executor = executor if executor is not None else Executor(self.registry, output_dir=output_folder())
        # Not a Qt child of the window: the views go first, then the document, so its undo
        # stack, cleared as it dies, signals no half-destroyed view.
        self.document = WorkflowDocument(self.registry)
        self.files = WorkflowFiles(self.document, self)

        self.graph_view = GraphView(self.document, self)
        self.live_sketch = LiveSketchPanel(self.executor, self)
        self.live_sketch.setMinimumSize(160, 160)  # on a small screen it squeezes; the window stays on screen
        # The two big canvases share the middle: the graph, and the live sketch (which wants the room).
        self.central_tabs = QTabWidget(self)
        self.central_tabs.setObjectName("centralTabs")
        self.central_tabs.setDocumentMode(True)
        self.central_tabs.addTab(self.graph_view, icon("fit"), "Graph")
        self.central_tabs.addTab(self.live_sketch, icon("run"), "Live Sketch")
        self.setCentralWidget(self.central_tabs)
        self.inspector = Inspector(self.document)
        self.viewer = Viewer()
        self.progress = ProgressPanel()
        self.log_panel = LogPanel()
        self.queue_panel = QueuePanel(None, self.executor)  # the user's render queue; this window also works it
        self.queue_panel.setMinimumWidth(160)  # tabbed beside the log on a small screen: squeeze, never widen
        self.run_controller = RunController(self.document, self.executor, graph_view=self.graph_view,
                                            progress=self.progress, log_panel=self.log_panel,
                                            viewer=self.viewer, parent=self)
        self.timeline = TimelineWorkspace(self.registry, self.executor, self.run_controller, output_folder, self,
                                          audio=audio)
        self._build_panels()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self.restore_layout()
        if open_last:
            self.open_initial_workflow()
        self.timeline.start(open_last, autosave)
        self._update_title()
        if autosave:
            self.files.start_autosave()

    # ----- building ---------------------------------------------------------------------------
    def _build_panels(self) -> None:
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.inspector_panel = Panel("Inspector", "inspectorPanel", self.inspector, self)
        self.viewer_panel = Panel("Viewer", "viewerPanel", self.viewer, self)
        self.progress_panel = Panel("Run progress", "progressPanel", self.progress, self)
        self.log_dock = Panel("Log", "logPanel", self.log_panel, self)
        self.queue_dock = Panel("Queue", "queuePanel", self.queue_panel, self)
        self.timeline_panel = Panel("Timeline", "timelinePanel", self.timeline.view, self)
        self.monitor_panel = Panel("Monitor", "monitorPanel", self.timeline.monitor, self)
        self.panels = [self.inspector_panel, self.viewer_panel, self.monitor_panel, self.timeline_panel,
                       self.progress_panel, self.log_dock, self.queue_dock]
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector_panel)
        self.splitDockWidget(self.inspector_panel, self.viewer_panel, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.viewer_panel, self.monitor_panel)
        self.viewer_panel.raise_()
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.timeline_panel)
        self.splitDockWidget(self.timeline_panel, self.progress_panel, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.progress_panel, self.log_dock)
        self.tabifyDockWidget(self.log_dock, self.queue_dock)
        self.progress_panel.raise_()
        self.resizeDocks([self.inspector_panel], [SIDE_WIDTH], Qt.Orientation.Horizontal)
        self.resizeDocks([self.inspector_panel, self.viewer_panel], [430, 430], Qt.Orientation.Vertical)
        self.resizeDocks([self.timeline_panel], [BOTTOM_HEIGHT], Qt.Orientation.Vertical)
        self.resizeDocks([self.timeline_panel, self.progress_panel], [1000, 420], Qt.Orientation.Horizontal)
        self._default_state = self.saveState(LAYOUT_VERSION)

    def _action(self, text: str, slot: Callable[[], object], shortcuts: list[QKeySequence | str] | None = None,
                icon_name: str = "", tip: str = "") -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcuts:
            action.setShortcuts([QKeySequence(item) for item in shortcuts])
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.new_action = self._action("&New", self.new_workflow, [QKeySequence.StandardKey.New], "new",
                                       "Start an empty workflow")
        self.open_action = self._action("&Open…", self.files.open_dialog, [QKeySequence.StandardKey.Open], "open",
                                        "Open a workflow (JSON, or a PNG that carries one)")
        self.save_action = self._action("&Save", self.files.save, [QKeySequence.StandardKey.Save], "save",
                                        "Save the workflow")
        self.save_as_action = self._action("Save &As…", self.files.save_as, [QKeySequence.StandardKey.SaveAs],
                                           tip="Save the workflow under a new name")
        self.quit_action = self._action("&Quit", self.close, [QKeySequence.StandardKey.Quit])
        # One Undo/Redo for both documents: it follows whichever the creator works in.
        self.undo_group = QUndoGroup(self)
        self.undo_group.addStack(self.document.undo_stack)
        self.undo_group.addStack(self.timeline.document.undo_stack)
        self.undo_group.setActiveStack(self.document.undo_stack)
        stack = self.undo_group
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.undo_action.setIcon(icon("undo"))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setIcon(icon("redo"))
        self.addActions([self.undo_action, self.redo_action])
        self.run_action = self._action("&Run", self.run, ["Ctrl+Return", "Ctrl+Enter"], "run",
                                       "Run the workflow (Ctrl+Enter); only what changed runs again")
        self.cancel_action = self._action("&Cancel run", self.run_controller.cancel, ["Esc"], "stop",
                                          "Stop the run (Esc); finished nodes stay cached")
        self.cancel_action.setEnabled(False)
        self.queue_action = self._action("Add to &Queue", self.queue_workflow, ["Ctrl+Shift+Return"], "run",
                                         "Add the workflow to the render queue; it renders in the background and "
                                         "survives restarts")
        self.live_sketch_action = self._action("&Live Sketch", self.show_live_sketch, ["Ctrl+L"], "run",
                                               "Draw, and the picture follows the pen")
        self.fit_action = self._action("&Fit view", self.graph_view.fit_all, ["Home"], "fit",
                                       "Show the whole graph (Home)")
        self.output_folder_action = self._action("Open &output folder", self.open_output_folder,
                                                 tip="Show the folder where output nodes save their files")
        self.reset_layout_action = self._action("&Reset layout", self.reset_layout,
                                                tip="Put every panel back where it started")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = QMenu("Open &Recent", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        timeline = self.timeline
        file_menu.addActions([timeline.new_project_action, timeline.open_project_action,
                              timeline.save_project_action, timeline.save_project_as_action])
        file_menu.addSeparator()
        file_menu.addAction(timeline.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.fit_action)
        view_menu.addAction(self.live_sketch_action)
        view_menu.addSeparator()
        for panel in self.panels:
            view_menu.addAction(panel.toggleViewAction())
        view_menu.addSeparator()
        view_menu.addAction(self.reset_layout_action)
        run_menu = bar.addMenu("&Run")
        run_menu.addActions([self.run_action, self.cancel_action, self.queue_action])
        run_menu.addSeparator()
        run_menu.addAction(self.timeline.send_action)
        run_menu.addSeparator()
        run_menu.addAction(self.output_folder_action)
        self._fill_recent_menu()

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(18, 18))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        toolbar.addActions([self.new_action, self.open_action, self.save_action])
        toolbar.addSeparator()
        toolbar.addActions([self.undo_action, self.redo_action])
        toolbar.addSeparator()
        toolbar.addAction(self.fit_action)
        toolbar.addSeparator()
        toolbar.addAction(self.run_action)
        toolbar.addAction(self.cancel_action)
        for action in (self.run_action, self.cancel_action):
            button = toolbar.widgetForAction(action)
            if isinstance(button, QToolButton):
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        run_button = toolbar.widgetForAction(self.run_action)
        if run_button is not None:
            run_button.setObjectName("runButton")
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _build_status_bar(self) -> None:
        self.count_label = QLabel("", self)
        self.count_label.setObjectName("hint")
        self.statusBar().addPermanentWidget(self.count_label)
        self.statusBar().setSizeGripEnabled(False)

    def _connect(self) -> None:
        # Bound methods, not lambdas: Qt drops these connections when the window goes away.
        document = self.document
        document.undo_stack.cleanChanged.connect(self._update_title)
        document.pathChanged.connect(self._update_title)
        document.reset.connect(self._document_replaced)
        document.nodeAdded.connect(self._update_counts)
        document.nodeRemoved.connect(self._update_counts)
        view = self.graph_view
        view.selectionChangedIds.connect(self._selection_changed)
        view.hint.connect(self.show_hint)
        view.nodeActivated.connect(self._node_activated)
        self.log_panel.nodeActivated.connect(self._log_entry_activated)
        controller = self.run_controller
        controller.runningChanged.connect(self._running_changed)
        controller.message.connect(self.show_hint)
        controller.runFinished.connect(self._run_finished)
        self.files.recentChanged.connect(self._fill_recent_menu)
        self.files.autosaved.connect(self._autosaved)
        self.files.autosaveFailed.connect(self._autosave_failed)
        view.filesDropped.connect(self.open_dropped_files)
        self.timeline.hint.connect(self.show_hint)
        self.queue_panel.openGraph.connect(self._open_queued_graph)
        self.live_sketch.pinToGraph.connect(self._pin_to_graph)
        self.live_sketch.pinToTimeline.connect(self._pin_to_timeline)
        self.live_sketch.message.connect(self.show_hint)
        self.queue_panel.message.connect(self.show_hint)
        self.timeline.document.undo_stack.cleanChanged.connect(self._update_title)
        self.timeline.document.pathChanged.connect(self._update_title)
        QApplication.instance().focusChanged.connect(self._focus_changed)

    def _focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        """Undo/Redo act on the timeline while the creator works in it, on the graph elsewhere."""
        if new is None or not self.isAncestorOf(new):
            return
        on_timeline = self.timeline_panel.isAncestorOf(new) or self.monitor_panel.isAncestorOf(new)
        self.undo_group.setActiveStack(self.timeline.document.undo_stack if on_timeline
                                       else self.document.undo_stack)

    def show_hint(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def _autosaved(self, path: str) -> None:
        self.statusBar().showMessage("Autosaved a recovery copy", 3000)

    def _autosave_failed(self, reason: str) -> None:
        self.log_panel.add(WARNING_LEVEL, f"Autosave failed: {reason}", where="autosave")

    def _log_entry_activated(self, node_id: str) -> None:
        if node_id in self.document.graph.nodes:
            self.graph_view.select([node_id])

    # ----- workflows ----------------------------------------------------------------------------
    def open_initial_workflow(self) -> None:
        """The workflow opened or saved last, or the starter workflow."""
        for path in self.files.recent_paths()[:1]:
            try:
                graph = Graph.load(path)
            except WorkflowError as error:
                self.log_panel.add(WARNING_LEVEL, f"Could not reopen {path.name}: {error}", where="start")
                break
            self.document.replace(graph, None if path.suffix.lower() == ".png" else path)
            return
        self.open_starter()

    def open_starter(self) -> None:
        self.document.replace(Graph.load(example_workflow("hello")), None)

    def open_dropped_files(self, paths: list[str]) -> None:
        """Files dropped on the canvas: a workflow (JSON, or a PNG that carries one) opens;
        other pictures become image.Load nodes."""
        pictures = []
        for text in paths:
            path = Path(text)
            if path.suffix.lower() == ".json" or (path.suffix.lower() == ".png" and carries_workflow(path)):
                # after the drop returns: a "save changes?" question must not hold the file manager's drag
                QTimer.singleShot(0, lambda chosen=path: self.files.open_path(chosen))
                return
            if path.suffix.lower() in IMAGE_SUFFIXES:
                pictures.append(path)
        if pictures:
            stack = self.document.undo_stack
            stack.beginMacro(f"Load {len(pictures)} picture(s)")
            added = [self.graph_view.add_node_at_cursor("image.Load") for _ in pictures]
            for node_id, path in zip(added, pictures):
                self.document.set_value(node_id, "path", str(path))
            stack.endMacro()
            self.graph_view.select(added)

    def new_workflow(self) -> None:
        if self.files.maybe_save():
            self.document.replace(Graph(), None)

    def _document_replaced(self) -> None:
        self.run_controller.forget_outputs()
        self.viewer.clear()
        self._update_counts()
        self._update_title()
        QTimer.singleShot(0, self.graph_view.fit_all)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.files.recent_paths()
        for path in paths:
            action = self.recent_menu.addAction(path.name)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda checked=False, chosen=path: self.files.open_path(chosen))
        self.recent_menu.setEnabled(bool(paths))

    def _update_title(self, *_: object) -> None:
        path = self.document.path
        if path is not None:
            name = path.name
        else:
            name = str(self.document.graph.meta.get("title") or "Untitled")
        project = self.timeline.document
        episode = f" · {project.path.name}" if project.path is not None else ""
        self.setWindowTitle(f"{name}[*]{episode} — Reelgraph")
        self.setWindowModified(self.document.modified or project.modified)

    def _update_counts(self, *_: object) -> None:
        count = len(self.document.graph.nodes)
        self.count_label.setText(f"{count} node{'s' if count != 1 else ''}")

    # ----- running ----------------------------------------------------------------------------
    def run(self) -> bool:
        """Run the workflow (Ctrl+Enter): what is being typed in the inspector counts."""
        self.inspector.commit_pending()
        return self.run_controller.run()

    def queue_workflow(self) -> bool:
        """Add the workflow as it is now to the render queue (what is being typed counts)."""
        self.inspector.commit_pending()
        name = self.document.path.stem if self.document.path else str(self.document.graph.meta.get("title")
                                                                       or "Untitled")
        if self.queue_panel.add_graph(self.document.graph, name) is None:
            self.queue_dock.reveal()
            return False
        self.queue_dock.reveal()
        return True

    def show_live_sketch(self) -> None:
        self.central_tabs.setCurrentWidget(self.live_sketch)

    def _pin_to_graph(self, path: str) -> None:
        """A pinned live result becomes an image.Load node in the workflow."""
        self.open_dropped_files([path])
        self.show_hint(f"Pinned {Path(path).name} to the graph as an image.Load node")

    def _pin_to_timeline(self, path: str) -> None:
        """A pinned live result becomes a still on the timeline at the playhead."""
        try:
            clip_id = send_picture_to_timeline(self.timeline.document, path, at=self.timeline.view.playhead)
        except ValueError as refused:
            self.show_hint(str(refused))
            return
        self.timeline.view.select_clips([clip_id])
        self.timeline_panel.reveal()
        self.show_hint(f"Pinned {Path(path).name} to the timeline")

    def _open_queued_graph(self, graph: Graph) -> None:
        """A queued job's workflow back in the editor (asking first about unsaved edits)."""
        if self.files.maybe_save():
            self.document.replace(graph, None)

    def _running_changed(self, running: bool) -> None:
        self.cancel_action.setEnabled(running)
        self.run_action.setEnabled(not running)

    def _run_finished(self, result: object) -> None:
        if self.log_panel.errors() and (result is None or getattr(result, "errors", None)):
            self.log_dock.reveal()

    def open_output_folder(self) -> None:
        folder = self.executor.output_dir.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # ----- selection -----------------------------------------------------------------------------
    def _selection_changed(self, node_ids: list[str]) -> None:
        self.inspector.show_selection(list(node_ids))
        self.run_controller.selected = list(node_ids)
        if len(node_ids) == 1:
            self.run_controller.show_output(node_ids[0])

    def _node_activated(self, node_id: str) -> None:
        self.inspector_panel.reveal()
        if self.run_controller.show_output(node_id):
            self.viewer_panel.reveal()

    # ----- layout ----------------------------------------------------------------------------------
    def restore_layout(self) -> None:
        """Window size and place, panels and which are folded, as the creator left them."""
        stored = open_settings()
        geometry = stored.value("window/geometry")
        if not (isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)):
            self.resize(DEFAULT_SIZE)
        state = stored.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state, LAYOUT_VERSION)
        folded = stored.value("panels/collapsed", [])
        folded = [folded] if isinstance(folded, str) else list(folded or [])
        for panel in self.panels:
            panel.set_collapsed(panel.objectName() in folded)

    def save_layout(self) -> None:
        stored = open_settings()
        stored.setValue("window/geometry", self.saveGeometry())
        stored.setValue("window/state", self.saveState(LAYOUT_VERSION))
        stored.setValue("panels/collapsed", [panel.objectName() for panel in self.panels if panel.collapsed])
        stored.sync()

    def reset_layout(self) -> None:
        for panel in self.panels:
            panel.set_collapsed(False)
            panel.setFloating(False)
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for panel in self.panels:
            panel.show()

    # ----- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.maybe_save() or not self.timeline.may_close():
            event.ignore()
            return
        QApplication.instance().focusChanged.disconnect(self._focus_changed)
        self.timeline.shutdown()
        self.live_sketch.shutdown()
        self.queue_panel.shutdown()
        self.run_controller.shutdown()
        self.save_layout()
        self.files.close_session()
        if self._owns_executor:
            self.executor.close()
        super().closeEvent(event)
