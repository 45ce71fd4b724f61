"""The model cache: weights stay warm on their device between nodes and runs, within
a memory budget per device, least recently used out first.

An evicted model is parked in CPU RAM while the RAM budget allows (bringing it back
is a copy, not a load from disk), and dropped after that. A model larger than its
device's budget runs with CPU offload (whole components moved in turn) or, when even
one component is too large, sequential offload. On CUDA out-of-memory the cache frees
every other model and retries once, then fails the node with a clear message.

The cache knows nothing about diffusers: it holds anything with ``.to(device)``;
``gpu/pipelines.py`` builds what it holds.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Mapping, TypeVar

from nodes.spec import NodeFailure

log = logging.getLogger("reelgraph.models")

RESIDENT = "resident"
MODEL_OFFLOAD = "model_offload"
SEQUENTIAL_OFFLOAD = "sequential_offload"
PARKED = "parked"

Result = TypeVar("Result")


class OutOfMemory(NodeFailure):
    """Memory ran out even after every other model was freed: a clear failure for the creator,
    and one the render queue may try again later (when other work has let go of memory)."""


@dataclass
class LoadedModel:
    key: Hashable
    device: str
    label: str
    model: Any
    bytes: int
    placement: str = RESIDENT
    hits: int = 0


@dataclass(frozen=True)
class ModelCacheState:
    """What the GUI's model panel shows."""

    models: tuple[dict[str, Any], ...]
    bytes_by_device: dict[str, int]
    budgets: dict[str, int]
    parked_bytes: int
    ram_budget: int
    hits: int
    misses: int
    loads: int
    evictions: int


def parse_bytes(text: str) -> int:
    """'8G', '512M', '1.5GB' or a plain number of bytes."""
    cleaned = text.strip().upper().removesuffix("B")
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}.get(cleaned[-1:], 1)
    number = cleaned[:-1] if scale > 1 else cleaned
    return int(float(number) * scale)


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 1024**3


def default_budget(device: str) -> int:
    """90 % of a GPU's memory; half the machine's RAM for the CPU ("cpu" and "mps")."""
    override = os.environ.get("REELGRAPH_VRAM_BUDGET")
    if override and device != "cpu":
        return parse_bytes(override)
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else 0
        return int(torch.cuda.get_device_properties(index).total_memory * 0.9)
    return physical_memory() // 2


def module_bytes(model: Any) -> int:
    """Bytes of parameters and buffers of a torch module, or of every module a
    pipeline holds (``.components``)."""
    modules = []
    components = getattr(model, "components", None)
    if isinstance(components, dict):
        modules = [value for value in components.values() if hasattr(value, "parameters")]
    elif hasattr(model, "parameters"):
        modules = [model]
    seen: set[int] = set()
    total = 0
    for module in modules:
        for tensor in (*module.parameters(), *module.buffers()):
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
    return total


def largest_component_bytes(model: Any) -> int:
    components = getattr(model, "components", None)
    if not isinstance(components, dict):
        return module_bytes(model)
    return max((module_bytes(value) for value in components.values() if hasattr(value, "parameters")), default=0)


def is_out_of_memory(error: BaseException) -> bool:
    name = type(error).__name__
    return name == "OutOfMemoryError" or (isinstance(error, RuntimeError) and "out of memory" in str(error))


