"""Fairness: favourable-outcome rates per cohort of a real attribute, and how they move.

A cohort is a value of ``attribute`` (home ownership), or a band of a numeric one (``bands``:
edges, so ``[30, 40, 50]`` gives ``<30``, ``30-40``, ``40-50``, ``>=50``); missing values form
their own cohort. The favourable outcome is ``decision == favourable`` (``approve``), or
``score`` below (``favourable_below``) or above ``threshold`` for a regression journey. A
cohort with fewer than ``min_cohort_size`` rows is reported, never judged.

Three views, each flagged only when the gap is above its threshold **and** significant: the
one-sided ``1 - alpha`` bound of a bootstrap interval (``release.stats.non_inferiority``, i.e.
``scipy.stats.bootstrap``, cohorts resampled independently) lies beyond the threshold.

1. **The batch** (absolute): each cohort against the most favoured one, the demographic parity
   difference (rate gap, ``max_parity_difference``) and the disparate impact ratio (rate ratio,
   ``min_disparate_impact``: 0.8 is the four-fifths rule).
2. **The labelled golden set** (absolute, where labels exist): the golden requests replayed
   through the stage now; equalised-odds gaps, the favourable rate among truly favourable
   (``label_favourable``, or the label past ``threshold`` like the score) and among truly
   unfavourable requests, against the best cohort (``max_equalised_odds_gap``).
3. **The shift against the model of record** (relative, paired): the same golden requests as
   the stage produces them now versus the outputs recorded when the version was registered.
   Per cohort, its mean change in favourable rate (``max_parity_shift``) and in score (in
   standard deviations of the recorded score, ``max_score_shift``) minus the rest's. A clean run
   reproduces its golden outputs exactly, so this view cannot cry wolf, yet a penalty on one
   cohort shows at full strength whatever the batch's own gaps.

Why relative as well as absolute: the reference journeys' real data are not at parity. On clean
credit batches (seeds 42 and 1-5, and 75% resamples of each) approval (p_default < 0.25) across
age bands differs by 0.19-0.26, at most 0.30 resampled (disparate impact 0.67-0.76; <30 lowest,
>=50 highest): the four-fifths rule would fail every clean run. Across home ownership it
differs by up to 0.48 (impact 0.39). In loan pricing the share of rates below 12% differs by
0.07-0.11 between home-ownership cohorts (0.14 resampled) and by up to 0.32 between states of
30+ loans. The reference journeys' absolute bounds therefore sit above the clean gaps with a
margin (age bands 0.35 / 0.55, home 0.6 / 0.3, home ownership 0.2 / 0.7, states 0.45 / 0.45),
and a gap is flagged only when its bound clears them, which on clean data needs a gap well
beyond anything measured. They catch gross unfairness in the data or a model; the paired shift
catches a cohort treated differently from what the model of record did, which the absolute view
may even miss (a penalty on the most favoured cohort narrows the batch's gap).

Statistics (the pure part) live in :mod:`e2e_assets.checks.cohort_gaps`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, ValidationInfo, field_validator

from e2e_assets.checks.base import (
    CheckResult,
    DryRunProblem,
    Options,
    StageCheckContext,
    missing_columns,
    register,
)
from e2e_assets.checks.cohort_gaps import (
    CohortRate,
    Gap,
    cohort_rates,
    cohorts,
    equalised_odds_gaps,
    favourable,
    past_threshold,
    rate_gaps,
    shift_gaps,
)
from e2e_assets.errors import GoldenError, GoldenTamperedError

Value = str | float | bool


class FairnessOptions(Options):
    attribute: str = Field(min_length=1)
    bands: list[float] | None = Field(default=None, min_length=1)  # edges of a numeric column
    decision: str | None = None
    favourable: Value | None = Field(default=None, validate_default=True)
    score: str | None = Field(default=None, validate_default=True)
    threshold: float | None = Field(default=None, validate_default=True)
    favourable_below: bool = True  # score < threshold is favourable (a low risk, a low rate)
    label: str | None = None  # in the golden set's labels
    # The label value of a truly favourable request; default with a score: the label past
    # the threshold, as the score.
    label_favourable: Value | None = Field(default=None, validate_default=True)
    min_cohort_size: int = Field(default=50, ge=2)
    max_parity_difference: float = Field(default=0.2, gt=0, le=1)
    min_disparate_impact: float = Field(default=0.8, gt=0, le=1)
    max_equalised_odds_gap: float = Field(default=0.2, gt=0, le=1)
    max_parity_shift: float = Field(default=0.05, gt=0, le=1)
    max_score_shift: float = Field(default=0.1, gt=0)
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    # a journey's alpha is small (its false-alarm budget, shared): enough resamples for its tail
    n_resamples: int = Field(default=2000, ge=100, le=100_000)
    seed: int = 0

    # Each cross-field rule fails on the field to fix, so the load error names it.
    @field_validator("bands")
    @classmethod
    def _increasing(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and sorted(set(v)) != list(v):
            raise ValueError(f"bands must be strictly increasing edges, got {v}")
        return v

    @field_validator("favourable")
    @classmethod
    def _favourable(cls, v: Value | None, info: ValidationInfo) -> Value | None:
        if info.data.get("decision") is not None and v is None:
            raise ValueError(f"decision '{info.data['decision']}' needs 'favourable', the "
                             f"value that is the favourable outcome (e.g. approve)")
        return v

    @field_validator("score")
    @classmethod
    def _one_outcome(cls, v: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("decision") is None) == (v is None):
            raise ValueError("give either 'decision' (with 'favourable') or 'score' (with "
                             "'threshold'), not both or neither")
        return v

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, v: float | None, info: ValidationInfo) -> float | None:
        if info.data.get("score") is not None and v is None:
            raise ValueError(f"score '{info.data['score']}' needs 'threshold' (favourable "
                             f"below it, or above it with favourable_below: false)")
        return v

    @field_validator("label_favourable")
    @classmethod
    def _label_favourable(cls, v: Value | None, info: ValidationInfo) -> Value | None:
        if info.data.get("label") is not None and v is None and info.data.get("score") is None:
            raise ValueError(f"label '{info.data['label']}' needs 'label_favourable', the "
                             f"label of a truly favourable request")
        return v

    @property
    def outcome_column(self) -> str:
        return str(self.decision if self.decision is not None else self.score)


def _with_attribute(frame: pd.DataFrame, source: pd.DataFrame | None, attribute: str,
                    request_id: str) -> pd.DataFrame:
    """``frame`` with ``attribute`` taken from ``source`` by request id when it lacks it."""
    if attribute in frame.columns or source is None or attribute not in source.columns:
        return frame
    lookup = source.drop_duplicates(request_id).set_index(request_id)[attribute]
    return frame.assign(**{attribute: frame[request_id].map(lookup)})


def _validate(spec: Any, stage: str, options: FairnessOptions) -> tuple[str, str] | None:
    if options.label is not None and spec.labels is None:
        return "label", ("a label needs the journey's 'labels:' (the golden set is where "
                         "labels exist)")
    if options.label is not None and options.label != spec.labels.column:
        return "label", (f"the golden set holds the label column '{spec.labels.column}' "
                         f"(labels.column), not '{options.label}'")
    return None


def _dry_run(ctx: StageCheckContext, options: FairnessOptions) -> list[DryRunProblem]:
    problems = missing_columns(ctx, "output", [options.outcome_column], "options")
    frame = _with_attribute(ctx.frame("output"), ctx.input, options.attribute, ctx.request_id)
    if options.attribute not in frame.columns:
        problems.append({"column": options.attribute, "message": (
            f"options.attribute names column '{options.attribute}', which neither the stage's "
            f"output nor its input has")})
    return problems


def _golden(ctx: StageCheckContext, options: FairnessOptions
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None] | str:
    """(now, recorded, labels) for the golden requests at this stage, or why not."""
    from e2e_assets.golden import golden_of
    from e2e_assets.stages import run_stage

    record = ctx.record_model
    if record is None or ctx.tracking_uri is None:
        return "no model of record: the golden views are skipped"
    try:
        golden = golden_of(ctx.served, ctx.tracking_uri, record)
        golden_input = golden.input_for(ctx.stage)
    except GoldenTamperedError:
        raise
    except GoldenError as exc:
        return f"golden views skipped: {exc}"
    now = run_stage(ctx.journey, ctx.stage, golden_input, model=ctx.model)
    rid = ctx.request_id
    now = _with_attribute(now, golden_input, options.attribute, rid)
    recorded = golden.frames[ctx.stage]
    recorded = _with_attribute(recorded, golden_input, options.attribute, rid)
    return now, recorded, golden.labels


def _rate_records(rates: list[CohortRate], confidence: float) -> list[dict[str, Any]]:
    """Per cohort: its size, favourable rate and confidence interval, and whether it was
    large enough to judge."""
    ci = f"{confidence * 100:g}% CI"
    return [{"cohort": r.cohort, "rows": r.n, "favourable_rate": round(r.rate, 4),
             ci: f"{r.low:.3f}..{r.high:.3f}", "judged": r.judged} for r in rates]


def _gap_records(gaps: list[Gap]) -> list[dict[str, Any]]:
    """Per comparison: the measure, the cohorts, the value with its interval, the threshold,
    and whether it is flagged (the flagged rows come first in the evidence table)."""
    return [{"measure": g.measure, "cohort": g.cohort, "against": g.against,
             "value": round(g.value, 4), "ci": f"{g.low:.3f}..{g.high:.3f}",
             "threshold": g.threshold, "flagged": g.flagged} for g in gaps]


@register("fairness", options=FairnessOptions, validate_spec=_validate, dry_run=_dry_run)
def check_fairness(ctx: StageCheckContext, options: FairnessOptions) -> CheckResult:
    """No cohort of the attribute is significantly less favoured, nor treated worse than the model of record did."""
    out = _with_attribute(ctx.frame("output"), ctx.input, options.attribute, ctx.request_id)
    if options.attribute not in out.columns:
        return CheckResult(False, f"fairness: attribute '{options.attribute}' is in neither the "
                           f"output nor the input of stage '{ctx.stage}'")
    confidence = 1 - 2 * options.alpha
    cohort = cohorts(out[options.attribute], options.bands)
    fav = favourable(out, options)
    rates = cohort_rates(cohort, fav, options.min_cohort_size, confidence)
    gaps = rate_gaps(cohort, fav, options)
    notes: list[str] = []
    try:
        golden = _golden(ctx, options)
    except GoldenTamperedError as exc:
        return CheckResult(False, str(exc), {"tampered": True})
    if isinstance(golden, str):
        notes.append(golden)
    else:
        now, recorded, labels = golden
        gaps += _golden_gaps(ctx, options, now, recorded, labels, notes)
    # the largest first: in the paired shift the cohort at fault moves most, the rest follow
    flagged = sorted((g for g in gaps if g.flagged), key=lambda g: (g.measure, -abs(g.value)))
    judged = [r for r in rates if r.judged]
    metadata: dict[str, Any] = {
        "attribute": options.attribute + (f" (bands {options.bands})" if options.bands else ""),
        "favourable": (f"{options.decision} == {options.favourable!r}" if options.decision
                       else f"{options.score} {'<' if options.favourable_below else '>'} "
                            f"{options.threshold:g}"),
        "cohorts": len(rates), "cohorts_judged": len(judged), "alpha": options.alpha,
        "cohort_rates": _rate_records(rates, confidence),
        "gaps": _gap_records(gaps) if gaps else "no two cohorts large enough to compare",
        "flagged": len(flagged),
    }
    for measure in ("parity_difference", "disparate_impact"):
        values = [g.value for g in gaps if g.measure == measure]
        if values:
            metadata[measure] = max(values) if measure == "parity_difference" else min(values)
    if notes:
        metadata["notes"] = "; ".join(notes)
    if len(judged) < 2:
        return CheckResult(True, f"fairness on '{options.attribute}': fewer than two cohorts "
                           f"of {options.min_cohort_size}+ rows, nothing to compare", metadata)
    if flagged:
        return CheckResult(False, f"fairness on '{options.attribute}': " + "; ".join(
            g.describe() for g in flagged[:4]), metadata)
    return CheckResult(True, f"fairness on '{options.attribute}': {len(judged)} cohorts, no "
                       f"significant gap above threshold ({len(gaps)} compared at alpha "
                       f"{options.alpha:g})", metadata)


def _golden_gaps(ctx: StageCheckContext, options: FairnessOptions, now: pd.DataFrame,
                 recorded: pd.DataFrame, labels: pd.DataFrame | None,
                 notes: list[str]) -> list[Gap]:
    rid = ctx.request_id
    gaps: list[Gap] = []
    if options.outcome_column not in now.columns or options.attribute not in now.columns:
        notes.append(f"golden outputs lack '{options.outcome_column}' or "
                     f"'{options.attribute}': golden views skipped")
        return gaps
    paired = now.merge(recorded[[rid, options.outcome_column]], on=rid, how="inner",
                       suffixes=("", "__recorded"))
    cohort = cohorts(paired[options.attribute], options.bands)
    fav_now = favourable(paired, options)
    was = paired.rename(columns={options.outcome_column: "__now",
                                 f"{options.outcome_column}__recorded": options.outcome_column})
    gaps += shift_gaps(cohort, fav_now - favourable(was, options), "parity_shift",
                       options.max_parity_shift, options)
    if options.score is not None:
        before = pd.to_numeric(was[options.score], errors="coerce").to_numpy(float)
        after = pd.to_numeric(paired[options.score], errors="coerce").to_numpy(float)
        scale = float(np.nanstd(before)) or 1.0
        change = np.nan_to_num((after - before) / scale)
        gaps += shift_gaps(cohort, change, "score_shift", options.max_score_shift, options)
    if options.label is not None:
        if labels is None or options.label not in labels.columns:
            notes.append("the golden set has no labels: equalised odds skipped")
            return gaps
        joined = paired.merge(labels[[rid, options.label]], on=rid, how="inner",
                              suffixes=("", "__label"))
        col = options.label if options.label not in paired.columns else f"{options.label}__label"
        if options.label_favourable is not None:
            truly = (joined[col].astype(str) == str(options.label_favourable)).to_numpy(float)
        else:
            truly = past_threshold(joined[col], options)
        gaps += equalised_odds_gaps(cohorts(joined[options.attribute], options.bands),
                                    favourable(joined, options), truly, options)
    return gaps
