"""Starting the desktop app: ``reelgraph`` with no arguments lands here."""

from __future__ import annotations

import logging
import sys
from typing import Sequence

log = logging.getLogger("reelgraph.desktop")

#: How long a thread may hold the GIL while another waits for it (Python's default is
#: 5 ms). Every Qt call lets go of the GIL; when a node's pure-Python loop holds it,
#: the window waits this long to get it back, for every call it makes. 1 ms keeps
#: the window answering while such nodes run, for a small cost to their speed.
UI_SWITCH_INTERVAL = 0.001


def prefer_the_window() -> None:
    """Let the GUI thread win the GIL back quickly from busy node threads."""
    sys.setswitchinterval(UI_SWITCH_INTERVAL)


def run_app(argv: Sequence[str] | None = None) -> int:
    """Open the main window and run the Qt event loop until it closes; the exit status."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.garbage_collection import collect_on_gui_thread
    from desktop.main_window import MainWindow, output_folder
    from desktop.preload import preload_picture_libraries
    from desktop.theme import apply_theme, icon
    from gpu.executor import Executor
    from nodes.registry import default_registry

    prefer_the_window()
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "reelgraph", *(argv or [])])
    app.setApplicationName("Reelgraph")
    app.setApplicationDisplayName("Reelgraph")
    app.setOrganizationName("Reelgraph")
    app.setWindowIcon(icon("reelgraph"))
    apply_theme(app)  # type: ignore[arg-type]
    collect_on_gui_thread(app)  # Qt objects in garbage cycles must die on this thread

    preload_picture_libraries()
    registry = default_registry()
    for error in registry.load_errors:
        log.warning("%s", error)
    with Executor(registry, output_dir=output_folder()) as executor:
        window = MainWindow(registry, executor)
        for error in registry.load_errors:
            window.log_panel.add("warning", str(error), where="node packs")
        window.show()
        QTimer.singleShot(0, window.files.offer_recovery)
        return app.exec()
