"""Canonical row digests: one sha256 per row, equal for the row delivered and the row the sink
gives back, whatever types the database returns.

:func:`row_digest` is the definition (one row at a time). :func:`column_digests` computes the
same digests a column at a time: numbers, booleans and strings are canonicalised and each row's
JSON payload assembled by Arrow, and only the sha256 stays in Python, row by row (a million
rows of five columns: 3.4 s, from 5.9 s when the payloads were joined in Python;
``benchmarks/sink_write.py``).
``tests/unit/test_row_digests.py`` checks that the two agree on every kind of value.
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
import pyarrow as pa
import pyarrow.compute as pc

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


def _join(*parts: pa.Array | str) -> pa.Array:
    """Arrow texts and literals joined element-wise (a null in any part gives null)."""
    return pc.binary_join_element_wise(
        *[pa.scalar(p, pa.large_string()) if isinstance(p, str) else pc.cast(p, pa.large_string())
          for p in parts], pa.scalar("", pa.large_string()))


def _canonical_arrow(values: pd.Series) -> pa.Array:
    """:func:`canonical_value` of every value of a column, as written to a sink (NaN as null),
    as an Arrow text array: computed in Arrow for typed columns (booleans, integers, floats and
    strings, and object columns of one such type); any other column value by value."""
    kind = values.dtype.kind
    if kind == "b" and not values.hasnans:
        out = pa.array(np.where(values.to_numpy(dtype=bool), "n:1", "n:0"))
    elif kind in "iu" and not values.hasnans:
        out = _join("n:", pc.cast(pa.array(values.to_numpy()), pa.string()))
    elif kind == "f":
        out = _floats_arrow(values.to_numpy(dtype=float, na_value=np.nan))
    elif isinstance(values.dtype, pd.StringDtype):
        text = pc.cast(pa.array(values, from_pandas=True), pa.large_string())
        out = pc.if_else(pc.is_null(text), "null", _join("s:", text))
    elif values.dtype == object and (typed := _typed(values)) is not None:
        return _canonical_arrow(typed)
    else:  # nullable integers, dates, Decimals, bytes, mixed objects
        out = pa.array([canonical_value(None if v is pd.NA else v)
                        for v in values.astype(object).where(values.notna(), None).tolist()],
                       type=pa.large_string())
    return pc.cast(out, pa.large_string())


# |v| in [1e-4, 1e10): Arrow's shortest round-trip text of a double is Python's repr (both
# positional there; outside it they write exponents differently, so repr is used)
_ARROW_REPR_RANGE = (1e-4, 1e10)


def _floats_arrow(values: np.ndarray) -> pa.Array:
    """Doubles' canonical texts: integral values as integers, fractions as Python's repr,
    NaN as null (see :func:`canonical_value`)."""
    nan = np.isnan(values)
    finite = np.isfinite(values)
    magnitude = np.abs(np.where(finite, values, 0.0))
    integral = finite & (np.floor(values) == values) & (magnitude < _INT_LIMIT)
    plain = finite & ~integral & (magnitude >= _ARROW_REPR_RANGE[0]) & (
        magnitude < _ARROW_REPR_RANGE[1])
    text = pc.if_else(pa.array(integral),
                      pc.cast(pa.array(np.where(integral, values, 0.0).astype(np.int64)),
                              pa.large_string()),
                      pc.cast(pa.array(values), pa.large_string()))
    other = ~integral & ~nan & ~plain  # tiny, huge and infinite: Python's repr, one by one
    if other.any():
        text = pc.replace_with_mask(text, pa.array(other), pa.array(
            [repr(v) for v in values[other].tolist()], type=pa.large_string()))
    return pc.if_else(pa.array(nan), "null", _join("n:", text))


def _json_strings(values: pd.Series) -> tuple[pa.Array, bool]:
    """(each value's canonical text, whether it is already a JSON string literal). Only a
    string can need escaping (a quote, backslash or control character; numbers, dates and hex
    never do), so one search over the column decides: if none does, the caller quotes the
    texts as they are; else each is written by json.dumps (ensure_ascii=False)."""
    texts = _canonical_arrow(values)
    if not pc.any(pc.match_substring_regex(texts, _NEEDS_ESCAPE.pattern)).as_py():
        return texts, False
    return pa.array([json.dumps(t, ensure_ascii=False) for t in texts.to_pylist()],
                    type=pa.large_string()), True


def column_digests(columns: Mapping[str, pd.Series], names: Sequence[str], rows: int
                   ) -> list[str]:
    """:func:`row_digest` of each of ``rows`` rows over ``names``, from columns (a name that is
    not among ``columns`` reads as null, as a missing field does in :func:`row_digest`).

    Each row's JSON payload is assembled by Arrow from the columns' canonical texts and the
    literal brackets and labels between them; only the sha256 is taken row by row."""
    pieces: list[pa.Array | str] = []
    for at, name in enumerate(sorted(names)):
        lead = ("[" if at == 0 else ",") + f"[{json.dumps(name, ensure_ascii=False)},"
        if name not in columns:
            pieces.append(lead + '"null"]')
            continue
        texts, quoted = _json_strings(columns[name])
        pieces += [lead, texts, "]"] if quoted else [lead + '"', texts, '"]']
    pieces.append("]" if names else "[]")
    literal = [p for p in pieces if isinstance(p, str)]
    if len(literal) == len(pieces):  # no column given: every row's payload is the same
        return [hashlib.sha256("".join(literal).encode()).hexdigest()] * rows
    merged: list[pa.Array | str] = []
    for piece in pieces:  # adjacent literals joined, so Arrow broadcasts fewer scalars
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    payload = pc.cast(_join(*merged), pa.large_binary())
    return [hashlib.sha256(raw).hexdigest() for raw in payload.to_pylist()]


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
