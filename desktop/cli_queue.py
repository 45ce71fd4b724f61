"""``reelgraph queue ...``: the render queue on the command line.

    reelgraph queue add WORKFLOW [--priority N] [--batch FILE] [--name NAME] [--out DIR] [--set NODE.INPUT=VALUE]...
    reelgraph queue list [--json] [--status S] [--page N]
    reelgraph queue show ID [--json]
    reelgraph queue cancel ID | retry ID | delete ID
    reelgraph queue pause [ID] | resume [ID]        (the whole queue, or one job)
    reelgraph queue move ID (--before OTHER | --after OTHER | --priority N)
    reelgraph queue clear                            (forget finished jobs; their files stay)
    reelgraph queue work [--once] [--idle-exit SECONDS] [--lease SECONDS]
    reelgraph queue watch

Every action takes ``--db PATH`` (default: the user data folder's queue/queue.sqlite3).
Exit status: 0 done; 1 refused (cancelling a finished job, ``work --once`` whose job
did not complete); 2 what was typed is wrong (an invalid workflow or batch file, an
unknown job id or status); 130 stopped with Ctrl+C or SIGTERM (``work`` puts its job
back in the queue first, to resume where it stopped).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130


def add_queue_parser(commands: Any) -> None:
    """Add ``queue`` and its actions to the ``reelgraph`` parser's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, metavar="PATH",
                        help="the queue database (default: the user data folder's queue/queue.sqlite3)")
    queue = commands.add_parser("queue", help="the render queue: add, list, cancel, retry, work, watch")
    actions = queue.add_subparsers(dest="queue_action", metavar="ACTION", required=True)

    def action(name: str, handler: Any, text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=text, description=text, parents=[common])
        parser.set_defaults(handler=_reporting_unopenable(handler))
        return parser

    add = action("add", _add, "queue a workflow (or one job per seed or prompt with --batch)")
    add.add_argument("workflow", type=Path)
    add.add_argument("--priority", type=int, default=0, metavar="N", help="higher runs first (default 0)")
    add.add_argument("--batch", type=Path, metavar="FILE",
                     help='JSON: {"seeds": [...]}, {"prompts": [...]} (inputs named seed / prompt; '
                          '"seed_input": "NODE.INPUT" to name one) or a list of {"NODE.INPUT": value}')
    add.add_argument("--name", default="", help="what the queue calls the job (default: the file's name)")
    add.add_argument("--out", type=Path, default=Path("output"), metavar="DIR",
                     help="folder for saved files (default: ./output)")
    add.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.INPUT=VALUE",
                     help="change an input before queueing (as for `reelgraph run`)")
    add.add_argument("--target", dest="targets", action="append", metavar="NODE",
                     help="run only what this node needs (repeatable; default: every output node)")
    add.add_argument("--runs-on", default="local", metavar="PLACE",
                     help="where it may run: local (any local worker), local:cpu, local:cuda:0 ...")
    add.add_argument("--json", action="store_true", help="print the new jobs as JSON")

    listing = action("list", _list, "list jobs: running, then waiting in run order, then finished")
    listing.add_argument("--status", action="append", metavar="STATUS",
                         help="only jobs in this status (repeatable): queued, running, paused, completed, "
                              "failed, cancelled")
    listing.add_argument("--page", type=int, default=1, help="page of 50 (default 1)")
    listing.add_argument("--json", action="store_true")

    show = action("show", _show, "everything about one job: attempts, errors, outputs")
    show.add_argument("job", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="as JSON, with the workflow it ran")

    for name, text in (("cancel", "cancel a job (a running one stops within a step)"),
                       ("retry", "queue a failed or cancelled job again (it resumes where it stopped)"),
                       ("delete", "forget a job that is not running (its files stay)")):
        action(name, _job_action, text).add_argument("job", type=int, metavar="ID")
    for name, text in (("pause", "pause the queue (no new job starts), or one job with ID"),
                       ("resume", "resume the queue, or one paused job with ID")):
        action(name, _pause_or_resume, text).add_argument("job", type=int, metavar="ID", nargs="?")

    move = action("move", _move, "change where a waiting job stands in the queue")
    move.add_argument("job", type=int, metavar="ID")
    where = move.add_mutually_exclusive_group(required=True)
    where.add_argument("--before", type=int, metavar="OTHER")
    where.add_argument("--after", type=int, metavar="OTHER")
    where.add_argument("--priority", type=int, metavar="N")

    action("clear", _clear, "forget every completed, failed and cancelled job (their files stay)")

    work = action("work", _work, "run queued jobs here, without a display, until Ctrl+C")
    work.add_argument("--once", action="store_true", help="stop after one job")
    work.add_argument("--idle-exit", type=float, metavar="SECONDS", help="stop after this long with nothing to do")
    work.add_argument("--lease", type=float, default=30.0, metavar="SECONDS",
                      help="how long another worker waits before it takes over a job of this one if it "
                           "stops answering (default 30; a crashed worker on this machine is noticed at once)")
    work.add_argument("--quiet", action="store_true", help="no node progress, only a line per job")

    watch = action("watch", _watch, "live progress bars until every job is done (Ctrl+C to stop watching)")
    watch.add_argument("--interval", type=float, default=0.5, metavar="SECONDS", help="redraw every (default 0.5)")


