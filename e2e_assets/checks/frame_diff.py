"""Compare two frames row by row on a key: exact for non-float columns, tolerance for floats,
or statistically (agreement rate with a Wilson interval; two-sample KS on numbers)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from e2e_assets.checks.base import CheckResult
from e2e_assets.release.stats import wilson_interval  # one Wilson interval (scipy's)


@dataclass(frozen=True)
class Aligned:
    """The rows both frames hold, position by position (``expected``'s order), and the ids
    only one side has (sorted as text)."""

    expected: pd.DataFrame
    actual: pd.DataFrame
    ids: np.ndarray
    missing: list[Any]
    extra: list[Any]


def _first_of_each(ids: np.ndarray) -> np.ndarray:
    """Positions of each id's first row (a duplicated id counts once, as its first row)."""
    repeated = pd.Index(ids, dtype=object).duplicated(keep="first")
    return np.flatnonzero(~repeated)


def _aligned(expected: pd.DataFrame, actual: pd.DataFrame, key: str) -> Aligned:
    """Vectorised on object ids (a million align in well under a second); two frames already
    in the same order are not joined at all."""
    e_ids = expected[key].to_numpy(dtype=object)
    a_ids = actual[key].to_numpy(dtype=object)
    e_pos, a_pos = _first_of_each(e_ids), _first_of_each(a_ids)
    e_ids, a_ids = e_ids[e_pos], a_ids[a_pos]
    if len(e_ids) == len(a_ids) and bool((e_ids == a_ids).all()):
        return Aligned(_rows(expected, e_pos), _rows(actual, a_pos), e_ids, [], [])
    where = pd.Index(a_ids, dtype=object).get_indexer(e_ids)  # unique ids: a hash join
    found = where >= 0
    in_expected = np.zeros(len(a_ids), dtype=bool)
    in_expected[where[found]] = True
    return Aligned(_rows(expected, e_pos[found]), _rows(actual, a_pos[where[found]]),
                   e_ids[found], sorted_as_text(e_ids[~found]),
                   sorted_as_text(a_ids[~in_expected]))


def _rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    if len(positions) == len(frame) and bool((positions == np.arange(len(frame))).all()):
        return frame.reset_index(drop=True)
    return frame.iloc[positions].reset_index(drop=True)


def sorted_as_text(ids: Any) -> list[Any]:
    """Ids (an array or Index) sorted by their text, vectorised."""
    ids = np.asarray(ids, dtype=object)
    return ids[np.argsort(ids.astype(str), kind="stable")].tolist() if len(ids) else []


def _is_float(s: pd.Series) -> bool:
    return s.dtype.kind == "f"


def _diverged(e: pd.Series, a: pd.Series, abs_tol: float, rel_tol: float) -> np.ndarray:
    """Per row (position), whether the two values differ beyond tolerance; two nulls agree."""
    if _is_float(e) and a.dtype.kind in "fiu":
        ev, av = e.to_numpy(dtype=float), a.to_numpy(dtype=float)
        return ~np.isclose(av, ev, rtol=rel_tol, atol=abs_tol, equal_nan=True)
    e_null, a_null = e.isna().to_numpy(), a.isna().to_numpy()
    if e.dtype == a.dtype and e.dtype.kind != "O":  # same typed arrays: compare them as such
        equal = np.where(e_null | a_null, False,
                         np.asarray(e.to_numpy() == a.to_numpy(), dtype=object)).astype(bool)
    else:
        equal = e.astype(object).to_numpy() == a.astype(object).to_numpy()
    return ~(equal | (e_null & a_null))


def compare_frames(expected: pd.DataFrame, actual: pd.DataFrame, *, key: str,
                   columns: Sequence[str] | None = None, default_abs: float = 0.0,
                   default_rel: float = 0.0,
                   tolerances: Mapping[str, tuple[float, float]] | None = None,
                   sample_size: int = 5) -> CheckResult:
    """Row-by-row comparison; passes when no row is missing/extra and no value diverges."""
    tolerances = tolerances or {}
    cols = [c for c in (columns or expected.columns) if c != key]
    absent = [c for c in cols if c not in actual.columns]
    aligned = _aligned(expected, actual, key)
    e, a, missing, extra = aligned.expected, aligned.actual, aligned.missing, aligned.extra
    per_column: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    for col in cols:
        if col in absent:
            continue
        abs_tol, rel_tol = tolerances.get(col, (default_abs, default_rel))
        bad = _diverged(e[col], a[col], abs_tol, rel_tol)
        n_bad = int(bad.sum())
        row: dict[str, Any] = {"column": col, "diverged": n_bad, "compared": len(bad)}
        if _is_float(e[col]) and a[col].dtype.kind in "fiu" and len(bad):
            diff = np.abs(e[col].to_numpy(float) - a[col].to_numpy(float))
            row["max_abs_diff"] = float(np.nanmax(diff)) if np.isfinite(diff).any() else None
            row["tolerance"] = {"abs": abs_tol, "rel": rel_tol}
        row["became_null"] = int((e[col].notna().to_numpy() & a[col].isna().to_numpy()
                                  & bad).sum())
        per_column.append(row)
        for pos in np.flatnonzero(bad)[:sample_size]:
            samples.append({key: _py(aligned.ids[pos]), "column": col,
                            "expected": _py(e[col].iat[pos]), "actual": _py(a[col].iat[pos])})
    diverged_cols = [r for r in per_column if r["diverged"]]
    rows_diverged = len({s[key] for s in samples}) if diverged_cols else 0
    metadata = {"rows_expected": len(expected), "rows_actual": len(actual),
                "rows_compared": len(e), "missing_rows": len(missing), "extra_rows": len(extra),
                "missing_sample": [_py(m) for m in missing[:sample_size]],
                "extra_sample": [_py(x) for x in extra[:sample_size]],
                "columns_absent": absent, "columns": per_column}
    problems = []
    if absent:
        problems.append(f"columns missing: {absent}")
    if missing or extra:
        problems.append(f"{len(missing)} rows missing, {len(extra)} unexpected")
    for r in diverged_cols:
        detail = (f", max |diff| {r['max_abs_diff']:.3g}" if r.get("max_abs_diff") else "")
        if r["became_null"]:
            detail += f", {r['became_null']} became null"
        problems.append(f"'{r['column']}' differs on {r['diverged']} of {r['compared']} rows"
                        f"{detail}")
    if problems:
        return CheckResult(False, "; ".join(problems), {**metadata,
                                                         "rows_diverged_sampled": rows_diverged},
                           tuple(samples))
    return CheckResult(True, f"{len(e)} rows x {len(cols)} columns match", metadata)


def compare_statistically(expected: pd.DataFrame, actual: pd.DataFrame, *, key: str,
                          columns: Sequence[str], min_agreement: float, alpha: float
                          ) -> CheckResult:
    """Categorical columns: agreement rate (fails only if the Wilson interval lies below
    ``min_agreement``); numeric columns: two-sample KS test (fails when p < ``alpha``)."""
    aligned = _aligned(expected, actual, key)
    e, a, missing, extra = aligned.expected, aligned.actual, aligned.missing, aligned.extra
    table: list[dict[str, Any]] = []
    failed: list[str] = []
    for col in columns:
        if _is_float(e[col]):
            res = stats.ks_2samp(e[col].dropna(), a[col].dropna())
            ok = bool(res.pvalue >= alpha)
            table.append({"column": col, "test": "ks", "statistic": float(res.statistic),
                          "p_value": float(res.pvalue), "alpha": alpha, "passed": ok})
            if not ok:
                failed.append(f"'{col}' distribution shifted (KS D={res.statistic:.3f}, "
                              f"p={res.pvalue:.2g} < {alpha})")
        else:
            agree = int((~_diverged(e[col], a[col], 0.0, 0.0)).sum())
            lo, hi = wilson_interval(agree, len(e))
            ok = hi >= min_agreement
            table.append({"column": col, "test": "agreement", "agreement": agree / max(len(e), 1),
                          "ci95": [lo, hi], "min_agreement": min_agreement, "passed": ok})
            if not ok:
                failed.append(f"'{col}' agrees on {agree / max(len(e), 1):.1%} of rows "
                              f"(95% CI {lo:.1%}-{hi:.1%}) < {min_agreement:.0%}")
    if missing or extra:
        failed.append(f"{len(missing)} rows missing, {len(extra)} unexpected")
    meta = {"rows_compared": len(e), "missing_rows": len(missing), "extra_rows": len(extra),
            "columns": table}
    if failed:
        return CheckResult(False, "; ".join(failed), meta)
    return CheckResult(True, f"{len(e)} rows agree statistically on {list(columns)}", meta)


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v
