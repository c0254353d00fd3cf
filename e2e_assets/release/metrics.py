"""Model quality on a labelled set, and quality thresholds in MLflow's vocabulary.

Metrics come from ``sklearn.metrics``; every pass/fail decision comes from
``mlflow.validate_evaluation_results`` with ``MetricThreshold`` (threshold, min_absolute_change,
min_relative_change, greater_is_better). MLflow reports failures as one exception with one
joined message, so it is called once per metric and criterion: each gets its own decision, and
the messages here say which bound was missed and by what.
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import mlflow
import numpy as np
from mlflow.models import EvaluationResult, MetricThreshold
from mlflow.models.evaluation.validation import ModelValidationFailedException
from numpy.typing import ArrayLike
from sklearn import metrics as skm

from e2e_assets.errors import GoldenError, SpecError, UnknownNameError

__all__ = ["GREATER_IS_BETTER", "QUALITY_METRICS", "Threshold", "ThresholdVerdict",
           "quality_metrics", "validate_quality"]

QUALITY_METRICS: dict[str, tuple[str, ...]] = {
    "classifier": ("roc_auc", "log_loss", "brier_score"),
    "regressor": ("rmse", "mae"),
}
GREATER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True, "log_loss": False, "brier_score": False, "rmse": False, "mae": False,
}

ModelType = Literal["classifier", "regressor"]


def quality_metrics(model_type: ModelType, y_true: ArrayLike, y_score: ArrayLike
                    ) -> dict[str, float]:
    """The metrics of QUALITY_METRICS[model_type] on a labelled set, from sklearn.metrics.

    Classifier: ``y_true`` 0/1, ``y_score`` the probability of class 1. Raises GoldenError when
    the set cannot be scored: under 2 rows, lengths differ, NaN, a single class.
    """
    if model_type not in QUALITY_METRICS:
        raise UnknownNameError(f"unknown model_type {model_type!r}; known: "
                               f"{', '.join(QUALITY_METRICS)}")
    truth, score = np.asarray(y_true), np.asarray(y_score, dtype=float)
    if truth.ndim != 1 or score.ndim != 1 or len(truth) != len(score):
        raise GoldenError(f"labelled set: y_true has shape {truth.shape} but y_score has shape "
                          f"{score.shape}; expected two 1-d arrays of the same length")
    if len(truth) < 2:
        raise GoldenError(f"labelled set: {len(truth)} row(s); quality metrics need at least 2")
    nan = int(np.count_nonzero(np.isnan(score)))
    if nan:
        raise GoldenError(f"labelled set: y_score has {nan} NaN value(s) in {len(score)} rows")
    if model_type == "regressor":
        truth = truth.astype(float)
        if np.isnan(truth).any():
            raise GoldenError(f"labelled set: y_true has {int(np.isnan(truth).sum())} NaN "
                              f"value(s) in {len(truth)} rows")
        return {"rmse": float(skm.root_mean_squared_error(truth, score)),
                "mae": float(skm.mean_absolute_error(truth, score))}
    labels = _binary_labels(truth)
    if not ((score >= 0) & (score <= 1)).all():
        raise GoldenError(f"labelled set: y_score must be probabilities of class 1 in [0, 1]; "
                          f"found min {score.min():g}, max {score.max():g}")
    classes = np.unique(labels)
    if len(classes) < 2:
        raise GoldenError(f"labelled set: the labelled set has only class {int(classes[0])} "
                          f"({len(labels)} rows); roc_auc is undefined without both classes")
    return {"roc_auc": float(skm.roc_auc_score(labels, score)),
            "log_loss": float(skm.log_loss(labels, score, labels=[0, 1])),
            "brier_score": float(skm.brier_score_loss(labels, score))}


@dataclass(frozen=True)
class Threshold:
    """A quality gate on one metric, as MLflow's MetricThreshold states it.

    ``threshold``: absolute bound (>= when greater is better, else <=). ``min_absolute_change``
    and ``min_relative_change`` (0..1, of |baseline|): how much the candidate must improve on
    the baseline, so MLflow cannot express "no worse than the baseline by more than x" here.
    """

    metric: str
    threshold: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    greater_is_better: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.greater_is_better, bool):
            problems.append(f"greater_is_better must be true or false, got "
                            f"{self.greater_is_better!r}")
        if self.threshold is None and self.min_absolute_change is None \
                and self.min_relative_change is None:
            problems.append("give at least one of threshold, min_absolute_change, "
                            "min_relative_change")
        if self.threshold is not None and not _finite(self.threshold):
            problems.append(f"threshold must be a finite number, got {self.threshold!r}")
        if self.min_absolute_change is not None and not (
                _finite(self.min_absolute_change) and self.min_absolute_change > 0):
            problems.append(f"min_absolute_change must be a number > 0, got "
                            f"{self.min_absolute_change!r}")
        if self.min_relative_change is not None and not (
                _finite(self.min_relative_change) and 0 <= self.min_relative_change <= 1):
            problems.append(f"min_relative_change must be a number in [0, 1], got "
                            f"{self.min_relative_change!r}")
        if problems:
            raise SpecError("; ".join(problems), field=f"thresholds.{self.metric}")

    def to_mlflow(self) -> MetricThreshold:
        """The equivalent ``mlflow.models.MetricThreshold`` (plain floats: MLflow rejects numpy)."""
        return MetricThreshold(threshold=_opt_float(self.threshold),
                               min_absolute_change=_opt_float(self.min_absolute_change),
                               min_relative_change=_opt_float(self.min_relative_change),
                               greater_is_better=self.greater_is_better)


@dataclass(frozen=True)
class ThresholdVerdict:
    """MLflow's decision on one metric's Threshold, with a message saying why."""

    metric: str
    passed: bool
    candidate: float
    baseline: float | None
    message: str


def validate_quality(thresholds: Mapping[str, Threshold], candidate: Mapping[str, float],
                     baseline: Mapping[str, float] | None) -> tuple[ThresholdVerdict, ...]:
    """One verdict per threshold, decided by ``mlflow.validate_evaluation_results``.

    Without a baseline (a first model) only absolute thresholds apply; the change criteria are
    dropped and the message says so. A metric missing from ``candidate`` fails.
    """
    for key, spec in thresholds.items():
        if key != spec.metric:
            raise SpecError(f"the threshold under '{key}' is for metric '{spec.metric}'",
                            field=f"thresholds.{key}")
    return tuple(_verdict(spec, candidate, baseline) for spec in thresholds.values())


def _verdict(spec: Threshold, candidate: Mapping[str, float],
             baseline: Mapping[str, float] | None) -> ThresholdVerdict:
    name = spec.metric
    if name not in candidate:
        return ThresholdVerdict(name, False, math.nan, None,
                                f"metric {name} was not computed (computed: "
                                f"{', '.join(sorted(candidate)) or 'nothing'})")
    value = float(candidate[name])
    base = None if baseline is None or name not in baseline else float(baseline[name])
    if math.isnan(value) or (base is not None and math.isnan(base)):
        # MLflow's Decimal comparison raises decimal.InvalidOperation on NaN: decide here.
        which = "candidate" if math.isnan(value) else "baseline"
        return ThresholdVerdict(name, False, value, base, f"{name}: the {which} value is NaN")
    skipped = [f"{k} {v:g}" for k, v in (("min_absolute_change", spec.min_absolute_change),
                                         ("min_relative_change", spec.min_relative_change))
               if v is not None]
    oks: list[str] = []
    fails: list[str] = []
    compare = baseline is not None and bool(skipped)
    if compare:
        skipped = []
        if base is None:  # decided here: MLflow would fail it too, as "missing from baseline"
            have = ", ".join(sorted(baseline or {})) or "nothing"
            fails.append(f"{name}: the baseline has no {name} to compare with (baseline has: "
                         f"{have})")
    criteria = _criteria(spec, value, base if compare else None)
    for mlflow_threshold, ok_text, fail_text in criteria:
        if _mlflow_passes(name, mlflow_threshold, value, base):
            oks.append(ok_text)
        else:
            fails.append(fail_text)
    if fails:
        message = "; ".join(fails)
    elif oks:
        message = f"{name} {' and '.join(oks)}: ok"
    else:
        message = f"{name} {_f(value)}: no absolute threshold to check"
    if skipped:
        message += (f" (no baseline: {', '.join(skipped)} not applied; a first model is judged "
                    f"on absolute thresholds only)")
    return ThresholdVerdict(name, not fails, value, base, message)


def _criteria(spec: Threshold, value: float, base: float | None
              ) -> list[tuple[MetricThreshold, str, str]]:
    """One (MLflow threshold, text if met, text if missed) per criterion; change ones need base."""
    name, gib = spec.metric, spec.greater_is_better
    ok_op, bad_word, sign = (">=", "below", "+") if gib else ("<=", "above", "-")
    out: list[tuple[MetricThreshold, str, str]] = []
    if spec.threshold is not None:
        t = spec.threshold
        out.append((MetricThreshold(threshold=float(t), greater_is_better=gib),
                    f"{_f(value)} {ok_op} {_f(t)}",
                    f"{name} {_f(value)} is {bad_word} the threshold {_f(t)}"))
    if base is None:
        return out
    if spec.min_absolute_change is not None:
        m = spec.min_absolute_change
        bound = base + m if gib else base - m
        out.append((MetricThreshold(min_absolute_change=float(m), greater_is_better=gib),
                    f"{_f(value)} {ok_op} baseline {_f(base)} {sign} {m:g}",
                    (f"{name} {_f(value)} is {bad_word} baseline {_f(base)} {sign} "
                     f"min_absolute_change {m:g} = {_f(bound)}")))
    if spec.min_relative_change is not None:
        r = spec.min_relative_change
        bound = base + r * abs(base) if gib else base - r * abs(base)
        out.append((MetricThreshold(min_relative_change=float(r), greater_is_better=gib),
                    f"{_f(value)} {ok_op} baseline {_f(base)} {sign} {r * 100:g}%",
                    (f"{name} {_f(value)} is {bad_word} baseline {_f(base)} {sign} "
                     f"min_relative_change {r * 100:g}% of |{_f(base)}| = {_f(bound)}")))
    return out


def _mlflow_passes(name: str, threshold: MetricThreshold, candidate: float,
                   baseline: float | None) -> bool:
    """MLflow's decision for one metric and one criterion: it raises when validation fails.

    Only this metric is handed over: MLflow 3.x raises KeyError (not a validation failure) when
    a baseline result lacks a metric that only has an absolute threshold.
    """
    cand = EvaluationResult(metrics={name: candidate}, artifacts={})
    base = None if baseline is None else EvaluationResult(metrics={name: baseline}, artifacts={})
    with _quiet_mlflow():
        try:
            mlflow.validate_evaluation_results(validation_thresholds={name: threshold},
                                               candidate_result=cand, baseline_result=base)
        except ModelValidationFailedException:
            return False
    return True


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow logs every validation at INFO (and warns on a zero baseline): we report instead."""
    logger = logging.getLogger("mlflow.models.evaluation.validation")
    was_disabled = logger.disabled
    logger.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.disabled = was_disabled


def _binary_labels(truth: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    try:
        as_float = truth.astype(float)
    except (TypeError, ValueError):
        as_float = None
    if as_float is None or np.isnan(as_float).any() or not np.isin(as_float, [0, 1]).all():
        bad = sorted({str(v) for v in truth.tolist() if v not in (0, 1)})[:5]
        raise GoldenError(f"labelled set: a classifier's y_true must be 0/1, found {bad}")
    return as_float.astype(int)


def _f(value: float) -> str:
    return f"{value:.3f}"


def _finite(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value)


def _opt_float(value: float | None) -> float | None:
    return None if value is None else float(value)
