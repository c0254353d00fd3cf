"""Fairness intervals for 0/1 rates are drawn as binomials: the same bootstrap distribution as
resampling rows, in O(resamples), checked against the normal-theory interval and scipy's
row-resampling bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from e2e_assets.checks.cohort_gaps import _diff, _ratio, binomial_bootstrap_interval


def cohort(n: int, ones: int) -> np.ndarray:
    return np.r_[np.ones(ones), np.zeros(n - ones)]


def test_a_rate_gap_interval_matches_the_normal_theory_one() -> None:
    """p1 = 0.50, p2 = 0.45, n = 100,000 each: SE = sqrt(.25/1e5 + .2475/1e5) = 0.0022305;
    at alpha 0.05 a side the interval is 0.05 +- 1.6449 * 0.0022305 = [0.04633, 0.05367]."""
    a, b = cohort(100_000, 50_000), cohort(100_000, 45_000)
    low, high = binomial_bootstrap_interval(_diff, a, b, 0.05, 4000, seed=0)
    half = 1.6449 * math.sqrt(0.25 / 1e5 + 0.2475 / 1e5)
    assert half == pytest.approx(0.003669, abs=1e-6)
    assert low == pytest.approx(0.05 - half, abs=0.1 * half)
    assert high == pytest.approx(0.05 + half, abs=0.1 * half)


def test_it_agrees_with_scipy_resampling_rows() -> None:
    a, b = cohort(3_000, 600), cohort(2_000, 300)
    for statistic in (_diff, _ratio):
        mine = binomial_bootstrap_interval(statistic, a, b, 0.01, 4000, seed=1)
        res = stats.bootstrap((a, b), statistic, n_resamples=4000, vectorized=True,
                              paired=False, confidence_level=0.98, method="percentile",
                              rng=np.random.default_rng(1))
        theirs = (res.confidence_interval.low, res.confidence_interval.high)
        width = theirs[1] - theirs[0]
        assert mine == pytest.approx(theirs, abs=0.08 * width)


def test_binary_cohorts_never_resample_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """A million-row cohort goes the binomial way (row resampling took minutes); a numeric
    one still resamples rows."""
    from e2e_assets.checks import cohort_gaps
    from e2e_assets.checks.fairness import FairnessOptions

    calls: list[int] = []

    def resampling(*args: object, **kwargs: object) -> object:
        calls.append(1)
        raise AssertionError("resampled rows")

    monkeypatch.setattr(cohort_gaps, "non_inferiority", resampling)
    options = FairnessOptions(attribute="cohort", score="p", threshold=0.5)
    big, other = cohort(1_000_000, 300_000), cohort(1_000_000, 290_000)
    low, high = cohort_gaps._interval("gap", _diff, big, other, 0.01, options)
    assert low > 0 and high < 0.02 and not calls  # 0.01 apart, SE 0.00065
    with pytest.raises(AssertionError, match="resampled rows"):
        cohort_gaps._interval("shift", _diff, np.linspace(0, 1, 50), np.zeros(50), 0.5, options)
