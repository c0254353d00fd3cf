"""Challenger-vs-champion statistics against independent known values.

No expected value comes from the scipy call the code makes: Wilson intervals are the closed
form written out here and Newcombe's (1998, Stat Med 17:857, table II, method 3) published
values; McNemar's exact p-values are binomial sums with ``math.comb``; Pearson's r is the
textbook sum formula; the bootstrap CI of a mean is checked against the normal approximation
delta +- 1.96 * sd / sqrt(n).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from e2e_assets.release.stats import (
    NonInferiority,
    flip_rate,
    mcnemar,
    mean_difference,
    metric_difference,
    non_inferiority,
    score_divergence,
    wilson_interval,
)

Z95 = 1.959964
MINUS = "\u2212"


def wilson_by_hand(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# --- Wilson --------------------------------------------------------------------------------

@pytest.mark.parametrize("k,n", [(81, 263), (15, 148), (0, 20), (1, 29), (29, 29), (3, 10)])
def test_wilson_matches_the_closed_form(k: int, n: int) -> None:
    low, high = wilson_interval(k, n)
    exp_low, exp_high = wilson_by_hand(k, n)
    assert low == pytest.approx(max(exp_low, 0.0), abs=1e-6)
    assert high == pytest.approx(min(exp_high, 1.0), abs=1e-6)


@pytest.mark.parametrize("k,n,published", [
    (81, 263, (0.2553, 0.3662)), (15, 148, (0.0624, 0.1605)),
    (0, 20, (0.0, 0.1611)), (1, 29, (0.0061, 0.1718)),
])
def test_wilson_matches_newcombe_1998(k: int, n: int, published: tuple[float, float]) -> None:
    low, high = wilson_interval(k, n)
    assert (round(low, 4), round(high, 4)) == published


def test_wilson_other_confidence_and_edges() -> None:
    z90 = 1.644854  # the 95th percentile of the standard normal
    low, high = wilson_interval(81, 263, confidence=0.90)
    assert (low, high) == pytest.approx(wilson_by_hand(81, 263, z90), abs=1e-6)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(5, 3)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 3, confidence=95)


# --- flip rate -----------------------------------------------------------------------------

def test_flip_rate_counts_and_missing_equals_missing() -> None:
    a = [1, 0, None, np.nan, "x", 1, None, 0]
    b = [1, 1, np.nan, None, "x", 0, 1, 0]
    fr = flip_rate(a, b)  # flips: row 1 (0/1), row 5 (1/0), row 6 (None/1)
    assert (fr.flips, fr.n) == (3, 8)
    assert fr.rate == 3 / 8
    assert (fr.low, fr.high) == pytest.approx(wilson_by_hand(3, 8), abs=1e-6)
    assert fr.confidence == 0.95


def test_flip_rate_numeric_and_empty() -> None:
    fr = flip_rate(np.array([1.0, np.nan, 0.0, 1.0]), np.array([1, 0, 0, 1]))
    assert fr.flips == 1  # NaN vs 0 is a flip; 1.0 vs 1 is not
    empty = flip_rate([], [])
    assert (empty.flips, empty.n, empty.rate, empty.low, empty.high) == (0, 0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="3 vs 2"):
        flip_rate([1, 2, 3], [1, 2])


# --- McNemar -------------------------------------------------------------------------------

def exact_mcnemar_by_hand(b: int, c: int) -> float:
    n, k = b + c, min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def correctness(b: int, c: int, both_right: int, both_wrong: int) -> tuple[list[int], list[int]]:
    cand = [1] * b + [0] * c + [1] * both_right + [0] * both_wrong
    base = [0] * b + [1] * c + [1] * both_right + [0] * both_wrong
    return cand, base


def test_mcnemar_textbook_b1_c7() -> None:
    cand, base = correctness(1, 7, both_right=30, both_wrong=5)
    result = mcnemar(cand, base)
    assert (result.b, result.c, result.statistic, result.method) == (1, 7, 1.0, "exact")
    assert result.p_value == pytest.approx(0.0703125, abs=1e-12)  # 2 * (1 + 8) / 256
    assert result.p_value == pytest.approx(exact_mcnemar_by_hand(1, 7), abs=1e-12)


@pytest.mark.parametrize("b,c", [(12, 2), (5, 5), (0, 6), (20, 9)])
def test_mcnemar_exact_against_binomial_sums(b: int, c: int) -> None:
    cand, base = correctness(b, c, both_right=10, both_wrong=3)
    result = mcnemar(np.array(cand, dtype=bool), np.array(base, dtype=bool))
    assert (result.b, result.c) == (b, c)  # b: candidate right where the baseline is wrong
    assert result.p_value == pytest.approx(exact_mcnemar_by_hand(b, c), abs=1e-12)


def test_mcnemar_no_discordant_pairs_and_bad_input() -> None:
    assert mcnemar([1, 0, 1], [1, 0, 1]).p_value == 1.0
    with pytest.raises(ValueError, match="booleans or 0/1"):
        mcnemar([1, None, 0], [1, 1, 0])


# --- score divergence ----------------------------------------------------------------------

def pearson_by_hand(x: list[float], y: list[float]) -> float:
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def test_score_divergence_hand_case() -> None:
    cand, base = [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 5.0]
    d = score_divergence(cand, base)
    assert d.mean_abs == pytest.approx(0.5)  # |diffs| = 0, 0, 0, 2
    assert d.max_abs == pytest.approx(2.0)
    assert d.p95_abs == pytest.approx(1.7)  # rank 0.95 * 3 = 2.85: 0 + 0.85 * (2 - 0)
    assert d.correlation == pytest.approx(pearson_by_hand(cand, base))


def test_score_divergence_identical_constant_and_nan() -> None:
    same = score_divergence([0.2, 0.4, 0.9], [0.2, 0.4, 0.9])
    assert (same.mean_abs, same.max_abs, same.p95_abs) == (0.0, 0.0, 0.0)
    assert same.correlation == pytest.approx(1.0)
    assert score_divergence([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]).correlation is None
    with pytest.raises(ValueError, match="1 of 3 values are NaN"):
        score_divergence([0.5, np.nan, 0.5], [0.1, 0.2, 0.3])


# --- non-inferiority -----------------------------------------------------------------------

def auc_by_pairs(y: np.ndarray, s: np.ndarray) -> float:
    """AUC as the share of (positive, negative) pairs ranked right, ties half: fast on 300 rows."""
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUC needs both classes")  # as sklearn's roc_auc_score does
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def fmt(value: float) -> str:
    return f"{value:.3f}".replace("-", MINUS)


def approvals(rate: float, n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < rate).astype(float)


def flipped(decisions: np.ndarray, share: float, to: float, seed: int) -> np.ndarray:
    """The champion's decisions with ``share`` of all rows set to ``to``: a paired challenger."""
    out = decisions.copy()
    rows = np.random.default_rng(seed).choice(len(out), int(share * len(out)), replace=False)
    out[rows] = to
    return out


