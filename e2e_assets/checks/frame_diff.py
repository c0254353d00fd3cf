"""Compare two frames row by row on a key: exact for non-float columns, tolerance for floats,
or statistically (agreement rate with a Wilson interval; two-sample KS on numbers)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from e2e_assets.checks.base import CheckResult
from e2e_assets.release.stats import wilson_interval  # one Wilson interval (scipy's)


def _aligned(expected: pd.DataFrame, actual: pd.DataFrame, key: str
             ) -> tuple[pd.DataFrame, pd.DataFrame, list[Any], list[Any]]:
    e = expected.drop_duplicates(key).set_index(key)
    a = actual.drop_duplicates(key).set_index(key)
    missing = sorted(set(e.index) - set(a.index), key=str)
    extra = sorted(set(a.index) - set(e.index), key=str)
    common = e.index.intersection(a.index)
    return e.loc[common], a.loc[common], missing, extra


def _is_float(s: pd.Series) -> bool:
    return s.dtype.kind == "f"


def _diverged(e: pd.Series, a: pd.Series, abs_tol: float, rel_tol: float) -> pd.Series:
    if _is_float(e) and a.dtype.kind in "fiu":
        ev, av = e.to_numpy(dtype=float), a.to_numpy(dtype=float)
        close = np.isclose(av, ev, rtol=rel_tol, atol=abs_tol, equal_nan=True)
        return pd.Series(~close, index=e.index)
    both_null = e.isna().to_numpy() & a.isna().to_numpy()
    equal = (e.astype(object).to_numpy() == a.astype(object).to_numpy())
    return pd.Series(~(equal | both_null), index=e.index)


def compare_frames(expected: pd.DataFrame, actual: pd.DataFrame, *, key: str,
                   columns: Sequence[str] | None = None, default_abs: float = 0.0,
                   default_rel: float = 0.0,
                   tolerances: Mapping[str, tuple[float, float]] | None = None,
                   sample_size: int = 5) -> CheckResult:
    """Row-by-row comparison; passes when no row is missing/extra and no value diverges."""
    tolerances = tolerances or {}
    cols = [c for c in (columns or expected.columns) if c != key]
    absent = [c for c in cols if c not in actual.columns]
    e, a, missing, extra = _aligned(expected, actual, key)
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
        row["became_null"] = int((e[col].notna() & a[col].isna() & bad).sum())
        per_column.append(row)
        for rid in list(bad[bad].index[:sample_size]):
            samples.append({key: rid, "column": col, "expected": _py(e.at[rid, col]),
                            "actual": _py(a.at[rid, col])})
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
    e, a, missing, extra = _aligned(expected, actual, key)
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
