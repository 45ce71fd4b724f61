"""Live sketch benchmark: how closely the picture follows the pen (issue 7's targets).

    python bench/live.py [--repeat 30] [--size 128] [--slow-steps 24] [--threads 1]
    python bench/live.py --gpu-size      # SD-Turbo-size UNet, 512×512, 1 step, TAESD, fp16 on CUDA

Models are built from configs with random weights (no download): on the CPU a tiny
SD whose VAE shrinks 8× and a tiny TAESD; with ``--gpu-size`` a model of SD-Turbo's
size and shape (SD 2.1 UNet, OpenCLIP-H text encoder) and the standard TAESD.
Everything runs through LiveSession and the shared Executor, as the panel does.

Prints:
(a) app overhead: stroke end -> picture handed over, minus the model's own time,
    median and p95 over --repeat single strokes                       [<= 15 ms]
(b) 20 strokes at 10 per second (pen moves, then pen up), then a pause: the final
    stroke's picture arrives within one generation + 15 ms; and the denoising steps
    each superseded run executed after it was superseded                [<= 1]
    On the CPU, (b) paints --slow-steps steps so that runs outlast a stroke and are
    superseded; on a GPU it paints the fast 1-step picture.
(c) pictures per second in a tight loop (each stroke waits for the last picture)
                                                     [>= 30/s on an H100 or 4090]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on the path, where a module named like one of the
# standard library's would shadow it: look in the repository instead.
sys.path[:] = [str(ROOT), str(ROOT / "tests"), *(entry for entry in sys.path
                                                 if Path(entry or ".").resolve() != ROOT / "bench")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from gpu.devices import quiet_waiting_cpu_threads  # noqa: E402

quiet_waiting_cpu_threads()  # as the app does, before torch is imported

import numpy as np  # noqa: E402

STROKES = 20
STROKE_SECONDS = 0.1
MOVES_PER_STROKE = 3


def canvases(count: int, size: int) -> list[np.ndarray]:
    """A pen line growing across white paper, one canvas per stroke (made in advance:
    drawing is the panel's cost, not the engine's)."""
    made = []
    paper = np.full((size, size, 3), 255, dtype=np.uint8)
    for index in range(count):
        paper = paper.copy()
        row = (index * 7) % (size - 8) + 4
        paper[row : row + 3, size // 8 : size - size // 8] = 0
        made.append(paper)
    return made


class Listener:
    """Collects results, and the moments each run's painting node starts."""

    def __init__(self) -> None:
        self.results: list[Any] = []
        self.errors: list[Any] = []
        self.painting_started: list[tuple[float, str]] = []
        self.arrived = threading.Condition()

    def result(self, result: Any) -> None:
        with self.arrived:
            self.results.append((time.perf_counter(), result))
            self.arrived.notify_all()

    def error(self, error: Any) -> None:
        with self.arrived:
            self.errors.append(error)
            self.arrived.notify_all()

    def event(self, event: Any) -> None:
        if event.kind == "node_started" and event.node_id == "paint":
            self.painting_started.append((time.perf_counter(), event.run_id))

    def wait_for(self, request: int, timeout: float = 600.0) -> tuple[float, Any]:
        with self.arrived:
            self.arrived.wait_for(lambda: self.errors or any(result.request == request for _, result in self.results),
                                  timeout)
            if self.errors:
                raise SystemExit(f"the live session failed: {self.errors[-1].message}")
            return next((shown, result) for shown, result in self.results if result.request == request)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def build_model(gpu_size: bool, folder: Path) -> Path:
    from fixtures.tiny_live_models import build_live_models_folder, save_turbo_size_sd

    if gpu_size:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        return save_turbo_size_sd(folder / "checkpoints" / "sd-turbo-size", device, torch.float16)
    build_live_models_folder(folder)
    return folder / "checkpoints" / "tiny-sd-x8"


