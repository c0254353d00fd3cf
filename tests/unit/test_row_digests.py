"""The column-at-a-time row digests equal the row-at-a-time definition on every kind of value,
for frames as delivered and for rows as a database returns them."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from e2e_assets.row_digests import (
    canonical_value,
    column_digests,
    fetched_columns,
    frame_digests,
    row_digest,
)


def by_row(df: pd.DataFrame) -> list[str]:
    """The definition, as the sink applies it: each row's values as written (NaN as None)."""
    names = [str(c) for c in df.columns]
    records = df.astype(object).where(df.notna(), None).to_dict("records")
    return [row_digest(r, names) for r in records]


def awkward_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    floats = rng.normal(0, 1e3, n)
    floats[rng.random(n) < 0.1] = np.nan
    floats[:6] = [0.1, -0.0, 2.0, 1e20, np.inf, 2.0 ** 63]
    words = rng.choice(["plain", 'quote"d', "back\\slash", "tab\there", "ünïcode ✓", "", "1"],
                       n).astype(object)
    words[rng.random(n) < 0.1] = None
    return pd.DataFrame({
        "request_id": [f"r{i}" for i in range(n)],
        "f": floats,
        "i": rng.integers(-(2 ** 62), 2 ** 62, n),
        "small": rng.integers(0, 5, n).astype(np.int32),
        "b": rng.random(n) < 0.5,
        "s": pd.Series(words, dtype="str"),
        "o": pd.Series(words, dtype=object),
        "nullable": pd.array([None if k % 7 == 0 else k for k in range(n)], dtype="Int64"),
        "when": pd.date_range("2026-01-01", periods=n, freq="h"),
        'odd "name"': rng.integers(0, 2, n),
    })


@pytest.mark.parametrize("seed", range(3))
def test_columns_agree_with_the_definition(seed: int) -> None:
    df = awkward_frame(500, seed)
    names = [str(c) for c in df.columns]
    assert column_digests({c: df[c] for c in names}, names, len(df)) == by_row(df)


def test_frame_digests_key_by_request_id() -> None:
    df = awkward_frame(50, 4)
    assert frame_digests(df, "request_id") == dict(zip(df["request_id"], by_row(df)))


def test_fetched_rows_of_python_objects_agree() -> None:
    """What SQLite and PostgreSQL return: ints for booleans, Decimals, None, big ints."""
    rows = [("a", 1, 1.0, True, Decimal("2.50"), None, "x", 2 ** 60, date(2026, 1, 2)),
            ("b", 0, 0.1, False, Decimal(3), 5, None, -(2 ** 60), datetime(2026, 1, 2, 3)),
            ("c", None, None, None, None, None, 'q"uote', 7, None)]
    fields = ["request_id", "flag", "f", "b", "dec", "maybe", "s", "big", "when"]
    expected = [row_digest(dict(zip(fields, r)), fields) for r in rows]
    assert column_digests(fetched_columns(rows, fields), fields, len(rows)) == expected


def test_a_column_the_source_lacks_reads_as_null() -> None:
    df = pd.DataFrame({"request_id": ["a"], "x": [1]})
    names = ["request_id", "x", "gone"]
    assert column_digests({c: df[c] for c in df.columns}, names, 1) == [
        row_digest({"request_id": "a", "x": 1}, names)]


def test_the_digest_is_the_documented_sha256() -> None:
    """sha256 of '[["a","n:1"],["b","s:x"]]' (columns sorted), computed by hand."""
    payload = '[["a","n:1"],["b","s:x"]]'
    assert row_digest({"b": "x", "a": 1.0}, ["b", "a"]) == hashlib.sha256(
        payload.encode()).hexdigest()
    assert json.loads(payload)[0] == ["a", canonical_value(True)]


def test_a_frame_digested_again_is_answered_from_the_recent_ones() -> None:
    df = awkward_frame(20, 5)
    first = frame_digests(df, "request_id")
    assert frame_digests(df, "request_id") is first  # the same object: not recomputed
    copy = df.copy()
    again = frame_digests(copy, "request_id")
    assert again == first and again is not first  # an equal frame is digested anew


def test_floats_of_every_magnitude_agree_with_the_definition() -> None:
    """Fractions are written by Arrow where its shortest text is Python's repr (|v| in
    [1e-4, 1e10)) and by repr elsewhere: random doubles of every exponent, the values next
    to both bounds, and integral values beyond int64 all agree with the definition."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2 ** 63, 4000, dtype=np.int64).view(np.float64)
    bounds = np.array([1e-4, 1e10, 1e16, 2.0 ** 63])
    near = np.concatenate([np.nextafter(bounds, 0), bounds, np.nextafter(bounds, np.inf)])
    values = np.concatenate([bits, near, -near, rng.random(500), rng.normal(0, 1e9, 500),
                             [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 0.1 + 0.2]])
    df = pd.DataFrame({"request_id": [f"r{i}" for i in range(len(values))], "v": values})
    assert column_digests({"request_id": df["request_id"], "v": df["v"]},
                          ["request_id", "v"], len(df)) == by_row(df)
