"""The live session's history: every picture shown, with the sketch it came from, its
settings and timings, to scrub back through and to export as a ZIP.

Recent entries keep their arrays in memory (no copy: the sketch is the array the
session was handed, the picture the one the graph returned). Past ``memory_bytes``
the oldest are written to the history folder as PNGs by a background writer and
dropped from memory; reading one back loads its PNG. Writing a PNG takes a few
milliseconds, so it never happens on the way from stroke to picture.

The export is a ZIP of PNGs and ``manifest.json``::

    {"format": "reelgraph.live-session", "version": 1, "model": "...", "prompt": "...",
     "seed": 0, "created": 1700000000.0,
     "entries": [{"index": 1, "canvas_version": 3, "source": "live", "created": ...,
                  "sketch": "00001-sketch.png", "image": "00001-image.png",
                  "settings": {...LiveSettings...}, "timings": {...LiveTimings...}}]}

written atomically (temporary file, fsync, rename), so a crash never leaves half a file.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gpu.live_settings import LiveSettings

FORMAT = "reelgraph.live-session"
VERSION = 1
MANIFEST = "manifest.json"
#: Pictures kept in memory before the oldest go to disk (about 150 results at 512×512).
MEMORY_BYTES = 256 * 1024**2


@dataclass(frozen=True)
class LiveTimings:
    """Seconds one live picture took, measured by the session (``time.perf_counter``)."""

    #: When the change was handed to ``LiveSession.update`` (the stroke's end).
    requested_at: float = 0.0
    #: The adaptive pause it waited on purpose (0 at the end of a gesture).
    pause: float = 0.0
    #: The SketchToImage node's own time: the model (encode, denoise, decode).
    model: float = 0.0
    #: Inside the run but outside its nodes: waiting for the device lane (a superseded
    #: run stopping) and the executor's hand-offs.
    queued: float = 0.0
    #: total - model: what the session and executor added (planning, hand-offs,
    #: the canvas and preview nodes, waiting for the lane, delivery).
    overhead: float = 0.0
    #: From starting the run to handing the picture to ``on_result``.
    total: float = 0.0
    #: From the stroke's end to handing the picture to ``on_result`` (pause included).
    stroke_to_shown: float = 0.0

    def to_json(self) -> dict[str, float]:
        return {name: round(value, 6) for name, value in asdict(self).items() if name != "requested_at"}


@dataclass
class HistoryEntry:
    """One picture shown, with its sketch; arrays live in memory or in PNGs on disk."""

    index: int
    canvas_version: int
    settings: LiveSettings
    timings: LiveTimings
    source: str = "live"  # "live", or "variation" for an adopted variation
    created: float = field(default_factory=time.time)
    _image: np.ndarray | None = field(default=None, repr=False)
    _sketch: np.ndarray | None = field(default=None, repr=False)
    _folder: Path | None = field(default=None, repr=False)

    @property
    def file_stem(self) -> str:
        return f"{self.index:05d}"

    @property
    def in_memory(self) -> bool:
        return self._image is not None

    def image(self) -> np.ndarray:
        kept = self._image  # read once: the writer may drop it meanwhile
        return kept if kept is not None else self._read("image")

    def sketch(self) -> np.ndarray:
        kept = self._sketch
        return kept if kept is not None else self._read("sketch")

    def nbytes(self) -> int:
        return sum(int(array.nbytes) for array in (self._image, self._sketch) if array is not None)

    def png(self, part: str) -> bytes:
        """The PNG of "image" or "sketch": read from disk when spilled, else encoded now."""
        kept = self._image if part == "image" else self._sketch
        if kept is None:
            assert self._folder is not None
            return (self._folder / f"{self.file_stem}-{part}.png").read_bytes()
        return encode_png(kept)

    def manifest(self) -> dict[str, Any]:
        return {"index": self.index, "canvas_version": self.canvas_version, "source": self.source,
                "created": self.created, "sketch": f"{self.file_stem}-sketch.png",
                "image": f"{self.file_stem}-image.png", "settings": self.settings.to_json(),
                "timings": self.timings.to_json()}

    def _read(self, part: str) -> np.ndarray:
        from PIL import Image

        assert self._folder is not None
        with Image.open(self._folder / f"{self.file_stem}-{part}.png") as picture:
            return np.asarray(picture)


def encode_png(picture: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class LiveHistory:
    """Every picture a live session showed, oldest first; thread-safe."""

    def __init__(self, folder: Path | None = None, memory_bytes: int = MEMORY_BYTES) -> None:
        self._own_folder = folder is None
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="reelgraph-live-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.memory_bytes = memory_bytes
        self._entries: list[HistoryEntry] = []
        self._in_memory = 0
        self._spilling: set[int] = set()
        self._lock = threading.Lock()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="reelgraph-live-history")

    def add(self, image: np.ndarray, sketch: np.ndarray, canvas_version: int, settings: LiveSettings,
            timings: LiveTimings, source: str = "live") -> HistoryEntry:
        with self._lock:
            entry = HistoryEntry(len(self._entries) + 1, canvas_version, settings, timings, source,
                                 _image=image, _sketch=sketch)
            self._entries.append(entry)
            self._in_memory += entry.nbytes()
            spill = self._to_spill()
        for old in spill:
            self._writer.submit(self._spill, old)
        return entry

    def entries(self) -> list[HistoryEntry]:
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, position: int) -> HistoryEntry:
        with self._lock:
            return self._entries[position]

    def flush(self) -> None:
        """Wait until every spill under way is on disk."""
        self._writer.submit(lambda: None).result()

    def export(self, path: str | os.PathLike[str], model: str) -> Path:
        """Write the history as a ZIP (PNGs + manifest.json), atomically; returns the path."""
        entries = self.entries()
        last = entries[-1].settings if entries else LiveSettings()
        manifest = {"format": FORMAT, "version": VERSION, "model": model, "prompt": last.prompt, "seed": last.seed,
                    "created": time.time(), "entries": [entry.manifest() for entry in entries]}
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
                    for entry in entries:  # PNGs are compressed already
                        for part in ("sketch", "image"):
                            archive.writestr(f"{entry.file_stem}-{part}.png", entry.png(part))
                    archive.writestr(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def close(self) -> None:
        """Stop the writer; a folder the history made for itself is removed."""
        self._writer.shutdown(wait=True)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _to_spill(self) -> list[HistoryEntry]:
        chosen = []
        for entry in self._entries:
            if self._in_memory <= self.memory_bytes:
                break
            if entry.in_memory and entry.index not in self._spilling:
                self._spilling.add(entry.index)
                self._in_memory -= entry.nbytes()
                chosen.append(entry)
        return chosen

    def _spill(self, entry: HistoryEntry) -> None:
        for part, array in (("sketch", entry._sketch), ("image", entry._image)):
            if array is not None:
                (self.folder / f"{entry.file_stem}-{part}.png").write_bytes(encode_png(array))
        with self._lock:
            entry._folder = self.folder
            entry._image = entry._sketch = None
            self._spilling.discard(entry.index)


@dataclass(frozen=True)
class ArchivedEntry:
    """One entry read back from an exported session."""

    index: int
    canvas_version: int
    source: str
    settings: LiveSettings
    timings: dict[str, float]
    image: np.ndarray
    sketch: np.ndarray


def read_history(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[ArchivedEntry]]:
    """(manifest, entries) of an exported live session; ValueError in words when the
    file is not one this version can read."""
    from PIL import Image

    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ValueError(f"{Path(path).name} is not a Reelgraph live session (no {FORMAT} manifest)")
            if manifest.get("version") != VERSION:
                raise ValueError(f"{Path(path).name} is a live session of version {manifest.get('version')}; "
                                 f"this Reelgraph reads version {VERSION}")
            entries = []
            for item in manifest.get("entries", []):
                arrays = []
                for part in ("image", "sketch"):
                    with Image.open(io.BytesIO(archive.read(str(item[part])))) as picture:
                        arrays.append(np.asarray(picture))
                entries.append(ArchivedEntry(int(item["index"]), int(item["canvas_version"]), str(item["source"]),
                                             LiveSettings.from_json(item["settings"]), dict(item["timings"]),
                                             *arrays))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, TypeError) as error:
        raise ValueError(f"cannot read the live session {Path(path).name}: {error}") from None
    return manifest, entries
