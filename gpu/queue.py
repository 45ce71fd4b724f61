"""The render queue: jobs on disk (SQLite in WAL mode), shared by every process on the
machine, that survive crashes and restarts with nothing lost.

The public API (what the desktop queue panel and ``reelgraph queue`` are built on)::

    queue = RenderQueue(path=None)              # data_folder()/queue/queue.sqlite3
    # adding: a snapshot of the graph is stored; later edits do not touch the job
    queue.add(graph, *, name="", priority=0, project=None, targets=None, output_dir=None,
              runs_on="local") -> Job
    queue.add_batch(graph, variations, *, name="", ..., labels=None) -> list[Job]
        # variations: [{"node_id.input": value}, ...] or gpu.queue_batch.Variation
    # the creator's controls (UnknownJob / QueueError say why not)
    queue.move(job_id, before=other_id) / queue.move(job_id, after=other_id) -> Job
    queue.set_priority(job_id, priority) -> Job
    queue.pause(); queue.resume(); queue.paused  # the whole queue: no new job starts
    queue.pause_job(job_id) / queue.resume_job(job_id) -> Job
    queue.cancel(job_id) -> Job                  # running: stops within a step, then "cancelled"
                                                 # (at once when its worker is gone)
    queue.retry(job_id) -> Job                   # failed / cancelled -> queued, resumes
    queue.delete(job_id); queue.clear_finished() -> int
    # reading
    queue.get(job_id) -> Job                     # with its graph snapshot
    queue.list_jobs(status=None, page=0, page_size=50) -> list[Job]   # without snapshots
    queue.history(page=0, page_size=50) -> list[Job]                  # finished, with graph
    queue.counts() -> {status: n}; queue.revision() -> int            # poll to refresh a view
    # the workers' side (gpu/queue_leases.py; used by gpu.queue_worker.QueueWorker)
    queue.claim(worker, places, lease_seconds) -> Job | None
    queue.report(job_id, worker, lease_seconds, progress, output_paths) -> stop request
    queue.finish(job_id, worker, outcome, ...) -> Job

A :class:`~gpu.queue_jobs.Job` carries status, priority, progress (fraction, message,
nodes_done/nodes_total), attempts (each with worker, start, end, outcome, error),
last_error, timestamps, output_paths (files, for thumbnails), outputs (summaries),
runs_on ("local", "local:cuda:0"; later "cloud") and, from get/history, the graph.
An ETA is ``attempts[-1].started`` and ``progress`` away.

Every method is thread-safe and may be called from any process at any time. Jobs run
by priority (higher first), then position (older first; ``move`` changes it).
``claim`` takes the next job in one ``BEGIN IMMEDIATE`` transaction, so two workers
never take the same job. A worker holds a lease it renews while it runs; a job whose
worker died (its lease ran out, or its process on this machine is gone) goes back to
the queue at the next claim and resumes from its checkpoints; cancelling, pausing or
deleting it takes it back at once, as no worker would ever act on the request. A cancel
or pause asked while an attempt was ending anyway (a retry, a worker shutting down)
still holds: the job does not go back to the queue.

Statuses: queued -> running -> completed | failed | cancelled; queued <-> paused;
running -> paused (pause_job) or queued again when its worker stops cleanly, dies, or
the failure was passing (out of memory, I/O) and a retry is due after a backoff.
"""

from __future__ import annotations

import copy
import os
import shutil
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from gpu.checkpoints import CheckpointStore
from gpu.queue_jobs import (
    ACTIVE, CANCELLED, COMPLETED, FAILED, FINISHED, FULL_COLUMNS, LOCAL, PAUSED, QUEUED, RUNNING, SCHEMA,
    SCHEMA_VERSION, STATUSES, SUMMARY_COLUMNS, Attempt, Job, LostLease, QueueError, UnknownJob, check_place,
    job_from_row, to_json_text,
)
from gpu.queue_batch import Variation, pin_random_seeds
from gpu.queue_database import open_database
from gpu.queue_leases import claim_next, end_attempt, new_worker_id, reclaim_abandoned, renew_lease
from nodes.graph import Graph

