"""Which devices GPU nodes run on. This machine has no GPU, and tests must run
anywhere, so the CUDA and MPS cases use a stand-in ``torch`` module that answers
the three questions ``find_devices`` asks."""

from __future__ import annotations

import importlib.machinery
import sys
import types

import pytest

from gpu.devices import CPU, Device, find_devices
from gpu.lanes import Lanes
from nodes.graph import Graph


def stand_in_torch(cuda: list[tuple[str, int]] = (), mps: bool = False) -> types.ModuleType:
    """A module named torch that reports the given CUDA cards (name, bytes) and MPS."""
    torch = types.ModuleType("torch")
    torch.__spec__ = importlib.machinery.ModuleSpec("torch", None)
    torch.cuda = types.SimpleNamespace(
        is_available=lambda: bool(cuda),
        device_count=lambda: len(cuda),
        get_device_properties=lambda index: types.SimpleNamespace(name=cuda[index][0], total_memory=cuda[index][1]),
    )
    torch.backends = types.SimpleNamespace(mps=types.SimpleNamespace(is_available=lambda: mps))
    return torch


@pytest.fixture
def no_device_setting(monkeypatch):
    monkeypatch.delenv("REELGRAPH_DEVICES", raising=False)


def test_without_torch_the_cpu_is_the_only_device(monkeypatch, no_device_setting):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed

    assert find_devices() == [CPU]
    assert not CPU.is_accelerator


def test_every_cuda_card_is_a_device(monkeypatch, no_device_setting):
    cards = [("RTX 4090", 24 * 1024**3), ("RTX 3060", 12 * 1024**3)]
    monkeypatch.setitem(sys.modules, "torch", stand_in_torch(cuda=cards))

    devices = find_devices()

    assert devices == [
        Device("cuda:0", "cuda", "RTX 4090", 24 * 1024**3),
        Device("cuda:1", "cuda", "RTX 3060", 12 * 1024**3),
    ]
    assert all(device.is_accelerator for device in devices)


def test_an_apple_gpu_is_used_when_there_is_no_cuda(monkeypatch, no_device_setting):
    monkeypatch.setitem(sys.modules, "torch", stand_in_torch(mps=True))

    assert [device.name for device in find_devices()] == ["mps"]


def test_torch_without_any_gpu_leaves_the_cpu(monkeypatch, no_device_setting):
    monkeypatch.setitem(sys.modules, "torch", stand_in_torch())

    assert find_devices() == [CPU]


@pytest.mark.parametrize("setting", ["cpu", " CPU "])
def test_reelgraph_devices_cpu_forces_the_cpu_even_with_a_gpu(monkeypatch, setting):
    monkeypatch.setitem(sys.modules, "torch", stand_in_torch(cuda=[("RTX 4090", 24 * 1024**3)]))
    monkeypatch.setenv("REELGRAPH_DEVICES", setting)

    assert find_devices() == [CPU]


def test_lanes_ask_for_devices_only_when_first_needed(monkeypatch, no_device_setting):
    asked: list[bool] = []
    monkeypatch.setattr("gpu.lanes.find_devices", lambda: asked.append(True) or [CPU])
    lanes = Lanes(cpu_workers=2)
    try:
        assert asked == []
        assert lanes.devices == [CPU]
        assert lanes.devices == [CPU]
        assert asked == [True]
    finally:
        lanes.shutdown()


def test_a_gpu_node_runs_on_the_cpu_when_no_gpu_is_found(make_executor, journal, monkeypatch):
    monkeypatch.setenv("REELGRAPH_DEVICES", "cpu")
    executor = make_executor(devices=None)
    graph = Graph()
    render = graph.add("test.Gpu", {"value": 1.0})

    result = executor.run(graph)

    assert result.output(render) == 2.0
    assert journal.visit(render).device == "cpu"
