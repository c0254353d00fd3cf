"""Challenger vs champion: the same inputs through both versions, compared with confidence.

Usable in any run that serves two versions of the model of record: the gate's (the candidate
served, the champion as baseline) or ``run --alias challenger``. In a run that serves the
champion itself there is nothing to compare and the check says so (and passes).

Two input sets go through both versions, from the model's stage up to this check's stage:

* the **current batch** (this run's input of the model's stage): decision flip rate with a
  Wilson interval, score divergence, and non-inferiority of business KPIs (a rate of a value,
  or a column's mean), each with a paired bootstrap CI (``scipy.stats.bootstrap``);
* the **labelled golden set of the baseline**: McNemar's exact test on correct/incorrect and
  non-inferiority of quality metrics (AUC, ...), bootstrap CIs stratified by class.

A verdict reads "challenger is non-inferior on roc_auc (Δ −0.004, 95% CI −0.011..0.003,
margin 0.01)"; the check fails if any non-inferiority is not shown, the flip rate's upper bound
exceeds ``max_flip_rate``, or McNemar finds the challenger significantly more often wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from e2e_assets.checks.base import (
    CheckResult,
    DryRunProblem,
    Options,
    StageCheckContext,
    missing_columns,
    register,
)
from e2e_assets.checks.quality import METRICS, model_check_problem
from e2e_assets.errors import GoldenError, GoldenTamperedError
from e2e_assets.release.evaluation import (
    Versions,
    label_spec,
    labelled_golden,
    prediction,
    replay,
    truth,
    versions,
)
from e2e_assets.sources import read_source


class Kpi(BaseModel):
    """A business KPI over the batch: the rate of ``column == equals``, else the mean of
    ``column``. ``greater_is_better`` None: equivalence (the CI must lie within ±margin)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    column: str
    equals: str | int | float | bool | None = None
    margin: float = Field(ge=0)
    greater_is_better: bool | None = None


class Margin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    margin: float = Field(ge=0)


class ChallengerOptions(Options):
    decision: str | None = None  # the decision column whose flips are counted
    max_flip_rate: float | None = Field(default=None, gt=0, le=1)  # on the Wilson upper bound
    positive_at: float = Field(default=0.5, gt=0, lt=1)  # score >= this predicts the positive
    kpis: dict[str, Kpi] = {}
    metrics: dict[str, Margin] = {}  # quality metrics on the labelled golden set
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    alpha: float = Field(default=0.05, gt=0, lt=1)  # McNemar
    n_resamples: int = Field(default=1000, ge=100, le=100_000)


def _validate(spec: Any, stage: str, options: ChallengerOptions) -> tuple[str, str] | None:
    if spec.labels is None and (options.metrics or options.kpis):
        return "metrics", "comparing quality metrics needs the journey's 'labels:'"
    return model_check_problem(spec, stage, "challenger", "metrics", options.metrics)


def _dry_run(ctx: StageCheckContext, options: ChallengerOptions) -> list[DryRunProblem]:
    columns = [k.column for k in options.kpis.values()]
    columns += [options.decision] if options.decision else []
    return missing_columns(ctx, "output", columns, "the challenger check")


@register("challenger", options=ChallengerOptions, validate_spec=_validate, dry_run=_dry_run)
def check_challenger(ctx: StageCheckContext, options: ChallengerOptions) -> CheckResult:
    """The challenger is non-inferior to the champion on the same inputs, with confidence."""
    try:
        chosen = versions(ctx)
    except GoldenError as exc:
        return CheckResult(False, str(exc))
    if chosen.baseline is None or ctx.served is None:
        return CheckResult(True, f"nothing to compare: this run serves v{chosen.served.version}"
                                 f" and no other version of {chosen.served.name} (the gate "
                                 f"compares a candidate with the champion)",
                           {"compared": False, "served_version": chosen.served.version})
    baseline_model = ctx.served.load(chosen.baseline)
    lines: list[str] = []
    metadata: dict[str, Any] = {"compared": True, "served_version": chosen.served.version,
                                "baseline_version": chosen.baseline.version}
    passed = _batch(ctx, options, chosen, baseline_model, lines, metadata)
    try:
        passed &= _golden(ctx, options, chosen, baseline_model, lines, metadata)
    except GoldenTamperedError as exc:
        return CheckResult(False, str(exc), {**metadata, "tampered": True})
    except GoldenError as exc:
        return CheckResult(False, f"cannot compare on the golden set: {exc}", metadata)
    head = (f"challenger v{chosen.served.version} vs {chosen.baseline.alias} "
            f"v{chosen.baseline.version}: ")
    return CheckResult(passed, head + "; ".join(lines), metadata)


