"""The ``reelgraph`` command: the desktop app, and running and checking workflows
without a display.

    reelgraph                     (opens the desktop app)
    reelgraph run WORKFLOW [--set NODE.INPUT=VALUE]... [--out DIR] [--events FILE.jsonl]
    reelgraph validate WORKFLOW [--json]
    reelgraph nodes [--json]
    reelgraph models [--folder DIR] [--json]
    reelgraph render PROJECT --preset low|high|social [-o FILE] [--range START END]
    reelgraph queue add|list|show|cancel|retry|delete|pause|resume|move|clear|work|watch ...
                                  (the render queue: desktop/cli_queue.py)

Exit status of ``run``: 0 when every node ran, 1 when a node failed (or the run was
cancelled), 2 when the workflow is invalid (the validation report is printed).
Exit status of ``render``: 0 when the file was written and its check passed, 1 when
the export or the check failed, 2 when the project is invalid, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from nodes.context import CancelToken
from nodes.graph import Graph, is_link
from nodes.problems import Problem, ValidationReport, WorkflowError

EXIT_OK = 0
EXIT_NODE_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("reelgraph")


def main(argv: Sequence[str] | None = None) -> int:
    from gpu.devices import quiet_waiting_cpu_threads

    quiet_waiting_cpu_threads()  # before anything imports torch
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command is None:
        _configure_logging(False)
        from desktop.app import run_app

        return run_app([])
    _configure_logging(arguments.verbose)
    return arguments.handler(arguments)


def _parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("reelgraph")
    except PackageNotFoundError:
        installed = "development"
    parser = argparse.ArgumentParser(prog="reelgraph", description="Reelgraph: node graphs for AI images and video.",
                                     epilog="Without a command, reelgraph opens the desktop app.")
    parser.add_argument("--version", action="version", version=f"reelgraph {installed}")
    parser.set_defaults(command=None, verbose=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run a workflow (JSON, or a PNG saved by Reelgraph)")
    run.add_argument("workflow", type=Path)
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.INPUT=VALUE",
                     help="change an input before running; VALUE is JSON (5, 2.5, true, \"text\") or plain text")
    run.add_argument("--out", type=Path, default=Path("output"), help="folder for saved files (default: ./output)")
    run.add_argument("--events", type=Path, metavar="FILE.jsonl", help="write every run event as a JSON line")
    run.add_argument("--target", dest="targets", action="append", metavar="NODE",
                     help="run only what this node needs (repeatable; default: every output node)")
    run.add_argument("--json", action="store_true", help="print the result summary as JSON")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    run.add_argument("--verbose", action="store_true", help="print tracebacks of failed nodes")
    run.set_defaults(handler=_run)

    check = commands.add_parser("validate", help="check a workflow and report every problem")
    check.add_argument("workflow", type=Path)
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=_validate)

    models = commands.add_parser("models", help="list the models found in the models folder")
    models.add_argument("--folder", type=Path, help="a models folder in the ComfyUI layout "
                        "(default: $REELGRAPH_MODELS or the user data folder's models/)")
    models.add_argument("--json", action="store_true")
    models.set_defaults(handler=_models)

    render = commands.add_parser("render", help="export a project's timeline to a video file")
    render.add_argument("project", type=Path)
    render.add_argument("--preset", choices=("low", "high", "social"), default="low",
                        help="low: 1280×720 at 24 fps; high: 1920×1080 at 30 fps; social: 1080×1920, at most 15 s")
    render.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="the video file to write (default: output/<project>-<preset>.mp4)")
    render.add_argument("--range", nargs=2, type=float, metavar=("START", "END"),
                        help="export only timeline seconds START to END")
    render.add_argument("--fit", choices=("letterbox", "fill", "stretch"),
                        help="how clips of another shape meet the frame (default: the preset's)")
    render.add_argument("--quiet", action="store_true", help="no progress on stderr")
    render.add_argument("--verbose", action="store_true", help="print tracebacks of failures")
    render.set_defaults(handler=_render)

    listing = commands.add_parser("nodes", help="list every node type")
    listing.add_argument("--json", action="store_true", help="every spec as JSON")
    listing.set_defaults(handler=_nodes)

    from desktop.cli_queue import add_queue_parser

    add_queue_parser(commands)
    return parser


# ----- run ------------------------------------------------------------------------------
def _run(arguments: argparse.Namespace) -> int:
    from desktop.progress import TerminalProgress
    from gpu.executor import Executor
    from nodes.registry import default_registry

    registry = default_registry()
    graph, failed = load_workflow(arguments.workflow, arguments.overrides, registry, arguments.json)
    if graph is None:
        return failed
    events_file = _open_events(arguments.events)
    progress = None if arguments.quiet else TerminalProgress(sys.stderr)

    def on_event(event: Any) -> None:
        if progress is not None:
            progress(event)
        if events_file is not None:
            events_file.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
            events_file.flush()

    cancel = CancelToken()
    try:
        with stopped_by_ctrl_c(cancel, "finishing the current step"), \
                Executor(registry, output_dir=arguments.out) as executor:
            try:
                result = executor.run(graph, arguments.targets, cancel, on_event)
            except WorkflowError as error:
                return _print_invalid(error.report, arguments.workflow, arguments.json)
            saved_previews = _save_previews(result, graph, registry, arguments.out)
    finally:
        if events_file is not None:
            events_file.close()
    _print_result(result, graph, saved_previews, arguments)
    if result.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_NODE_FAILED


def parse_override(text: str) -> tuple[str, str, Any]:
    """'3.prompt=a red fox' -> ('3', 'prompt', 'a red fox'); '5.steps=20' -> ('5', 'steps', 20)."""
    target, separator, raw = text.partition("=")
    node_id, dot, input_name = target.rpartition(".")
    if not separator or not dot or not node_id or not input_name:
        raise ValueError(f"--set {text!r} must look like NODE.INPUT=VALUE, e.g. --set 3.steps=20")
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        value = raw
    return node_id, input_name, value


def _no_constant(name: str) -> Any:
    raise ValueError(name)


@contextmanager
def stopped_by_ctrl_c(cancel: CancelToken, what: str) -> Iterator[None]:
    """While inside, the first Ctrl+C cancels ``cancel`` (the work stops at its next step and
    keeps what finished); a second one quits at once, as Python's own handler does."""
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum: int, frame: Any) -> None:
        print(f"\nstopping: {what} (Ctrl+C again to quit at once)", file=sys.stderr)
        cancel.cancel("interrupted with Ctrl+C")
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def load_workflow(path: Path, overrides: list[str], registry: Any, as_json: bool) -> tuple[Graph | None, int]:
    """The workflow at ``path`` with ``--set`` overrides applied (broken node packs reported first),
    or (None, exit code) once the reason it cannot be read has been printed."""
    _report_pack_errors(registry)
    try:
        graph = Graph.load(path)
        _apply_overrides(graph, overrides, registry)
    except WorkflowError as error:
        return None, _print_invalid(error.report, path, as_json)
    return graph, 0


