"""The fast path: the reference prepared once (quantile grid, deciles, category counts), then
each current batch pays only for one pass over its own values.

Each current numeric column is sorted once (a radix-friendly 1M-float sort takes ~8 ms), then the
reference's B-quantile grid (B = 1000 by default) is located in it with B binary searches. On the
grid:

- KS: ``D`` is exact at the grid points and at most one reference grid cell (1/B) below the
  exact statistic; the p-value uses the same asymptotic distribution as scipy's ``asymp``.
- normed Wasserstein: the integral of ``|F_ref - F_cur|`` by the trapezoid rule over the grid,
  plus the current's tails beyond the reference range, computed exactly; within 0.002 reference
  standard deviations of scipy's exact value in the tests (the default floor is 0.1).
- psi / jensen_shannon / hellinger / kl_div / tvd: the same decile bins as the exact functions.

Every other registered test runs its exact function against the reference's own values, so it
gives the in-memory statistic: numbers from the sorted reference sample that ``prepare(...,
keep_sample=True)`` keeps (it costs the reference's size in memory, so it is kept only when asked
for), categories from the category counts (always kept).

The documented error bounds are tested against the exact functions in tests/unit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from e2e_assets.drift.binning import EPS, SHARE_DISTANCES, bin_counts, bin_edges
from e2e_assets.drift.registry import METHODS, Outcome
from e2e_assets.errors import E2EAssetsError

GRID = 1000
FAST_METHODS = frozenset({"ks", "wasserstein", "psi", "jensen_shannon", "hellinger", "kl_div",
                          "tvd", "chi_square", "g_test", "z_test", "fisher_exact"})


def needs_sample(methods: Iterable[str]) -> bool:
    """Whether any of ``methods`` runs on the reference's values instead of its summary."""
    return any(m not in FAST_METHODS for m in methods)


def column_kind(values: pd.Series) -> str:
    """numeric (> 5 distinct numbers), binary (<= 2 distinct), else categorical."""
    if values.dtype.kind in "fiu":
        ordered = np.sort(numeric_values(values))  # cheaper than hashing a million floats
        distinct = int(np.count_nonzero(np.diff(ordered))) + 1 if len(ordered) else 0
    else:
        distinct = values.nunique(dropna=True)
    if distinct <= 2:
        return "binary"
    if values.dtype.kind in "fiu" and distinct > 5:
        return "numeric"
    return "categorical"


def numeric_values(s: pd.Series) -> np.ndarray:
    arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return arr[~np.isnan(arr)]


def category_values(s: pd.Series) -> np.ndarray:
    return s.dropna().astype(str).to_numpy(dtype=object)


@dataclass(frozen=True)
class PreparedColumn:
    name: str
    kind: str
    n: int
    edges: np.ndarray | None = None      # unique reference quantiles (numeric)
    cdf: np.ndarray | None = None        # F_ref at each edge
    deciles: np.ndarray | None = None    # interior bin edges, see binning.py (numeric)
    decile_shares: np.ndarray | None = None
    scale: float = 1.0                   # reference std (1.0 if constant)
    categories: np.ndarray | None = None
    counts: np.ndarray | None = None
    sample: np.ndarray | None = None     # sorted reference values, if kept (numeric)


def category_counts(s: pd.Series) -> pd.Series:
    """Counts per category (as strings), nulls dropped; no per-value Python objects made."""
    vc = s.value_counts(dropna=True)
    if vc.index.dtype.kind not in "OUT" and not isinstance(vc.index.dtype, pd.StringDtype):
        vc.index = vc.index.astype(str)
    return vc


