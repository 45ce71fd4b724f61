"""Saving without ever leaving a half-written file: write a temporary file next to
the target, flush it to disk, then rename it over the target in one step."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data``; a crash leaves either the old or the new file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    return target


def _mode_for(target: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual ones (umask applied),
    not mkstemp's owner-only 0600."""
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def create_exclusively(directory: Path, stem: str, suffix: str, data: bytes, digits: int = 5) -> Path:
    """Write ``data`` to the first free ``stem_00001suffix`` name, never overwriting a file.

    The data is written to a temporary file and hard-linked into place, so two
    writers (the GUI and a queue worker) can never claim the same name.
    """
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        number = _next_number(directory, stem, suffix)
        while True:
            candidate = directory / f"{stem}_{number:0{digits}d}{suffix}"
            try:
                os.link(temporary, candidate)
                return candidate
            except FileExistsError:
                number += 1
    finally:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass


def _next_number(directory: Path, stem: str, suffix: str) -> int:
    highest = 0
    prefix = f"{stem}_"
    for entry in os.scandir(directory):
        name = entry.name
        if name.startswith(prefix) and name.endswith(suffix):
            digits = name[len(prefix) : len(name) - len(suffix)]
            if digits.isdigit():
                highest = max(highest, int(digits))
    return highest + 1
