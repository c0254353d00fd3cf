"""Draft a GX suite from a reference sample: columns, types, null rates, ranges, category sets.

GX 1.x dropped its profilers; this gives a starting point that a person then edits. Types are
left to the contract check (GX's type names differ between pandas and each SQL dialect). Bounds are
the observed ones widened by ``margin`` (share of the range) and null tolerances get the same
slack, so a draft passes on the sample it was drawn from and on similar batches.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

MAX_CATEGORIES = 25


def suggest_suite(df: pd.DataFrame, *, name: str, id_column: str | None = None,
                  margin: float = 0.1, sensitive: tuple[str, ...] = ()) -> dict[str, Any]:
    """A GX 1.x suite (as a dict) describing ``df``."""
    rows = len(df)
    exps: list[dict[str, Any]] = [
        {"type": "expect_table_columns_to_match_set",
         "kwargs": {"column_set": [str(c) for c in df.columns], "exact_match": True}},
        {"type": "expect_table_row_count_to_be_between",
         "kwargs": {"min_value": max(1, int(rows * (1 - margin * 5))),
                    "max_value": int(math.ceil(rows * (1 + margin * 5)))}},
    ]
    for col in df.columns:
        s = df[col]
        name_ = str(col)
        null_rate = float(s.isna().mean()) if rows else 0.0
        not_null: dict[str, Any] = {"column": name_}
        if null_rate > 0:
            not_null["mostly"] = round(max(0.0, 1 - null_rate - margin / 2), 3)
        exps.append({"type": "expect_column_values_to_not_be_null", "kwargs": not_null})
        if name_ == id_column:
            exps.append({"type": "expect_column_values_to_be_unique", "kwargs": {"column": name_}})
            continue
        values = s.dropna()
        if s.dtype.kind in "fiu" and len(values):
            lo, hi = float(values.min()), float(values.max())
            pad = (hi - lo) * margin
            unit = 0.0 <= lo and hi <= 1.0  # a share or probability: the bounds are [0, 1]
            exps.append({"type": "expect_column_values_to_be_between",
                         "kwargs": {"column": name_,
                                    "min_value": 0.0 if unit else _round(lo - pad, lo >= 0),
                                    "max_value": 1.0 if unit else _round(hi + pad, False)}})
            if name_ not in sensitive:  # the batch mean within half a reference std
                mean, half = float(values.mean()), float(values.std()) / 2
                exps.append({"type": "expect_column_mean_to_be_between", "kwargs": {
                    "column": name_, "min_value": _round(mean - half, lo >= 0),
                    "max_value": _round(mean + half, False)}})
        elif s.dtype.kind not in "fiuMb" and 0 < values.nunique() <= MAX_CATEGORIES:
            exps.append({"type": "expect_column_values_to_be_in_set",
                         "kwargs": {"column": name_,
                                    "value_set": sorted(map(str, values.unique()))}})
    return {"name": name, "expectations": exps,
            "meta": {"drafted_by": "e2e-assets suggest-suite", "sample_rows": rows,
                     "note": "A draft: review every bound before relying on it."}}


def _round(x: float, clamp_zero: bool) -> float:
    value = max(0.0, x) if clamp_zero else x
    return float(f"{value:.6g}")