def test_mean_difference_ci_matches_the_normal_approximation() -> None:
    cand, base = approvals(0.30, 4000, 1), approvals(0.30, 4000, 2)
    r = mean_difference("approval_rate", cand, base, margin=0.05, greater_is_better=True)
    diff = cand - base
    delta = diff.mean()
    half = 1.959964 * diff.std(ddof=1) / math.sqrt(len(diff))
    assert r.delta == pytest.approx(delta)
    assert (r.candidate, r.baseline) == pytest.approx((cand.mean(), base.mean()))
    assert r.low == pytest.approx(delta - half, abs=0.15 * half)
    assert r.high == pytest.approx(delta + half, abs=0.15 * half)
    assert r.low <= r.delta <= r.high


def test_clearly_non_inferior_passes_and_clearly_inferior_fails() -> None:
    base = approvals(0.30, 3000, 3)
    good = mean_difference("approval_rate", flipped(base, 0.01, 1.0, 4), base, 0.02, True)
    bad = mean_difference("approval_rate", flipped(base, 0.10, 0.0, 5), base, 0.02, True)
    assert good.passed and good.low > -0.02
    assert not bad.passed and bad.high < 0
    assert bad.verdict.startswith("challenger is NOT shown non-inferior on approval_rate (Δ −0.")


def test_lower_is_better_uses_the_upper_bound() -> None:
    base = approvals(0.10, 3000, 6)
    worse = mean_difference("default_rate", flipped(base, 0.10, 1.0, 7), base, 0.02, False)
    better = mean_difference("default_rate", flipped(base, 0.02, 0.0, 8), base, 0.02, False)
    assert not worse.passed and worse.low > 0.02
    assert better.passed and better.high < 0.02


def test_equivalence_needs_the_whole_ci_within_the_margin() -> None:
    base = np.random.default_rng(9).normal(0.10, 0.02, 5000)
    close = base + np.random.default_rng(10).normal(0.0, 0.001, 5000)
    shifted = base + 0.004
    eq = mean_difference("offered_rate", close, base, 0.002, None)
    neq = mean_difference("offered_rate", shifted, base, 0.002, None)
    assert eq.passed and -0.002 < eq.low and eq.high < 0.002
    assert eq.verdict.startswith("challenger is equivalent on offered_rate (Δ ")
    assert eq.verdict.endswith(", margin ±0.002)")
    assert not neq.passed  # the CI is (0.004, 0.004): outside +-0.002 although improving
    assert neq.verdict.startswith("challenger is NOT shown equivalent on offered_rate")
    below = mean_difference("offered_rate", base - 0.004, base, 0.002, None)
    assert not below.passed and below.high < -0.002


