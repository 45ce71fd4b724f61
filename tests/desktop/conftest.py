"""Qt tests run offscreen (set in tests/conftest.py) with pytest-qt's qapp."""

from __future__ import annotations

import pytest

from nodes.registry import builtin_registry


@pytest.fixture(scope="session")
def registry():
    return builtin_registry()
