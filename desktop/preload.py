"""Libraries that node functions import on first use, imported on the GUI thread
before a run needs them.

Node functions import OpenCV, Pillow, PyTorch and diffusers inside themselves, so
listing nodes stays fast. In the window, that first import would happen on a worker
thread in the middle of a run, and that is not safe next to Qt: with PySide 6.11 the
process crashed (a segfault in the GUI thread's event processing) in about one run
in four when a worker imported OpenCV or PyTorch while the window was busy, and never
when the same libraries were already imported. An import also holds the GIL for
hundreds of milliseconds, freezing the window. So the window imports them itself:
the picture libraries before it opens, the generation libraries before the first
run that has a GPU node (a few seconds, once, with a busy cursor).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Iterable

log = logging.getLogger("reelgraph.desktop")

PICTURE_MODULES = ("PIL.Image", "PIL.ImageColor", "PIL.ImageOps", "PIL.PngImagePlugin", "cv2")
GENERATION_MODULES = ("torch", "diffusers", "transformers")


def import_modules(names: Iterable[str]) -> list[str]:
    """Import what is installed and not yet imported; the names imported now."""
    imported = []
    for name in names:
        if name in sys.modules:
            continue
        top = name.split(".", 1)[0]
        if importlib.util.find_spec(top) is None:
            continue
        try:
            importlib.import_module(name)
        except Exception as error:  # a broken optional library only matters to its nodes
            log.warning("cannot import %s (%s); the nodes that need it will say so", name, error)
            continue
        imported.append(name)
    return imported


def preload_picture_libraries() -> None:
    """OpenCV and Pillow: quick (a few hundred ms), so before the window opens."""
    import_modules(PICTURE_MODULES)


def generation_libraries_missing() -> bool:
    """Some installed generation library is not imported yet."""
    return any(name not in sys.modules and importlib.util.find_spec(name) is not None
               for name in GENERATION_MODULES)


def preload_generation_libraries() -> list[str]:
    return import_modules(GENERATION_MODULES)
