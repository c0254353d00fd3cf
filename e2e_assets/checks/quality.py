"""Model quality on labelled data: metrics on the golden set, thresholds in MLflow's vocabulary.

The served model of record scores the labelled golden set (replayed from its stage up to the
check's stage); AUC, log loss and Brier score for a classifier, RMSE and MAE for a regressor
come from ``sklearn.metrics``; each threshold is decided by ``mlflow.validate_evaluation_results``
against the baseline (the champion, scored on the same set), or on its absolute threshold when
there is none. A constant classifier scores AUC 0.5 and fails here, whatever golden set it
brought along.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from e2e_assets.checks.base import (
    CheckResult,
    DryRunProblem,
    Options,
    StageCheckContext,
    missing_columns,
    register,
)
from e2e_assets.errors import GoldenError, GoldenTamperedError
from e2e_assets.release.evaluation import (
    label_spec,
    labelled_golden,
    prediction,
    replay,
    truth,
    versions,
)

# The metrics per model type, and which way is better (sklearn names them differently).
METRICS: dict[str, dict[str, bool]] = {
    "classifier": {"roc_auc": True, "log_loss": False, "brier_score": False},
    "regressor": {"rmse": False, "mae": False},
}


class ThresholdOptions(BaseModel):
    """MLflow's MetricThreshold: an absolute bound and/or a required change vs the baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float | None = None
    min_absolute_change: float | None = Field(default=None, gt=0)
    min_relative_change: float | None = Field(default=None, ge=0, le=1)
    greater_is_better: bool | None = None  # default: the metric's own direction


class QualityOptions(Options):
    thresholds: dict[str, ThresholdOptions] = Field(min_length=1)


def _validate(spec: Any, stage: str, options: QualityOptions) -> tuple[str, str] | None:
    if spec.labels is None:
        return "thresholds", ("a quality check needs the journey's 'labels:' (column, "
                              "prediction, and positive for a classifier)")
    return model_check_problem(spec, stage, "quality", "thresholds", options.thresholds)


def model_check_problem(spec: Any, stage: str, kind: str, field: str,
                        metrics: Any) -> tuple[str, str] | None:
    """The metrics named must exist for the journey's model type, and a check judging the
    model of record must run at or after the stage that serves it."""
    if spec.labels is not None:
        known = METRICS[spec.labels.model_type]
        unknown = sorted(set(metrics) - set(known))
        if unknown:
            return field, (f"unknown metrics {unknown} for a {spec.labels.model_type}; "
                           f"known: {sorted(known)}")
    record = spec.record_stage
    names = spec.stage_names
    if record is None or names.index(stage) < names.index(record):
        return "stage", (f"a {kind} check runs at or after the stage serving the model of "
                         f"record ('{record}'), not at '{stage}'")
    return None


def _dry_run(ctx: StageCheckContext, options: QualityOptions) -> list[DryRunProblem]:
    labels = ctx.journey.spec.labels
    if labels is None:
        return []
    return missing_columns(ctx, "output", [labels.prediction], "labels.prediction")


@register("quality", options=QualityOptions, validate_spec=_validate, dry_run=_dry_run)
def check_quality(ctx: StageCheckContext, options: QualityOptions) -> CheckResult:
    """The model of record meets its quality thresholds on the labelled golden set."""
    from e2e_assets.release.metrics import Threshold, quality_metrics, validate_quality

    try:
        labels = label_spec(ctx)
        chosen = versions(ctx)
        owner = chosen.baseline or chosen.served
        golden = labelled_golden(ctx, owner)
        golden_input = golden.input_for(chosen.stage)
        model = ctx.served.model(chosen.stage) if ctx.served else None
        scored = replay(ctx, golden_input, chosen.stage, model)
        y, rows = truth(labels, golden, scored, ctx.request_id)
        candidate = quality_metrics(labels.model_type, y, prediction(labels, rows, "the output"))
        baseline = None
        if chosen.baseline is not None and ctx.served is not None:
            base_scored = replay(ctx, golden_input, chosen.stage,
                                 ctx.served.load(chosen.baseline))
            by, base_rows = truth(labels, golden, base_scored, ctx.request_id)
            baseline = quality_metrics(labels.model_type, by,
                                       prediction(labels, base_rows, "the baseline's output"))
    except GoldenTamperedError as exc:
        return CheckResult(False, str(exc), {"tampered": True})
    except GoldenError as exc:
        return CheckResult(False, str(exc))
    directions = METRICS[labels.model_type]
    thresholds = {name: Threshold(
        metric=name, threshold=t.threshold, min_absolute_change=t.min_absolute_change,
        min_relative_change=t.min_relative_change,
        greater_is_better=directions[name] if t.greater_is_better is None
        else t.greater_is_better) for name, t in options.thresholds.items()}
    verdicts = validate_quality(thresholds, candidate, baseline)
    where = (f"v{chosen.served.version} on the labelled golden set of v{owner.version} "
             f"({len(y)} rows)")
    against = (f", against v{chosen.baseline.version}" if chosen.baseline is not None
               else ", absolute thresholds only (no other version to compare)")
    failed = [v.message for v in verdicts if not v.passed]
    summary = (f"quality of {where}{against}: " +
               ("; ".join(failed) if failed else "; ".join(v.message for v in verdicts)))
    metadata: dict[str, Any] = {**candidate, "labelled_rows": len(y),
                                "served_version": chosen.served.version,
                                "evaluated_on": f"golden set of v{owner.version}"}
    if baseline is not None and chosen.baseline is not None:
        metadata.update({f"baseline_{k}": v for k, v in baseline.items()})
        metadata["baseline_version"] = chosen.baseline.version
    return CheckResult(not failed, summary, metadata)
