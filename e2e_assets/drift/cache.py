"""What lets ``drift.compare(reference_df, current_df)`` prepare a reference once: a cheap content
digest of a frame's columns (the cache of prepared references itself is a
:class:`~e2e_assets.bounded_cache.BoundedCache`).

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
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from e2e_assets.drift.parallel import map_threads


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
