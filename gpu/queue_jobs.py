"""What the render queue stores about a job, and how a row of its database becomes a
:class:`Job`. The queue itself is in ``gpu/queue.py``.

A job is a frozen snapshot: the graph (and project and targets) as they were when it
was added, so editing the workflow afterwards never changes a render that is waiting.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

QUEUED = "queued"
RUNNING = "running"
PAUSED = "paused"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
STATUSES = (RUNNING, QUEUED, PAUSED, COMPLETED, FAILED, CANCELLED)
#: Statuses a job ends in; only a retry (failed, cancelled) takes it back to the queue.
FINISHED = (COMPLETED, FAILED, CANCELLED)
#: Statuses a job waits or runs in, in the order ``list_jobs`` shows them.
ACTIVE = (RUNNING, QUEUED, PAUSED)

#: How an attempt ended. "retrying": failed for a passing reason (memory, I/O) and queued
#: again after a pause; "stopped": its worker shut down cleanly and gave the job back;
#: "interrupted": its worker died (a crash, kill -9) and another one took the job over.
ATTEMPT_OUTCOMES = ("running", COMPLETED, FAILED, "retrying", CANCELLED, PAUSED, "stopped", "interrupted")

#: Where a job runs: any local worker, one local device, or (later) a cloud GPU.
LOCAL = "local"
CLOUD = "cloud"
#: Every place a job may name: a job for anywhere else would wait for a worker that never comes.
PLACE = re.compile(r"local(:(cpu|mps|cuda:\d+))?|cloud")

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    position REAL NOT NULL DEFAULT 0,
    runs_on TEXT NOT NULL DEFAULT 'local',
    graph TEXT NOT NULL,
    project TEXT,
    targets TEXT,
    output_dir TEXT NOT NULL DEFAULT '',
    batch TEXT NOT NULL DEFAULT '',
    overrides TEXT NOT NULL DEFAULT '{}',
    progress REAL NOT NULL DEFAULT 0,
    progress_message TEXT NOT NULL DEFAULT '',
    nodes_done INTEGER NOT NULL DEFAULT 0,
    nodes_total INTEGER NOT NULL DEFAULT 0,
    attempts TEXT NOT NULL DEFAULT '[]',
    tries INTEGER NOT NULL DEFAULT 0,
    interruptions INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    outputs TEXT NOT NULL DEFAULT '{}',
    output_paths TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    not_before REAL NOT NULL DEFAULT 0,
    worker TEXT NOT NULL DEFAULT '',
    heartbeat REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    stop_request TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_in_order ON jobs (status, priority DESC, position);
CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (status, finished DESC);
CREATE INDEX IF NOT EXISTS jobs_history ON jobs (finished DESC) WHERE finished IS NOT NULL;
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: Every column but the snapshots, which a page of the list does not need.
SUMMARY_COLUMNS = (
    "id, name, status, priority, position, runs_on, targets, output_dir, batch, overrides, progress, "
    "progress_message, nodes_done, nodes_total, attempts, tries, interruptions, last_error, outputs, "
    "output_paths, created, started, finished, not_before, worker, heartbeat, lease_until, stop_request"
)
FULL_COLUMNS = SUMMARY_COLUMNS + ", graph, project"


class QueueError(Exception):
    """A request the queue cannot carry out, in words for the creator."""


class UnknownJob(QueueError):
    """No job has this id (it was never added, or it was deleted)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"there is no job {job_id} in the queue (`reelgraph queue list` shows them)")
        self.job_id = job_id


class LostLease(QueueError):
    """A worker's job was taken over by another worker (its lease ran out); it must stop."""


@dataclass(frozen=True)
class Attempt:
    """One try at running a job."""

    number: int
    worker: str
    started: float
    ended: float | None = None
    outcome: str = "running"
    error: str = ""
    #: Nodes this attempt ran, and nodes it took from the job's checkpoints.
    nodes_run: int = 0
    nodes_resumed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "worker": self.worker, "started": self.started, "ended": self.ended,
                "outcome": self.outcome, "error": self.error, "nodes_run": self.nodes_run,
                "nodes_resumed": self.nodes_resumed}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Attempt":
        return cls(int(data["number"]), str(data["worker"]), float(data["started"]), data.get("ended"),
                   str(data.get("outcome", "running")), str(data.get("error", "")), int(data.get("nodes_run", 0)),
                   int(data.get("nodes_resumed", 0)))