# ----- adding ----------------------------------------------------------------------------
def _add(arguments: argparse.Namespace) -> int:
    from desktop.cli import _print_invalid, load_workflow
    from gpu.queue_batch import BatchError, expand_batch, read_batch_file
    from gpu.queue_jobs import QueueError, check_place
    from nodes.registry import default_registry
    from nodes.validation import validate

    registry = default_registry()
    graph, failed = load_workflow(arguments.workflow, arguments.overrides, registry, False)
    if graph is None:
        return failed
    report = validate(graph, registry)
    if not report.ok:
        return _print_invalid(report, arguments.workflow, False)
    missing = [node_id for node_id in arguments.targets or () if node_id not in graph.nodes]
    if missing:
        print(f"error: --target {missing[0]!r} is not a node of {arguments.workflow}", file=sys.stderr)
        return EXIT_INVALID
    variations: list[Any] = [{}]
    if arguments.batch is not None:
        try:
            variations = expand_batch(read_batch_file(arguments.batch), graph, registry)
        except BatchError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_INVALID
    try:
        check_place(arguments.runs_on)
    except QueueError as error:
        print(f"error: --runs-on: {error}", file=sys.stderr)
        return EXIT_INVALID
    queue = _open(arguments)
    jobs = queue.add_batch(graph, variations, name=arguments.name or arguments.workflow.stem,
                           priority=arguments.priority, targets=arguments.targets, output_dir=arguments.out,
                           runs_on=arguments.runs_on, labels=None if arguments.batch else [""])
    if arguments.json:
        print(json.dumps([_brief(job) for job in jobs], ensure_ascii=False, indent=2))
    else:
        for job in jobs:
            print(f"queued job {job.id}: {job.name} (priority {job.priority})")
        if queue.paused:
            print("the queue is paused; `reelgraph queue resume` lets it run", file=sys.stderr)
    return EXIT_OK


# ----- reading ---------------------------------------------------------------------------
def _list(arguments: argparse.Namespace) -> int:
    from gpu.queue import QueueError

    queue = _open(arguments)
    try:
        jobs = queue.list_jobs(arguments.status, page=max(0, arguments.page - 1))
    except QueueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    if arguments.json:
        print(json.dumps({"paused": queue.paused, "counts": queue.counts(), "page": arguments.page,
                          "jobs": [job.to_json() for job in jobs]}, ensure_ascii=False, indent=2))
        return EXIT_OK
    counts = queue.counts()
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    print(f"{summary or 'no jobs'}{' — the queue is PAUSED' if queue.paused else ''}")
    if jobs:
        print(f"{'ID':>5}  {'STATUS':<9} {'PRI':>4}  {'PROGRESS':<6}  NAME")
    for job in jobs:
        percent = f"{int(job.progress * 100)}%" if job.status in ("running", "paused") or job.progress else ""
        detail = job.last_error if job.status == "failed" else job.progress_message if job.status == "running" else ""
        if job.status == "queued" and job.not_before > time.time():
            detail = f"retrying in {job.not_before - time.time():.0f} s"
        line = f"{job.id:>5}  {job.status:<9} {job.priority:>4}  {percent:<8}  {job.name}"
        print(line + (f"  ({_short(detail)})" if detail else ""))
    return EXIT_OK


