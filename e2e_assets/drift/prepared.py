"""The fast path: the reference prepared once (quantile grid, deciles, category counts), then
each current batch pays only for one pass over its own values.

``drift.compare(reference_df, current_df)`` takes this path by itself: it prepares the reference
on first sight and keeps it in a small in-process cache keyed by the reference's content digest
(see :mod:`.cache`), so the same reference passed again, even as an equal copy, is not prepared
again. ``compare(..., exact=True)`` runs the exact functions instead.

Each current numeric column is sorted once (a 1M-float sort takes ~15 ms), then the
reference's grid (:func:`grid_edges`: its B + 1 quantiles, B + 1 evenly spaced points, and
every distinct value when there are at most 4B; B = 1000 by default) is located in it with
binary searches. On the grid:

- KS: ``|F_ref - F_cur|`` is read at each grid point and just below it (both CDFs' left
  limits), so ``D`` is never above the exact statistic and at most the reference mass strictly
  inside one grid cell (< 1/B) below it; exact when every distinct reference value is a grid
  point (at most 4B of them: integers, rounded amounts), even when the current's values fall
  between them. The p-value uses the same asymptotic distribution as scipy's ``asymp``.
- normed Wasserstein: the integral of ``|F_ref - F_cur|`` by the trapezoid rule over each grid
  cell (from its left edge to just below its right edge; no cell holds more than 1/B of the
  reference inside nor is wider than its range / B), plus the current's tails beyond the
  reference range, computed exactly; within 0.002 reference standard deviations of scipy's
  exact value in the tests: shifts, a current 1.5x wider than the reference, tied and lattice
  data (the default floor is 0.1).
- psi / jensen_shannon / hellinger / kl_div / tvd: the same decile bins as the exact functions.
- chi_square / g_test / z_test / fisher_exact: exact, from the category counts.

Which tests this engine computes is declared in the registry (``engines=`` containing
``"prepared"``); :data:`FAST_METHODS` is that declaration read back. Every other registered test
runs its exact function against the reference's own values, so it gives the in-memory
statistic: when ``compare`` is given the reference frame, from the frame itself; from a
:class:`PreparedReference` alone, from the sorted sample that ``prepare(..., keep_sample=True)``
keeps (it costs the reference's size in memory, so it is kept only when asked for).

The documented error bounds are tested against the exact functions in tests/unit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from e2e_assets.bounded_cache import BoundedCache, CacheInfo
from e2e_assets.drift.binning import bin_counts, bin_edges
from e2e_assets.drift.cache import content_digest
from e2e_assets.drift.parallel import map_threads
from e2e_assets.drift.registry import methods_with_engine

GRID = 1000
MAX_DISTINCT_EDGES = 4 * GRID   # a reference with at most this many values is read at each
# The tests with a prepared engine, as the registry declares them (a live view).
FAST_METHODS: AbstractSet[str] = methods_with_engine("prepared")
CACHE_SIZE = 8                  # prepared references kept in-process (LRU) ...
CACHE_BYTES = 512 * 2**20       # ... and the bytes they may hold (the newest always stays)


def needs_sample(methods: Iterable[str]) -> bool:
    """Whether any of ``methods`` runs on the reference's values instead of its summary."""
    return any(m not in FAST_METHODS for m in methods)


def column_kind(values: pd.Series) -> str:
    """numeric (> 5 distinct numbers), binary (<= 2 distinct), else categorical."""
    if values.dtype.kind in "fiu":
        return _kind_of_numbers(sorted_numbers(values))  # cheaper than hashing the floats
    return _kind_of_categories(values.nunique(dropna=True))


def _kind_of_numbers(ordered: np.ndarray) -> str:
    """The kind of sorted numbers: 65 evenly spaced ones settle most columns (more than 5
    distinct among them: numeric); only the rest are counted in full."""
    probe = ordered[np.linspace(0, len(ordered) - 1, 65).astype(np.int64)] if len(ordered) \
        else ordered
    if len(np.unique(probe)) > 5:
        return "numeric"
    distinct = int(np.count_nonzero(np.diff(ordered))) + 1 if len(ordered) else 0
    return "numeric" if distinct > 5 else _kind_of_categories(distinct)


def _kind_of_categories(distinct: int) -> str:
    return "binary" if distinct <= 2 else "categorical"


def numeric_values(s: pd.Series) -> np.ndarray:
    arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return arr[~np.isnan(arr)]


def sorted_numbers(s: pd.Series) -> np.ndarray:
    """A column's numbers sorted, nulls dropped: NaN sorts last, so one binary search cuts it
    off (one copy of the column, no mask)."""
    ordered = np.sort(s.to_numpy(dtype=np.float64, na_value=np.nan))
    return ordered[: int(np.searchsorted(ordered, np.nan, side="left"))]


def category_values(s: pd.Series) -> np.ndarray:
    return s.dropna().astype(str).to_numpy(dtype=object)


@dataclass(frozen=True)
class PreparedColumn:
    name: str
    kind: str
    n: int
    edges: np.ndarray | None = None      # the grid, see grid_edges (numeric)
    cdf: np.ndarray | None = None        # F_ref at each edge
    cdf_below: np.ndarray | None = None  # F_ref just below each edge (the left limit)
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
    """One column's summary; its kind (unless given) from the same single read of its values."""
    if kind == "numeric" or (kind is None and s.dtype.kind in "fiu"):
        ordered = sorted_numbers(s)
        kind = kind or _kind_of_numbers(ordered)
        if kind == "numeric":
            return _prepare_numbers(name, ordered, grid, keep_sample)
    vc = category_counts(s)
    return PreparedColumn(name, kind or _kind_of_categories(len(vc)), int(vc.sum()),
                          categories=vc.index.to_numpy(object), counts=vc.to_numpy(np.int64))


