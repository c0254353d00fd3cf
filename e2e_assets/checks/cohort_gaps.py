"""The statistics of the fairness check (:mod:`e2e_assets.checks.fairness`): cohorts, favourable
rates and the gaps between cohorts, each with a bootstrap interval; pure functions of frames.

Intervals come from ``release.stats.non_inferiority`` (``scipy.stats.bootstrap``), the two
cohorts resampled independently, at ``1 - 2 alpha``: each end is a one-sided bound at alpha,
so a gap is flagged only when the bound on its own side lies beyond the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from e2e_assets.release.stats import non_inferiority, wilson_interval

if TYPE_CHECKING:
    from e2e_assets.checks.fairness import FairnessOptions

__all__ = ["CohortRate", "Gap", "cohort_rates", "cohorts", "equalised_odds_gaps", "favourable",
           "past_threshold", "rate_gaps", "shift_gaps"]


def cohorts(values: pd.Series, bands: Sequence[float] | None = None) -> pd.Series:
    """The cohort of each row as text: the value, or its band of ``bands`` edges."""
    if bands is None:
        return values.astype(object).where(values.notna(), "missing").astype(str)
    edges = list(bands)
    names = [f"<{edges[0]:g}", *(f"{lo:g}-{hi:g}" for lo, hi in pairwise(edges)),
             f">={edges[-1]:g}"]
    numbers = pd.to_numeric(values, errors="coerce")
    banded = pd.cut(numbers, [-math.inf, *edges, math.inf], right=False, labels=names)
    return banded.astype(object).where(numbers.notna(), "missing").astype(str)


def favourable(frame: pd.DataFrame, options: FairnessOptions) -> np.ndarray[Any, Any]:
    """1.0 where the outcome is favourable, else 0.0."""
    if options.decision is not None:
        return (frame[options.decision].astype(str) == str(options.favourable)).to_numpy(float)
    return past_threshold(frame[str(options.score)], options)


def past_threshold(values: pd.Series, options: FairnessOptions) -> np.ndarray[Any, Any]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(float)
    threshold = float(options.threshold if options.threshold is not None else math.nan)
    past = numbers < threshold if options.favourable_below else numbers > threshold
    return past.astype(float)


@dataclass(frozen=True)
class Gap:
    """One cohort against another on one measure, with its bootstrap interval."""

    measure: str  # parity_difference, disparate_impact, tpr_gap, fpr_gap, parity_shift, ...
    cohort: str
    against: str
    value: float
    low: float
    high: float
    threshold: float
    flagged: bool

    def describe(self) -> str:
        return (f"{self.measure} of '{self.cohort}' vs '{self.against}' {self.value:.3f} "
                f"(CI {self.low:.3f}..{self.high:.3f}, threshold {self.threshold:g})")


@dataclass(frozen=True)
class CohortRate:
    cohort: str
    n: int
    rate: float
    low: float
    high: float
    judged: bool  # n >= min_cohort_size


def cohort_rates(cohort: pd.Series, fav: np.ndarray[Any, Any], min_size: int,
                 confidence: float) -> list[CohortRate]:
    """Per cohort: rows, favourable rate and its Wilson interval, largest cohort first."""
    out = []
    for name, idx in pd.Series(range(len(cohort))).groupby(cohort.to_numpy()).groups.items():
        values = fav[np.asarray(list(idx))]
        low, high = wilson_interval(int(values.sum()), len(values), confidence)
        out.append(CohortRate(str(name), len(values), float(values.mean()), low, high,
                              len(values) >= min_size))
    return sorted(out, key=lambda r: (-r.n, r.cohort))


def _interval(name: str, statistic: Any, a: np.ndarray[Any, Any], b: np.ndarray[Any, Any],
              point: float, options: FairnessOptions) -> tuple[float, float]:
    """Bootstrap interval of ``statistic(a, b)`` at 1 - 2 alpha: each end a one-sided bound
    at alpha. ``a`` and ``b`` (two cohorts) are resampled independently."""
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # nothing varies: every resample gives the point
        return point, point
    if _binary(a) and _binary(b):
        return binomial_bootstrap_interval(statistic, a, b, options.alpha, options.n_resamples,
                                           options.seed)
    res = non_inferiority(name, statistic, (a, b), margin=0.0, greater_is_better=None,
                          candidate=point, baseline=0.0, confidence=1 - 2 * options.alpha,
                          n_resamples=options.n_resamples, seed=options.seed, vectorized=True,
                          paired=False)
    return res.low, res.high


def _binary(values: np.ndarray[Any, Any]) -> bool:
    return bool(np.isin(values, (0, 1)).all())


def binomial_bootstrap_interval(statistic: Any, a: np.ndarray[Any, Any],
                                b: np.ndarray[Any, Any], alpha: float, n_resamples: int,
                                seed: int) -> tuple[float, float]:
    """The percentile bootstrap of ``statistic`` (a function of the two means) for two 0/1
    samples, drawn exactly and in O(resamples): the mean of n values resampled with replacement
    from a 0/1 sample with rate p is Binomial(n, p) / n, so the same bootstrap distribution
    costs ``n_resamples`` draws instead of ``n_resamples x n`` (a million-row cohort took
    minutes). Each end is a one-sided bound at ``alpha``, as the resampling path gives."""
    rng = np.random.default_rng(seed)
    means_a = rng.binomial(len(a), float(np.mean(a)), n_resamples) / len(a)
    means_b = rng.binomial(len(b), float(np.mean(b)), n_resamples) / len(b)
    distribution = statistic(means_a[:, None], means_b[:, None])
    distribution = distribution[~np.isnan(distribution)]  # 0 / 0 ratios
    if not len(distribution):
        return math.nan, math.nan
    low, high = np.percentile(distribution, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


def _diff(a: Any, b: Any, axis: int = -1) -> Any:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def _ratio(a: Any, b: Any, axis: int = -1) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mean(a, axis=axis) / np.mean(b, axis=axis)


def rate_gaps(cohort: pd.Series, fav: np.ndarray[Any, Any], options: FairnessOptions, *,
              prefix: str = "", max_gap: float | None = None,
              ratio: bool = True) -> list[Gap]:
    """Each judged cohort against the most favoured judged one: the rate gap (flagged above
    ``max_gap`` when its lower bound is too) and, with ``ratio``, the rate ratio (flagged below
    ``min_disparate_impact`` when its upper bound is too)."""
    limit = options.max_parity_difference if max_gap is None else max_gap
    groups = {c: fav[(cohort == c).to_numpy()] for c in pd.unique(cohort)}
    judged = {c: v for c, v in groups.items() if len(v) >= options.min_cohort_size}
    if len(judged) < 2:
        return []
    best = max(judged, key=lambda c: (judged[c].mean(), len(judged[c])))
    out = []
    for c, values in judged.items():
        if c == best:
            continue
        top = judged[best]
        gap = float(top.mean() - values.mean())
        low, high = _interval(f"{prefix}parity_difference", _diff, top, values, gap, options)
        out.append(Gap(f"{prefix}parity_difference" if not prefix else prefix.rstrip("_"),
                       str(c), str(best), gap, low, high, limit,
                       gap > limit and low > limit))
        if ratio and top.mean() > 0:
            di = float(values.mean() / top.mean())
            dlow, dhigh = _interval("disparate_impact", _ratio, values, top, di, options)
            dhigh = dhigh if math.isfinite(dhigh) else math.inf
            out.append(Gap("disparate_impact", str(c), str(best), di, dlow, dhigh,
                           options.min_disparate_impact,
                           di < options.min_disparate_impact
                           and dhigh < options.min_disparate_impact))
    return out


def equalised_odds_gaps(cohort: pd.Series, fav: np.ndarray[Any, Any],
                        truly_favourable: np.ndarray[Any, Any],
                        options: FairnessOptions) -> list[Gap]:
    """TPR gaps (favourable among truly favourable) and FPR gaps (favourable among truly
    unfavourable), each cohort against the best; a cohort needs ``min_cohort_size`` rows of
    the class to be judged on it."""
    out: list[Gap] = []
    for measure, mask in (("tpr_gap", truly_favourable == 1), ("fpr_gap", truly_favourable == 0)):
        out += rate_gaps(cohort[mask].reset_index(drop=True), fav[mask], options,
                         prefix=f"{measure}_", max_gap=options.max_equalised_odds_gap,
                         ratio=False)
    return out


def shift_gaps(cohort: pd.Series, change: np.ndarray[Any, Any], measure: str, limit: float,
               options: FairnessOptions) -> list[Gap]:
    """Per judged cohort: its mean paired ``change`` minus the rest's, flagged when its size is
    above ``limit`` and the interval excludes ``limit`` on that side."""
    out: list[Gap] = []
    if not np.any(change):  # the golden outputs reproduced exactly: no shift anywhere
        return out
    for c in pd.unique(cohort):
        mask = (cohort == c).to_numpy()
        if mask.sum() < options.min_cohort_size or (~mask).sum() == 0:
            continue
        mine, rest = change[mask], change[~mask]
        value = float(mine.mean() - rest.mean())
        low, high = _interval(measure, _diff, mine, rest, value, options)
        flagged = (value > limit and low > limit) or (value < -limit and high < -limit)
        out.append(Gap(measure, str(c), "the rest", value, low, high, limit, flagged))
    return out
