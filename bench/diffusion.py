"""Generation benchmark: diffusion.TextToImage through the executor against the raw
diffusers pipeline call with the same model, steps, size and seed.

    python bench/diffusion.py [--repeat 7] [--size 128] [--steps 10]

Uses a tiny random-weight SD model built from a config (no download). Prints:
- executor / raw time with step previews off (the target is <= 1.05);
- the cost of step previews when a listener wants them (reported separately);
- how many times the model was loaded over repeated runs (the target is once).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    arguments = parser.parse_args()

    from diffusers import DiffusionPipeline
    from fixtures.tiny_models import save_tiny_sd

    from gpu.executor import Executor
    from nodes.generation import generator
    from nodes.graph import Graph
    from nodes.registry import builtin_registry

    folder = save_tiny_sd(Path(tempfile.mkdtemp(prefix="reelgraph-bench-")) / "tiny-sd")
    size, steps = arguments.size, arguments.steps
    graph = Graph()
    model = graph.add("model.Checkpoint", {"checkpoint": str(folder)})
    paint = graph.add("diffusion.TextToImage", {
        "model": [model, "model"], "prompt": "a lighthouse at dusk, volumetric fog", "seed": 42,
        "steps": steps, "cfg": 7.0, "width": size, "height": size})

    raw = DiffusionPipeline.from_pretrained(folder, local_files_only=True)
    raw.set_progress_bar_config(disable=True)

    def raw_call() -> np.ndarray:
        return raw(prompt="a lighthouse at dusk, volumetric fog", num_inference_steps=steps, guidance_scale=7.0,
                   width=size, height=size, generator=generator(42), output_type="np").images[0]

    executor = Executor(builtin_registry(), output_dir=tempfile.mkdtemp())

    def through_executor(previews: bool) -> np.ndarray:
        executor.previews = previews
        executor.cache.clear()  # the output cache would answer at once; the model stays warm
        result = executor.run(graph, on_event=(lambda event: None) if previews else None)
        assert result.ok, result.errors
        return result.output(paint, "image")

    raw_call(), through_executor(False), through_executor(True)  # warm up both paths
    times: dict[str, list[float]] = {"raw": [], "executor": [], "previews": []}
    for _ in range(arguments.repeat):  # interleaved, so machine noise hits all three alike
        for name, call in (("raw", raw_call), ("executor", lambda: through_executor(False)),
                           ("previews", lambda: through_executor(True))):
            begun = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - begun)
    same = np.abs(raw_call().astype(np.float32) * 255 - through_executor(False)).max() <= 1.0
    state = executor.models.cache.state()
    executor.close()

    def median(name: str) -> float:
        return statistics.median(times[name])

    print(f"diffusion.TextToImage vs raw pipeline (tiny SD, {size}×{size}, {steps} steps, CPU, median of "
          f"{arguments.repeat})")
    print(f"  raw pipeline call            {median('raw') * 1000:8.1f} ms")
    print(f"  through the executor         {median('executor') * 1000:8.1f} ms   "
          f"ratio {median('executor') / median('raw'):.3f}   [<= 1.05]")
    print(f"  executor with step previews  {median('previews') * 1000:8.1f} ms   "
          f"preview cost {(median('previews') - median('executor')) * 1000:+.1f} ms per image")
    print(f"  same pixels as the raw call: {same}")
    print(f"  model loads over {2 + 3 * arguments.repeat} executor runs: "
          f"{sum(1 for model in state.models if model['label'] == 'tiny-sd')} (cache loads {state.loads}, "
          f"hits {state.hits})   [1]")


if __name__ == "__main__":
    main()
