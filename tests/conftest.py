"""Every test runs offscreen, on the CPU, with its user data in a temporary folder:
never the developer's own settings, logs or node packs."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["REELGRAPH_DEVICES"] = "cpu"
os.environ["REELGRAPH_HOME"] = tempfile.mkdtemp(prefix="reelgraph-test-home-")
os.environ.pop("REELGRAPH_NODES", None)
