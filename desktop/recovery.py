"""Recovery copies and session locks: what lets the next launch give back the work of
a session that crashed.

Each running session owns three files in ``<data folder>/recovery/``:

* ``<session id>.lock``: the session's pid (and the process start time where the
  system tells it, so a pid reused by another program is not taken for the session);
* ``<session id>.json``: the latest autosaved copy of the document, never written
  over the creator's own file;
* ``<session id>.meta.json``: which file the copy belongs to, and when it was written.

A clean exit removes all three. A lock whose process is gone means a crash: its copy
is a :class:`RecoveryCandidate`. No Qt here, so the rules are easy to test.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodes.atomic_write import write_atomically
from nodes.user_folders import data_folder

log = logging.getLogger("reelgraph.recovery")

LOCK_FORMAT = "reelgraph.session-lock"
META_FORMAT = "reelgraph.recovery-copy"


@dataclass(frozen=True)
class RecoveryCandidate:
    """The autosaved copy left behind by a session that did not close cleanly."""

    session_id: str
    copy_path: Path
    #: The file the creator was editing, or None for a workflow never saved.
    original_path: Path | None
    #: When the copy was written (seconds since the epoch).
    saved_at: float

    @property
    def original_changed_later(self) -> bool:
        """True when the creator's own file is newer than the copy (saved after the last autosave)."""
        if self.original_path is None:
            return False
        try:
            return self.original_path.stat().st_mtime > self.saved_at
        except OSError:
            return False

    def describe(self) -> str:
        name = self.original_path.name if self.original_path else "an unsaved workflow"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        text = f"{name}, autosaved {when}"
        if self.original_changed_later:
            text += " (the file itself was saved after this copy)"
        return text


def new_session_id() -> str:
    """Sortable by start time, unique across processes: ``20260509-143012-4242-a1b2c3``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"


class RecoveryStore:
    """The recovery folder as seen by one session."""

    def __init__(self, folder: Path | None = None, session_id: str | None = None) -> None:
        self.folder = folder if folder is not None else data_folder() / "recovery"
        self.session_id = session_id or new_session_id()
        self.locked = False

    # ----- this session ---------------------------------------------------------------
    def lock_path(self, session_id: str | None = None) -> Path:
        return self.folder / f"{session_id or self.session_id}.lock"

    def copy_path(self, session_id: str | None = None) -> Path:
        return self.folder / f"{session_id or self.session_id}.json"

    def meta_path(self, session_id: str | None = None) -> Path:
        return self.folder / f"{session_id or self.session_id}.meta.json"

    def claim_path(self, session_id: str) -> Path:
        return self.folder / f"{session_id}.claim"

    def acquire(self) -> None:
        """Write this session's lock (idempotent): from now on a crash is detectable."""
        if not self.locked:
            write_atomically(self.lock_path(), _json_bytes(_process_record()))
            self.locked = True

    def write_copy(self, document_text: str, original_path: Path | None) -> Path:
        """Write the recovery copy, then its metadata; both atomically."""
        self.acquire()
        path = write_atomically(self.copy_path(), document_text.encode("utf-8"))
        meta = {"format": META_FORMAT, "version": 1, "session": self.session_id,
                "original_path": str(original_path) if original_path else None, "saved_at": time.time()}
        write_atomically(self.meta_path(), _json_bytes(meta))
        return path

    def remove_copy(self) -> None:
        _remove(self.copy_path(), self.meta_path())

    def release(self) -> None:
        """Clean exit: the copy goes first and the lock last, so a crash in between leaves
        nothing half-recoverable."""
        self.remove_copy()
        _remove(self.lock_path())
        self.locked = False

    # ----- sessions that crashed ----------------------------------------------------------
    def crashed_sessions(self) -> list[str]:
        """Ids of sessions whose lock names a process that is no longer running."""
        if not self.folder.is_dir():
            return []
        crashed = []
        for lock in sorted(self.folder.glob("*.lock")):
            session_id = lock.name[: -len(".lock")]
            if session_id == self.session_id:
                continue
            record = _read_json(lock)
            if record is None or not process_is_alive(record):
                crashed.append(session_id)
        return crashed

    def claim(self, session_id: str) -> bool:
        """Take a crashed session for this one, so two launches never recover it twice."""
        record = _json_bytes(_process_record())
        path = self.claim_path(session_id)
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            owner = _read_json(path)
            if owner is not None and process_is_alive(owner):
                return False
            write_atomically(path, record)  # the session that claimed it crashed too
            return True
        with os.fdopen(handle, "wb") as stream:
            stream.write(record)
        return True

    def unclaim(self, session_id: str) -> None:
        """Leave a crashed session for the next launch to offer again."""
        _remove(self.claim_path(session_id))

    def candidate(self, session_id: str) -> RecoveryCandidate | None:
        copy = self.copy_path(session_id)
        if not copy.is_file():
            return None
        meta = _read_json(self.meta_path(session_id)) or {}
        original = meta.get("original_path")
        saved_at = meta.get("saved_at")
        if not isinstance(saved_at, (int, float)):
            saved_at = copy.stat().st_mtime
        return RecoveryCandidate(session_id, copy, Path(original) if isinstance(original, str) else None,
                                 float(saved_at))

    def discard(self, session_id: str) -> None:
        """Remove everything a crashed session left (its claim last)."""
        _remove(*self.folder.glob(f".{session_id}.*.tmp"))  # a write the crash cut short
        _remove(self.copy_path(session_id), self.meta_path(session_id), self.lock_path(session_id),
                self.claim_path(session_id))


def process_is_alive(record: dict[str, Any]) -> bool:
    """Is the process a lock names still running? Unreadable records count as dead."""
    pid = record.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    if sys.platform == "win32":
        alive = _windows_process_exists(pid)
    else:
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True  # exists, owned by someone else
        except OSError:
            alive = False
    if not alive:
        return False
    recorded_start = record.get("process_start")
    current_start = _process_start(pid)
    return recorded_start is None or current_start is None or recorded_start == current_start


def _process_record() -> dict[str, Any]:
    return {"format": LOCK_FORMAT, "version": 1, "pid": os.getpid(), "process_start": _process_start(os.getpid()),
            "started_at": time.time()}


def _process_start(pid: int) -> int | None:
    """The process start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        return int(text[text.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _windows_process_exists(pid: int) -> bool:
    """os.kill(pid, 0) would terminate the process on Windows, so ask the kernel instead."""
    import ctypes

    kernel = ctypes.windll.kernel32  # type: ignore[attr-defined]
    query_limited_information, still_active = 0x1000, 259
    handle = kernel.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return ctypes.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        return bool(kernel.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == still_active
    finally:
        kernel.CloseHandle(handle)


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _remove(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            log.warning("cannot remove %s: %s", path, error)
