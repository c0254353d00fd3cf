"""A small LRU cache bounded by entries and by bytes, safe to share across threads: the drift
engine's prepared references and the shared database engines are kept in one."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class CacheInfo:
    hits: int
    misses: int
    entries: int
    nbytes: int
    max_entries: int
    max_bytes: int


class BoundedCache(Generic[V]):
    """LRU by entries and by bytes (``size`` of each value), safe to share across threads.
    ``on_evict`` is called (outside the lock) with each value the bounds push out, e.g. to close
    what it holds open."""

    def __init__(self, max_entries: int, max_bytes: int, size: Callable[[V], int],
                 on_evict: Callable[[V], None] | None = None) -> None:
        self.max_entries, self.max_bytes, self._size = max_entries, max_bytes, size
        self._on_evict = on_evict
        self._entries: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = 0

    def get(self, key: str, usable: Callable[[V], bool] = lambda _: True) -> V | None:
        """The value cached under ``key`` if ``usable`` accepts it (counted as a hit)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not usable(entry[0]):
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[0]

    def put(self, key: str, value: V) -> None:
        self._store(key, value, replace=True)

    def setdefault(self, key: str, value: V) -> V:
        """The value cached under ``key``; ``value``, cached, if there is none (two threads
        that built one each keep the first)."""
        return self._store(key, value, replace=False)

    def pop(self, key: str) -> V | None:
        with self._lock:
            entry = self._entries.pop(key, None)
        return entry[0] if entry is not None else None

    def _store(self, key: str, value: V, *, replace: bool) -> V:
        nbytes = self._size(value)
        evicted = []
        with self._lock:
            if not replace and key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            self._entries[key] = (value, nbytes)
            self._entries.move_to_end(key)
            while len(self._entries) > 1 and (len(self._entries) > self.max_entries
                                              or self._nbytes() > self.max_bytes):
                evicted.append(self._entries.popitem(last=False)[1][0])
        if self._on_evict is not None:
            for old in evicted:
                self._on_evict(old)
        return value

    def _nbytes(self) -> int:
        return sum(n for _, n in self._entries.values())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._hits = self._misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._entries), self._nbytes(),
                             self.max_entries, self.max_bytes)
