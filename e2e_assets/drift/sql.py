"""SQL pushdown: drift between two tables (or queries) without pulling their rows.

The database computes, per column, a few aggregates and a fine histogram; only those come back:

- numbers: count, min, max, mean, mean of squares of the reference; then both sides' counts in
  ``bins`` equal-width bins over the reference's [min, max], plus the count and sum of the
  current's values below and above that range;
- categories: counts per category.

From these the same statistics as the in-memory path are computed (see ``prepared.py``):
KS is exact at the bin edges (at most one bin's mass, reference or current, below the exact
statistic); the normed Wasserstein distance is within one bin width (in reference standard
deviations: ``(max - min) / bins / std``) of the exact value, the tails beyond the reference range
exact; the decile-binned distances use deciles interpolated inside the fine bins. Categorical
tests are exact. Tested on SQLite and PostgreSQL against the in-memory path.

The tests that run here are those the registry declares with the ``sql`` engine
(:data:`SQL_METHODS`, a view of the registry); any other is refused before a query runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from e2e_assets.drift.binning import BINS
from e2e_assets.drift.compare import (
    RawResult,
    assemble,
    default_method,
    resolve_method,
    unseen_categories,
)
from e2e_assets.drift.prepared import PreparedColumn
from e2e_assets.drift.prepared_engine import categorical_outcomes, numeric_outcomes
from e2e_assets.drift.registry import METHODS, Outcome, methods_with_engine

SQL_BINS = 2000
# The tests with a SQL engine, as the registry declares them (a live view).
SQL_METHODS: AbstractSet[str] = methods_with_engine("sql")
_SELECT = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _source(query_or_table: str) -> str:
    """A SELECT/WITH query becomes a subquery; anything else must be a (schema.)table name."""
    if _SELECT.match(query_or_table):
        return f"({query_or_table}) AS src"
    if not _TABLE.match(query_or_table):
        raise ValueError(f"expected a table name or a SELECT query, got {query_or_table!r}")
    return query_or_table


def _q(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _columns(conn: sa.Connection, source: str) -> dict[str, bool]:
    """Column name -> is numeric, from a zero-row query."""
    result = conn.execute(sa.text(f"SELECT * FROM {source} WHERE 1 = 0"))
    out = {}
    for col in result.cursor.description:
        name, type_code = col[0], col[1]
        out[name] = _is_numeric_type(conn, type_code)
    return out


def _is_numeric_type(conn: sa.Connection, type_code: Any) -> bool:
    if conn.dialect.name == "postgresql":  # type OIDs: int2/4/8, float4/8, numeric
        return type_code in (20, 21, 23, 700, 701, 1700)
    return False  # SQLite reports no types: decided from the values below


def _numeric_by_values(conn: sa.Connection, source: str, cols: Sequence[str]) -> dict[str, bool]:
    """SQLite: a column is numeric when every non-null value has a numeric storage class."""
    out = {}
    for col in cols:
        q = _q(conn, col)
        row = conn.execute(sa.text(
            f"SELECT count({q}), sum(CASE WHEN typeof({q}) IN ('integer', 'real') "
            f"THEN 1 ELSE 0 END) FROM {source}")).one()
        out[col] = bool(row[0]) and row[0] == row[1]
    return out


def _stats(conn: sa.Connection, source: str, col: str, numeric: bool
           ) -> tuple[int, float, float, float, float, int]:
    q = _q(conn, col)
    if not numeric:
        row = conn.execute(sa.text(f"SELECT count({q}), count(DISTINCT {q}) FROM {source}")).one()
        return int(row[0] or 0), 0.0, 0.0, 0.0, 0.0, int(row[1] or 0)
    row = conn.execute(sa.text(
        f"SELECT count({q}), min({q}), max({q}), avg({q} * 1.0), avg({q} * 1.0 * {q}), "
        f"count(DISTINCT {q}) FROM {source}")).one()
    return (int(row[0] or 0), float(row[1] or 0), float(row[2] or 0), float(row[3] or 0),
            float(row[4] or 0), int(row[5] or 0))


def _histogram(conn: sa.Connection, source: str, col: str, lo: float, hi: float, bins: int
               ) -> tuple[np.ndarray, int, float, int, float]:
    """Counts in [lo, hi] split into ``bins``; count and sum below lo and above hi."""
    q = _q(conn, col)
    width = (hi - lo) or 1.0
    sql = (f"SELECT CASE WHEN {q} < :lo THEN -1 WHEN {q} > :hi THEN -2 "
           f"WHEN {q} >= :hi THEN :last "
           f"ELSE CAST(({q} - :lo) * :scale AS INTEGER) END AS b, count(*), sum({q} * 1.0) "
           f"FROM {source} WHERE {q} IS NOT NULL GROUP BY 1")
    counts = np.zeros(bins, dtype=np.int64)
    below = above = 0
    below_sum = above_sum = 0.0
    for b, n, total in conn.execute(sa.text(sql), {"lo": lo, "hi": hi, "last": bins - 1,
                                                   "scale": bins / width}):
        if b == -1:
            below, below_sum = int(n), float(total)
        elif b == -2:
            above, above_sum = int(n), float(total)
        else:
            counts[min(int(b), bins - 1)] += int(n)
    return counts, below, below_sum, above, above_sum


def _category_counts(conn: sa.Connection, source: str, col: str) -> pd.Series:
    q = _q(conn, col)
    rows = conn.execute(sa.text(f"SELECT CAST({q} AS VARCHAR(256)) AS v, count(*) FROM {source} "
                                f"WHERE {q} IS NOT NULL GROUP BY 1")).all()
    return pd.Series({str(v): int(n) for v, n in rows}, dtype=np.int64)


def _interp_quantiles(edges: np.ndarray, cdf: np.ndarray, probs: np.ndarray) -> np.ndarray:
    return np.interp(probs, cdf, edges)


def _share_between(edges: np.ndarray, cdf: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Shares of (-inf, c1), [c1, c2), ..., [ck, inf) from a CDF known at ``edges``."""
    f = np.interp(cuts, edges, cdf, left=0.0, right=1.0)
    return np.diff(np.concatenate([[0.0], f, [1.0]]))