class ModelCache:
    def __init__(self, budgets: Mapping[str, int] | None = None, ram_budget: int | None = None) -> None:
        self._budgets = dict(budgets or {})
        self.ram_budget = ram_budget if ram_budget is not None else physical_memory() // 2
        self._entries: OrderedDict[tuple[Hashable, str], LoadedModel] = OrderedDict()
        self._lock = threading.RLock()
        self.hits = self.misses = self.loads = self.evictions = 0

    def budget(self, device: str) -> int:
        if device not in self._budgets:
            self._budgets[device] = default_budget(device)
        return self._budgets[device]

    def get(
        self,
        key: Hashable,
        device: str,
        load: Callable[[], Any],
        estimate: int,
        label: str,
    ) -> Any:
        """The model for ``key`` on ``device``: warm if cached, else loaded with ``load()``
        (which builds it on the CPU) after making room for about ``estimate`` bytes."""
        with self._lock:
            entry = self._entries.get((key, device))
            if entry is not None and entry.placement != PARKED:
                self._entries.move_to_end((key, device))
                entry.hits += 1
                self.hits += 1
                return entry.model
            if entry is not None:  # parked in RAM: a copy back, not a load from disk
                self._make_room(device, entry.bytes, keep=(key, device))
                self._place(entry, device)
                self._entries.move_to_end((key, device))
                entry.hits += 1
                self.hits += 1
                return entry.model
            self.misses += 1
            self._check_fits_in_ram(estimate, label)
            self._make_room(device, min(estimate, self.budget(device)), keep=None)
        log.info("loading %s for %s (about %.1f MB)", label, device, estimate / 1024**2)
        model = load()
        with self._lock:
            entry = LoadedModel(key, device, label, model, module_bytes(model))
            self._make_room(device, min(entry.bytes, self.budget(device)), keep=None)
            self._place(entry, device)
            self._entries[(key, device)] = entry
            self.loads += 1
            return model

    def run_guarded(self, device: str, keep: Hashable | None, work: Callable[[], Result], what: str) -> Result:
        """Run ``work``; on out-of-memory free every other model on the device and try
        once more; then fail with words a creator can act on."""
        try:
            return work()
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            log.warning("out of memory on %s during %s; freeing other models and retrying once", device, what)
        self.free(device, keep=keep)
        try:
            return work()
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            self.free(device, keep=None)
            raise OutOfMemory(
                f"ran out of {'GPU' if device != 'cpu' else ''} memory on {device} during {what}, even after "
                "freeing every other model; try a smaller size, fewer frames or a smaller batch"
            ) from None

    def free(self, device: str | None = None, keep: Hashable | None = None) -> None:
        """Drop cached models (on one device, or everywhere), except ``keep``."""
        with self._lock:
            for slot in [slot for slot in self._entries if (device is None or slot[1] == device)]:
                if slot[0] != keep:
                    self._drop(self._entries[slot])
        _release_memory(device)

    def state(self) -> ModelCacheState:
        with self._lock:
            by_device: dict[str, int] = {}
            parked = 0
            models = []
            for entry in self._entries.values():
                if entry.placement == PARKED:
                    parked += entry.bytes
                else:
                    by_device[entry.device] = by_device.get(entry.device, 0) + entry.bytes
                models.append({"label": entry.label, "device": entry.device, "bytes": entry.bytes,
                               "placement": entry.placement, "hits": entry.hits})
            return ModelCacheState(tuple(models), by_device, dict(self._budgets), parked, self.ram_budget,
                                   self.hits, self.misses, self.loads, self.evictions)

    # ----- placing and evicting ----------------------------------------------------------
    def _place(self, entry: LoadedModel, device: str) -> None:
        budget = self.budget(device)
        if device == "cpu" or entry.bytes <= budget:
            entry.model = _move(entry.model, device)
            entry.placement = RESIDENT
        elif largest_component_bytes(entry.model) <= budget and hasattr(entry.model, "enable_model_cpu_offload"):
            entry.model.enable_model_cpu_offload(device=device)
            entry.placement = MODEL_OFFLOAD
            log.info("%s (%d MB) exceeds the %s budget: running it with model CPU offload",
                     entry.label, entry.bytes // 1024**2, device)
        elif hasattr(entry.model, "enable_sequential_cpu_offload"):
            entry.model.enable_sequential_cpu_offload(device=device)
            entry.placement = SEQUENTIAL_OFFLOAD
            log.info("%s exceeds the %s budget even per component: sequential CPU offload", entry.label, device)
        else:
            raise NodeFailure(
                f"{entry.label} needs {entry.bytes / 1024**3:.1f} GB but {device} has a budget of "
                f"{budget / 1024**3:.1f} GB and the model cannot be offloaded"
            )

    def _used(self, device: str) -> int:
        return sum(entry.bytes for entry in self._entries.values()
                   if entry.device == device and entry.placement == RESIDENT)

    def _parked(self) -> int:
        return sum(entry.bytes for entry in self._entries.values() if entry.placement == PARKED)

    def _make_room(self, device: str, needed: int, keep: tuple[Hashable, str] | None) -> None:
        budget = self.budget(device)
        evicted = False
        for slot in list(self._entries):
            if self._used(device) + needed <= budget:
                break
            entry = self._entries[slot]
            if slot == keep or entry.device != device or entry.placement == PARKED:
                continue
            self.evictions += 1
            evicted = True
            if device != "cpu" and entry.placement == RESIDENT and self._park(entry):
                continue
            self._drop(entry)
        if evicted:  # collecting costs ~0.5 s once torch is loaded: only when memory was let go
            _release_memory(device)

    def _park(self, entry: LoadedModel) -> bool:
        """Move a model to CPU RAM when the RAM budget allows, dropping older parked ones."""
        if entry.bytes > self.ram_budget:
            return False
        for slot in list(self._entries):
            if self._parked() + entry.bytes <= self.ram_budget:
                break
            if self._entries[slot].placement == PARKED:
                self._drop(self._entries[slot])
        entry.model = _move(entry.model, "cpu")
        entry.placement = PARKED
        log.info("parked %s in CPU RAM to make room on %s", entry.label, entry.device)
        return True

    def _drop(self, entry: LoadedModel) -> None:
        self._entries.pop((entry.key, entry.device), None)
        log.info("unloaded %s from %s", entry.label, entry.device)

    def _check_fits_in_ram(self, estimate: int, label: str) -> None:
        available = physical_memory()
        if estimate > available:
            raise NodeFailure(
                f"{label} needs about {estimate / 1024**3:.1f} GB to load, more than this machine's "
                f"{available / 1024**3:.1f} GB of memory"
            )


def _move(model: Any, device: str) -> Any:
    moved = model.to(device)
    return model if moved is None else moved


def _release_memory(device: str | None) -> None:
    gc.collect()
    if device is None or device.startswith("cuda"):
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
