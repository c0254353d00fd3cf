"""The prepared engine: a current column's outcomes against a prepared reference column.

The current column is read once (:func:`read_current`: its numbers sorted, or its category
counts); the statistics of :data:`~.prepared.FAST_METHODS` come from that and the reference's
summary (bounds in :mod:`.prepared`), every other test from its exact function on both samples'
values. The numeric and categorical outcome functions are shared with the SQL pushdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from e2e_assets.drift.binning import EPS, SHARE_DISTANCES, bin_counts
from e2e_assets.drift.prepared import (
    FAST_METHODS,
    PreparedColumn,
    category_counts,
    category_values,
    numeric_values,
    sorted_numbers,
)
from e2e_assets.drift.registry import METHODS, Outcome
from e2e_assets.errors import E2EAssetsError


@dataclass(frozen=True)
class CurrentColumn:
    """A current column read once, nulls dropped: its numbers sorted (numeric columns) or its
    category counts, index the category as text (other kinds)."""

    sorted_values: np.ndarray | None = None
    counts: pd.Series | None = None

    @property
    def n(self) -> int:
        if self.sorted_values is not None:
            return len(self.sorted_values)
        return 0 if self.counts is None else int(self.counts.sum())


def read_current(kind: str, cur: pd.Series) -> CurrentColumn:
    if kind == "numeric":
        return CurrentColumn(sorted_values=sorted_numbers(cur))
    return CurrentColumn(counts=category_counts(cur))


def _ks_pvalue(d: float, n: int, m: int) -> float:
    en = n * m / (n + m)
    return float(stats.kstwo.sf(d, np.round(en)))


def fast_numeric(col: PreparedColumn, cur: np.ndarray, methods: Sequence[str]
                 ) -> dict[str, Outcome]:
    """Outcomes for one numeric column of the current batch (values sorted, nulls dropped)."""
    if col.edges is None or col.deciles is None:
        raise _not_prepared(col, "numeric")
    m = len(cur)
    at_or_below = np.searchsorted(cur, col.edges, side="right")
    strictly_below = np.searchsorted(cur, col.edges, side="left")
    f_cur, f_cur_below = at_or_below / m, strictly_below / m  # F_cur at and just below each edge
    below_n = int(strictly_below[0])
    above_at = int(np.searchsorted(cur, col.edges[-1], side="right"))
    tails = float(np.sum(col.edges[0] - cur[:below_n])) + float(np.sum(cur[above_at:]
                                                                       - col.edges[-1]))
    return numeric_outcomes(col, f_cur, m, below_n / m, tails / m,
                            bin_counts(cur, col.deciles) / m, methods, f_cur_below=f_cur_below)


def numeric_outcomes(col: PreparedColumn, f_cur: np.ndarray, m: int, below_share: float,
                     mean_tail_distance: float, cur_bin_shares: np.ndarray,
                     methods: Sequence[str], *, f_cur_below: np.ndarray | None = None
                     ) -> dict[str, Outcome]:
    """KS, normed Wasserstein and binned distances from the current CDF on the reference grid
    (shared by the in-memory fast path and the SQL pushdown). With both CDFs' left limits at the
    grid points (``col.cdf_below``, ``f_cur_below``), a cell whose inside holds no reference
    value is read exactly; without them (SQL), the CDFs at the edges stand in."""
    if col.edges is None or col.cdf is None or col.decile_shares is None:
        raise _not_prepared(col, "numeric")
    out: dict[str, Outcome] = {}
    diff = np.abs(col.cdf - f_cur)
    diff_below = diff if col.cdf_below is None or f_cur_below is None \
        else np.abs(col.cdf_below - f_cur_below)
    if "ks" in methods:  # mass below the reference minimum counts too
        d = max(float(diff.max()), float(diff_below.max()), below_share)
        out["ks"] = Outcome(d, _ks_pvalue(d, col.n, m))
    if "wasserstein" in methods:  # trapezoid from each edge to just below the next
        inner = float(np.sum(0.5 * (diff[:-1] + diff_below[1:]) * np.diff(col.edges)))
        out["wasserstein"] = Outcome((inner + mean_tail_distance) / col.scale)
    binned = [mth for mth in methods if mth in SHARE_DISTANCES]
    if binned:
        out.update(_binned(col.decile_shares, cur_bin_shares, binned))
    return out


def _binned(r: np.ndarray, c: np.ndarray, methods: Sequence[str]) -> dict[str, Outcome]:
    r, c = np.maximum(r, EPS), np.maximum(c, EPS)
    return {mth: Outcome(SHARE_DISTANCES[mth](r, c)) for mth in methods}


def categorical_outcomes(col: PreparedColumn, vc: pd.Series, methods: Sequence[str]
                         ) -> dict[str, Outcome]:
    """Outcomes from the current batch's category counts (index: category as text)."""
    if col.categories is None or col.counts is None:
        raise _not_prepared(col, "categorical")
    cats = pd.Index(col.categories).union(vc.index)
    ref_counts = pd.Series(col.counts, index=col.categories).reindex(cats, fill_value=0)
    cur_counts = vc.reindex(cats, fill_value=0)
    table = np.vstack([ref_counts.to_numpy(), cur_counts.to_numpy()]).astype(np.int64)
    out: dict[str, Outcome] = {}
    for mth in methods:
        if mth in ("chi_square", "g_test"):
            if table.shape[1] < 2:
                out[mth] = Outcome(0.0, 1.0)
                continue
            res = stats.chi2_contingency(table, correction=False,
                                         lambda_="log-likelihood" if mth == "g_test" else None)
            out[mth] = Outcome(float(res.statistic), float(res.pvalue))
        elif mth in ("z_test", "fisher_exact"):
            from e2e_assets.drift.methods import fisher_exact, z_test

            ref_vals = np.repeat(ref_counts.index.to_numpy(object), ref_counts.to_numpy())
            cur_vals = np.repeat(cur_counts.index.to_numpy(object), cur_counts.to_numpy())
            out[mth] = (z_test if mth == "z_test" else fisher_exact)(ref_vals, cur_vals)
    binned = [mth for mth in methods if mth in SHARE_DISTANCES]
    if binned:
        out.update(_binned(table[0] / max(table[0].sum(), 1), table[1] / max(table[1].sum(), 1),
                           binned))
    return out