def _apply_overrides(graph: Graph, overrides: list[str], registry: Any) -> None:
    problems = []
    for text in overrides:
        try:
            node_id, input_name, value = parse_override(text)
        except ValueError as error:
            problems.append(Problem(str(error), code="bad-override"))
            continue
        graph_node = graph.nodes.get(node_id)
        if graph_node is None:
            known = ", ".join(repr(key) for key in list(graph.nodes)[:20])
            problems.append(Problem(f"--set names node {node_id!r}, which is not in the workflow",
                                    fix=f"use one of: {known}", code="bad-override"))
            continue
        spec = registry.get(graph_node.type)
        if spec is not None and input_name not in spec.inputs_by_name:
            names = ", ".join(item.name for item in spec.inputs)
            problems.append(Problem(f"--set names input {input_name!r}, which {graph_node.type} does not have",
                                    node_id, input_name, f"use one of: {names}", code="bad-override",
                                    node_type=graph_node.type))
            continue
        if is_link(graph_node.inputs.get(input_name)):
            log.info("--set %s replaces a link with a typed-in value", text)
        graph_node.inputs[input_name] = value
    if problems:
        raise WorkflowError(problems)


def _open_events(path: Path | None) -> Any:
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")


def _save_previews(result: Any, graph: Graph, registry: Any, folder: Path) -> dict[str, str]:
    """image.Preview shows a picture in the app; on the command line it lands in the output folder."""
    import numpy as np
    from PIL import Image

    saved = {}
    for node_id, values in result.outputs.items():
        if graph.nodes[node_id].type != "image.Preview":
            continue
        image = values.get("image")
        if isinstance(image, np.ndarray):
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"preview-{_safe_name(node_id)}.png"
            Image.fromarray(image).save(path)
            saved[node_id] = str(path)
    return saved


