"""Checkpoints of a render-queue job: the outputs of every node that finished, on disk,
so a job interrupted by a crash, a ``kill -9``, a power cut or a pause resumes with
only its unfinished nodes.

Safe by construction: arrays are ``.npy`` files read with ``allow_pickle=False``,
everything else is JSON, and the only records rebuilt from JSON are the value types
Reelgraph itself defines (Video, Audio, ModelRef). A value that cannot be written that
way (a torch tensor, an arbitrary object) is not checkpointed: its node runs again on
resume. Opening a checkpoint never runs code.

Layout: ``<folder>/<cache key>/manifest.json`` plus numbered ``.npy`` files. Each
checkpoint is written into a temporary folder, flushed to disk and renamed into place,
so it is either complete or absent.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from nodes.models import ModelRef
from nodes.types import Audio, Video

log = logging.getLogger("reelgraph.queue")

FORMAT = "reelgraph.checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
#: Records a checkpoint may rebuild, by name: nothing else is ever constructed from a file.
RECORD_TYPES: dict[str, type] = {"ModelRef": ModelRef}


class Unstorable(Exception):
    """A value with no safe on-disk form; its node is not checkpointed."""


@dataclass(frozen=True)
class Checkpoint:
    """One finished node of a job, as found on disk."""

    node_id: str
    node_type: str
    key: str
    #: Its cache key was unique to that run (a non-deterministic node, or downstream of one).
    volatile: bool
    #: An output node: it already wrote its files.
    output_node: bool
    #: The node's outputs in output order; None when they could not be stored safely.
    outputs: tuple[Any, ...] | None


class CheckpointStore:
    """The checkpoints of one job, in ``folder``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def save(self, node_id: str, node_type: str, key: str, outputs: tuple[Any, ...], *,
             volatile: bool = False, output_node: bool = False) -> bool:
        """Write one finished node; True when its outputs were stored (not only its finishing)."""
        arrays: list[np.ndarray] = []
        try:
            encoded: Any = [encode(value, arrays) for value in outputs]
        except Unstorable as error:
            log.info("node %s (%s) is not checkpointed: %s", node_id, node_type, error)
            encoded = None
            arrays = []
        manifest = {"format": FORMAT, "version": VERSION, "node_id": node_id, "node_type": node_type,
                    "key": key, "volatile": volatile, "output_node": output_node, "outputs": encoded}
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.folder))
        try:
            for index, array in enumerate(arrays):
                with open(staging / f"{index}.npy", "wb") as stream:
                    np.save(stream, array, allow_pickle=False)
                    stream.flush()
                    os.fsync(stream.fileno())
            with open(staging / MANIFEST, "w", encoding="utf-8") as stream:
                json.dump(manifest, stream, ensure_ascii=False, allow_nan=False)
                stream.flush()
                os.fsync(stream.fileno())
            target = self.folder / key
            if target.exists():
                shutil.rmtree(target)
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _sync_folder(self.folder)
        return encoded is not None

    def load(self) -> list[Checkpoint]:
        """Every complete checkpoint; damaged ones are logged and left out (their nodes re-run)."""
        if not self.folder.is_dir():
            return []
        found = []
        for entry in sorted(self.folder.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                found.append(_read(entry))
            except (OSError, ValueError, KeyError, TypeError, Unstorable) as error:
                log.warning("checkpoint %s cannot be read (%s); its node will run again", entry, error)
        return found

    @staticmethod
    def restorable(checkpoints: list[Checkpoint]) -> dict[str, tuple[Any, ...]]:
        """The stored, non-volatile outputs of ``checkpoints`` by cache key, to hand to the
        executor's plan (``preloaded``), which treats them as cache hits. Not through the
        output cache: an output bigger than its budget would not fit, and others could be
        pushed out before the plan looks, so finished nodes would run again."""
        return {checkpoint.key: checkpoint.outputs for checkpoint in checkpoints
                if checkpoint.outputs is not None and not checkpoint.volatile}

    def clear(self) -> None:
        """Forget every checkpoint of the job (it completed, or was cancelled or deleted)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _read(folder: Path) -> Checkpoint:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"not a version-{VERSION} checkpoint")
    outputs = None
    if manifest["outputs"] is not None:
        outputs = tuple(decode(item, folder) for item in manifest["outputs"])
    return Checkpoint(str(manifest["node_id"]), str(manifest["node_type"]), str(manifest["key"]),
                      bool(manifest["volatile"]), bool(manifest["output_node"]), outputs)


def encode(value: Any, arrays: list[np.ndarray]) -> Any:
    """A JSON tree for ``value``; its arrays are appended to ``arrays`` and named by index."""
    if value is None or isinstance(value, (str, bool)):
        return {"value": value}
    if isinstance(value, int):
        if value.bit_length() > 64:
            return {"integer": str(value)}
        return {"value": value}
    if isinstance(value, float):
        return {"value": value} if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, np.generic):
        return encode(value.item(), arrays)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise Unstorable("an array of Python objects")
        arrays.append(value)
        return {"array": len(arrays) - 1}
    if isinstance(value, Video):
        audio = None if value.audio is None else encode(value.audio, arrays)
        return {"video": {"frames": encode(value.frames, arrays), "fps": float(value.fps), "audio": audio}}
    if isinstance(value, Audio):
        return {"audio": {"samples": encode(value.samples, arrays), "rate": int(value.rate)}}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [encode(item, arrays) for item in value]}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise Unstorable("a dictionary whose keys are not all text")
        return {"dict": [[key, encode(item, arrays)] for key, item in value.items()]}
    name = type(value).__name__
    if RECORD_TYPES.get(name) is type(value):
        return {"record": name, "fields": {item.name: encode(getattr(value, item.name), arrays)
                                           for item in fields(value) if item.init}}
    raise Unstorable(f"a {name}, which has no safe file form")


def decode(tree: Any, folder: Path) -> Any:
    """The value :func:`encode` wrote; arrays come back read-only, like every cached output."""
    if "value" in tree:
        return tree["value"]
    if "integer" in tree:
        return int(tree["integer"])
    if "float" in tree:
        return float(tree["float"])
    if "array" in tree:
        array = np.load(folder / f"{int(tree['array'])}.npy", allow_pickle=False)
        array.flags.writeable = False
        return array
    if "video" in tree:
        video = tree["video"]
        audio = None if video["audio"] is None else decode(video["audio"], folder)
        return Video(decode(video["frames"], folder), float(video["fps"]), audio)
    if "audio" in tree:
        return Audio(decode(tree["audio"]["samples"], folder), int(tree["audio"]["rate"]))
    if "list" in tree:
        return [decode(item, folder) for item in tree["list"]]
    if "tuple" in tree:
        return tuple(decode(item, folder) for item in tree["tuple"])
    if "dict" in tree:
        return {str(key): decode(item, folder) for key, item in tree["dict"]}
    if "record" in tree:
        record = RECORD_TYPES.get(tree["record"])
        if record is None:
            raise Unstorable(f"unknown record {tree['record']!r}")
        return record(**{name: decode(item, folder) for name, item in tree["fields"].items()})
    raise ValueError(f"unknown checkpoint entry {sorted(tree)[:3]}")


def _sync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
