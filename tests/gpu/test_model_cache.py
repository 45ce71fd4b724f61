"""The model cache keeps weights warm within a budget per device, parks evicted models
in RAM, offloads what cannot fit, and answers out-of-memory by freeing and retrying.

There is no GPU here, so models "on the GPU" are small stand-ins that record where
they were moved; models on the CPU device are real torch modules."""

from __future__ import annotations

import pytest
import torch

from gpu.models import (
    MODEL_OFFLOAD, PARKED, RESIDENT, SEQUENTIAL_OFFLOAD, ModelCache, module_bytes, parse_bytes,
)
from nodes.spec import NodeFailure

MB = 1024**2


class GpuStandIn:
    """Weights of a given size that remember which device they were moved to."""

    def __init__(self, megabytes: float, components: dict[str, float] | None = None) -> None:
        self.device = "cpu"
        self.moves: list[str] = []
        self.offload: tuple[str, str] | None = None
        parts = components or {"weights": megabytes}
        self.components = {name: torch.nn.Linear(1, max(1, int(size * MB / 4)), bias=False)
                           for name, size in parts.items()}

    def to(self, device: str) -> "GpuStandIn":
        self.device = device
        self.moves.append(device)
        return self

    def enable_model_cpu_offload(self, device: str) -> None:
        self.offload = ("model", device)

    def enable_sequential_cpu_offload(self, device: str) -> None:
        self.offload = ("sequential", device)


def loader(model: object, calls: list[str], name: str):
    def load() -> object:
        calls.append(name)
        return model

    return load


def test_a_warm_model_is_not_loaded_again():
    cache = ModelCache({"cuda:0": 100 * MB}, ram_budget=100 * MB)
    calls: list[str] = []
    model = GpuStandIn(10)
    for _ in range(3):
        assert cache.get("sd", "cuda:0", loader(model, calls, "sd"), 10 * MB, "sd") is model
    assert calls == ["sd"]
    state = cache.state()
    assert (state.loads, state.hits, state.misses) == (1, 2, 1)
    assert model.device == "cuda:0"


def test_least_recently_used_model_is_parked_in_ram_and_comes_back_without_loading():
    cache = ModelCache({"cuda:0": 25 * MB}, ram_budget=100 * MB)
    calls: list[str] = []
    first, second, third = GpuStandIn(10), GpuStandIn(10), GpuStandIn(10)
    cache.get("first", "cuda:0", loader(first, calls, "first"), 10 * MB, "first")
    cache.get("second", "cuda:0", loader(second, calls, "second"), 10 * MB, "second")
    cache.get("first", "cuda:0", loader(first, calls, "first"), 10 * MB, "first")  # first is now the newest
    cache.get("third", "cuda:0", loader(third, calls, "third"), 10 * MB, "third")

    assert second.device == "cpu", "the least recently used model makes room"
    assert first.device == third.device == "cuda:0"
    placements = {model["label"]: model["placement"] for model in cache.state().models}
    assert placements == {"first": RESIDENT, "second": PARKED, "third": RESIDENT}

    assert cache.get("second", "cuda:0", loader(second, calls, "second"), 10 * MB, "second") is second
    assert calls == ["first", "second", "third"], "a parked model comes back from RAM, not from disk"
    assert second.device == "cuda:0"
    assert cache.state().evictions == 2


def test_without_room_in_ram_an_evicted_model_is_dropped():
    cache = ModelCache({"cuda:0": 15 * MB}, ram_budget=5 * MB)
    calls: list[str] = []
    cache.get("a", "cuda:0", loader(GpuStandIn(10), calls, "a"), 10 * MB, "a")
    cache.get("b", "cuda:0", loader(GpuStandIn(10), calls, "b"), 10 * MB, "b")
    assert [model["label"] for model in cache.state().models] == ["b"]
    cache.get("a", "cuda:0", loader(GpuStandIn(10), calls, "a"), 10 * MB, "a")
    assert calls == ["a", "b", "a"]


def test_a_model_larger_than_the_budget_runs_with_cpu_offload():
    cache = ModelCache({"cuda:0": 20 * MB}, ram_budget=100 * MB)
    pipeline = GpuStandIn(0, components={"unet": 15, "text_encoder": 10, "vae": 5})
    cache.get("big", "cuda:0", loader(pipeline, [], "big"), 30 * MB, "big")
    assert pipeline.offload == ("model", "cuda:0")
    assert cache.state().models[0]["placement"] == MODEL_OFFLOAD


def test_a_model_whose_largest_part_does_not_fit_runs_with_sequential_offload():
    cache = ModelCache({"cuda:0": 10 * MB}, ram_budget=100 * MB)
    pipeline = GpuStandIn(0, components={"transformer": 25, "vae": 5})
    cache.get("huge", "cuda:0", loader(pipeline, [], "huge"), 30 * MB, "huge")
    assert pipeline.offload == ("sequential", "cuda:0")
    assert cache.state().models[0]["placement"] == SEQUENTIAL_OFFLOAD


def test_out_of_memory_frees_other_models_and_retries_once():
    cache = ModelCache({"cuda:0": 100 * MB}, ram_budget=100 * MB)
    cache.get("other", "cuda:0", loader(GpuStandIn(10), [], "other"), 10 * MB, "other")
    cache.get("mine", "cuda:0", loader(GpuStandIn(10), [], "mine"), 10 * MB, "mine")
    attempts = []

    def render() -> str:
        attempts.append(len(cache.state().models))
        if len(attempts) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return "frames"

    assert cache.run_guarded("cuda:0", "mine", render, "a 1024×1024 picture") == "frames"
    assert attempts == [2, 1], "the retry ran with only the model in use left"
    assert [model["label"] for model in cache.state().models] == ["mine"]


def test_out_of_memory_twice_fails_the_node_with_advice():
    cache = ModelCache({"cuda:0": 100 * MB}, ram_budget=100 * MB)

    def render() -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(NodeFailure, match="ran out of GPU memory on cuda:0 during a 5-second clip.*smaller size"):
        cache.run_guarded("cuda:0", None, render, "a 5-second clip")


def test_other_errors_are_not_retried():
    cache = ModelCache({"cuda:0": 100 * MB})
    attempts = []

    def broken() -> None:
        attempts.append(1)
        raise ValueError("bad shape")

    with pytest.raises(ValueError):
        cache.run_guarded("cuda:0", None, broken, "work")
    assert attempts == [1]


def test_on_the_cpu_the_budget_is_ram_and_eviction_drops_real_modules():
    cache = ModelCache({"cpu": 3 * MB})
    first = torch.nn.Linear(512, 1024)  # about 2 MB
    second = torch.nn.Linear(512, 1024)
    cache.get("first", "cpu", lambda: first, module_bytes(first), "first")
    cache.get("second", "cpu", lambda: second, module_bytes(second), "second")
    state = cache.state()
    assert [model["label"] for model in state.models] == ["second"]
    assert state.bytes_by_device["cpu"] == module_bytes(second)
    assert state.evictions == 1


def test_memory_sizes_read_like_people_write_them():
    assert parse_bytes("8G") == 8 * 1024**3
    assert parse_bytes("512MB") == 512 * MB
    assert parse_bytes("1.5G") == int(1.5 * 1024**3)
    assert parse_bytes("1000") == 1000
