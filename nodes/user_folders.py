"""Where Reelgraph keeps a creator's own things: settings, logs, custom node packs,
the render queue. ``REELGRAPH_HOME`` moves all of it (tests and portable installs)."""

from __future__ import annotations

import os
from pathlib import Path


def data_folder() -> Path:
    """The per-user data folder (``~/.local/share/Reelgraph`` on Linux)."""
    override = os.environ.get("REELGRAPH_HOME")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path("Reelgraph", appauthor=False)


def user_nodes_folder() -> Path:
    """Drop a ``.py`` file or a package folder here to add node types."""
    override = os.environ.get("REELGRAPH_NODES")
    return Path(override) if override else data_folder() / "nodes"


def log_folder() -> Path:
    return data_folder() / "logs"