def _show(arguments: argparse.Namespace) -> int:
    from gpu.queue import UnknownJob

    queue = _open(arguments)
    try:
        job = queue.get(arguments.job)
    except UnknownJob as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    if arguments.json:
        print(json.dumps(job.to_json(), ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"job {job.id}: {job.name}")
    print(f"  status:   {job.status}{' (' + job.progress_message + ')' if job.progress_message else ''}")
    print(f"  priority: {job.priority}   runs on: {job.runs_on}   output folder: {job.output_dir or '(default)'}")
    print(f"  added {_when(job.created)}; started {_when(job.started)}; finished {_when(job.finished)}")
    if job.overrides:
        print(f"  batch values: {json.dumps(job.overrides, ensure_ascii=False)}")
    for attempt in job.attempts:
        took = f" after {attempt.ended - attempt.started:.1f} s" if attempt.ended else ""
        print(f"  attempt {attempt.number}: {attempt.outcome}{took} on {attempt.worker}, "
              f"{attempt.nodes_run} node(s) run, {attempt.nodes_resumed} resumed"
              + (f": {attempt.error}" if attempt.error else ""))
    if job.last_error:
        print(f"  error: {job.last_error}")
    for path in job.output_paths:
        print(f"  wrote {path}")
    return EXIT_OK


# ----- changing ----------------------------------------------------------------------------
def _job_action(arguments: argparse.Namespace) -> int:
    queue = _open(arguments)
    action = arguments.queue_action

    def act() -> str:
        if action == "cancel":
            job = queue.cancel(arguments.job)
            if job.status == "running":
                return f"job {job.id} will stop at its next step"
            return f"job {job.id} cancelled"
        if action == "retry":
            return f"job {queue.retry(arguments.job).id} queued again"
        queue.delete(arguments.job)
        return f"job {arguments.job} deleted"

    return _carry_out(act)


def _pause_or_resume(arguments: argparse.Namespace) -> int:
    queue = _open(arguments)
    pausing = arguments.queue_action == "pause"

    def act() -> str:
        if arguments.job is None and pausing:
            queue.pause()
            return "the queue is paused: no new job starts (a running job finishes)"
        if arguments.job is None:
            queue.resume()
            return "the queue runs again"
        job = queue.pause_job(arguments.job) if pausing else queue.resume_job(arguments.job)
        if job.status == "running":
            return f"job {job.id} will pause at its next step" if pausing else f"job {job.id} keeps running"
        return f"job {job.id} is {job.status}"

    return _carry_out(act)


def _move(arguments: argparse.Namespace) -> int:
    queue = _open(arguments)

    def act() -> str:
        if arguments.priority is not None:
            job = queue.set_priority(arguments.job, arguments.priority)
        else:
            job = queue.move(arguments.job, before=arguments.before, after=arguments.after)
        return f"job {job.id} now has priority {job.priority}"

    return _carry_out(act)


def _clear(arguments: argparse.Namespace) -> int:
    count = _open(arguments).clear_finished()
    print(f"forgot {count} finished job(s)")
    return EXIT_OK


def _carry_out(act: Any) -> int:
    from gpu.queue import QueueError, UnknownJob

    try:
        print(act())
    except UnknownJob as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except QueueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


# ----- working and watching ---------------------------------------------------------------
def _work(arguments: argparse.Namespace) -> int:
    from desktop.cli import _report_pack_errors
    from desktop.queue_watch import WorkerReporter
    from gpu.executor import Executor
    from gpu.queue_worker import QueueWorker
    from nodes.registry import default_registry

    registry = default_registry()
    _report_pack_errors(registry)
    queue = _open(arguments)
    reporter = WorkerReporter(sys.stderr, quiet=arguments.quiet)
    stopped_by: list[str] = []
    with Executor(registry, previews=False) as executor:
        worker = QueueWorker(queue, executor, lease_seconds=arguments.lease, on_event=reporter.on_event,
                             on_job=reporter.on_job)
        previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

        def stop(signum: int, frame: Any) -> None:
            stopped_by.append(signal.Signals(signum).name)
            print("\nstopping: the running job goes back to the queue at its next step "
                  "(Ctrl+C again to quit at once)", file=sys.stderr)
            worker.stop("the worker was stopped")
            signal.signal(signal.SIGINT, previous[signal.SIGINT])

        for number in previous:
            signal.signal(number, stop)
        print(f"worker {worker.worker_id} serving {queue.path} ({', '.join(worker.places)}); Ctrl+C stops",
              file=sys.stderr, flush=True)
        try:
            worker.serve(once=arguments.once, idle_exit=arguments.idle_exit)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
    if stopped_by:
        return EXIT_INTERRUPTED
    if arguments.once and reporter.last is not None and reporter.last.status != "completed":
        return EXIT_REFUSED
    return EXIT_OK


def _watch(arguments: argparse.Namespace) -> int:
    from desktop.queue_watch import QueueWatch

    watch = QueueWatch(_open(arguments), sys.stdout)
    try:
        watch.run(arguments.interval)
    except KeyboardInterrupt:
        watch.close()
        return EXIT_INTERRUPTED
    return EXIT_OK


# ----- small helpers ---------------------------------------------------------------------
class Unopenable(Exception):
    """The queue named by ``--db`` cannot be opened; the message says why."""


def _open(arguments: argparse.Namespace) -> Any:
    """The queue named by ``--db``; Unopenable when it cannot be (a folder, a file that is
    not a queue, a file system without SQLite's write-ahead log)."""
    from gpu.queue import QueueError, RenderQueue

    try:
        return RenderQueue(arguments.db)
    except QueueError as error:
        raise Unopenable(str(error)) from error


def _reporting_unopenable(handler: Any) -> Any:
    """``handler``, saying why in one line and exiting 2 when the queue cannot be opened."""
    def handle(arguments: argparse.Namespace) -> int:
        try:
            return handler(arguments)
        except Unopenable as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_INVALID

    return handle


def _brief(job: Any) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "status": job.status, "priority": job.priority, "overrides": job.overrides}


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(moment: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment else "—"
