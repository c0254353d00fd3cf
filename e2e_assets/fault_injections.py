"""What each fault of ``e2e_assets.faults.REGISTRY`` does: a pure transform of a stage's output
frame, or a model standing in for the served one; ``tamper_golden`` edits a golden artifact.

Each reads its parameters from ``fault.params``, which holds every declared parameter (the
given value, else its default): the registry checks them before any transform runs.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from e2e_assets.errors import InfrastructureError, SpecError

if TYPE_CHECKING:
    from e2e_assets.faults import Fault


# Marks a stage function wrapped by a model fault: nothing to check on a sample (no column),
# and a dry run must not spend a transient fault's calls.
MODEL_FAULT = "e2e_replaces_model"


def _col(df: pd.DataFrame, fault: Fault) -> str:
    if fault.column is None or fault.column not in df.columns:
        raise SpecError(f"fault '{fault.id}' at '{fault.stage}' needs an existing column; got "
                        f"{fault.column!r}, the frame has {list(df.columns)}")
    return fault.column


def _rng(fault: Fault) -> np.random.Generator:
    return np.random.default_rng(fault.seed)


def schema_rename(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    return df.rename(columns={_col(df, f): f"{_col(df, f)}_renamed"})


def unit_change(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    return df.assign(**{_col(df, f): df[_col(df, f)] * f.params["factor"]})


def null_burst(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    col, out = _col(df, f), df.copy()
    mask = _rng(f).random(len(df)) < f.params["share"]
    out[col] = out[col].where(~mask) if out[col].dtype.kind == "f" else \
        out[col].astype(object).where(~mask, None)
    return out


def covariate_drift(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    col = _col(df, f)
    return df.assign(**{col: df[col] + f.params["std_shift"] * float(df[col].std())})


def _is_probability(s: pd.Series) -> bool:
    return s.dtype.kind in "fiu" and s.min() >= 0 and s.max() <= 1


def output_drift(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    col = _col(df, f)
    bias = f.params["bias"]
    if _is_probability(df[col]):
        return df.assign(**{col: np.clip(df[col] + (0.15 if bias is None else bias), 0, 1)})
    return df.assign(**{col: df[col] + (2.0 if bias is None else bias)})


def latency_regression(df: pd.DataFrame, f: Fault, stage_s: float = 0.0) -> pd.DataFrame:
    """The stage, which took ``stage_s``, made ``slowdown`` times as slow and at least
    ``seconds`` slower: a regression in proportion to the stage, whatever the machine's load."""
    time.sleep(max(f.params["seconds"], (f.params["slowdown"] - 1) * stage_s))
    return df


# Transforms that are also given the wrapped stage function's own time (seconds).
TIMED_TRANSFORMS = frozenset({latency_regression})


