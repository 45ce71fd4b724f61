"""Where node functions run: a thread pool for CPU nodes and one lane (a single
thread) per compute device for GPU nodes, so two diffusion nodes never fight over
one GPU while CPU work goes on beside them. Nodes that already spread their work
over every core (OpenCV, torch on the CPU) share one lane too, across all runs,
so two of them never fight over the same cores."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from gpu.devices import Device, find_devices


class Lanes:
    def __init__(self, cpu_workers: int | None = None, devices: list[Device] | None = None) -> None:
        self.cpu_workers = cpu_workers or max(4, os.cpu_count() or 1)
        self._cpu_pool = ThreadPoolExecutor(self.cpu_workers, thread_name_prefix="reelgraph-cpu")
        self._all_cores_lane = ThreadPoolExecutor(1, thread_name_prefix="reelgraph-all-cores")
        self._devices = devices
        self._gpu_lanes: list[tuple[Device, ThreadPoolExecutor]] = []
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def devices(self) -> list[Device]:
        """The devices GPU nodes run on, found on first use."""
        with self._lock:
            self._open_gpu_lanes()
            return [device for device, _ in self._gpu_lanes]

    def submit_cpu(self, job: Callable[[], None]) -> None:
        self._cpu_pool.submit(job)

    def submit_all_cores(self, job: Callable[[], None]) -> None:
        """Queue a node that uses every core; such nodes run one at a time."""
        self._all_cores_lane.submit(job)

    def submit_gpu(self, job: Callable[[Device], None]) -> Device:
        """Queue ``job`` on the least busy device's lane; returns that device."""
        with self._lock:
            self._open_gpu_lanes()
            device, lane = min(self._gpu_lanes, key=lambda pair: self._busy[pair[0].name])
            self._busy[device.name] += 1

        def run() -> None:
            try:
                job(device)
            finally:
                with self._lock:
                    self._busy[device.name] -= 1

        lane.submit(run)
        return device

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs. Queued jobs still run, so each run hears back about every
        node it handed over (cancel the runs first and they return at once)."""
        self._cpu_pool.shutdown(wait=wait)
        self._all_cores_lane.shutdown(wait=wait)
        with self._lock:  # not held while waiting: a finishing GPU job takes it to count itself done
            gpu_lanes = [lane for _, lane in self._gpu_lanes]
        for lane in gpu_lanes:
            lane.shutdown(wait=wait)

    def _open_gpu_lanes(self) -> None:
        if self._gpu_lanes:
            return
        devices = self._devices if self._devices is not None else find_devices()
        for device in devices:
            lane = ThreadPoolExecutor(1, thread_name_prefix=f"reelgraph-device-{device.name}")
            self._gpu_lanes.append((device, lane))
            self._busy[device.name] = 0