def _batch(ctx: StageCheckContext, options: ChallengerOptions, chosen: Versions,
           baseline_model: Any, lines: list[str], metadata: dict[str, Any]) -> bool:
    """This run's batch through both versions: flips, score divergence, KPIs."""
    from e2e_assets.release.stats import flip_rate, mean_difference, score_divergence

    candidate = ctx.frame("output")
    baseline = replay(ctx, _record_stage_input(ctx, chosen.stage), chosen.stage, baseline_model)
    cand, base = _paired(candidate, baseline, ctx.request_id)
    passed = True
    if options.decision:
        flips = flip_rate(cand[options.decision], base[options.decision], options.confidence)
        ok = options.max_flip_rate is None or flips.high <= options.max_flip_rate
        passed &= ok
        limit = f", limit {options.max_flip_rate:g}" if options.max_flip_rate else ""
        lines.append(f"{'' if ok else 'TOO MANY '}decision flips {flips.flips}/{flips.n} "
                     f"({flips.rate:.1%}, {options.confidence:.0%} Wilson CI "
                     f"{flips.low:.1%}..{flips.high:.1%}{limit})")
        metadata.update(flip_rate=flips.rate, flip_rate_high=flips.high)
    labels = ctx.journey.spec.labels
    if labels is not None and labels.prediction in cand.columns:
        div = score_divergence(cand[labels.prediction], base[labels.prediction])
        lines.append(f"score divergence mean |Δ| {div.mean_abs:.4f}, max {div.max_abs:.4f}")
        metadata.update(score_mean_abs_diff=div.mean_abs, score_max_abs_diff=div.max_abs)
    for name, kpi in options.kpis.items():
        result = mean_difference(name, _kpi_values(cand, kpi), _kpi_values(base, kpi),
                                 kpi.margin, kpi.greater_is_better,
                                 confidence=options.confidence, n_resamples=options.n_resamples,
                                 seed=ctx.journey.spec.seed)
        passed &= result.passed
        lines.append(result.verdict)
        metadata.update({f"kpi_{name}": result.candidate, f"kpi_{name}_baseline": result.baseline,
                         f"kpi_{name}_delta_low": result.low})
    return passed


def _golden(ctx: StageCheckContext, options: ChallengerOptions, chosen: Versions,
            baseline_model: Any, lines: list[str], metadata: dict[str, Any]) -> bool:
    """The baseline's labelled golden set through both: McNemar and quality non-inferiority."""
    if ctx.journey.spec.labels is None or not (options.metrics or
                                               ctx.journey.spec.labels.positive is not None):
        return True
    from e2e_assets.release.stats import mcnemar, metric_difference

    labels = label_spec(ctx)
    if chosen.baseline is None:
        return True
    golden = labelled_golden(ctx, chosen.baseline)
    golden_input = golden.input_for(chosen.stage)
    served_model = ctx.served.model(chosen.stage) if ctx.served else None
    cand, base = _paired(replay(ctx, golden_input, chosen.stage, served_model),
                         replay(ctx, golden_input, chosen.stage, baseline_model), ctx.request_id)
    y, cand = truth(labels, golden, cand, ctx.request_id)
    _, base = truth(labels, golden, base, ctx.request_id)
    cand_score = prediction(labels, cand, "the challenger's output")
    base_score = prediction(labels, base, "the champion's output")
    passed = True
    if labels.positive is not None:
        test = mcnemar((cand_score >= options.positive_at) == y,
                       (base_score >= options.positive_at) == y)
        worse = test.p_value < options.alpha and test.c > test.b
        passed &= not worse
        lines.append(f"McNemar on {len(y)} labelled golden rows: challenger right where the "
                     f"champion is wrong {test.b}x, the reverse {test.c}x, exact p "
                     f"{test.p_value:.3g}{' (significantly worse)' if worse else ''}")
        metadata.update(mcnemar_b=test.b, mcnemar_c=test.c, mcnemar_p=test.p_value)
    directions = METRICS[labels.model_type]
    for name, margin in options.metrics.items():
        result = metric_difference(name, _metric_fn(name), y, cand_score, base_score,
                                   margin.margin, directions[name],
                                   stratify=labels.positive is not None,
                                   confidence=options.confidence,
                                   n_resamples=options.n_resamples, seed=ctx.journey.spec.seed)
        passed &= result.passed
        lines.append(result.verdict)
        metadata.update({f"{name}_delta": result.delta, f"{name}_delta_low": result.low,
                         f"{name}_delta_high": result.high})
    return passed


def _metric_fn(name: str) -> Any:
    from sklearn import metrics as skm

    return {"roc_auc": skm.roc_auc_score, "brier_score": skm.brier_score_loss,
            "log_loss": lambda y, p: skm.log_loss(y, p, labels=[0, 1]),
            "rmse": skm.root_mean_squared_error, "mae": skm.mean_absolute_error}[name]


def _record_stage_input(ctx: StageCheckContext, record_stage: str) -> pd.DataFrame:
    """What the model's stage received in this run."""
    if record_stage == ctx.stage:
        return ctx.frame("input")
    upstream = ctx.journey.upstream_of(record_stage)
    if upstream is None:  # the run's requests (a partitioned run's: its day)
        return ctx.read_requests(None) if ctx.read_requests else read_source(ctx.journey)
    if ctx.read_stage is None:
        raise GoldenError("this context cannot read other stages' outputs")
    return ctx.read_stage(upstream)


def _paired(candidate: pd.DataFrame, baseline: pd.DataFrame, key: str
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames on the request ids they share, in the same order."""
    shared = candidate[key][candidate[key].isin(set(baseline[key]))]
    cand = candidate.set_index(key).loc[shared].reset_index()
    base = baseline.set_index(key).loc[shared].reset_index()
    return cand, base


def _kpi_values(frame: pd.DataFrame, kpi: Kpi) -> np.ndarray[Any, Any]:
    column = frame[kpi.column]
    if kpi.equals is not None:
        return (column.astype(str) == str(kpi.equals)).to_numpy(dtype=float)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
