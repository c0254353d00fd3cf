"""Draft a GX suite from reference data (the model version's training data, by default): one
that holds on other batches of the same population and fails on material faults.

GX 1.x dropped its profilers; this gives a reviewed starting point. Each expectation carries
GX's own ``severity``: ``critical`` fails the check, ``warning`` reports without blocking.
The margins, per column of the reference (n rows):

* **domain** (critical, every value): a 0/1 column is in {0, 1}; a column within [0, 1] (a
  rate, a probability) stays in [0, 1]; a column never negative stays >= 0;
* **range** (critical, ``mostly: 0.98``): between the reference's 0.5% and 99.5% quantiles,
  each moved outwards by three standard errors of its rank (sqrt(p(1-p)/n), distribution-free)
  and then by ``margin`` (10%) of the span between them: a batch from the same population has
  about 1% of values outside, a unit change or a scaling has nearly all;
* **mean** (warning): within half a reference standard deviation;
* **nulls** (critical): at most the reference's null rate plus three standard errors plus 1%;
* **categories** (critical, ``mostly: 0.99``): the levels seen in the reference (at most 25),
  so a rare new level warns nobody but a renamed or swapped column fails;
* **request id**: never null, unique. The label column (``labels.column``) is left out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

MAX_CATEGORIES = 25
P_LOW, P_HIGH = 0.005, 0.995
RANGE_MOSTLY, CATEGORY_MOSTLY = 0.98, 0.99


def _rank_quantiles(values: np.ndarray[Any, Any]) -> tuple[float, float, float, float]:
    """(q_low, q_high) at P_LOW/P_HIGH, and both moved outwards by three rank standard errors."""
    n = len(values)
    pad = [3 * math.sqrt(p * (1 - p) / n) for p in (P_LOW, P_HIGH)]
    q_lo, q_hi, wide_lo, wide_hi = np.quantile(values, [P_LOW, P_HIGH, max(0.0, P_LOW - pad[0]),
                                                        min(1.0, P_HIGH + pad[1])])
    return float(q_lo), float(q_hi), float(wide_lo), float(wide_hi)


def _numeric(name: str, values: pd.Series, margin: float, sensitive: bool
             ) -> list[dict[str, Any]]:
    data = values.to_numpy(dtype=float)
    lo, hi = float(data.min()), float(data.max())
    if set(np.unique(data)) <= {0.0, 1.0}:
        return [_exp("expect_column_values_to_be_in_set", name, value_set=[0, 1])]
    if 0.0 <= lo and hi <= 1.0:  # a share or a probability
        domain = [_exp("expect_column_values_to_be_between", name, min_value=0.0, max_value=1.0)]
    else:
        domain = [_exp("expect_column_values_to_be_between", name, min_value=0.0)] \
            if lo >= 0 else []
    q_lo, q_hi, wide_lo, wide_hi = _rank_quantiles(data)
    pad = (q_hi - q_lo) * margin
    low = max(0.0, wide_lo - pad) if lo >= 0 else wide_lo - pad
    out = [*domain, _exp("expect_column_values_to_be_between", name, min_value=_round(low),
                         max_value=_round(wide_hi + pad), mostly=RANGE_MOSTLY)]
    if not sensitive:  # the batch mean within half a reference std: a warning
        mean, half = float(data.mean()), float(data.std()) / 2
        floor = max(0.0, mean - half) if lo >= 0 else mean - half
        out.append(_exp("expect_column_mean_to_be_between", name, severity="warning",
                        min_value=_round(floor), max_value=_round(mean + half)))
    return out


def suggest_suite(reference: pd.DataFrame, *, name: str, id_column: str | None = None,
                  margin: float = 0.1, sensitive: tuple[str, ...] = (),
                  label: str | None = None) -> dict[str, Any]:
    """A GX 1.x suite (as a dict) that ``reference``'s population meets (see the module doc)."""
    df = reference.drop(columns=[label]) if label and label in reference.columns else reference
    rows = len(df)
    exps: list[dict[str, Any]] = [
        {"type": "expect_table_columns_to_match_set",
         "kwargs": {"column_set": [str(c) for c in df.columns], "exact_match": True}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}]
    for col in df.columns:
        s, name_ = df[col], str(col)
        null_rate = float(s.isna().mean()) if rows else 0.0
        slack = 3 * math.sqrt(null_rate * (1 - null_rate) / max(rows, 1)) + 0.01
        exps.append(_exp("expect_column_values_to_not_be_null", name_,
                         mostly=round(max(0.0, 1 - null_rate - slack), 4)))
        values = s.dropna()
        if name_ == id_column:
            exps[-1]["kwargs"].pop("mostly")
            exps.append(_exp("expect_column_values_to_be_unique", name_))
        elif s.dtype.kind == "b":
            exps.append(_exp("expect_column_values_to_be_in_set", name_, value_set=[True, False]))
        elif s.dtype.kind in "fiu" and len(values):
            exps += _numeric(name_, values, margin, name_ in sensitive)
        elif s.dtype.kind not in "fiuM" and 0 < values.nunique() <= MAX_CATEGORIES:
            exps.append(_exp("expect_column_values_to_be_in_set", name_,
                             value_set=sorted(map(str, values.unique())),
                             mostly=CATEGORY_MOSTLY))
    return {"name": name, "expectations": exps,
            "meta": {"drafted_by": "e2e-assets suggest-suite", "reference_rows": rows,
                     "margins": "see e2e_assets/checks/suggest.py",
                     "note": "A draft: review every bound before relying on it."}}


def _exp(kind: str, column: str, *, severity: str = "critical", **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": {"column": column, **kwargs}, "severity": severity}


def _round(x: float) -> float:
    return float(f"{x:.6g}")
