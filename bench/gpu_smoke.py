"""GPU smoke benchmark for a lent GPU: real-size SD 1.5 and SDXL architectures with
random weights (built from configs: nothing to download), fp16.

    python bench/gpu_smoke.py                 # on a CUDA machine
    python bench/gpu_smoke.py --tiny --device cpu   # the same code path, tiny configs

For each architecture and size it prints denoising it/s of the raw diffusers pipeline
and of diffusion.TextToImage through the executor (same model folder, steps, seed),
their ratio (the target is within 5 %), and the VRAM peak of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def text_encoder(hidden: int, layers: int, heads: int, vocabulary: int, projection: bool) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(hidden_size=hidden, intermediate_size=hidden * 4, num_hidden_layers=layers,
                            num_attention_heads=heads, vocab_size=vocabulary, projection_dim=hidden,
                            bos_token_id=vocabulary - 2, eos_token_id=vocabulary - 1, hidden_act="gelu")
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def vae(tiny: bool, scaling: float) -> Any:
    from diffusers import AutoencoderKL

    channels = (4, 8) if tiny else (128, 256, 512, 512)
    return AutoencoderKL(block_out_channels=channels, layers_per_block=1 if tiny else 2, latent_channels=4,
                         down_block_types=["DownEncoderBlock2D"] * len(channels),
                         up_block_types=["UpDecoderBlock2D"] * len(channels),
                         norm_num_groups=2 if tiny else 32, scaling_factor=scaling)


def build_sd15(folder: Path, tiny: bool) -> Path:
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from fixtures.tiny_models import clip_tokenizer

    tokenizer = clip_tokenizer(folder.parent / "tokenizer-sd15")
    width = 32 if tiny else 768
    unet = UNet2DConditionModel(
        block_out_channels=(4, 8) if tiny else (320, 640, 1280, 1280), layers_per_block=1 if tiny else 2,
        cross_attention_dim=width, attention_head_dim=2 if tiny else 8, norm_num_groups=2 if tiny else 32,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D") if tiny else (
            "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D") if tiny else (
            "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    )
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae(tiny, 0.18215), text_encoder=text_encoder(width, 2 if tiny else 12, 4 if tiny else 12,
                                                                      len(tokenizer), False),
        tokenizer=tokenizer, scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085,
                                                              beta_end=0.012, steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder


def build_sdxl(folder: Path, tiny: bool) -> Path:
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from fixtures.tiny_models import clip_tokenizer

    tokenizer = clip_tokenizer(folder.parent / "tokenizer-sdxl")
    first, second = (32, 32) if tiny else (768, 1280)
    unet = UNet2DConditionModel(
        block_out_channels=(4, 8) if tiny else (320, 640, 1280), layers_per_block=1 if tiny else 2,
        transformer_layers_per_block=(1, 1) if tiny else (1, 2, 10), attention_head_dim=(2, 4) if tiny else (5, 10, 20),
        cross_attention_dim=first + second, addition_embed_type="text_time", addition_time_embed_dim=8 if tiny else 256,
        projection_class_embeddings_input_dim=(8 * 6 + second) if tiny else 2816, use_linear_projection=True,
        norm_num_groups=2 if tiny else 32,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D") if tiny else (
            "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D") if tiny else (
            "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    )
    pipe = StableDiffusionXLPipeline(
        unet=unet, vae=vae(tiny, 0.13025),
        text_encoder=text_encoder(first, 2 if tiny else 12, 4 if tiny else 12, len(tokenizer), False),
        text_encoder_2=text_encoder(second, 2 if tiny else 32, 4 if tiny else 20, len(tokenizer), True),
        tokenizer=tokenizer, tokenizer_2=tokenizer,
        scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1))
    pipe.save_pretrained(folder)
    return folder


def measure(folder: Path, device: str, size: int, steps: int, repeat: int) -> dict[str, float]:
    import torch
    from diffusers import DiffusionPipeline

    from gpu.devices import Device
    from gpu.executor import Executor
    from nodes.generation import generator
    from nodes.graph import Graph
    from nodes.registry import builtin_registry

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    cuda = device.startswith("cuda")

    def synchronize() -> None:
        if cuda:
            torch.cuda.synchronize()

    raw = DiffusionPipeline.from_pretrained(folder, dtype=dtype, local_files_only=True).to(device)
    raw.set_progress_bar_config(disable=True)

    def raw_call() -> None:
        raw(prompt="a lighthouse at dusk", num_inference_steps=steps, width=size, height=size,
            generator=generator(1), output_type="np")

    graph = Graph()
    model = graph.add("model.Checkpoint", {"checkpoint": str(folder),
                                           "dtype": "float16" if cuda else "float32"})
    graph.add("diffusion.TextToImage", {"model": [model, "model"], "prompt": "a lighthouse at dusk", "seed": 1,
                                        "steps": steps, "width": size, "height": size}, node_id="paint")
    executor = Executor(builtin_registry(), output_dir=tempfile.mkdtemp(), previews=False,
                        devices=[Device(device, device.split(":")[0], device)])

    def executor_call() -> None:
        executor.cache.clear()
        result = executor.run(graph)
        assert result.ok, result.errors

    figures: dict[str, list[float]] = {"raw": [], "executor": [], "raw_peak": [], "executor_peak": []}
    raw_call(), executor_call()
    for _ in range(repeat):
        for name, call in (("raw", raw_call), ("executor", executor_call)):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            synchronize()
            begun = time.perf_counter()
            call()
            synchronize()
            figures[name].append(steps / (time.perf_counter() - begun))
            figures[f"{name}_peak"].append(torch.cuda.max_memory_allocated() / 1024**3 if cuda else 0.0)
    executor.close()
    del raw
    if cuda:
        torch.cuda.empty_cache()
    return {name: statistics.median(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--tiny", action="store_true", help="tiny configs (checks the code path on a CPU)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reelgraph-gpu-smoke-"))
    sizes = (64, 128) if arguments.tiny else (512, 1024)
    print(f"GPU smoke ({'tiny configs' if arguments.tiny else 'real-size architectures, random weights, fp16'}"
          f" on {arguments.device}, {arguments.steps} steps, median of {arguments.repeat})")
    for name, build in (("SD 1.5", build_sd15), ("SDXL", build_sdxl)):
        folder = build(work / name.replace(" ", "").lower(), arguments.tiny)
        for size in sizes:
            figures = measure(folder, arguments.device, size, arguments.steps, arguments.repeat)
            ratio = figures["executor"] / figures["raw"]
            print(f"  {name:6} {size:5}px  raw {figures['raw']:7.2f} it/s  executor {figures['executor']:7.2f} it/s"
                  f"  ratio {ratio:.3f} [>= 0.95]  VRAM peak raw {figures['raw_peak']:.2f} GB, "
                  f"executor {figures['executor_peak']:.2f} GB")


if __name__ == "__main__":
    main()