@dataclass(frozen=True)
class Job:
    """A render in the queue. ``graph`` and ``project`` are None in ``list_jobs`` pages,
    which leave the snapshots out to stay fast; ``get`` and ``history`` fill them in."""

    id: int
    name: str
    status: str
    priority: int
    #: Order among jobs of the same priority (smaller runs first); moved by ``move``.
    position: float
    #: "local" (any local worker), "local:cpu", "local:cuda:0"; later "cloud".
    runs_on: str
    created: float
    graph: dict[str, Any] | None = None
    project: dict[str, Any] | None = None
    #: The nodes to run; None for every output node of the graph.
    targets: list[str] | None = None
    #: Where the job's output nodes write their files ("": the worker's executor's folder).
    output_dir: str = ""
    #: Jobs added together by one ``add_batch`` share this; "" otherwise.
    batch: str = ""
    #: What the batch changed in this job's copy of the graph: {"node.input": value}.
    overrides: dict[str, Any] = field(default_factory=dict)
    progress: float = 0.0
    progress_message: str = ""
    nodes_done: int = 0
    nodes_total: int = 0
    attempts: list[Attempt] = field(default_factory=list)
    #: Attempts since it was added or last retried by hand (what the retry limit counts).
    tries: int = 0
    last_error: str = ""
    #: What the run made: node id -> output name -> value (arrays as their shape).
    outputs: dict[str, Any] = field(default_factory=dict)
    #: Files the job's output nodes wrote, in the order they were written.
    output_paths: list[str] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    #: A job queued again after a passing failure waits until this time (backoff).
    not_before: float = 0.0
    #: The worker running it now (or last), and when its lease runs out.
    worker: str = ""
    heartbeat: float = 0.0
    lease_until: float = 0.0
    #: "cancel" or "pause" while a running job has been asked to stop.
    stop_request: str = ""

    @property
    def finished_ok(self) -> bool:
        return self.status == COMPLETED

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def to_json(self) -> dict[str, Any]:
        """A JSON form (``reelgraph queue list --json``); snapshots only when loaded."""
        data: dict[str, Any] = {
            "id": self.id, "name": self.name, "status": self.status, "priority": self.priority,
            "position": self.position, "runs_on": self.runs_on, "created": self.created, "started": self.started,
            "finished": self.finished, "progress": round(self.progress, 4), "progress_message": self.progress_message,
            "nodes_done": self.nodes_done, "nodes_total": self.nodes_total, "last_error": self.last_error,
            "attempts": [attempt.to_json() for attempt in self.attempts], "output_paths": self.output_paths,
            "outputs": self.outputs, "output_dir": self.output_dir, "targets": self.targets, "batch": self.batch,
            "overrides": self.overrides, "not_before": self.not_before, "worker": self.worker,
            "stop_request": self.stop_request,
        }
        if self.graph is not None:
            data["graph"] = self.graph
        if self.project is not None:
            data["project"] = self.project
        return data


def job_from_row(row: sqlite3.Row) -> Job:
    keys = row.keys()
    return Job(
        id=row["id"], name=row["name"], status=row["status"], priority=row["priority"], position=row["position"],
        runs_on=row["runs_on"], created=row["created"],
        graph=json.loads(row["graph"]) if "graph" in keys else None,
        project=json.loads(row["project"]) if "project" in keys and row["project"] is not None else None,
        targets=json.loads(row["targets"]) if row["targets"] is not None else None,
        output_dir=row["output_dir"], batch=row["batch"], overrides=json.loads(row["overrides"]),
        progress=row["progress"], progress_message=row["progress_message"], nodes_done=row["nodes_done"],
        nodes_total=row["nodes_total"],
        attempts=[Attempt.from_json(item) for item in json.loads(row["attempts"])], tries=row["tries"],
        last_error=row["last_error"], outputs=json.loads(row["outputs"]),
        output_paths=json.loads(row["output_paths"]), started=row["started"], finished=row["finished"],
        not_before=row["not_before"], worker=row["worker"], heartbeat=row["heartbeat"],
        lease_until=row["lease_until"], stop_request=row["stop_request"],
    )


def to_json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def check_place(place: str) -> str:
    """``place`` when a worker can serve it; QueueError naming the places there are otherwise."""
    if not PLACE.fullmatch(place):
        raise QueueError(f"no worker runs jobs on {place!r}; use local (any local worker), local:cpu, "
                         "local:cuda:0 (one GPU), local:mps or cloud")
    return place