def compare_sql(engine: sa.Engine, reference: str, current: str,
                columns: Sequence[str] | None = None, methods: Mapping[str, str] | None = None,
                alpha: float = 0.05, *, fdr: bool = True,
                effect_floor: float | Mapping[str, float] | None = None, share: float = 0.5,
                bins: int = SQL_BINS) -> Any:
    """Like :func:`drift.compare`, with both sides given as a table name or a SELECT query."""
    methods = dict(methods or {})
    for col, method in methods.items():
        METHODS[method]  # raises naming the registered methods, before any query
        if method not in SQL_METHODS:
            raise _no_sql_engine(method, col)
    raw: list[RawResult] = []
    with engine.connect() as conn:
        ref_src, cur_src = _source(reference), _source(current)
        numeric = _columns(conn, ref_src)
        cols = list(columns or numeric)
        missing = [c for c in cols if c not in numeric]
        if missing:
            raise KeyError(f"columns {missing} are not in the reference {reference!r}")
        if conn.dialect.name != "postgresql":
            numeric = {**numeric, **_numeric_by_values(conn, ref_src, cols)}
        for col in cols:
            raw.append(_column(conn, col, numeric[col], ref_src, cur_src, methods.get(col),
                               bins))
    return assemble(raw, alpha=alpha, fdr=fdr, effect_floor=effect_floor, share=share,
                    key=f"sql:{reference}")


def _column(conn: sa.Connection, col: str, is_numeric: bool, ref_src: str, cur_src: str,
            method: str | None, bins: int) -> RawResult:
    n, lo, hi, mean, mean_sq, distinct = _stats(conn, ref_src, col, is_numeric)
    kind = "numeric" if is_numeric and distinct > 5 else ("binary" if distinct <= 2
                                                          else "categorical")
    empty = pd.Series(dtype=np.int64)
    if kind == "numeric":
        m, *_ = _stats(conn, cur_src, col, True)
        ref_counts_s = cur_counts = empty
    else:
        cur_counts = _category_counts(conn, cur_src, col)
        ref_counts_s = _category_counts(conn, ref_src, col)
        m = int(cur_counts.sum())
    if n == 0 or m == 0:
        return kind, col, method or "-", Outcome(float("nan"), None), None, n, m, "empty"
    ref_cats = ref_counts_s.index.to_numpy(object)
    method, note = resolve_method(kind, col, method or default_method(kind, n, m), ref_cats,
                                  unseen_categories(kind, ref_cats,
                                                    cur_counts.index.to_numpy(object)))
    spec = METHODS[method]
    if method not in SQL_METHODS:
        raise _no_sql_engine(method, col)
    wanted = [method] + (["wasserstein" if kind == "numeric" else "tvd"]
                         if spec.score == "p_value" else [])
    if kind == "numeric":
        ref_counts, *_ = _histogram(conn, ref_src, col, lo, hi, bins)
        counts, below, below_sum, above, above_sum = _histogram(conn, cur_src, col, lo, hi, bins)
        edges = np.linspace(lo, hi, bins + 1)
        ref_cdf = np.concatenate([[0.0], np.cumsum(ref_counts) / n])
        cur_cdf = (below + np.concatenate([[0], np.cumsum(counts)])) / m
        sd = float(np.sqrt(max(mean_sq - mean * mean, 0.0)))  # population std, as np.std
        deciles = _interp_quantiles(edges, ref_cdf, np.linspace(0, 1, BINS + 1))[1:-1]
        cuts = np.unique(np.concatenate([[lo], deciles, [np.nextafter(hi, np.inf)]]))
        ref_col = PreparedColumn(col, kind, n, edges=edges, cdf=ref_cdf, deciles=cuts,
                                 decile_shares=_share_between(edges, ref_cdf, cuts),
                                 scale=sd if sd > 0 else 1.0)
        tails = ((lo * below - below_sum) + (above_sum - hi * above)) / m
        results = numeric_outcomes(ref_col, cur_cdf, m, below / m, tails,
                                   _share_between(edges, cur_cdf, cuts), wanted)
    else:
        ref_col = PreparedColumn(col, kind, n, categories=ref_counts_s.index.to_numpy(object),
                                 counts=ref_counts_s.to_numpy(np.int64))
        results = categorical_outcomes(ref_col, cur_counts, wanted)
    outcome = results[method]
    effect = results[wanted[-1]].statistic if spec.score == "p_value" else outcome.statistic
    return kind, col, method, outcome, effect, n, m, note


def _no_sql_engine(method: str, col: str) -> ValueError:
    return ValueError(f"drift method '{method}' cannot run on column '{col}' in SQL: it has no "
                      f"SQL engine; SQL runs {sorted(SQL_METHODS)} on the kinds they accept "
                      f"(or compare the frames with drift.compare)")
