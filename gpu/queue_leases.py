"""The workers' side of the render queue's database: taking a job, keeping it (a lease
renewed while the job runs), ending an attempt, and taking back jobs whose worker died.

Each function runs inside a transaction that :class:`gpu.queue.RenderQueue` opened
with ``BEGIN IMMEDIATE``: it holds the database's write lock from its first read, so
two workers in two processes can never both see a job as free and both take it.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from dataclasses import replace
from typing import Any, Mapping, Sequence

from gpu.queue_jobs import (
    CANCELLED, COMPLETED, FAILED, FINISHED, PAUSED, QUEUED, RUNNING, Attempt, LostLease, to_json_text,
)

#: A job whose worker died this many times in a row fails instead of going back again
#: (it may be what kills its worker).
MAX_INTERRUPTIONS = 5
#: The job status each attempt outcome leads to.
STATUS_AFTER = {COMPLETED: COMPLETED, FAILED: FAILED, CANCELLED: CANCELLED, PAUSED: PAUSED,
                "retrying": QUEUED, "stopped": QUEUED}
#: Attempts that end this way do not use up the job's retries (interruptions count apart).
NOT_THE_JOBS_FAULT = ("stopped", PAUSED)


def new_worker_id() -> str:
    """``host:pid:tag``: unique, and lets a claim on this host see that the worker's process is gone."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def worker_is_gone(worker: str) -> bool:
    """True when ``worker`` ran on this host and its process no longer exists."""
    host, _, rest = worker.partition(":")
    pid_text = rest.partition(":")[0]
    if os.name == "nt" or host != socket.gethostname() or not pid_text.isdigit():
        return False  # on Windows os.kill(pid, 0) would end the process: wait for the lease instead
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists but belongs to someone else
        return False
    return False


def claim_next(db: sqlite3.Connection, worker: str, places: Sequence[str], lease_seconds: float,
               now: float) -> tuple[int | None, list[int]]:
    """Mark the next due job running for ``worker``; returns its id (None when the queue
    is paused or nothing is due) and the ids of abandoned jobs that ended cancelled."""
    cleared = reclaim_abandoned(db, now)
    paused = db.execute("SELECT value FROM settings WHERE name = 'paused'").fetchone()
    if paused is not None and paused[0] == "1":
        return None, cleared
    marks = ",".join("?" * len(places))
    row = db.execute(
        f"SELECT id, attempts FROM jobs WHERE status = ? AND not_before <= ? AND runs_on IN ({marks}) "
        "ORDER BY priority DESC, position LIMIT 1", (QUEUED, now, *places)).fetchone()
    if row is None:
        return None, cleared
    attempts = read_attempts(row["attempts"])
    attempts.append(Attempt(len(attempts) + 1, worker, now))
    db.execute(
        "UPDATE jobs SET status = ?, worker = ?, heartbeat = ?, lease_until = ?, started = COALESCE(started, ?), "
        "tries = tries + 1, attempts = ?, stop_request = '', progress_message = 'starting' WHERE id = ?",
        (RUNNING, worker, now, now + lease_seconds, now, attempts_text(attempts), row["id"]))
    return int(row["id"]), cleared


def renew_lease(db: sqlite3.Connection, job_id: int, worker: str, lease_seconds: float,
                progress: Mapping[str, Any] | None, output_paths: Sequence[str], now: float) -> str:
    """Extend ``worker``'s lease on a running job, with its progress and new files;
    returns the job's stop request. LostLease when the job is no longer the worker's."""
    row = db.execute("SELECT stop_request, output_paths FROM jobs WHERE id = ? AND status = ? AND worker = ?",
                     (job_id, RUNNING, worker)).fetchone()
    if row is None:
        raise LostLease(f"job {job_id} is no longer held by worker {worker}")
    assignments, values = ["heartbeat = ?", "lease_until = ?"], [now, now + lease_seconds]
    for name in ("progress", "progress_message", "nodes_done", "nodes_total"):
        if progress is not None and name in progress:
            assignments.append(f"{name} = ?")
            values.append(progress[name])
    if output_paths:
        assignments.append("output_paths = ?")
        values.append(to_json_text([*json.loads(row["output_paths"]), *output_paths]))
    db.execute(f"UPDATE jobs SET {', '.join(assignments)} WHERE id = ?", (*values, job_id))
    return str(row["stop_request"])


