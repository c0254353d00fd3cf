"""A vectorised engine for the common GX expectations on a pandas frame: one pass per column,
GX Core 1.x's own semantics, no metric graph.

GX validates each expectation through a graph of metrics, which costs about a second per suite
at a thousand rows and about ten at a million. The expectations almost every suite is made of
(nulls, ranges, sets, uniqueness, means, the column set, the row count) are a single numpy or
pandas operation each. Each is registered here with GX's own rules:

- a map expectation (between, in set, unique) looks at the non-null values only; it succeeds
  vacuously on no rows (or no non-null values), else when ``(nonnull - unexpected) / nonnull
  >= mostly``; ``unexpected_percent`` is over the non-null values;
- ``not_be_null`` looks at every row and its percent is over every row;
- an aggregate (mean) fails with ``observed_value: None`` when it is null;
- bounds are inclusive unless ``strict_min`` / ``strict_max``.

An evaluator returns a GX-shaped result (``success``, ``result``) or ``None`` to decline: an
unknown keyword, a column that is missing or not numeric where numbers are compared, bounds that
are not numbers, anything GX itself would raise on. A declined expectation goes to GX, so a
suite always gets GX's answer. ``tests/unit/test_expectation_engine.py`` checks every evaluator
against GX on the same frames, edge cases included.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

Result = dict[str, Any]
Evaluator = Callable[[pd.DataFrame, dict[str, Any], str, int], "Result | None"]

# Keywords every expectation may carry without changing what is computed.
PASSIVE_KEYWORDS = frozenset({"result_format", "catch_exceptions", "include_config", "meta",
                      "batch_id", "description"})
EVALUATORS: dict[str, tuple[frozenset[str], Evaluator]] = {}


def evaluator(expectation_type: str, *, keywords: tuple[str, ...]
              ) -> Callable[[Evaluator], Evaluator]:
    """Register the native evaluator of ``expectation_type`` and the keywords it understands."""
    def deco(fn: Evaluator) -> Evaluator:
        EVALUATORS[expectation_type] = (frozenset(keywords) | PASSIVE_KEYWORDS, fn)
        return fn

    return deco


def evaluate(frame: pd.DataFrame, expectation: dict[str, Any], id_column: str,
             sample_size: int) -> Result | None:
    """The expectation's GX-shaped result on ``frame``, or None when GX must evaluate it."""
    entry = EVALUATORS.get(expectation["type"])
    kwargs = expectation.get("kwargs") or {}
    if entry is None or not set(kwargs) <= entry[0] or any(
            isinstance(v, dict) for v in kwargs.values()):  # suite parameters: GX resolves them
        return None
    return entry[1](frame, kwargs, id_column, sample_size)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bounds(kwargs: dict[str, Any]) -> tuple[Any, Any] | None:
    """(min, max) when both are numbers or None and at least one is given, else None."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if not all(v is None or _is_number(v) for v in (low, high)):
        return None
    if low is None and high is None:
        return None
    if low is not None and high is not None and low > high:
        return None  # GX raises; let it say so
    return low, high


def within(values: Any, low: Any, high: Any, strict_min: bool, strict_max: bool) -> Any:
    ok = np.ones(len(values), dtype=bool) if hasattr(values, "__len__") else True
    if low is not None:
        ok = ok & ((values > low) if strict_min else (values >= low))
    if high is not None:
        ok = ok & ((values < high) if strict_max else (values <= high))
    return ok


def _numeric(series: pd.Series) -> bool:
    return series.dtype.kind in "iuf"


def _map_result(frame: pd.DataFrame, column: str, nulls: np.ndarray, unexpected: np.ndarray,
                mostly: float, id_column: str, sample_size: int, *, over_all_rows: bool = False
                ) -> Result:
    """GX's map-expectation result: counts, percents, success and the first unexpected rows.

    ``unexpected`` is a boolean mask over every row (False where the value is null, unless
    ``over_all_rows``, for not_be_null, whose unexpected rows are the nulls themselves)."""
    positions = np.flatnonzero(unexpected)[:sample_size]
    values = [None if _is_null(v) else v for v in frame[column].iloc[positions].tolist()]
    ids = (frame[id_column].iloc[positions].tolist() if id_column in frame.columns
           else [None] * len(positions))
    return map_result(len(frame), int(nulls.sum()), int(unexpected.sum()), mostly,
                      list(zip(ids, values)), column, id_column, over_all_rows=over_all_rows)


def map_result(total: int, nulls: int, unexpected_count: int, mostly: float,
               samples: list[tuple[Any, Any]], column: str, id_column: str, *,
               over_all_rows: bool = False) -> Result:
    """GX's map-expectation result from counts, and the first unexpected (id, value) pairs."""
    considered = total if over_all_rows else total - nulls
    success = (True if total == 0 or considered == 0
               else (float(considered) - float(unexpected_count)) / float(considered) >= mostly)
    result: Result = {"element_count": total, "unexpected_count": unexpected_count}
    if over_all_rows:
        result["unexpected_percent"] = unexpected_count / total * 100 if total else None
    else:
        missing = total - considered
        result.update({
            "unexpected_percent": (unexpected_count / considered * 100 if considered else None)
            if total else None,
            "missing_count": missing,
            "missing_percent": missing / total * 100 if total else None,
            "unexpected_percent_total": unexpected_count / total * 100 if total else None})
    result["partial_unexpected_list"] = [v for _, v in samples]
    result["unexpected_index_list"] = [{column: v, id_column: i} for i, v in samples]
    return {"success": bool(success), "result": result}