PAGE_SIZE = 50
#: What ``from gpu.queue import ...`` offers besides RenderQueue: the job and its errors.
__all__ = ["RenderQueue", "Job", "Attempt", "QueueError", "UnknownJob", "LostLease", "STATUSES", "QUEUED",
           "RUNNING", "PAUSED", "COMPLETED", "FAILED", "CANCELLED", "FINISHED", "LOCAL", "PAGE_SIZE",
           "apply_overrides", "default_queue_path", "new_worker_id"]


def default_queue_path() -> Path:
    from nodes.user_folders import data_folder

    return data_folder() / "queue" / "queue.sqlite3"


class RenderQueue:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_queue_path()
        self._db = open_database(self.path)
        #: Each job's checkpoints live in ``jobs/<id>/`` next to the database.
        self.jobs_folder = self.path.parent / "jobs"
        self._lock = threading.RLock()
        self._own_commits = 0
        try:
            self._create_tables()
        except BaseException:
            self._db.close()
            raise

    def _create_tables(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise QueueError(f"{self.path} was written by a newer Reelgraph (queue version {version}); "
                                 "update Reelgraph to use it")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "RenderQueue":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- adding ------------------------------------------------------------------------
    def add(self, graph: Graph | Mapping[str, Any], *, name: str = "", priority: int = 0,
            project: Mapping[str, Any] | None = None, targets: Sequence[str] | None = None,
            output_dir: str | os.PathLike[str] | None = None, runs_on: str = LOCAL) -> Job:
        """Queue one render of a snapshot of ``graph``; returns the new job."""
        return self.add_batch(graph, [{}], name=name, priority=priority, project=project, targets=targets,
                              output_dir=output_dir, runs_on=runs_on, labels=[""])[0]

    def add_batch(self, graph: Graph | Mapping[str, Any], variations: Sequence[Mapping[str, Any] | Variation], *,
                  name: str = "", priority: int = 0, project: Mapping[str, Any] | None = None,
                  targets: Sequence[str] | None = None, output_dir: str | os.PathLike[str] | None = None,
                  runs_on: str = LOCAL, labels: Sequence[str] | None = None) -> list[Job]:
        """Queue one job per variation, each a copy of ``graph`` with the variation's
        ``{"node_id.input": value}`` typed in (``gpu.queue_batch.expand_batch`` turns seeds
        and prompts into Variations, whose labels name the jobs; ``labels`` overrides them).
        All in one transaction: the batch is queued whole or not at all."""
        check_place(runs_on)
        document = graph.to_dict() if isinstance(graph, Graph) else dict(graph)
        name = name or str(document.get("meta", {}).get("name", "") or "untitled")
        folder = str(Path(output_dir).resolve()) if output_dir is not None else ""
        batch = uuid.uuid4().hex[:10] if len(variations) > 1 else ""
        rows = []
        for index, variation in enumerate(variations):
            overrides = variation.overrides if isinstance(variation, Variation) else variation
            label = variation.label if isinstance(variation, Variation) else f"#{index + 1}"
            label = labels[index] if labels is not None else label
            snapshot = pin_random_seeds(apply_overrides(document, overrides))
            rows.append((f"{name} · {label}" if label else name, to_json_text(snapshot),
                         to_json_text(dict(overrides))))
        project_text = to_json_text(dict(project)) if project is not None else None
        targets_text = to_json_text(list(targets)) if targets is not None else None
        now = time.time()
        with self._transaction() as db:
            ids = []
            for job_name, graph_text, overrides_text in rows:
                cursor = db.execute(
                    "INSERT INTO jobs (name, status, priority, runs_on, graph, project, targets, output_dir, batch, "
                    "overrides, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job_name, QUEUED, int(priority), runs_on, graph_text, project_text, targets_text, folder,
                     batch, overrides_text, now))
                ids.append(cursor.lastrowid)
                db.execute("UPDATE jobs SET position = id WHERE id = ?", (cursor.lastrowid,))
        return [self.get(job_id) for job_id in ids]

    # ----- the creator's controls --------------------------------------------------------
    def cancel(self, job_id: int) -> Job:
        """A waiting job is cancelled at once; a running one is asked to stop, and its
        worker stops it within one step (the job turns cancelled when it has)."""
        with self._transaction() as db:
            was_running = self._job(db, job_id).status == RUNNING
            job = self._job_now(db, job_id)
            if job.status in (QUEUED, PAUSED):
                self._end(db, job_id, CANCELLED, "cancelled" if was_running else "cancelled before it ran")
            elif job.status == RUNNING:
                db.execute("UPDATE jobs SET stop_request = 'cancel' WHERE id = ?", (job_id,))
            elif not (was_running and job.status == CANCELLED):  # its dead worker had been asked already
                raise QueueError(f"job {job_id} has already {job.status}; nothing to cancel")
        if job.status != RUNNING:
            self._remove_folder(job_id)
        return self.get(job_id)

    def retry(self, job_id: int) -> Job:
        """Queue a failed or cancelled job again, with a fresh allowance of attempts;
        it resumes from whatever checkpoints its last attempt left."""
        with self._transaction() as db:
            job = self._job(db, job_id)
            if job.status not in (FAILED, CANCELLED):
                raise QueueError(f"job {job_id} is {job.status}; only a failed or cancelled job can be retried")
            db.execute("UPDATE jobs SET status = ?, tries = 0, interruptions = 0, finished = NULL, not_before = 0, "
                       "stop_request = '', last_error = '' WHERE id = ?", (QUEUED, job_id))
        return self.get(job_id)

    def pause_job(self, job_id: int) -> Job:
        """Hold a queued job back, or stop a running one at its next step and keep its
        checkpoints, so ``resume_job`` carries on where it stopped."""
        with self._transaction() as db:
            job = self._job_now(db, job_id)
            if job.status == QUEUED:
                db.execute("UPDATE jobs SET status = ? WHERE id = ?", (PAUSED, job_id))
            elif job.status == RUNNING:
                db.execute("UPDATE jobs SET stop_request = 'pause' WHERE id = ?", (job_id,))
            elif job.status != PAUSED:
                raise QueueError(f"job {job_id} has already {job.status}; nothing to pause")
        return self.get(job_id)

    def resume_job(self, job_id: int) -> Job:
        with self._transaction() as db:
            job = self._job(db, job_id)
            if job.status == PAUSED:
                db.execute("UPDATE jobs SET status = ?, not_before = 0 WHERE id = ?", (QUEUED, job_id))
            elif job.status == RUNNING and job.stop_request == "pause":
                db.execute("UPDATE jobs SET stop_request = '' WHERE id = ?", (job_id,))
            elif job.status != QUEUED:
                raise QueueError(f"job {job_id} is {job.status}, not paused")
        return self.get(job_id)

    def pause(self) -> None:
        """Workers take no new job until ``resume``; a job already running finishes."""
        self._set_setting("paused", "1")

    def resume(self) -> None:
        self._set_setting("paused", "0")

    @property
    def paused(self) -> bool:
        with self._lock:
            row = self._db.execute("SELECT value FROM settings WHERE name = 'paused'").fetchone()
        return row is not None and row[0] == "1"

    def set_priority(self, job_id: int, priority: int) -> Job:
        """Higher runs first; among equals, the older (or the one moved ahead) first."""
        with self._transaction() as db:
            self._job(db, job_id)
            db.execute("UPDATE jobs SET priority = ? WHERE id = ?", (int(priority), job_id))
        return self.get(job_id)

    def move(self, job_id: int, *, before: int | None = None, after: int | None = None) -> Job:
        """Put a waiting job just before (or after) another in the running order; it takes
        the other's priority (dragging a row in the queue panel)."""
        if (before is None) == (after is None):
            raise QueueError("move a job either before or after another job")
        anchor_id = before if before is not None else after
        if anchor_id == job_id:
            return self.get(job_id)
        with self._transaction() as db:
            job = self._job(db, job_id)
            anchor = self._job(db, anchor_id)  # type: ignore[arg-type]
            for item in (job, anchor):
                if item.status not in (QUEUED, PAUSED):
                    raise QueueError(f"job {item.id} is {item.status}; only waiting jobs can be reordered")
            position = self._position_beside(db, anchor, job_id, before is not None)
            if position is None:
                self._renumber(db)
                anchor = self._job(db, anchor.id)
                position = self._position_beside(db, anchor, job_id, before is not None)
            db.execute("UPDATE jobs SET priority = ?, position = ? WHERE id = ?", (anchor.priority, position, job_id))
        return self.get(job_id)

    def delete(self, job_id: int) -> None:
        """Forget a job that is not running (its output files stay where they are)."""
        with self._transaction() as db:
            job = self._job_now(db, job_id)
            if job.status == RUNNING:
                raise QueueError(f"job {job_id} is running; cancel it first")
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        self._remove_folder(job_id)

    def clear_finished(self) -> int:
        """Forget every completed, failed and cancelled job; returns how many."""
        marks = ",".join("?" * len(FINISHED))
        with self._transaction() as db:
            ids = [row[0] for row in db.execute(f"SELECT id FROM jobs WHERE status IN ({marks})", FINISHED)]
            db.execute(f"DELETE FROM jobs WHERE status IN ({marks})", FINISHED)
        for job_id in ids:
            self._remove_folder(job_id)
        return len(ids)

    # ----- reading -------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        """One job with its graph snapshot; UnknownJob when there is none."""
        with self._lock:
            row = self._db.execute(f"SELECT {FULL_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise UnknownJob(job_id)
        return job_from_row(row)

    def list_jobs(self, status: str | Iterable[str] | None = None, page: int = 0,
                  page_size: int = PAGE_SIZE) -> list[Job]:
        """A page of jobs without their snapshots: running, then queued and paused in the
        order they will run, then finished ones newest first."""
        wanted = set(STATUSES if status is None else [status] if isinstance(status, str) else status)
        unknown = wanted - set(STATUSES)
        if unknown:
            raise QueueError(f"unknown status {sorted(unknown)[0]!r}; use one of {', '.join(STATUSES)}")
        segments: list[tuple[str, ...]] = [(name,) for name in ACTIVE if name in wanted]
        finished = tuple(name for name in FINISHED if name in wanted)
        if finished:
            segments.append(finished)
        counts = self.counts()
        skip, left, jobs = max(0, page) * page_size, page_size, []
        with self._lock:
            for segment in segments:
                size = sum(counts[name] for name in segment)
                if skip >= size:
                    skip -= size
                    continue
                marks = ",".join("?" * len(segment))
                order = "finished DESC, id DESC" if segment[0] in FINISHED else "priority DESC, position"
                rows = self._db.execute(
                    f"SELECT {SUMMARY_COLUMNS} FROM jobs WHERE status IN ({marks}) ORDER BY {order} LIMIT ? OFFSET ?",
                    (*segment, left, skip)).fetchall()
                jobs.extend(job_from_row(row) for row in rows)
                skip, left = 0, page_size - len(jobs)
                if left <= 0:
                    break
        return jobs

    def history(self, page: int = 0, page_size: int = PAGE_SIZE) -> list[Job]:
        """Finished jobs, newest first, with their outputs and the graph that made them
        (so the editor can open it again)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {FULL_COLUMNS} FROM jobs WHERE finished IS NOT NULL ORDER BY finished DESC LIMIT ? OFFSET ?",
                (page_size, max(0, page) * page_size)).fetchall()
        return [job_from_row(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each status (every status present, 0 where none)."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update((status, count) for status, count in rows)
        return counts

    def revision(self) -> int:
        """A number that grows whenever this or any other process changed the queue: a
        panel polls it (cheaply) and reloads its page only when it moved."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0]) + self._own_commits

    def job_folder(self, job_id: int) -> Path:
        return self.jobs_folder / str(job_id)

    def checkpoints(self, job_id: int) -> CheckpointStore:
        return CheckpointStore(self.job_folder(job_id) / "checkpoints")

    # ----- the workers' side (gpu/queue_leases.py) -------------------------------------------
    def claim(self, worker: str, places: Sequence[str] = (LOCAL,), lease_seconds: float = 30.0) -> Job | None:
        """Take the next job that may run in one of ``places``, atomically; None when the
        queue is paused or nothing is due. Jobs whose worker died go back first."""
        with self._transaction() as db:
            job_id, cleared = claim_next(db, worker, places, lease_seconds, time.time())
        for cancelled in cleared:
            self._remove_folder(cancelled)
        return self.get(job_id) if job_id is not None else None

    def report(self, job_id: int, worker: str, lease_seconds: float, progress: Mapping[str, Any] | None = None,
               output_paths: Sequence[str] = ()) -> str:
        """A running job's sign of life: renews the lease, writes progress (fraction,
        message, nodes_done, nodes_total) and new output files; returns the stop request
        ("", "cancel" or "pause"). LostLease when another worker has taken the job over."""
        with self._transaction() as db:
            return renew_lease(db, job_id, worker, lease_seconds, progress, output_paths, time.time())

    def finish(self, job_id: int, worker: str, outcome: str, *, error: str = "",
               outputs: Mapping[str, Any] | None = None, retry_at: float | None = None, nodes_run: int = 0,
               nodes_resumed: int = 0) -> Job:
        """Record how a worker's attempt ended and move the job on. ``outcome`` is an
        attempt outcome: completed, failed, retrying (with ``retry_at``), cancelled,
        paused or stopped (the worker shut down: the job waits for the next one)."""
        with self._transaction() as db:
            status = end_attempt(db, job_id, worker, outcome, error, outputs, retry_at, nodes_run, nodes_resumed,
                                 time.time())
        if status in (COMPLETED, CANCELLED):
            self._remove_folder(job_id)
        return self.get(job_id)

    # ----- inside ----------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the database's write lock at once,
        so what a transaction reads cannot change before it writes."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # also after a failed COMMIT, which leaves it open
                    self._db.execute("ROLLBACK")
                raise
            self._own_commits += 1

    def _job(self, db: sqlite3.Connection, job_id: int) -> Job:
        row = db.execute(f"SELECT {SUMMARY_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise UnknownJob(job_id)
        return job_from_row(row)

    def _job_now(self, db: sqlite3.Connection, job_id: int) -> Job:
        """The job, after taking it back first if it is running for a worker that is gone:
        no worker would ever act on a cancel or pause asked of it, and it could not be deleted."""
        job = self._job(db, job_id)
        if job.status == RUNNING:
            reclaim_abandoned(db, time.time(), job_id)
            job = self._job(db, job_id)
        return job

    def _end(self, db: sqlite3.Connection, job_id: int, status: str, message: str) -> None:
        db.execute("UPDATE jobs SET status = ?, finished = ?, progress_message = ?, stop_request = '' WHERE id = ?",
                   (status, time.time(), message, job_id))

    def _position_beside(self, db: sqlite3.Connection, anchor: Job, job_id: int, before: bool) -> float | None:
        """A position between ``anchor`` and its neighbour on that side; None when no
        number fits between them any more (time to renumber)."""
        comparison, order, step = ("<", "DESC", -1.0) if before else (">", "ASC", 1.0)
        row = db.execute(
            f"SELECT position FROM jobs WHERE status IN (?, ?) AND priority = ? AND id != ? "
            f"AND position {comparison} ? ORDER BY position {order} LIMIT 1", (QUEUED, PAUSED, anchor.priority, job_id, anchor.position)).fetchone()
        neighbour = row[0] if row is not None else anchor.position + step
        middle = (anchor.position + neighbour) / 2
        return middle if min(anchor.position, neighbour) < middle < max(anchor.position, neighbour) else None

    def _renumber(self, db: sqlite3.Connection) -> None:
        ids = [row[0] for row in db.execute("SELECT id FROM jobs ORDER BY priority DESC, position")]
        db.executemany("UPDATE jobs SET position = ? WHERE id = ?", [(float(index), job_id)
                                                                     for index, job_id in enumerate(ids, 1)])

    def _remove_folder(self, job_id: int) -> None:
        """Checkpoints go when a job completes, is cancelled or deleted."""
        shutil.rmtree(self.job_folder(job_id), ignore_errors=True)

    def _set_setting(self, name: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO settings (name, value) VALUES (?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value))


def apply_overrides(document: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a workflow document with ``{"node_id.input": value}`` typed in."""
    result = copy.deepcopy(dict(document))
    nodes = result.get("nodes", {})
    for target, value in overrides.items():
        node_id, dot, input_name = target.rpartition(".")
        if not dot or node_id not in nodes:
            raise QueueError(f"{target!r} does not name an input of a node in the workflow (write NODE_ID.INPUT)")
        nodes[node_id].setdefault("inputs", {})[input_name] = value
    return result
