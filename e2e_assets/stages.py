"""Run a journey's stage functions on DataFrames, without Dagster.

Stage functions are plain Python: ``fn(df, **params) -> DataFrame``; ``score`` is
``fn(df, model, **params)``. A missing ``ingest``/``deliver`` is the identity. Whatever a stage
function raises becomes a :class:`StageError` naming the journey and the stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from e2e_assets.errors import StageError
from e2e_assets.spec import STAGES, Journey


def run_stage(journey: Journey, stage: str, df: pd.DataFrame, *, model: Any = None
              ) -> pd.DataFrame:
    """Call one stage function on ``df`` and check what it returns."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    stage_spec = journey.spec.stages.get(stage)
    if journey.faults:
        from e2e_assets.faults import apply_to_model

        model = apply_to_model(journey, stage, model)
    if stage_spec is None:
        out = df
    else:
        fn = journey.functions[stage]
        args = (df, model) if stage == "score" else (df,)
        try:
            out = fn(*args, **stage_spec.params)
        except StageError:
            raise
        except Exception as exc:
            raise StageError(journey.name, stage, f"{stage_spec.function} raised "
                             f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(out, pd.DataFrame):
            raise StageError(journey.name, stage, f"{stage_spec.function} returned "
                             f"{type(out).__name__}, expected a pandas DataFrame")
    if journey.faults:
        from e2e_assets.faults import apply_to_output

        out = apply_to_output(journey, stage, out)
    rid = journey.spec.request_id
    if rid not in out.columns:
        raise StageError(journey.name, stage, f"output has no request id column '{rid}' "
                         f"(columns: {list(out.columns)[:12]}); every stage must carry it")
    return out


def run_through(journey: Journey, requests: pd.DataFrame, *, model: Any,
                until: str = "decide") -> Mapping[str, pd.DataFrame]:
    """Run ``requests`` through the stages in order up to and including ``until``."""
    outputs: dict[str, pd.DataFrame] = {}
    df = requests
    for stage in STAGES[: STAGES.index(until) + 1]:
        df = run_stage(journey, stage, df, model=model if stage == "score" else None)
        outputs[stage] = df
    return outputs
