"""Where node functions run: a thread pool for CPU nodes and one lane (a single
thread) per compute device for GPU nodes, so two diffusion nodes never fight over
one GPU while CPU work goes on beside them."""

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
        self._cpu_pool.shutdown(wait=wait, cancel_futures=True)
        with self._lock:
            for _, lane in self._gpu_lanes:
                lane.shutdown(wait=wait, cancel_futures=True)

    def _open_gpu_lanes(self) -> None:
        if self._gpu_lanes:
            return
        devices = self._devices if self._devices is not None else find_devices()
        for device in devices:
            lane = ThreadPoolExecutor(1, thread_name_prefix=f"reelgraph-{device.name}")
            self._gpu_lanes.append((device, lane))
            self._busy[device.name] = 0