def _safe_name(text: str) -> str:
    return "".join(char if char.isalnum() or char in "-_" else "_" for char in text)[:80] or "node"


def _print_result(result: Any, graph: Graph, previews: dict[str, str], arguments: argparse.Namespace) -> None:
    if arguments.json:
        print(json.dumps(_result_json(result, previews), ensure_ascii=False, indent=2))
        return
    for problem in result.warnings:
        print(f"warning: {problem}", file=sys.stderr)
    for node_id in result.targets:
        values = result.outputs.get(node_id)
        if values is None:
            continue
        label = f"{graph.nodes[node_id].type} ({node_id})"
        if node_id in previews:
            print(f"{label}: preview saved to {previews[node_id]}")
            continue
        for name, value in values.items():
            shown = summarize(value)
            print(f"{label} {name}: {shown if not isinstance(shown, dict) else json.dumps(shown)}")
    for error in result.errors.values():
        print(f"error: {error}", file=sys.stderr)
    if result.errors:
        from nodes.user_folders import log_folder

        print(f"details of the failure are in {log_folder() / 'reelgraph.log'}", file=sys.stderr)
    not_run = [node_id for node_id, reason in result.skipped.items() if node_id not in result.errors]
    if not_run:
        print(f"{len(not_run)} node(s) did not run: " + "; ".join(
            f"{node_id}: {result.skipped[node_id]}" for node_id in not_run[:5]), file=sys.stderr)


def _result_json(result: Any, previews: dict[str, str]) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "cancelled": result.cancelled,
        "executed": result.executed,
        "cached": result.cached,
        "errors": {node_id: {"type": error.node_type, "message": error.message}
                   for node_id, error in result.errors.items()},
        "skipped": result.skipped,
        "outputs": {node_id: {name: summarize(value) for name, value in values.items()}
                    for node_id, values in result.outputs.items()},
        "previews": previews,
        "elapsed": round(result.elapsed, 6),
    }


