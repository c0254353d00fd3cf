"""What lets ``drift.compare(reference_df, current_df)`` prepare a reference once: a cheap content
digest of a frame's columns, and a small, thread-safe LRU cache of prepared references.

The digest reads each column's memory once: sha256 over a numpy column's buffer (SHA-NI makes
that ~1.5 GB/s), over an Arrow-backed column's buffers, and over pandas' per-row hashes for
anything else (object columns: values digested by their text, which is how every drift test
compares categories). It covers the column names, dtypes, lengths and values, not the index or
the frame object: an equal copy digests the same, a frame mutated in place does not.

The cache is bounded twice: by entries (LRU) and by the bytes its entries hold (a prepared
reference keeps a 1,000-point grid per numeric column, but category lists and kept samples can
be large). The newest entry always stays, so a single large reference is still reused.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from e2e_assets.drift.parallel import map_threads

V = TypeVar("V")


def content_digest(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """sha256 over ``columns`` of ``frame`` (in name order): names, dtypes, lengths, values."""
    names = sorted(columns)
    parts = map_threads(lambda name: _column_digest(name, frame[name]), names)
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return "content:sha256:" + h.hexdigest()


def _column_digest(name: str, s: pd.Series) -> bytes:
    h = hashlib.sha256(repr((name, str(s.dtype), len(s))).encode())
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biufcmM":
        h.update(_bytes(s.to_numpy()))
        return h.digest()
    chunks = _arrow_chunks(s)
    if chunks is not None:
        for chunk in chunks:
            h.update(repr((chunk.offset, len(chunk))).encode())
            for buf in chunk.buffers():
                h.update(b"-" if buf is None else buf)
        return h.digest()
    h.update(_bytes(pd.util.hash_pandas_object(s, index=False).to_numpy()))
    return h.digest()


def _bytes(values: np.ndarray) -> memoryview:
    return np.ascontiguousarray(values).view(np.uint8).data


def _arrow_chunks(s: pd.Series) -> list[Any] | None:
    """The Arrow chunks behind ``s`` when their buffers hold all of its values (fixed-width
    and string/binary types; not dictionaries or nested types, whose buffers do not)."""
    to_arrow = getattr(s.array, "__arrow_array__", None)
    if to_arrow is None or isinstance(s.dtype, np.dtype):
        return None
    import pyarrow as pa

    arr = to_arrow()
    t = arr.type
    flat = (pa.types.is_primitive(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
            or pa.types.is_binary(t) or pa.types.is_large_binary(t))
    if not flat:
        return None
    return list(arr.chunks) if isinstance(arr, pa.ChunkedArray) else [arr]


@dataclass(frozen=True)
class CacheInfo:
    hits: int
    misses: int
    entries: int
    nbytes: int
    max_entries: int
    max_bytes: int


class BoundedCache(Generic[V]):
    """LRU by entries and by bytes (``size`` of each value), safe to share across threads."""

    def __init__(self, max_entries: int, max_bytes: int, size: Callable[[V], int]) -> None:
        self.max_entries, self.max_bytes, self._size = max_entries, max_bytes, size
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
        nbytes = self._size(value)
        with self._lock:
            self._entries[key] = (value, nbytes)
            self._entries.move_to_end(key)
            while len(self._entries) > 1 and (len(self._entries) > self.max_entries
                                              or self._nbytes() > self.max_bytes):
                self._entries.popitem(last=False)

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