def single_strokes(session: Any, listener: Listener, pictures: list[np.ndarray], repeat: int) -> list[Any]:
    """(a): one stroke at a time, each after the last picture arrived."""
    timings = []
    for index in range(repeat):
        ended = time.perf_counter()
        request = session.update(pictures[index % len(pictures)])
        shown, result = listener.wait_for(request)
        timings.append((shown - ended, result.timings))
    return timings


def stroke_burst(session: Any, listener: Listener, pictures: list[np.ndarray], unet_steps: list[tuple[float, float]]
                 ) -> tuple[float, Any, list[int]]:
    """(b): 20 strokes at 10 per second, then wait; (final latency, its result, steps
    each superseded run ran after it was superseded)."""
    already_superseded = len(session.superseded)
    begun = time.perf_counter()
    request = 0
    for stroke in range(STROKES):
        stroke_start = begun + stroke * STROKE_SECONDS
        for move in range(MOVES_PER_STROKE):
            wait_until(stroke_start + move * STROKE_SECONDS / (MOVES_PER_STROKE + 1))
            session.update(pictures[(stroke * 5 + move) % len(pictures)], ongoing=True)
        wait_until(stroke_start + STROKE_SECONDS * MOVES_PER_STROKE / (MOVES_PER_STROKE + 1))
        ended = time.perf_counter()
        request = session.update(pictures[(stroke * 5 + 4) % len(pictures)])
    shown, result = listener.wait_for(request)
    deadline = time.monotonic() + 60
    while session.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    after = [steps_after(stale, listener.painting_started, unet_steps)
             for stale in session.superseded[already_superseded:]]
    return shown - ended, result, after


def steps_after(stale: Any, painting_started: list[tuple[float, str]], unet_steps: list[tuple[float, float]]
                ) -> int:
    """Denoising steps a superseded run executed after it was superseded: the UNet
    calls made while its painting node held the device lane (from its start to the
    next painting node's), ending after the moment it was superseded. 0 when it was
    cancelled before it reached the lane."""
    starts = sorted(painting_started)
    own = [moment for moment, run_id in starts if run_id == stale.run_id]
    if not own:
        return 0
    following = [moment for moment, _ in starts if moment > own[0]]
    until = following[0] if following else stale.stopped_at
    return sum(1 for begun, ended in unet_steps if own[0] <= begun < until and ended > stale.superseded_at)


def tight_loop(session: Any, listener: Listener, pictures: list[np.ndarray], count: int
               ) -> tuple[float, float, float]:
    """(c): pictures per second when each stroke waits only for the previous picture;
    with the mean stroke -> picture and model times (ms) of those pictures."""
    begun = time.perf_counter()
    timings = []
    for index in range(count):
        timings.append(listener.wait_for(session.update(pictures[index % len(pictures)]))[1].timings)
    rate = count / (time.perf_counter() - begun)
    return (rate, statistics.mean(timing.stroke_to_shown for timing in timings) * 1000,
            statistics.mean(timing.model for timing in timings) * 1000)


def wait_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--size", type=int, default=128, help="canvas side on the CPU (512 with --gpu-size)")
    parser.add_argument("--slow-steps", type=int, default=24, help="steps for (b) on the CPU")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--warmup", type=int, default=5, help="strokes painted before measuring")
    parser.add_argument("--loop", type=int, default=30, help="pictures in the tight loop (c)")
    parser.add_argument("--gpu-size", action="store_true", help="SD-Turbo-size model, 512×512, fp16 on CUDA")
    arguments = parser.parse_args()

    import torch

    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    if not arguments.gpu_size:
        os.environ["REELGRAPH_DEVICES"] = "cpu"
    size = 512 if arguments.gpu_size else arguments.size
    folder = Path(tempfile.mkdtemp(prefix="reelgraph-live-bench-"))
    try:
        measure(arguments, folder, size)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # an SD-Turbo-size model is gigabytes


