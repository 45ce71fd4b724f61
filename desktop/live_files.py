"""Files the Live Sketch panel reads and writes: pictures imported or dropped on the
canvas, and pinned pictures and exported sessions in ``<data folder>/live``.

A pinned picture is a PNG written atomically under a name no other writer can take,
with the prompt, seed and model in its text chunks, so the picture still says where
it came from once it sits in a graph or on the timeline."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from desktop.file_inputs import IMAGE_SUFFIXES
from gpu.live_settings import LiveSettings
from nodes.atomic_write import create_exclusively
from nodes.models import ModelRef
from nodes.user_folders import data_folder

PINNED_FORMAT = "reelgraph.live-pin"
PINNED_VERSION = 1
#: The PNG text keyword of what made the picture (not ``reelgraph.workflow``: a pin carries no graph).
PNG_KEY = "reelgraph.live"


def dropped_picture(event: QDragEnterEvent | QDropEvent) -> str | None:
    """The first local picture file being dragged or dropped, or None."""
    if not event.mimeData().hasUrls():
        return None
    for url in event.mimeData().urls():
        if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
            return url.toLocalFile()
    return None


def read_picture(path: str | Path) -> np.ndarray:
    """A picture file as uint8 RGB, or RGBA when it has transparency; OSError (or
    PIL's UnidentifiedImageError, an OSError) when it cannot be read."""
    from PIL import Image

    with Image.open(path) as opened:
        transparent = opened.mode in ("RGBA", "LA", "PA") or "transparency" in opened.info
        return np.asarray(opened.convert("RGBA" if transparent else "RGB"))


def live_folder() -> Path:
    return data_folder() / "live"


def pinned_png(picture: np.ndarray, settings: LiveSettings | None, model: ModelRef | None) -> bytes:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    about = {"format": PINNED_FORMAT, "version": PINNED_VERSION, "model": model.name if model is not None else "",
             "settings": settings.to_json() if settings is not None else {}}
    info.add_text(PNG_KEY, json.dumps(about, ensure_ascii=False))
    if settings is not None and settings.prompt:
        info.add_text("Description", settings.prompt)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def save_pinned(picture: np.ndarray, settings: LiveSettings | None, model: ModelRef | None,
                folder: Path | None = None) -> Path:
    """Write ``picture`` as ``live-sketch_00001.png`` (the next free number) into the
    live folder; returns its path."""
    return create_exclusively(folder or live_folder(), "live-sketch", ".png", pinned_png(picture, settings, model))


def default_export_path() -> Path:
    """Where "Export session…" suggests to save: a dated name in the live folder."""
    return live_folder() / time.strftime("live-session-%Y%m%d-%H%M%S.zip")
