"""Opening the render queue's SQLite database the way every process must: in WAL mode
(a panel reads while a worker writes), durable commits, and a clear error instead of a
traceback when the path or its file system cannot hold the queue."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from gpu.queue_jobs import QueueError

#: How long a call waits for another process's write to finish before it gives up.
BUSY_SECONDS = 30.0


def open_database(path: Path) -> sqlite3.Connection:
    """A connection to the queue at ``path`` (created with its folder when missing), in
    WAL mode; QueueError saying why when it cannot be."""
    if path.is_dir():
        raise QueueError(f"{path} is a folder; the render queue is a database file "
                         f"(for example {path / 'queue.sqlite3'})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as error:
        raise QueueError(f"cannot open the render queue {path}: {error}") from error
    try:
        connection.row_factory = sqlite3.Row
        use_write_ahead_log(connection, path)
        connection.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as error:
        connection.close()
        raise QueueError(f"cannot open the render queue {path}: {error}") from error
    except BaseException:
        connection.close()
        raise
    return connection


def use_write_ahead_log(connection: sqlite3.Connection, path: Path) -> None:
    """Switch the database to WAL.

    Switching takes the database's exclusive lock without waiting through SQLite's busy
    timeout, so two processes opening a brand-new queue at once could fail with
    "database is locked": try again after a short, growing pause, within that timeout.
    """
    deadline = time.monotonic() + BUSY_SECONDS
    pause = 0.005
    while True:
        try:
            mode = str(connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
            break
        except sqlite3.OperationalError as error:
            busy = "locked" in str(error) or "busy" in str(error)
            if not busy or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 0.25)
    if mode != "wal":
        raise QueueError(f"the file system of {path.parent} cannot hold the render queue: it does not support "
                         f"SQLite's write-ahead log (the journal mode stayed {mode!r}); put the queue on a local "
                         "disk (reelgraph queue ... --db PATH)")
