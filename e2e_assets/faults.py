"""Production faults (docs/FAULTS.md) injected into any journey, to prove checks catch them.

``with_faults(journey, [Fault(...)])`` returns the same journey whose stage outputs (or served
model) are altered as the fault describes; everything else, checks included, runs unchanged.
``tamper_golden`` edits a registered golden artifact in place. Injection is deterministic for a
given seed, except ``nondeterminism``, whose whole point is not to be.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from e2e_assets.errors import InfrastructureError, SpecError
from e2e_assets.spec.loader import Journey


@dataclass(frozen=True)
class Fault:
    id: str
    stage: str
    column: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    def describe(self) -> str:
        return f"{self.id}@{self.stage}" + (f"[{self.column}]" if self.column else "")


FrameFault = Callable[[pd.DataFrame, Fault], pd.DataFrame]


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
    return df.assign(**{_col(df, f): df[_col(df, f)] * float(f.params.get("factor", 1000))})


def null_burst(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    out = df.copy()
    mask = _rng(f).random(len(df)) < float(f.params.get("share", 0.3))
    out[_col(df, f)] = out[_col(df, f)].astype(object).where(~mask, None) \
        if out[_col(df, f)].dtype.kind not in "f" else out[_col(df, f)].where(~mask)
    return out


def covariate_drift(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    col = _col(df, f)
    shift = float(f.params.get("std_shift", 1.0)) * float(df[col].std())
    return df.assign(**{col: df[col] + shift})


def output_drift(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    col = _col(df, f)
    return df.assign(**{col: np.clip(df[col] + float(f.params.get("bias", 0.15)), 0, 1)
                        if df[col].max() <= 1 else df[col] + float(f.params.get("bias", 2.0))})


def latency_regression(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    time.sleep(float(f.params.get("seconds", 0.5)))
    return df


def precision_change(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    col = _col(df, f)
    return df.assign(**{col: df[col].round(int(f.params.get("decimals", 2)))})


def contract_break(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    """Probabilities replaced by class ids (0/1 integers)."""
    col = _col(df, f)
    return df.assign(**{col: (df[col] >= float(f.params.get("threshold", 0.5))).astype("int64")})


def cohort_bias(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    """Raise ``column`` by ``penalty`` for the rows of a cohort, given as a rule:
    ``--fault "cohort_bias:score:p_default=home == 'rent'"``."""
    col = _col(df, f)
    cohort = f.params.get("where") or f.params.get("value")
    if not isinstance(cohort, str) or not cohort:
        raise SpecError("fault 'cohort_bias' needs its cohort as a rule after '=', e.g. "
                        "cohort_bias:score:p_default=home == 'rent'")
    from e2e_assets.checks.expr import parse

    hit = parse(cohort).evaluate(df)
    penalty = float(f.params.get("penalty", 0.2))
    return df.assign(**{col: np.clip(df[col] + penalty * hit, 0, 1)})


def nondeterminism(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    col = _col(df, f)
    noise = np.random.default_rng().normal(0, float(f.params.get("scale", 0.01)), len(df))
    return df.assign(**{col: df[col] + noise})


def policy_violation(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    """Set ``column`` to ``value`` on a share of rows (e.g. approve regardless of income)."""
    out = df.copy()
    mask = _rng(f).random(len(df)) < float(f.params.get("share", 0.2))
    if "value" not in f.params:
        raise SpecError(f"fault 'policy_violation' needs a value: {f.stage}:{f.column}=<value>")
    value = f.params["value"]
    if isinstance(value, str) and value.startswith("+"):
        out.loc[mask, _col(df, f)] = out.loc[mask, _col(df, f)] + float(value[1:])
    else:
        out.loc[mask, _col(df, f)] = value
    return out


def lost_records(df: pd.DataFrame, f: Fault) -> pd.DataFrame:
    rng = _rng(f)
    n_drop = max(1, int(len(df) * float(f.params.get("drop", 0.01))))
    n_dup = int(f.params.get("duplicate", 0))
    kept = df.drop(index=df.index[rng.choice(len(df), n_drop, replace=False)])
    return pd.concat([kept, kept.head(n_dup)], ignore_index=True)


class ConstantModel:
    """A stale/wrong model: the same answer for every request."""

    def __init__(self, value: float = 0.5) -> None:
        self.value = value

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return np.tile([1 - self.value, self.value], (len(x), 1))

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.full(len(x), self.value)


class UnavailableModel:
    def __getattr__(self, name: str) -> Any:
        raise InfrastructureError("model server unavailable (injected model_unavailable)")


FRAME_FAULTS: dict[str, tuple[str, FrameFault]] = {  # id -> (default stage, transform)
    "schema_rename": ("ingest", schema_rename),
    "unit_change": ("features", unit_change),
    "null_burst": ("features", null_burst),
    "covariate_drift": ("ingest", covariate_drift),
    "output_drift": ("score", output_drift),
    "latency_regression": ("score", latency_regression),
    "precision_change": ("score", precision_change),
    "contract_break": ("deliver", contract_break),
    "cohort_bias": ("score", cohort_bias),
    "nondeterminism": ("score", nondeterminism),
    "policy_violation": ("decide", policy_violation),
    "lost_records": ("deliver", lost_records),
}
MODEL_FAULTS: dict[str, Callable[[Fault], Any]] = {
    "wrong_model": lambda f: ConstantModel(float(f.params.get("value", 0.5))),
    "model_unavailable": lambda f: UnavailableModel(),
}
FAULT_IDS = (*FRAME_FAULTS, *MODEL_FAULTS, "golden_tamper")


def parse_fault(text: str) -> Fault:
    """``id[:stage[:column[=value]]]`` as given on the command line."""
    parts = text.split(":", 2)
    fid = parts[0]
    if fid not in FRAME_FAULTS and fid not in MODEL_FAULTS:
        raise SpecError(f"unknown fault {fid!r}; expected one of "
                        f"{sorted((*FRAME_FAULTS, *MODEL_FAULTS))}")
    default = FRAME_FAULTS[fid][0] if fid in FRAME_FAULTS else "score"
    stage = parts[1] if len(parts) > 1 and parts[1] else default
    column, params = (parts[2] if len(parts) > 2 else None), {}
    if column and "=" in column:
        column, value = column.split("=", 1)
        params["value"] = _literal(value)
    return Fault(id=fid, stage=stage, column=column, params=params)


def _literal(text: str) -> Any:
    if text.startswith("+"):  # '+8': add to the value, kept as text for policy_violation
        return text
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def with_faults(journey: Journey, faults: Sequence[Fault]) -> Journey:
    """The same journey with its stage functions wrapped to inject ``faults``.

    A frame fault alters what the stage returns; a model fault replaces the model the stage is
    given. The core never knows: it calls the (wrapped) functions as always.
    """
    functions = dict(journey.functions)
    for fault in faults:
        if fault.stage not in journey.stages:
            raise SpecError(f"fault '{fault.id}' targets stage '{fault.stage}', which journey "
                            f"'{journey.name}' does not have; its stages: "
                            f"{list(journey.stages)}")
        if fault.id in MODEL_FAULTS and journey.spec.model_for(fault.stage) is None:
            raise SpecError(f"fault '{fault.id}' replaces a model, and stage '{fault.stage}' "
                            f"serves none; stages with a model: "
                            f"{list(journey.spec.model_stages)}")
        functions[fault.stage] = _wrap(functions[fault.stage], fault)
    return dataclasses.replace(journey, functions=functions,
                               injected=(*journey.injected, *(f.describe() for f in faults)),
                               base=journey.pristine)


def _wrap(fn: Callable[..., pd.DataFrame], fault: Fault) -> Callable[..., pd.DataFrame]:
    if fault.id in MODEL_FAULTS:
        replacement = MODEL_FAULTS[fault.id]

        @functools.wraps(fn)
        def with_model(frame: pd.DataFrame, model: Any, *args: Any, **kwargs: Any
                       ) -> pd.DataFrame:
            return fn(frame, replacement(fault), *args, **kwargs)

        return with_model
    transform = FRAME_FAULTS[fault.id][1]

    @functools.wraps(fn)
    def with_output(*args: Any, **kwargs: Any) -> pd.DataFrame:
        out = fn(*args, **kwargs)
        return transform(out, fault) if isinstance(out, pd.DataFrame) else out

    return with_output


def tamper_golden(artifact_dir: Path, frame: str = "score") -> Path:
    """Change bytes of one golden file (a value edited, as a hand-fixed golden set would be)."""
    path = artifact_dir / f"{frame}.parquet"
    df = pd.read_parquet(path)
    num = [c for c in df.columns if df[c].dtype.kind == "f"]
    df.loc[df.index[0], num[0]] = df[num[0]].iloc[0] + 0.01
    df.to_parquet(path, index=False)
    return path
