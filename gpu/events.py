"""What a run tells the world while it happens (events) and when it ends (RunResult).

Events for one node always arrive in order: started, progress..., then finished or
error (or cached instead of all of these). Callbacks may come from any thread, one
at a time; the Qt bridge re-posts them to the GUI thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from nodes.problems import Problem

RUN_STARTED = "run_started"
NODE_STARTED = "node_started"
NODE_PROGRESS = "node_progress"
NODE_CACHED = "node_cached"
NODE_FINISHED = "node_finished"
NODE_ERROR = "node_error"
RUN_FINISHED = "run_finished"


@dataclass(frozen=True, slots=True)
class RunEvent:
    kind: str
    run_id: str
    node_id: str | None = None
    node_type: str | None = None
    fraction: float | None = None
    #: A preview image (uint8 H×W×C) on node_progress, when the node offers one.
    preview: Any = None
    message: str = ""
    elapsed: float | None = None
    #: On run_started: how many nodes will run and how many come from the cache.
    counts: tuple[int, int] | None = None
    time: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (the preview as its shape only), one line of ``--events``."""
        data: dict[str, Any] = {"event": self.kind, "run_id": self.run_id, "time": round(self.time, 6)}
        for name in ("node_id", "node_type", "fraction", "elapsed"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.message:
            data["message"] = self.message
        if self.counts is not None:
            data["to_run"], data["cached"] = self.counts
        if self.preview is not None:
            data["preview_shape"] = list(getattr(self.preview, "shape", ()))
        return data


@dataclass(frozen=True)
class NodeError:
    """Why a node failed, in words; the traceback went to the log."""

    node_id: str
    node_type: str
    title: str
    message: str
    exception_type: str = ""
    traceback: str = ""

    def __str__(self) -> str:
        return f"{self.title or self.node_type} ({self.node_id}): {self.message}"


@dataclass
class RunResult:
    run_id: str
    #: The nodes the run was asked for (its output nodes unless targets were given).
    targets: list[str] = field(default_factory=list)
    #: node id -> {output name: value}, for every node that ran or came from the cache.
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    errors: dict[str, NodeError] = field(default_factory=dict)
    #: node id -> why it did not run (an upstream failure, or cancellation).
    skipped: dict[str, str] = field(default_factory=dict)
    #: node id -> seconds its function took.
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    cancelled: bool = False
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """Everything that was asked for ran (or came from the cache)."""
        return not self.errors and not self.cancelled and not self.skipped

    def output(self, node_id: str, name: str | None = None) -> Any:
        """One output value; ``name`` may be left out for a node's first output."""
        values = self.outputs[node_id]
        if name is None:
            return next(iter(values.values()))
        return values[name]