def grid_edges(ref: np.ndarray, grid: int = GRID) -> np.ndarray:
    """The points a numeric reference is read at (``ref`` sorted, nulls dropped): its
    ``grid + 1`` quantiles (no cell holds more than 1/grid of it inside), ``grid + 1`` evenly
    spaced points (no cell is wider than its range / grid, so wide tail cells do not blur a
    current batch that spreads into them), and, when the quantiles show ties and the reference
    has at most ``MAX_DISTINCT_EDGES`` distinct values, every one of them (integers, rounded
    amounts: no reference mass inside any cell)."""
    n = len(ref)
    quantiles = ref[np.minimum((np.arange(grid + 1) * (n - 1)) // grid, n - 1)]
    parts = [quantiles, np.linspace(ref[0], ref[-1], grid + 1)]
    if len(np.unique(quantiles)) <= grid:  # ties among the quantiles
        distinct = ref[np.r_[True, ref[1:] != ref[:-1]]]
        if len(distinct) <= MAX_DISTINCT_EDGES:
            parts.append(distinct)
    return np.unique(np.concatenate(parts))


def _prepare_numbers(name: str, ref: np.ndarray, grid: int, keep_sample: bool
                     ) -> PreparedColumn:
    """The grid, deciles and scale of a numeric column (``ref``: sorted, nulls dropped)."""
    kind = "numeric"
    n = len(ref)
    if n == 0:
        return PreparedColumn(name, kind, 0, sample=ref if keep_sample else None)
    edges = grid_edges(ref, grid)
    cdf = np.searchsorted(ref, edges, side="right") / n
    cdf_below = np.searchsorted(ref, edges, side="left") / n
    dec = bin_edges(ref)
    sd = float(ref.std())
    return PreparedColumn(name, kind, n, edges=edges, cdf=cdf, cdf_below=cdf_below, deciles=dec,
                          decile_shares=bin_counts(ref, dec) / n, scale=sd if sd > 0 else 1.0,
                          sample=ref if keep_sample else None)


@dataclass(frozen=True)
class PreparedReference:
    key: str
    columns: Mapping[str, PreparedColumn]
    keep_sample: bool = False


def prepared_nbytes(ref: PreparedReference) -> int:
    """Memory a prepared reference holds (categories estimated at 64 bytes each)."""
    total = 0
    for col in ref.columns.values():
        for arr in (col.edges, col.cdf, col.cdf_below, col.deciles, col.decile_shares,
                    col.counts, col.sample):
            total += 0 if arr is None else int(arr.nbytes)
        total += 0 if col.categories is None else 64 * len(col.categories)
    return total


_CACHE: BoundedCache[PreparedReference] = BoundedCache(CACHE_SIZE, CACHE_BYTES, prepared_nbytes)


def cache_info() -> CacheInfo:
    """Hits, misses, entries and bytes of the in-process cache of prepared references."""
    return _CACHE.info()


def _cached(key: str, keep_sample: bool) -> PreparedReference | None:
    """The cached reference for ``key``; one prepared without its sample does not serve a
    request that needs the sample."""
    return _CACHE.get(key, lambda hit: hit.keep_sample or not keep_sample)


def reference_key(reference: pd.DataFrame, columns: Sequence[Any], grid: int = GRID,
                  kinds: Mapping[str, str] | None = None) -> str:
    """The default cache key: the content digest of the columns prepared, plus any setting
    that changes what is prepared."""
    digest = content_digest(reference, columns)
    if grid == GRID and not kinds:
        return digest
    return f"{digest}:grid={grid}:kinds={sorted((kinds or {}).items())}"


def prepare(reference: pd.DataFrame, *, key: str | None = None,
            columns: Sequence[str] | None = None, kinds: Mapping[str, str] | None = None,
            grid: int = GRID, keep_sample: bool = False) -> PreparedReference:
    """Prepare (or fetch from the in-process cache, by ``key``) a reference frame.

    The default ``key`` is the content digest of the columns prepared (:func:`reference_key`),
    the one ``compare(reference_df, ...)`` uses. ``keep_sample`` keeps each numeric column's
    sorted values, for the tests that have no prepared engine (see :func:`needs_sample`).
    """
    cols = list(columns or reference.columns)
    if key is None:
        key = reference_key(reference, cols, grid, kinds)
    hit = _cached(key, keep_sample)
    if hit is not None:
        return hit
    prepared = map_threads(lambda c: prepare_column(str(c), reference[c], (kinds or {}).get(c),
                                                    grid, keep_sample), cols)
    ref = PreparedReference(key=key, columns={str(c): p for c, p in zip(cols, prepared,
                                                                        strict=True)},
                            keep_sample=keep_sample)
    _CACHE.put(key, ref)
    return ref


def prepare_lazily(key: str, build: Callable[[], pd.DataFrame],
                   columns: Sequence[str] | None = None, *,
                   keep_sample: bool = False) -> PreparedReference:
    """The cached prepared reference for ``key``, building the frame only on a cache miss."""
    hit = _cached(key, keep_sample)
    if hit is not None:
        return hit
    return prepare(build(), key=key, columns=columns, keep_sample=keep_sample)