def end_attempt(db: sqlite3.Connection, job_id: int, worker: str, outcome: str, error: str,
                outputs: Mapping[str, Any] | None, retry_at: float | None, nodes_run: int, nodes_resumed: int,
                now: float) -> str:
    """Close ``worker``'s attempt with ``outcome`` and move the job to the status that
    follows; returns that status. A cancel or pause the creator asked for while the
    attempt ran wins over going back to the queue (the request may arrive after the
    worker's last report, when its run was already ending for another reason)."""
    row = db.execute("SELECT attempts, stop_request FROM jobs WHERE id = ? AND status = ? AND worker = ?",
                     (job_id, RUNNING, worker)).fetchone()
    if row is None:
        raise LostLease(f"job {job_id} is no longer held by worker {worker}")
    status = status_after(outcome, row["stop_request"])
    attempts = close_last(read_attempts(row["attempts"]), now, outcome, error, nodes_run, nodes_resumed)
    completed = status == COMPLETED
    db.execute(
        "UPDATE jobs SET status = ?, attempts = ?, last_error = ?, finished = ?, not_before = ?, stop_request = '', "
        "lease_until = 0, interruptions = 0, outputs = COALESCE(?, outputs), tries = MAX(0, tries - ?), "
        "progress = CASE WHEN ? THEN 1.0 ELSE progress END, progress_message = ? WHERE id = ?",
        (status, attempts_text(attempts), error, now if status in FINISHED else None, retry_at or 0,
         to_json_text(dict(outputs)) if outputs is not None else None, int(outcome in NOT_THE_JOBS_FAULT), completed,
         "done" if completed else outcome if status == STATUS_AFTER[outcome] else status, job_id))
    return status


def status_after(outcome: str, stop_request: str) -> str:
    """The job's status once an attempt ended with ``outcome`` while ``stop_request``
    ("", "cancel" or "pause") was pending: a cancel ends every job that did not complete,
    a pause holds back one that would otherwise wait in the queue again."""
    status = STATUS_AFTER[outcome]
    if stop_request == "cancel" and status != COMPLETED:
        return CANCELLED
    if stop_request == "pause" and status == QUEUED:
        return PAUSED
    if outcome == PAUSED and stop_request == "":
        return QUEUED  # resumed while its run was already pausing
    return status


def reclaim_abandoned(db: sqlite3.Connection, now: float, job_id: int | None = None) -> list[int]:
    """Running jobs (or only ``job_id``) whose worker is gone (lease run out, or its
    process on this host ended) go back to the queue, or end as asked (cancel, pause)
    while their worker lived; returns the ids that ended cancelled, whose checkpoints may go."""
    cleared = []
    only = "" if job_id is None else " AND id = ?"
    rows = db.execute("SELECT id, worker, heartbeat, lease_until, attempts, interruptions, stop_request "
                      f"FROM jobs WHERE status = ?{only}", (RUNNING, *(() if job_id is None else (job_id,)))).fetchall()
    for row in rows:
        if row["lease_until"] >= now and not worker_is_gone(row["worker"]):
            continue
        reason = f"its worker {row['worker']} stopped without finishing (a crash or a kill)"
        attempts = close_last(read_attempts(row["attempts"]), row["heartbeat"], "interrupted", reason)
        interruptions = row["interruptions"] + 1
        if row["stop_request"] == "cancel":
            status, message = CANCELLED, "cancelled"
            cleared.append(int(row["id"]))
        elif row["stop_request"] == "pause":
            status, message = PAUSED, "paused"
        elif interruptions >= MAX_INTERRUPTIONS:
            status, message = FAILED, f"its worker stopped {interruptions} times while running it"
        else:
            status, message = QUEUED, "resuming after its worker stopped"
        db.execute("UPDATE jobs SET status = ?, attempts = ?, interruptions = ?, stop_request = '', lease_until = 0, "
                   "tries = MAX(0, tries - 1), "
                   "progress_message = ?, last_error = ?, finished = ? WHERE id = ?",
                   (status, attempts_text(attempts), interruptions, message, message if status == FAILED else "",
                    now if status in FINISHED else None, row["id"]))
    return cleared


def read_attempts(text: str) -> list[Attempt]:
    return [Attempt.from_json(item) for item in json.loads(text)]


def attempts_text(attempts: list[Attempt]) -> str:
    return to_json_text([attempt.to_json() for attempt in attempts])


def close_last(attempts: list[Attempt], ended: float, outcome: str, error: str, nodes_run: int = 0,
               nodes_resumed: int = 0) -> list[Attempt]:
    """End the attempt still marked running (if any) with ``outcome``."""
    if attempts and attempts[-1].outcome == "running":
        attempts[-1] = replace(attempts[-1], ended=ended, outcome=outcome, error=error, nodes_run=nodes_run,
                               nodes_resumed=nodes_resumed)
    return attempts
