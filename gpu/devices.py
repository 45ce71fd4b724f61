"""Which compute devices this machine has: CUDA GPUs, Apple's MPS, or only the CPU.

Asking needs torch, which takes a second or two to import, so the executor asks
only when the first GPU node is about to run.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    name: str  # "cuda:0", "mps", "cpu": what torch calls it
    kind: str  # "cuda", "mps" or "cpu"
    label: str
    total_memory: int | None = None  # bytes, where known

    @property
    def is_accelerator(self) -> bool:
        return self.kind != "cpu"


CPU = Device("cpu", "cpu", f"CPU ({os.cpu_count() or 1} cores)")


def quiet_waiting_cpu_threads() -> None:
    """Make torch's OpenMP threads sleep while they wait, unless the user chose otherwise.

    By default they spin for a while after each parallel region. Reelgraph always runs
    them beside other work (the window, video decoding, other nodes), and a spinning
    thread steals the cores that work needs: measured on 2 busy cores, a live sketch
    picture took 7.6 s instead of 0.2 s. Takes effect only before torch is imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def find_devices() -> list[Device]:
    """Every CUDA device, else MPS, else the CPU; ``REELGRAPH_DEVICES=cpu`` forces the CPU."""
    if os.environ.get("REELGRAPH_DEVICES", "").strip().lower() == "cpu":
        return [CPU]
    if importlib.util.find_spec("torch") is None:
        return [CPU]
    import torch

    if torch.cuda.is_available():
        devices = []
        for index in range(torch.cuda.device_count()):
            properties = torch.cuda.get_device_properties(index)
            devices.append(Device(f"cuda:{index}", "cuda", properties.name, int(properties.total_memory)))
        if devices:
            return devices
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return [Device("mps", "mps", "Apple GPU (MPS)")]
    return [CPU]
