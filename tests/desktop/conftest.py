"""Qt tests run offscreen (set in tests/conftest.py) with pytest-qt's qapp; garbage
cycles are collected on the GUI thread, as the app does (desktop/garbage_collection.py)."""

from __future__ import annotations

import pytest

from nodes.registry import builtin_registry


@pytest.fixture(scope="session")
def registry():
    return builtin_registry()


@pytest.fixture(scope="module", autouse=True)
def collect_garbage_on_the_gui_thread(qapp):
    """Per test file, so the CPU-only test folders after this one collect garbage as usual."""
    from desktop.garbage_collection import GuiThreadCollector

    collector = GuiThreadCollector(qapp)
    yield collector
    collector.stop()
    collector.deleteLater()