def measure(arguments: argparse.Namespace, folder: Path, size: int) -> None:
    import torch

    from gpu.executor import Executor
    from gpu.live import LiveSession
    from gpu.live_settings import LiveSettings
    from nodes.models import ModelRef
    from nodes.registry import builtin_registry

    built = time.perf_counter()
    checkpoint = build_model(arguments.gpu_size, folder / "models")
    os.environ["REELGRAPH_MODELS"] = str(folder / "models")
    print(f"model built in {time.perf_counter() - built:.1f} s: {checkpoint.name}")
    executor = Executor(builtin_registry(), output_dir=folder / "out", previews=False)
    listener = Listener()
    fast = LiveSettings(prompt="a lighthouse at dusk, volumetric fog", steps=1, strength=0.5, cfg=0.0,
                        scheduler="euler_trailing", size=size)
    session = LiveSession(executor, ModelRef(str(checkpoint)), fast, on_result=listener.result,
                          on_error=listener.error, on_event=listener.event, history_folder=folder / "history")
    device = executor.lanes.devices[0]
    pictures = canvases(64, size)
    unet = executor.models.pipeline(session.model, device.name).unet
    unet_steps: list[tuple[float, float]] = []
    begun: list[float] = []
    unet.register_forward_pre_hook(lambda module, args: begun.append(time.perf_counter()))
    unet.register_forward_hook(lambda module, args, output: unet_steps.append((begun[-1], time.perf_counter())))

    single_strokes(session, listener, pictures, arguments.warmup)  # warm up: load, first calls, allocator
    strokes = single_strokes(session, listener, pictures, arguments.repeat)
    overheads = [(seen - timings.model) * 1000 for seen, timings in strokes]
    models = [timings.model * 1000 for _, timings in strokes]
    reported = [timings.overhead * 1000 for _, timings in strokes]
    generation = statistics.median(models)
    threads = torch.get_num_threads() if device.kind == "cpu" else "-"
    print(f"live sketch on {device.label} (torch threads {threads}, OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'default')}), {size}×{size}, 1 step, "
          f"tiny decoder: {session.tiny_decoder.name if session.tiny_decoder else 'none'}")
    print(f"(a) app overhead over {arguments.repeat} strokes: median {statistics.median(overheads):.2f} ms, "
          f"p95 {percentile(overheads, 0.95):.2f} ms   [<= 15 ms]   (the session's own figure: median "
          f"{statistics.median(reported):.2f} ms; model median {generation:.1f} ms)")

    if device.kind == "cpu":
        session.update(settings=replace(fast, steps=arguments.slow_steps, strength=1.0))
        single_strokes(session, listener, pictures, min(3, arguments.warmup))
        generation = statistics.median(timings.model * 1000 for _, timings in
                                       single_strokes(session, listener, pictures, max(1, arguments.repeat // 6)))
    latency, final, after = stroke_burst(session, listener, pictures, unet_steps)
    steps = session.settings.steps
    own = final.timings.model * 1000
    print(f"(b) {STROKES} strokes at {1 / STROKE_SECONDS:.0f}/s, {steps} step{'s' if steps > 1 else ''}: final stroke "
          f"-> picture {latency * 1000:.1f} ms; one generation (median of single strokes) {generation:.1f} ms + 15 = "
          f"{generation + 15:.1f} ms [{'met' if latency * 1000 <= generation + 15 else 'MISSED'}]; its own model time "
          f"{own:.1f} ms + 15 = {own + 15:.1f} ms [{'met' if latency * 1000 <= own + 15 else 'MISSED'}]")
    print(f"    superseded runs: {len(after)}; steps each ran after being superseded: max {max(after, default=0)}, "
          f"counts {after}   [<= 1];  dropped before starting: {session.dropped}")

    session.update(settings=fast)
    single_strokes(session, listener, pictures, min(3, arguments.warmup))
    rate, shown, model = tight_loop(session, listener, pictures, arguments.loop)
    print(f"(c) tight loop: {rate:.1f} pictures/s   [>= 30/s on an H100 or 4090 at SD-Turbo size]   (each: stroke "
          f"-> picture {shown:.1f} ms, model {model:.1f} ms; the model alone would give {1000 / model:.1f}/s)")
    session.close()
    executor.close()


if __name__ == "__main__":
    main()
