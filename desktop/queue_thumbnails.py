"""Small pictures of what queue jobs made, read off the GUI thread and kept.

A job's outputs are files: pictures (PNG, JPG...) are read scaled down as they are
decoded (QImageReader), videos give their first frame (through
``nodes.media_files.read_frames``, the one way Reelgraph reads media), and a folder
of PNG frames gives its first frame. Reading happens on one background thread, so a
4K picture or a long video never stalls the list; the list asks again when
``ready`` says the picture is there. Files a job wrote are never overwritten, so a
path is a good key.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader

from desktop.file_inputs import IMAGE_SUFFIXES
from desktop.pictures import to_qimage
from desktop.preload import import_modules

log = logging.getLogger("reelgraph.desktop")

THUMBNAIL_SIZE = QSize(96, 54)
VIDEO_SUFFIXES = frozenset({".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v"})
#: Pictures kept in memory (about 20 kB each at the thumbnail size).
KEPT = 400


def shows_a_picture(path: str) -> bool:
    """A job output a thumbnail can be made from: a picture, a video, a folder of frames."""
    target = Path(path)
    suffix = target.suffix.lower()
    return suffix in IMAGE_SUFFIXES or suffix in VIDEO_SUFFIXES or (suffix == "" and target.is_dir())


def thumbnail_source(output_paths: list[str]) -> str | None:
    """The output a job's thumbnail shows: the last picture or video it wrote (the final render)."""
    for path in reversed(output_paths):
        if shows_a_picture(path):
            return path
    return None


def read_thumbnail(path: str, size: QSize = THUMBNAIL_SIZE) -> QImage | None:
    """The picture (or first frame) of ``path`` fitted inside ``size``; None when it has
    none that can be read (gone, damaged, sound only)."""
    target = Path(path)
    if target.is_dir():
        frames = sorted(target.glob("*.png"))
        if not frames:
            return None
        target = frames[0]
    if target.suffix.lower() in VIDEO_SUFFIXES:
        image = _first_frame(target)
    else:
        reader = QImageReader(str(target))
        reader.setAutoTransform(True)
        source = reader.size()
        if source.isValid() and (source.width() > size.width() or source.height() > size.height()):
            reader.setScaledSize(source.scaled(size, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
    if image is None or image.isNull():
        return None
    if image.width() > size.width() or image.height() > size.height():
        image = image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return image


def _first_frame(path: Path) -> QImage | None:
    from nodes.media_files import MediaError, read_frames

    try:
        frames = read_frames(path)
    except MediaError:
        return None
    try:
        first = next(frames, None)
    except MediaError:
        return None
    finally:
        frames.close()
    return to_qimage(first) if first is not None else None


class ThumbnailCache(QObject):
    """Thumbnails by path: ``thumbnail`` answers at once (None while one is being read)
    and ``ready`` tells when it is there."""

    #: The path whose thumbnail was read (or found to have none).
    ready = Signal(str)
    _read = Signal(str, object)

    def __init__(self, size: QSize = THUMBNAIL_SIZE, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self._pictures: OrderedDict[str, QImage | None] = OrderedDict()
        self._reading: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        self._read.connect(self._keep)  # emitted on the reading thread, delivered on this one

    def thumbnail(self, path: str) -> QImage | None:
        if path in self._pictures:
            self._pictures.move_to_end(path)
            return self._pictures[path]
        if path not in self._reading and not self._closed:
            self._start(path)
        return None

    def known(self, path: str) -> bool:
        """Whether ``path`` was read already (with or without a picture)."""
        return path in self._pictures

    def close(self) -> None:
        """Stop reading (the panel is going); what is queued is dropped."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self, path: str) -> None:
        if Path(path).suffix.lower() in VIDEO_SUFFIXES:
            import_modules(("av",))  # a first import on a worker thread is not safe next to Qt (desktop/preload.py)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelgraph-thumbnails")
        self._reading.add(path)
        self._pool.submit(self._load, path)

    def _load(self, path: str) -> None:
        try:
            picture = read_thumbnail(path, self.size)
        except Exception:  # a file the libraries choke on: no thumbnail, not a broken panel
            log.exception("could not read a thumbnail of %s", path)
            picture = None
        try:
            self._read.emit(path, picture)
        except RuntimeError:  # the cache went away while this was being read
            pass

    def _keep(self, path: str, picture: QImage | None) -> None:
        self._reading.discard(path)
        self._pictures[path] = picture
        while len(self._pictures) > KEPT:
            self._pictures.popitem(last=False)
        self.ready.emit(path)
