"""How long the render queue still needs, and the one line the queue panel shows about
it: "3 queued · 1 running · ETA 4 min".

A running job's rest is read from its own pace (how far it got in how long); a job
that has barely started, and every job still waiting, is counted at the average
working time of the jobs that finished lately. Jobs run side by side on as many
workers as are running jobs now. Plain Python, no Qt: the numbers can be tested alone.
"""

from __future__ import annotations

import math
import time
from typing import Iterable, Mapping

from gpu.queue_jobs import COMPLETED, PAUSED, QUEUED, RUNNING, Job

#: Below this fraction a job's own pace says too little; the average speaks for it.
TRUSTED_FRACTION = 0.02
#: Nor is a pace read from less than this many seconds of work worth much.
TRUSTED_SECONDS = 0.5


def working_seconds(job: Job) -> float | None:
    """Seconds the job's ended attempts worked on it (waits between attempts left out)."""
    spans = [attempt.ended - attempt.started for attempt in job.attempts if attempt.ended is not None]
    return sum(spans) if spans else None


def average_seconds(finished: Iterable[Job]) -> float | None:
    """The mean working time of the completed jobs among ``finished``; None without any."""
    spans = [span for job in finished if job.status == COMPLETED
             for span in [working_seconds(job)] if span is not None]
    return sum(spans) / len(spans) if spans else None


def remaining_seconds(job: Job, average: float | None, now: float | None = None) -> float | None:
    """How long a running job still needs; None when nothing tells."""
    now = time.time() if now is None else now
    attempt = job.attempts[-1] if job.attempts else None
    elapsed = max(0.0, now - attempt.started) if attempt is not None and attempt.ended is None else 0.0
    if job.progress >= TRUSTED_FRACTION and elapsed >= TRUSTED_SECONDS:
        return elapsed * (1.0 - min(job.progress, 1.0)) / job.progress
    if average is not None:
        return max(0.0, average * (1.0 - job.progress) - elapsed)
    return None


def estimate_seconds(running: Iterable[Job], waiting: int, average: float | None,
                     now: float | None = None) -> float | None:
    """Seconds until the running jobs and ``waiting`` queued ones are done; None when
    there is nothing to wait for or too little known to say."""
    running = list(running)
    if not running and not waiting:
        return None
    rests = [remaining_seconds(job, average, now) for job in running]
    if any(rest is None for rest in rests) or (waiting and average is None):
        return None
    total = sum(rest for rest in rests if rest is not None) + waiting * (average or 0.0)
    return total / max(1, len(running))


def duration_text(seconds: float) -> str:
    """4 s, 12 min, 1 h 05 min: as precise as a wait needs to be."""
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} s"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def overall_line(counts: Mapping[str, int], paused: bool, eta: float | None) -> str:
    """The queue in a line: what waits, what runs, and when it will be done."""
    parts = [f"{counts.get(status, 0)} {word}" for status, word in
             ((QUEUED, "queued"), (RUNNING, "running"), (PAUSED, "on hold")) if counts.get(status, 0)]
    if paused:
        parts.insert(0, "Queue paused")
    elif eta is not None:
        parts.append(f"ETA {duration_text(eta)}")
    return " · ".join(parts) if parts else "Nothing waiting: add the current workflow to start a render"