def precision_change(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    col = _col(df, f)
    return df.assign(**{col: df[col].round(f.params["decimals"])})


def contract_break(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    """Probabilities replaced by class ids (0/1 integers)."""
    col = _col(df, f)
    return df.assign(**{col: (df[col] >= f.params["threshold"]).astype("int64")})


def _default_score(df: pd.DataFrame) -> str | None:
    floats = [c for c in df.columns if df[c].dtype.kind == "f"]
    probabilities = [c for c in floats if _is_probability(df[c])]
    return (probabilities or floats or [None])[-1]


def cohort_bias(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    """Raise ``column`` (default: the stage's last probability column, else its last float
    column) for the rows of a cohort given as a rule, ``--fault "cohort_bias:score:p_default=
    home == 'rent'"``; default: the most frequent value of the frame's first categorical
    text column (at most 50 values, so never an id)."""
    from e2e_assets.checks.expr import parse
    from e2e_assets.checks.expr_limits import ExpressionError

    col = f.column or _default_score(df)
    col = _col(df, dataclasses.replace(f, column=col))
    rule = f.params["where"]
    if rule is None:
        text = [c for c in df.columns if df[c].dtype.kind == "O"  # categories, not ids
                and 0 < df[c].nunique() <= min(50, len(df) // 2)]
        if not text:
            raise SpecError(f"fault 'cohort_bias' at '{f.stage}' needs its cohort as a rule "
                            f"after '=' (no text column to take one from), e.g. "
                            f"cohort_bias:{f.stage}:{col}=<column> == '<value>'")
        rule = f"{text[0]} == {str(df[text[0]].mode().iloc[0])!r}"
    try:
        hit = parse(rule).evaluate(df).to_numpy(dtype=bool)
    except (ExpressionError, KeyError, ValueError) as exc:
        raise SpecError(f"fault 'cohort_bias': the cohort rule {rule!r} cannot be evaluated "
                        f"on stage '{f.stage}': {exc}") from None
    penalty = f.params["penalty"]
    if _is_probability(df[col]):
        return df.assign(**{col: np.clip(df[col] + penalty * hit, 0, 1)})
    return df.assign(**{col: df[col] + penalty * float(df[col].std()) * hit})


def nondeterminism(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    col = _col(df, f)
    noise = np.random.default_rng().normal(0, f.params["scale"], len(df))
    return df.assign(**{col: df[col] + noise})


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def policy_violation(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    """Set ``column`` to ``value`` on a share of rows (e.g. approve regardless of income); a
    boolean column without a value gets the opposite of what it holds."""
    col, out = _col(df, f), df.copy()
    mask = _rng(f).random(len(df)) < f.params["share"]
    value, series = f.params["value"], df[col]
    if series.dtype.kind == "b":
        if value is None:
            out.loc[mask, col] = ~series[mask]
            return out
        text = str(value).strip().lower()
        if text not in _TRUE | _FALSE:
            raise SpecError(f"fault 'policy_violation': column '{col}' is boolean; expected "
                            f"true/false (or none, to flip it), got {value!r}")
        out.loc[mask, col] = text in _TRUE
        return out
    if value is None:
        raise SpecError(f"fault 'policy_violation' needs a value for column '{col}' "
                        f"({series.dtype}): {f.id}:{f.stage}:{col}=<value>")
    if isinstance(value, str) and value.startswith("+"):
        try:
            out.loc[mask, col] = series[mask] + float(value[1:])
        except (TypeError, ValueError):
            raise SpecError(f"fault 'policy_violation': '{value}' adds a number; column "
                            f"'{col}' is {series.dtype}, expected '+<number>' on a numeric "
                            f"column") from None
        return out
    try:
        out.loc[mask, col] = value
    except (TypeError, ValueError):  # a value of another type than the column's: the violation
        out[col] = series.astype(object)
        out.loc[mask, col] = value
    return out


def lost_records(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    rng = _rng(f)
    drop = f.params["drop"]
    n_drop = min(len(df), max(1, int(len(df) * drop))) if drop > 0 else 0  # some: at least one
    kept = df.drop(index=df.index[rng.choice(len(df), n_drop, replace=False)])
    return pd.concat([kept, kept.head(f.params["duplicate"])], ignore_index=True)


class ConstantModel:
    """A stale/wrong model: the same answer for every request."""

    def __init__(self, value: float = 0.5) -> None:
        self.value = value

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return np.tile([1 - self.value, self.value], (len(x), 1))

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.full(len(x), self.value)


class UnavailableModel:
    """A model server that is down: every use raises. ``failures=N``: a transient outage, the
    first N stage calls get this stand-in, later ones the served model."""

    def __init__(self, failures: int | None = None) -> None:
        self.failures, self.calls = failures, 0

    def stand_in_for(self, served: Any) -> Any:
        self.calls += 1
        return self if self.failures is None or self.calls <= self.failures else served

    def __getattr__(self, name: str) -> Any:
        raise InfrastructureError("model server unavailable (injected model_unavailable)")


def tamper_golden(artifact_dir: Path, frame: str = "score") -> Path:
    """Change bytes of one golden file (a value edited, as a hand-fixed golden set would be)."""
    path = artifact_dir / f"{frame}.parquet"
    df = pd.read_parquet(path)
    num = [c for c in df.columns if df[c].dtype.kind == "f"]
    df.loc[df.index[0], num[0]] = df[num[0]].iloc[0] + 0.01
    df.to_parquet(path, index=False)
    return path