def summarize(value: Any) -> Any:
    """A JSON-able stand-in for an output value: scalars as they are, arrays by shape."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    shape = getattr(value, "shape", None)
    if shape is not None:
        return {"shape": list(shape), "dtype": str(getattr(value, "dtype", ""))}
    if isinstance(value, (list, tuple)):
        return [summarize(item) for item in value[:100]]
    return {"type": type(value).__name__}


def _print_invalid(report: ValidationReport, path: Path, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"workflow": str(path), **report.to_json()}, ensure_ascii=False, indent=2))
    else:
        print(f"{path}: the workflow cannot run.", file=sys.stderr)
        print(report.text(), file=sys.stderr)
    return EXIT_INVALID


# ----- render -----------------------------------------------------------------------------
def _render(arguments: argparse.Namespace) -> int:
    from desktop.render_progress import RenderProgressBar
    from gpu.executor import Executor
    from gpu.timeline_render import RenderError, render_project
    from nodes.context import Cancelled
    from nodes.registry import default_registry
    from nodes.spec import NodeFailure
    from nodes.timeline import Project, ProjectError

    def invalid(error: ProjectError) -> int:
        print(f"{arguments.project}: the project cannot be rendered.", file=sys.stderr)
        print(error.text(), file=sys.stderr)
        return EXIT_INVALID

    try:
        project = Project.load(arguments.project)
    except ProjectError as error:
        return invalid(error)
    registry = default_registry()
    _report_pack_errors(registry)
    output = arguments.output or Path("output") / f"{_safe_name(arguments.project.stem)}-{arguments.preset}.mp4"
    cancel = CancelToken()
    try:
        with stopped_by_ctrl_c(cancel, "the export"), \
                Executor(registry, output_dir=output.parent, previews=False) as executor:
            result = render_project(project, arguments.preset, output, time_range=arguments.range,
                                    fit=arguments.fit, executor=executor, cancel=cancel,
                                    progress=None if arguments.quiet else RenderProgressBar(sys.stderr))
    except ProjectError as error:
        return invalid(error)
    except Cancelled:
        print("the export was cancelled; no file was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (RenderError, NodeFailure, OSError) as error:
        log.exception("render of %s failed", arguments.project)
        print(f"error: the export failed: {error}", file=sys.stderr)
        return EXIT_NODE_FAILED
    except Exception as error:  # a bug, not the creator's doing: say so, keep the traceback in the log
        log.exception("render of %s failed unexpectedly", arguments.project)
        print(f"error: the export failed unexpectedly ({type(error).__name__}: {error}); details are in the log",
              file=sys.stderr)
        return EXIT_NODE_FAILED
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    preset = result.preset
    print(f"wrote {result.path}: {result.end - result.start:.2f} s, {preset.width}×{preset.height} at "
          f"{preset.fps:g} fps, {result.frames} frames in {result.elapsed:.1f} s")
    if result.check is not None:
        print(f"check: {'passed' if result.check.passed else 'FAILED'} (report: {result.check_path})")
        for problem in result.check.problems:
            print(f"  {problem}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_NODE_FAILED


# ----- validate and nodes -------------------------------------------------------------
def _validate(arguments: argparse.Namespace) -> int:
    from nodes.registry import default_registry
    from nodes.validation import validate

    registry = default_registry()
    _report_pack_errors(registry)
    try:
        report = validate(Graph.load(arguments.workflow), registry)
    except WorkflowError as error:
        report = error.report
    if arguments.json:
        print(json.dumps({"workflow": str(arguments.workflow), **report.to_json()}, ensure_ascii=False, indent=2))
    else:
        stream = sys.stdout if report.ok else sys.stderr
        print(f"{arguments.workflow}: {report.text()}", file=stream)
    return EXIT_OK if report.ok else EXIT_INVALID


def _nodes(arguments: argparse.Namespace) -> int:
    from nodes.registry import default_registry

    registry = default_registry()
    _report_pack_errors(registry)
    if arguments.json:
        print(json.dumps(registry.describe(), ensure_ascii=False, indent=2))
        return EXIT_OK
    width = max((len(spec.type_name) for spec in registry), default=10)
    category = None
    for spec in sorted(registry, key=lambda item: (item.category, item.type_name)):
        if spec.category != category:
            category = spec.category
            print(f"\n{category}")
        summary = spec.description.split(". ")[0].rstrip(".")
        print(f"  {spec.type_name:<{width}}  {summary}")
    return EXIT_OK


def _models(arguments: argparse.Namespace) -> int:
    from nodes.models import FAMILIES, models_folder, scan_models

    folder = arguments.folder or models_folder()
    entries = scan_models(folder)
    if arguments.json:
        print(json.dumps([{"kind": entry.kind, "name": entry.name, "path": str(entry.path), "family": entry.family,
                           "bytes": entry.size} for entry in entries], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not entries:
        print(f"no models in {folder}; put them in checkpoints/, loras/, controlnet/, vae/ ... "
              "(the ComfyUI layout), or set REELGRAPH_MODELS to an existing ComfyUI models folder")
        return EXIT_OK
    print(f"models in {folder}:")
    for entry in entries:
        family = FAMILIES.get(entry.family, entry.family) if entry.family != "unknown" else ""
        print(f"  {entry.kind:<16} {entry.name:<40} {entry.size / 1024**2:9.1f} MB  {family}")
    return EXIT_OK


def _report_pack_errors(registry: Any) -> None:
    for error in registry.load_errors:
        print(f"warning: {error}", file=sys.stderr)


def _configure_logging(verbose: bool) -> None:
    """Everything goes to the log file; tracebacks reach the terminal only with --verbose."""
    from nodes.user_folders import log_folder

    root = logging.getLogger("reelgraph")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in [handler for handler in root.handlers if getattr(handler, "reelgraph_cli", False)]:
        root.removeHandler(handler)
        handler.close()
    try:
        folder = log_folder()
        folder.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            folder / "reelgraph.log", maxBytes=5 * 1024**2, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.reelgraph_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    except OSError as error:
        print(f"warning: cannot write the log file ({error}); logging to the terminal", file=sys.stderr)
        verbose = True
    if verbose:
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setLevel(logging.WARNING)
        terminal.reelgraph_cli = True  # type: ignore[attr-defined]
        root.addHandler(terminal)


if __name__ == "__main__":
    sys.exit(main())