def reference_values(col: PreparedColumn) -> np.ndarray:
    """The reference's own values (nulls dropped): the kept sample, or the categories repeated
    by their counts."""
    if col.kind == "numeric":
        if col.sample is None:
            raise ValueError(f"the prepared reference column {col.name!r} kept no sample; "
                             f"prepare it with keep_sample=True for tests outside "
                             f"{sorted(FAST_METHODS)}")
        return col.sample
    if col.categories is None or col.counts is None:
        raise _not_prepared(col, "categorical")
    return np.repeat(col.categories.astype(str).astype(object), col.counts)


def prepared_outcomes(col: PreparedColumn, cur: pd.Series, methods: Sequence[str], *,
                      current: CurrentColumn | None = None,
                      reference: pd.Series | None = None) -> dict[str, Outcome]:
    """Outcomes of ``methods`` for one current column against a prepared one: the prepared
    engine for :data:`FAST_METHODS`; every other test runs its exact function on the reference's
    own values, from ``reference`` (the frame's column) when given, else the kept sample.
    ``current``: ``cur`` already read by :func:`read_current`."""
    fast = [m for m in methods if m in FAST_METHODS]
    out: dict[str, Outcome] = {}
    if fast:
        current = current or read_current(col.kind, cur)
        if col.kind == "numeric" and current.sorted_values is not None:
            out = fast_numeric(col, current.sorted_values, fast)
        elif current.counts is not None:
            out = categorical_outcomes(col, current.counts, fast)
        missing = [m for m in fast if m not in out]
        if missing:
            raise E2EAssetsError(f"drift methods {missing} declare the prepared engine, but it "
                                 f"computes no such statistic for {col.kind} column "
                                 f"{col.name!r}; declare engines=('exact',) or implement it "
                                 f"in prepared_engine.py")
    rest = [m for m in methods if m not in FAST_METHODS]
    if rest:
        values = numeric_values if col.kind == "numeric" else category_values
        ref = reference_values(col) if reference is None else values(reference)
        out.update({m: METHODS[m].fn(ref, values(cur)) for m in rest})
    return out


def _not_prepared(col: PreparedColumn, kind: str) -> E2EAssetsError:
    return E2EAssetsError(f"the prepared reference column {col.name!r} holds no {kind} summary "
                          f"(it was prepared as {col.kind}); prepare the reference again")
