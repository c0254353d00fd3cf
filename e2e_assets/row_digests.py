"""Canonical row digests: one sha256 per row, equal for the row delivered and the row the sink
gives back, whatever types the database returns.

:func:`row_digest` is the definition (one row at a time). :func:`column_digests` computes the
same digests a column at a time: numbers, booleans and strings are canonicalised with numpy and
pandas, and only the per-row JSON join and sha256 stay in Python, so a million rows take seconds
instead of tens of seconds. ``tests/unit/test_row_digests.py`` checks that the two agree on
every kind of value.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import weakref
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_INT_LIMIT = 2 ** 63


def canonical_value(value: Any) -> str:
    """One text per value, equal for the value delivered and the value the sink gives back.

    SQLite and PostgreSQL return booleans as bool or 0/1, integral floats as floats or ints and
    NUMERIC as Decimal: numbers (booleans included) compare by value, so ``True``, ``1`` and
    ``1.0`` agree, while the string ``"1"`` does not. None, NaN and NaT are one missing value.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT:
        return "null"
    if isinstance(value, bool):
        return f"n:{int(value)}"
    if isinstance(value, (int, float, Decimal)):
        number = float(value) if not isinstance(value, int) else value
        if isinstance(number, float):
            if math.isnan(number):
                return "null"
            if number.is_integer() and abs(number) < _INT_LIMIT:
                number = int(number)
        return f"n:{number!r}"
    if isinstance(value, (datetime, date)):
        return f"t:{pd.Timestamp(value).isoformat()}"
    if isinstance(value, bytes):
        return f"b:{value.hex()}"
    return f"s:{value}"


def row_digest(row: Mapping[Any, Any], columns: Sequence[str]) -> str:
    """sha256 of the row's canonical values over ``columns`` (order-free)."""
    payload = json.dumps([[c, canonical_value(row.get(c))] for c in sorted(columns)],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _floats(values: np.ndarray) -> list[str]:
    out = np.full(len(values), "null", dtype=object)
    finite = np.isfinite(values)
    integral = finite & (np.floor(values) == values) & (np.abs(values) < _INT_LIMIT)
    out[integral] = np.char.add("n:", values[integral].astype(np.int64).astype(str)).astype(object)
    rest = ~integral & ~np.isnan(values)  # fractions and infinities: Python's repr
    out[rest] = [f"n:{v!r}" for v in values[rest].tolist()]
    return out.tolist()


def _strings(values: pd.Series) -> list[str]:
    nulls = values.isna().to_numpy()
    texts = values.to_numpy(dtype=object)
    return ["null" if null else "s:" + text for text, null in zip(texts.tolist(), nulls.tolist())]


def canonical_column(values: pd.Series) -> list[str]:
    """:func:`canonical_value` of every value of a column, as written to a sink (NaN as null)."""
    kind = values.dtype.kind
    if kind == "b" and not values.hasnans:
        return np.where(values.to_numpy(dtype=bool), "n:1", "n:0").tolist()
    if kind in "iu" and not values.hasnans:
        return np.char.add("n:", values.to_numpy().astype(str)).tolist()
    if kind == "f":
        return _floats(values.to_numpy(dtype=float, na_value=np.nan))
    if isinstance(values.dtype, pd.StringDtype):
        return _strings(values)
    if values.dtype == object:
        typed = _typed(values)
        if typed is not None:
            return canonical_column(typed)
    return [canonical_value(None if v is pd.NA else v)
            for v in values.astype(object).where(values.notna(), None).tolist()]


def _typed(values: pd.Series) -> pd.Series | None:
    """An object column holding one Python type (as a database returns them) as a typed one,
    or None: strings, floats, booleans, and integers that fit in int64, nulls allowed."""
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    nulls = values.isna()
    try:
        if inferred == "string":
            return values.astype(pd.StringDtype(na_value=np.nan))
        if inferred == "floating":
            return values.astype(float)
        if inferred == "boolean" and not nulls.any():
            return values.astype(bool)
        if inferred == "integer":
            if not nulls.any():
                return values.astype(np.int64)
            return values.astype(float) if _exact_in_float(values[~nulls]) else None
    except (OverflowError, TypeError, ValueError):
        return None
    return None


def _exact_in_float(ints: pd.Series) -> bool:
    """Integers that float64 holds exactly (|n| <= 2**53), so their canonical text is kept."""
    return bool((ints.astype(object).abs() <= 2 ** 53).all()) if len(ints) else True


def _labelled(label: str, values: pd.Series) -> list[str]:
    """``[label,value]`` of each value as JSON (json.dumps, ensure_ascii=False). Only a string
    can need escaping (a quote, backslash or control character; numbers, dates and hex never
    do), so one search over the column's distinct strings decides for the whole column."""
    if values.dtype == object:
        typed = _typed(values)
        values = typed if typed is not None else values
    texts = canonical_column(values)
    if values.dtype.kind in "biufM" or not any(
            isinstance(v, str) and _NEEDS_ESCAPE.search(v)
            for v in pd.unique(values.dropna().to_numpy(dtype=object))):
        return [f'[{label},"{t}"]' for t in texts]
    return [f"[{label},{json.dumps(t, ensure_ascii=False)}]" for t in texts]


def column_digests(columns: Mapping[str, pd.Series], names: Sequence[str], rows: int
                   ) -> list[str]:
    """:func:`row_digest` of each of ``rows`` rows over ``names``, from columns (a name that is
    not among ``columns`` reads as null, as a missing field does in :func:`row_digest`)."""
    parts = []
    for name in sorted(names):
        label = json.dumps(name, ensure_ascii=False)
        if name in columns:
            parts.append(_labelled(label, columns[name]))
        else:
            parts.append([f'[{label},"null"]'] * rows)
    if not parts:
        return [hashlib.sha256(b"[]").hexdigest()] * rows
    return [hashlib.sha256(f"[{','.join(row)}]".encode()).hexdigest() for row in zip(*parts)]


def frame_digests(df: pd.DataFrame, key: str) -> dict[Any, str]:
    """{request id: row digest} for a frame, values converted as they are written.

    The last few frames' digests are kept while those frame objects live: a delivery digests
    its frame for the ledger and reconcile digests the same object again right after (a
    million rows, seconds each). A frame must not be changed in place after it is digested;
    the stages' outputs never are."""
    cached = _RECENT.get(id(df))
    if cached is not None and cached[0]() is df and cached[1] == key:
        return cached[2]
    names = [str(c) for c in df.columns]
    digests = column_digests({str(c): df[c] for c in df.columns}, names, len(df))
    ids = [v.item() if isinstance(v, np.generic) else v for v in df[key].tolist()]
    out = dict(zip(ids, digests))
    _RECENT[id(df)] = (weakref.ref(df), key, out)
    while len(_RECENT) > _KEEP:
        _RECENT.pop(next(iter(_RECENT)))
    return out


_KEEP = 2
_RECENT: dict[int, tuple[weakref.ref[pd.DataFrame], str, dict[Any, str]]] = {}


def fetched_columns(rows: Sequence[Sequence[Any]], fields: Sequence[str]) -> dict[str, pd.Series]:
    """Rows fetched from a database as columns of Python objects, for :func:`column_digests`."""
    if not rows:
        return {f: pd.Series([], dtype=object) for f in fields}
    return {f: pd.Series(values, dtype=object) for f, values in zip(fields, zip(*rows))}
