"""What the quality and challenger checks share: the labelled evaluation set, and the journey
replayed from the model's stage with one version or another.

The evaluation set is a golden set with labels. Comparing two versions, both are scored on the
*baseline's* golden set (the champion's, gated earlier), never on one the candidate brought:
a candidate cannot choose the data it is judged on. Without a baseline, the served version's
own golden set is used, on absolute thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from e2e_assets.checks.base import StageCheckContext
from e2e_assets.errors import GoldenError
from e2e_assets.golden import GoldenSet, golden_of
from e2e_assets.model_registry import ResolvedModel
from e2e_assets.stages import run_through

if TYPE_CHECKING:
    from e2e_assets.spec.model import LabelSpec


@dataclass(frozen=True)
class Versions:
    """The served version of the model of record and the one it is compared with."""

    stage: str
    served: ResolvedModel
    baseline: ResolvedModel | None  # None: nothing to compare (first model, or the same one)

    @property
    def compared(self) -> bool:
        return self.baseline is not None


def versions(ctx: StageCheckContext) -> Versions:
    """The record stage's served and baseline versions (GoldenError if none is served)."""
    stage = ctx.journey.spec.record_stage
    if stage is None or ctx.served is None:
        raise GoldenError("the journey serves no model: nothing to evaluate")
    served = ctx.served.resolved(stage)
    if served is None:
        raise GoldenError(f"stage '{stage}' resolved no model")
    baseline = ctx.served.baseline(stage)
    if baseline is not None and baseline.version == served.version:
        baseline = None
    return Versions(stage=stage, served=served, baseline=baseline)


def label_spec(ctx: StageCheckContext) -> LabelSpec:
    labels = ctx.journey.spec.labels
    if labels is None:
        raise GoldenError("the journey has no 'labels:' (column, prediction, positive)")
    return labels


def labelled_golden(ctx: StageCheckContext, owner: ResolvedModel) -> GoldenSet:
    """``owner``'s golden set, verified, with labels (GoldenError otherwise)."""
    if ctx.tracking_uri is None:
        raise GoldenError("no tracking URI: cannot read a golden set")
    golden = golden_of(ctx.served, ctx.tracking_uri, owner)
    if golden.labels is None:
        raise GoldenError(f"the golden set of {owner.name} v{owner.version} has no labels; "
                          f"register it with golden requests that carry the label column "
                          f"'{label_spec(ctx).column}'")
    return golden


def replay(ctx: StageCheckContext, frame: pd.DataFrame, record_stage: str,
           model: Any) -> pd.DataFrame:
    """``frame`` (the record stage's input) through the record stage up to ``ctx.stage``,
    with ``model`` at the record stage and the run's served models elsewhere."""
    if ctx.served is None:
        raise GoldenError("no served models in this context")
    models = {s: (model if s == record_stage else ctx.served.model(s))
              for s in ctx.journey.spec.model_stages}
    return run_through(ctx.journey, frame, models=models, start=record_stage,
                       until=ctx.stage)[ctx.stage]


def truth(labels: LabelSpec, golden: GoldenSet, scored: pd.DataFrame, request_id: str
          ) -> tuple[np.ndarray[Any, Any], pd.DataFrame]:
    """The labels aligned with ``scored`` by request id: (y_true, the scored rows kept)."""
    if golden.labels is None:
        raise GoldenError(f"the golden set of v{golden.model_version} has no labels")
    joined = scored.merge(golden.labels[[request_id, labels.column]], on=request_id,
                          how="inner", suffixes=("", "__label"))
    column = labels.column if labels.column not in scored.columns else f"{labels.column}__label"
    values = joined[column]
    if labels.positive is not None:
        y = (values.astype(str) == str(labels.positive)).astype(int).to_numpy()
    else:
        y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return y, joined


def prediction(labels: LabelSpec, frame: pd.DataFrame, where: str) -> np.ndarray[Any, Any]:
    if labels.prediction not in frame.columns:
        raise GoldenError(f"{where} has no prediction column '{labels.prediction}' "
                          f"(labels.prediction); it has {sorted(map(str, frame.columns))[:20]}")
    return pd.to_numeric(frame[labels.prediction], errors="coerce").to_numpy(dtype=float)