def test_verdict_text_shape() -> None:
    base = approvals(0.30, 2000, 11)
    r = mean_difference("approval_rate", flipped(base, 0.03, 0.0, 12), base, 0.05, True)
    assert r.passed and r.delta < 0
    expected = (f"challenger is non-inferior on approval_rate (Δ {fmt(r.delta)}, 95% CI "
                f"{fmt(r.low)}..{fmt(r.high)}, margin 0.05)")
    assert r.verdict == expected
    assert "-" not in r.verdict.split("(", 1)[1]  # numbers take a real minus sign, no hyphen
    assert re.fullmatch(r"challenger is non-inferior on approval_rate \(Δ −?\d\.\d{3}, 95% CI "
                        r"−?\d\.\d{3}\.\.−?\d\.\d{3}, margin 0\.05\)", r.verdict)


def test_tiny_values_keep_significant_digits() -> None:
    r = non_inferiority("kpi", lambda d, axis=-1: np.mean(d, axis=axis),
                        (np.full(10, -0.0004),), 0.01, True, candidate=0.1, baseline=0.1004,
                        vectorized=True, n_resamples=50)
    assert f"Δ {MINUS}0.00040," in r.verdict
    assert f"CI {MINUS}0.00040..{MINUS}0.00040" in r.verdict


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_identical_models_do_not_crash_and_pass_with_a_zero_ci(method: str) -> None:
    scores = np.random.default_rng(13).random(60)
    y = (np.arange(60) % 3 == 0).astype(int)
    by_mean = mean_difference("approval_rate", y, y.copy(), 0.01, True, method=method,
                              n_resamples=200)
    by_auc = metric_difference("roc_auc", roc_auc_score, y, scores, scores.copy(), 0.01, True,
                               method=method, n_resamples=100)
    for r in (by_mean, by_auc):
        assert isinstance(r, NonInferiority)
        assert (r.delta, r.low, r.high) == (0.0, 0.0, 0.0)
        assert r.passed
        assert "(Δ 0.000, 95% CI 0.000..0.000, margin 0.01)" in r.verdict


def test_metric_difference_roc_auc() -> None:
    rng = np.random.default_rng(14)
    y = (rng.random(300) < 0.3).astype(int)
    strong, weak = y * 1.0 + rng.random(300), y * 0.3 + rng.random(300)
    up = metric_difference("roc_auc", auc_by_pairs, y, strong, weak, 0.01, True,
                           n_resamples=200)
    down = metric_difference("roc_auc", auc_by_pairs, y, weak, strong, 0.01, True,
                             n_resamples=200)
    assert auc_by_pairs(y, strong) == pytest.approx(roc_auc_score(y, strong))
    assert up.candidate == pytest.approx(roc_auc_score(y, strong))
    assert up.delta == pytest.approx(roc_auc_score(y, strong) - roc_auc_score(y, weak))
    assert up.passed and up.low <= up.delta <= up.high
    assert not down.passed and down.high < -0.01
    assert down.verdict.startswith("challenger is NOT shown non-inferior on roc_auc (Δ −0.")


def test_a_rare_class_never_gives_a_one_class_resample_when_stratified() -> None:
    y = np.zeros(40, dtype=int)
    y[:2] = 1  # a plain resample misses both positives 13% of the time
    rng = np.random.default_rng(15)
    cand, base = rng.random(40), rng.random(40)
    stratified = metric_difference("roc_auc", auc_by_pairs, y, cand, base, 0.5, True,
                                   n_resamples=200)
    assert math.isfinite(stratified.low) and math.isfinite(stratified.high)
    plain = metric_difference("roc_auc", auc_by_pairs, y, cand, base, 0.5, True,
                              stratify=False, n_resamples=200)
    assert math.isnan(plain.low) and not plain.passed  # fails closed, says why
    assert re.search(r"95% CI undefined: \d+ of 200 resamples gave no value", plain.verdict)


def test_regression_metric_needs_stratify_false() -> None:
    rng = np.random.default_rng(16)
    y = rng.normal(size=50)
    cand, base = y + rng.normal(0, 0.1, 50), y + rng.normal(0, 0.5, 50)

    def mae(t: np.ndarray, s: np.ndarray) -> float:
        return float(np.mean(np.abs(t - s)))

    with pytest.raises(ValueError, match="stratify=False"):
        metric_difference("mae", mae, y, cand, base, 0.01, False, n_resamples=50)
    r = metric_difference("mae", mae, y, cand, base, 0.01, False, stratify=False,
                          n_resamples=200)
    assert r.passed and r.high < 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="margin"):
        mean_difference("k", [1, 0], [0, 1], -0.1, True)
    with pytest.raises(ValueError, match="1 of 2 values are NaN"):
        mean_difference("k", [1, np.nan], [0, 1], 0.1, True)
    with pytest.raises(ValueError, match="3 vs 2"):
        mean_difference("k", [1, 0, 1], [0, 1], 0.1, True)
