"""Garbage cycles holding Qt objects are freed on the GUI thread, never on a worker."""

from __future__ import annotations

import gc
import threading
from typing import Any

from PySide6.QtCore import QObject



class Holder(QObject):
    deaths: list[str] = []

    def __del__(self) -> None:
        Holder.deaths.append(threading.current_thread().name)


def test_a_cycle_with_a_qt_object_dies_on_the_gui_thread_even_when_a_worker_allocates(qapp: Any, qtbot: Any) -> None:
    assert not gc.isenabled()  # the app's collector (tests/desktop/conftest.py) is on
    holder = Holder()
    holder.me = holder  # a cycle only the collector can free
    del holder

    kept: list[list[list[int]]] = []

    def allocate() -> None:
        kept.append([[] for _ in range(50_000)])  # far past the thresholds: Python would collect here

    worker = threading.Thread(target=allocate, name="worker")
    worker.start()
    worker.join()
    assert Holder.deaths == []
    qtbot.waitUntil(lambda: Holder.deaths != [], timeout=5000)
    assert Holder.deaths == [threading.main_thread().name]
