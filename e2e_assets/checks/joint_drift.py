"""Joint drift as a stage check: a domain classifier between the stage's output and a reference.

The reference is the drift check's: the served model version's training data run through the
journey up to this stage (:func:`e2e_assets.checks.drift.reference_frame`). Per-column drift
misses a shift that keeps every marginal (one column shuffled across rows); this check sees it.
The test itself is :func:`e2e_assets.drift.joint.domain_classifier_test`. A monitoring check,
like ``drift``: evaluated after the stage materializes, and again by the checks-only job.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from e2e_assets.checks.base import (
    CheckResult,
    DryRunProblem,
    Options,
    StageCheckContext,
    missing_columns,
    register,
)
from e2e_assets.checks.drift import DriftOptions, reference_frame
from e2e_assets.drift.joint import FOLDS, domain_classifier_test


class JointDriftOptions(Options):
    columns: list[str] | None = Field(default=None, min_length=1)  # None: all but the request id
    alpha: float = Field(default=0.05, gt=0, lt=1)
    min_auc_effect: float = Field(default=0.05, ge=0, lt=0.5)  # floor on held-out AUC - 0.5
    max_rows: int = Field(default=5000, ge=2 * FOLDS)  # per side, subsampled with ``seed``
    seed: int | None = None  # None: the journey's seed


def _validate(spec: Any, stage: str, options: JointDriftOptions) -> tuple[str, str] | None:
    if options.columns is not None:
        if spec.request_id in options.columns:
            return "columns", (f"columns name the request id '{spec.request_id}': ids never "
                               f"repeat across batches, so it would tell any two apart")
        repeated = sorted({c for c in options.columns if options.columns.count(c) > 1})
        if repeated:
            return "columns", f"columns named more than once: {repeated}"
    if spec.primary_model is None:
        return "reference", ("joint drift compares with the model version's training data; "
                             "the journey has no model")
    return None


def _dry_run(ctx: StageCheckContext, options: JointDriftOptions) -> list[DryRunProblem]:
    return missing_columns(ctx, "output", options.columns or [], "joint_drift columns")


@register("joint_drift", options=JointDriftOptions, phase="monitor", validate_spec=_validate,
          dry_run=_dry_run)
def check_joint_drift(ctx: StageCheckContext, options: JointDriftOptions) -> CheckResult:
    """The stage's rows are jointly distributed as the training reference (domain classifier)."""
    current = ctx.frame("output")
    if ctx.record_model is None:
        return CheckResult(False, "no model version resolved: no reference to compare with")
    columns = options.columns or [c for c in current.columns if c != ctx.request_id]
    lacking = [c for c in columns if c not in current.columns]
    if lacking:
        return CheckResult(False, f"joint_drift columns {lacking} are not in stage "
                           f"'{ctx.stage}''s output (it has: {sorted(map(str, current.columns))})")
    reference = reference_frame(ctx, DriftOptions(reference="training"))
    lacking = [c for c in columns if c not in reference.columns]
    if lacking:
        return CheckResult(False, f"joint_drift columns {lacking} are not in the training "
                           f"reference of stage '{ctx.stage}'")
    if min(len(reference), len(current)) < 2 * FOLDS:
        return CheckResult(False, f"joint drift needs at least {2 * FOLDS} rows on each side; "
                           f"reference {len(reference)}, current {len(current)}")
    seed = options.seed if options.seed is not None else ctx.journey.spec.seed
    res = domain_classifier_test(reference, current, columns, alpha=options.alpha,
                                 min_auc_effect=options.min_auc_effect,
                                 max_rows=options.max_rows, seed=seed)
    meta: dict[str, Any] = {
        "reference": "training", "auc": round(res.auc, 6), "auc_effect": round(res.effect, 6),
        "min_auc_effect": res.min_auc_effect, "p_value": res.p_value, "alpha": res.alpha,
        "test": "exact binomial, held-out accuracy vs 1/2 (one-sided)",
        "held_out_accuracy": round(res.accuracy, 6), "rows_per_side": res.n_per_side,
        "n_reference": res.n_reference, "n_current": res.n_current, "seed": seed,
        "columns": list(res.columns),
        "drivers": [{"column": c, "auc_drop": v} for c, v in res.drivers]}
    stats = (f"held-out AUC {res.auc:.3f} (effect {res.effect:+.3f}, floor "
             f"{res.min_auc_effect}), p {res.p_value:.2g} (alpha {res.alpha}), "
             f"{res.n_per_side} rows per side")
    if not res.drifted:
        return CheckResult(True, f"no joint drift over {len(columns)} columns: {stats}", meta)
    drivers = ", ".join(f"{c} ({v:.3f})" for c, v in res.drivers) or "none singled out"
    return CheckResult(False, f"joint drift: a classifier tells this batch from the training "
                       f"reference; {stats}; driven by {drivers}", meta)