def prepare_column(name: str, s: pd.Series, kind: str | None = None,
                   grid: int = GRID, keep_sample: bool = False) -> PreparedColumn:
    kind = kind or column_kind(s)
    if kind != "numeric":
        vc = category_counts(s)
        return PreparedColumn(name, kind, int(vc.sum()), categories=vc.index.to_numpy(object),
                              counts=vc.to_numpy(np.int64))
    ref = np.sort(numeric_values(s))
    n = len(ref)
    if n == 0:
        return PreparedColumn(name, kind, 0, sample=ref if keep_sample else None)
    edges = np.unique(ref[np.minimum((np.arange(grid + 1) * (n - 1)) // grid, n - 1)])
    cdf = np.searchsorted(ref, edges, side="right") / n
    dec = bin_edges(ref)
    sd = float(ref.std())
    return PreparedColumn(name, kind, n, edges=edges, cdf=cdf, deciles=dec,
                          decile_shares=bin_counts(ref, dec) / n, scale=sd if sd > 0 else 1.0,
                          sample=ref if keep_sample else None)


@dataclass(frozen=True)
class PreparedReference:
    key: str
    columns: Mapping[str, PreparedColumn]
    keep_sample: bool = False


_CACHE: OrderedDict[str, PreparedReference] = OrderedDict()
_LOCK = threading.Lock()
CACHE_SIZE = 8


def _cached(key: str, keep_sample: bool) -> PreparedReference | None:
    """The cached reference for ``key``; one prepared without its sample does not serve a
    request that needs the sample."""
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is None or (keep_sample and not hit.keep_sample):
            return None
        _CACHE.move_to_end(key)
        return hit


def prepare(reference: pd.DataFrame, *, key: str | None = None,
            columns: Sequence[str] | None = None, kinds: Mapping[str, str] | None = None,
            grid: int = GRID, keep_sample: bool = False) -> PreparedReference:
    """Prepare (or fetch from the in-process cache, by ``key``) a reference frame.

    ``keep_sample`` keeps each numeric column's sorted values, for the tests that have no
    summary-based fast path (see :func:`needs_sample`).
    """
    if key is None:
        from e2e_assets.frames import frame_digest

        key = frame_digest(reference)
    hit = _cached(key, keep_sample)
    if hit is not None:
        return hit
    cols = list(columns or reference.columns)
    from e2e_assets.drift.parallel import map_threads

    prepared = map_threads(lambda c: prepare_column(str(c), reference[c], (kinds or {}).get(c),
                                                    grid, keep_sample), cols)
    ref = PreparedReference(key=key, columns={str(c): p for c, p in zip(cols, prepared,
                                                                        strict=True)},
                            keep_sample=keep_sample)
    with _LOCK:
        _CACHE[key] = ref
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return ref


def prepare_lazily(key: str, build: Callable[[], pd.DataFrame],
                   columns: Sequence[str] | None = None, *,
                   keep_sample: bool = False) -> PreparedReference:
    """The cached prepared reference for ``key``, building the frame only on a cache miss."""
    hit = _cached(key, keep_sample)
    if hit is not None:
        return hit
    return prepare(build(), key=key, columns=columns, keep_sample=keep_sample)


def _ks_pvalue(d: float, n: int, m: int) -> float:
    en = n * m / (n + m)
    return float(stats.kstwo.sf(d, np.round(en)))


def fast_numeric(col: PreparedColumn, cur: np.ndarray, methods: Sequence[str]
                 ) -> dict[str, Outcome]:
    """Outcomes for one numeric column of the current batch (raw values, nulls dropped)."""
    if col.edges is None or col.deciles is None:
        raise _not_prepared(col, "numeric")
    cur = np.sort(cur)
    m = len(cur)
    f_cur = np.searchsorted(cur, col.edges, side="right") / m   # F_cur at each edge
    below_n = int(np.searchsorted(cur, col.edges[0], side="left"))
    above_at = int(np.searchsorted(cur, col.edges[-1], side="right"))
    tails = float(np.sum(col.edges[0] - cur[:below_n])) + float(np.sum(cur[above_at:]
                                                                       - col.edges[-1]))
    return numeric_outcomes(col, f_cur, m, below_n / m, tails / m,
                            bin_counts(cur, col.deciles) / m, methods)


def numeric_outcomes(col: PreparedColumn, f_cur: np.ndarray, m: int, below_share: float,
                     mean_tail_distance: float, cur_bin_shares: np.ndarray,
                     methods: Sequence[str]) -> dict[str, Outcome]:
    """KS, normed Wasserstein and binned distances from the current CDF on the reference grid
    (shared by the in-memory fast path and the SQL pushdown)."""
    if col.edges is None or col.cdf is None or col.decile_shares is None:
        raise _not_prepared(col, "numeric")
    out: dict[str, Outcome] = {}
    diff = np.abs(col.cdf - f_cur)
    if "ks" in methods:
        d = max(float(diff.max()), below_share)  # mass below the reference minimum counts too
        out["ks"] = Outcome(d, _ks_pvalue(d, col.n, m))
    if "wasserstein" in methods:
        inner = float(np.sum(0.5 * (diff[:-1] + diff[1:]) * np.diff(col.edges)))  # trapezoid
        out["wasserstein"] = Outcome((inner + mean_tail_distance) / col.scale)
    binned = [mth for mth in methods if mth in ("psi", "jensen_shannon", "hellinger", "kl_div",
                                                 "tvd")]
    if binned:
        out.update(_binned(col.decile_shares, cur_bin_shares, binned))
    return out


def _binned(r: np.ndarray, c: np.ndarray, methods: Sequence[str]) -> dict[str, Outcome]:
    r, c = np.maximum(r, EPS), np.maximum(c, EPS)
    return {mth: Outcome(SHARE_DISTANCES[mth](r, c)) for mth in methods}


def fast_categorical(col: PreparedColumn, cur: pd.Series, methods: Sequence[str]
                     ) -> dict[str, Outcome]:
    return categorical_outcomes(col, category_counts(cur), methods)


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
    binned = [mth for mth in methods if mth in ("psi", "jensen_shannon", "hellinger", "kl_div",
                                                 "tvd")]
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


def prepared_outcomes(col: PreparedColumn, cur: pd.Series, methods: Sequence[str]
                      ) -> dict[str, Outcome]:
    """Outcomes of ``methods`` for one current column against a prepared one: the fast path for
    :data:`FAST_METHODS`, every other test on the reference's own values."""
    fast = [m for m in methods if m in FAST_METHODS]
    if not fast:
        out: dict[str, Outcome] = {}
    elif col.kind == "numeric":
        out = fast_numeric(col, numeric_values(cur), fast)
    else:
        out = fast_categorical(col, cur, fast)
    rest = [m for m in methods if m not in FAST_METHODS]
    if rest:
        ref = reference_values(col)
        values = numeric_values(cur) if col.kind == "numeric" else category_values(cur)
        out.update({m: METHODS[m].fn(ref, values) for m in rest})
    return out


def describe(col: PreparedColumn) -> dict[str, Any]:
    return {"column": col.name, "kind": col.kind, "n": col.n}


def _not_prepared(col: PreparedColumn, kind: str) -> E2EAssetsError:
    return E2EAssetsError(f"the prepared reference column {col.name!r} holds no {kind} summary "
                          f"(it was prepared as {col.kind}); prepare the reference again")
