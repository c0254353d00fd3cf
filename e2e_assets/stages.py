"""Run a journey's stage functions on DataFrames, without Dagster.

Stage functions are plain Python: ``fn(df, **params) -> DataFrame``; a stage that serves a model
is ``fn(df, model, **params)``. Identity stages hand their input on. Whatever a stage function
raises becomes a :class:`StageError` naming the journey and the stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from e2e_assets.errors import StageError

if TYPE_CHECKING:
    from e2e_assets.spec.loader import Journey


def run_stage(journey: Journey, stage: str, df: pd.DataFrame, *, model: Any = None
              ) -> pd.DataFrame:
    """Call one stage function on ``df`` and check what it returns."""
    return check_stage_output(journey, stage, call_stage_function(journey, stage, df,
                                                                  model=model))


def call_stage_function(journey: Journey, stage: str, df: pd.DataFrame, *, model: Any = None
                        ) -> Any:
    """What the stage function returns, unchecked; whatever it raises as a StageError."""
    if stage not in journey.stages:
        raise StageError(journey.name, stage, f"unknown stage; the journey's stages are "
                         f"{list(journey.stages)}")
    stage_spec = journey.spec.stage(stage)
    fn = journey.functions[stage]
    params = stage_spec.params if stage_spec is not None else {}
    args = (df, model) if journey.spec.model_for(stage) is not None else (df,)
    try:
        return fn(*args, **params)
    except StageError:
        raise
    except Exception as exc:
        raise StageError(journey.name, stage, f"{_function_name(journey, stage)} raised "
                         f"{type(exc).__name__}: {exc}") from exc


def check_stage_output(journey: Journey, stage: str, out: Any, *, name: str | None = None
                       ) -> pd.DataFrame:
    """``out`` if it is a DataFrame carrying the request id column, else a StageError."""
    name = name or _function_name(journey, stage)
    if not isinstance(out, pd.DataFrame):
        raise StageError(journey.name, stage, f"{name} returned {type(out).__name__}, "
                         f"expected a pandas DataFrame")
    rid = journey.spec.request_id
    if rid not in out.columns:
        raise StageError(journey.name, stage, f"output has no request id column '{rid}' "
                         f"(columns: {list(out.columns)[:12]}); every stage must carry it")
    return out


def _function_name(journey: Journey, stage: str) -> str:
    stage_spec = journey.spec.stage(stage)
    return stage_spec.function if stage_spec is not None else "identity"


def run_through(journey: Journey, requests: pd.DataFrame, *, models: Mapping[str, Any],
                until: str | None = None, start: str | None = None) -> dict[str, pd.DataFrame]:
    """Run ``requests`` through the stages in order, from ``start`` (default: the first; then
    ``requests`` is what ``start`` receives) up to and including ``until`` (default: all).
    ``models`` maps each model-serving stage to its loaded model."""
    stages = journey.stages
    first = stages.index(start) if start is not None else 0
    last = stages.index(until) if until is not None else len(stages) - 1
    outputs: dict[str, pd.DataFrame] = {}
    df = requests
    for stage in stages[first: last + 1]:
        df = run_stage(journey, stage, df, model=models.get(stage))
        outputs[stage] = df
    return outputs