def _is_null(value: Any) -> bool:
    """A scalar null (NaN, None, pd.NA, NaT): GX reports each as None."""
    return value is None or (not isinstance(value, (str, bytes)) and bool(pd.isna(value)))


def _mostly(kwargs: dict[str, Any]) -> float | None:
    mostly = kwargs.get("mostly", 1.0)
    return float(mostly) if _is_number(mostly) and 0 <= mostly <= 1 else None


def _column(frame: pd.DataFrame, kwargs: dict[str, Any]) -> str | None:
    column = kwargs.get("column")
    return column if isinstance(column, str) and column in frame.columns else None


Unexpected = Callable[[pd.Series, np.ndarray, dict[str, Any]], "np.ndarray | None"]


def map_evaluator(expectation_type: str, *, keywords: tuple[str, ...],
                  over_all_rows: bool = False) -> Callable[[Unexpected], Unexpected]:
    """Register a map expectation by its rule: the mask of unexpected rows of one column, given
    the column, its null mask and the kwargs (None declines). Column, ``mostly``, counts and
    samples are handled here, once."""
    def deco(unexpected: Unexpected) -> Unexpected:
        def evaluate_map(frame: pd.DataFrame, kwargs: dict[str, Any], id_column: str, n: int
                         ) -> Result | None:
            column, mostly = _column(frame, kwargs), _mostly(kwargs)
            if column is None or mostly is None:
                return None
            series = frame[column]
            nulls = series.isna().to_numpy()
            mask = unexpected(series, nulls, kwargs)
            if mask is None:
                return None
            return _map_result(frame, column, nulls, mask, mostly, id_column, n,
                               over_all_rows=over_all_rows)

        evaluator(expectation_type, keywords=("column", "mostly", *keywords))(evaluate_map)
        return unexpected

    return deco


@map_evaluator("expect_column_values_to_not_be_null", keywords=(), over_all_rows=True)
def _nulls(series: pd.Series, nulls: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray | None:
    return nulls


@map_evaluator("expect_column_values_to_be_between",
               keywords=("min_value", "max_value", "strict_min", "strict_max"))
def _outside(series: pd.Series, nulls: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray | None:
    bounds = _bounds(kwargs)
    if bounds is None or not _numeric(series):
        return None
    # integers compared as themselves when they can be (float64 rounds beyond 2**53)
    values = (series.to_numpy() if not nulls.any()
              else series.to_numpy(dtype=float, na_value=np.nan))
    with np.errstate(invalid="ignore"):
        ok = within(values, *bounds, bool(kwargs.get("strict_min")),
                     bool(kwargs.get("strict_max")))
    return ~ok & ~nulls


@map_evaluator("expect_column_values_to_be_in_set", keywords=("value_set",))
def _not_in_set(series: pd.Series, nulls: np.ndarray, kwargs: dict[str, Any]
                ) -> np.ndarray | None:
    value_set = kwargs.get("value_set")
    if not isinstance(value_set, list):
        return None
    return ~series.isin(value_set).to_numpy() & ~nulls


@map_evaluator("expect_column_values_to_be_unique", keywords=())
def _repeated(series: pd.Series, nulls: np.ndarray, kwargs: dict[str, Any]
              ) -> np.ndarray | None:
    repeated = np.zeros(len(series), dtype=bool)
    repeated[~nulls] = series[~nulls].duplicated(keep=False).to_numpy()
    return repeated


@evaluator("expect_column_mean_to_be_between",
           keywords=("column", "min_value", "max_value", "strict_min", "strict_max"))
def _mean(frame: pd.DataFrame, kwargs: dict[str, Any], id_column: str, n: int
          ) -> Result | None:
    column, bounds = _column(frame, kwargs), _bounds(kwargs)
    if column is None or bounds is None or not _numeric(frame[column]):
        return None
    mean = frame[column].mean()
    if pd.isna(mean):
        return {"success": False, "result": {"observed_value": None}}
    ok = within(mean, *bounds, bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max")))
    return {"success": bool(ok), "result": {"observed_value": float(mean)}}


@evaluator("expect_table_row_count_to_be_between",
           keywords=("min_value", "max_value", "strict_min", "strict_max"))
def _row_count(frame: pd.DataFrame, kwargs: dict[str, Any], id_column: str, n: int
               ) -> Result | None:
    bounds = _bounds(kwargs)
    if bounds is None:
        return None
    ok = within(len(frame), *bounds, bool(kwargs.get("strict_min")),
                 bool(kwargs.get("strict_max")))
    return {"success": bool(ok), "result": {"observed_value": len(frame)}}


@evaluator("expect_table_columns_to_match_set", keywords=("column_set", "exact_match"))
def _column_set(frame: pd.DataFrame, kwargs: dict[str, Any], id_column: str, n: int
                ) -> Result | None:
    expected, exact = kwargs.get("column_set"), kwargs.get("exact_match", True)
    if not isinstance(expected, list) or not isinstance(exact, bool):
        return None
    actual = {str(c) for c in frame.columns}
    observed = sorted(actual)
    unexpected, missing = sorted(actual - set(expected)), sorted(set(expected) - actual)
    if not unexpected and not missing:
        return {"success": True, "result": {"observed_value": observed}}
    mismatched = {**({"unexpected": unexpected} if unexpected else {}),
                  **({"missing": missing} if missing else {})}
    success = not exact and not missing
    return {"success": success,
            "result": {"observed_value": observed, "details": {"mismatched": mismatched}}}
