"""The output cache shared by every run of an executor: node outputs by cache key,
least recently used first out, within a byte budget.

ComfyUI's default cache forgets graph A as soon as graph B runs; this one keeps
both for as long as memory allows, so switching between workflows is free.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable

from nodes.types import estimate_bytes

DEFAULT_BUDGET = 2 * 1024**3


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int
    budget: int
    hits: int
    misses: int
    evictions: int


class OutputCache:
    """Thread-safe LRU of node outputs (tuples in output order) with a byte budget."""

    def __init__(self, max_bytes: int = DEFAULT_BUDGET) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[tuple[Any, ...], int]] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Any, ...] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[0]

    def put(self, key: str, outputs: tuple[Any, ...], size: int | None = None) -> bool:
        """Keep ``outputs``; False when they alone are larger than the whole budget."""
        if size is None:
            size = estimate_bytes(outputs)
        if size > self.max_bytes:
            return False
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (outputs, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted_size) = self._entries.popitem(last=False)
                self._bytes -= evicted_size
                self._evictions += 1
        return True

    def discard(self, keys: Iterable[str]) -> int:
        """Forget these entries (outputs their owner knows will never be asked for again, such
        as a live canvas's superseded strokes) so they do not push useful ones out; returns how many."""
        dropped = 0
        with self._lock:
            for key in keys:
                entry = self._entries.pop(key, None)
                if entry is not None:
                    self._bytes -= entry[1]
                    dropped += 1
        return dropped

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(len(self._entries), self._bytes, self.max_bytes,
                              self._hits, self._misses, self._evictions)
