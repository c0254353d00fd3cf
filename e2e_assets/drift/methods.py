"""The built-in drift tests. Known values: tests/unit/test_drift_methods.py checks each against
hand-computed cases, direct implementations of the published formulas and published tables.

Binned distances on numbers (psi, jensen_shannon, hellinger, kl_div, tvd) use the reference's
deciles plus two overflow bins (see :mod:`.binning`); on categories, the categories of both
samples. Empty bins get ``EPS`` so logarithms stay finite.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
from scipy import stats

from e2e_assets.drift.binning import SHARE_DISTANCES, bin_counts, bin_edges, shares
from e2e_assets.drift.registry import ENGINES, Outcome, register

NUM = ("numeric",)
CAT = ("categorical", "binary")
ANY = ("numeric", "categorical", "binary")
# Engines (see registry.py): every test has its exact function; these also have a prepared
# (summary-based, prepared.py) and a SQL (sql.py) engine: all of ENGINES.


_WARNINGS_LOCK = threading.Lock()

def proportions(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Aligned bin (numbers) or category shares of both samples, floored at EPS."""
    if ref.dtype.kind in "fiu" and cur.dtype.kind in "fiu":
        ordered = np.sort(ref)
        edges = bin_edges(ordered, bins)
        return shares(bin_counts(ordered, edges)), shares(bin_counts(np.sort(cur), edges))
    table = counts_table(ref, cur)
    return shares(table[0]), shares(table[1])


def counts_table(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """2 x k table of category counts (reference row first)."""
    cats, inv = np.unique(np.concatenate([ref, cur]).astype(str), return_inverse=True)
    return np.vstack([np.bincount(inv[: len(ref)], minlength=len(cats)),
                      np.bincount(inv[len(ref):], minlength=len(cats))])


def _same_constant(ref: np.ndarray, cur: np.ndarray) -> bool:
    return bool(np.ptp(ref) == 0 and np.ptp(cur) == 0 and ref[0] == cur[0])


@register("ks", kinds=NUM, score="p_value", threshold=0.05,
          engines=ENGINES)
def ks(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Two-sample Kolmogorov-Smirnov (asymptotic p-value)."""
    res = stats.ks_2samp(ref, cur, method="asymp")
    return Outcome(float(res.statistic), float(res.pvalue))


@register("cramer_von_mises", kinds=NUM, score="p_value", threshold=0.05)
def cramer_von_mises(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Two-sample Cramér-von Mises (asymptotic)."""
    if _same_constant(ref, cur):
        return Outcome(0.0, 1.0)
    res = stats.cramervonmises_2samp(ref, cur, method="asymptotic")
    return Outcome(float(res.statistic), float(res.pvalue))


@register("anderson_darling", kinds=NUM, score="p_value", threshold=0.05)
def anderson_darling(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """k-sample Anderson-Darling (scipy; its p-value is capped to [0.001, 0.25])."""
    if _same_constant(ref, cur):
        return Outcome(0.0, 1.0)
    # catch_warnings swaps process-wide filters: columns compared on parallel threads must not
    # interleave here, or one thread's exit restores filters under another's call.
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the cap is documented, not news
        res = stats.anderson_ksamp([ref, cur])
    return Outcome(float(res.statistic), float(res.pvalue))


@register("mann_whitney", kinds=NUM, score="p_value", threshold=0.05)
def mann_whitney(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Mann-Whitney U, two-sided (a shift in location)."""
    res = stats.mannwhitneyu(ref, cur, alternative="two-sided")
    return Outcome(float(res.statistic), float(res.pvalue))


@register("t_test", kinds=NUM, score="p_value", threshold=0.05)
def t_test(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Welch's t-test (a shift in mean, unequal variances)."""
    if np.ptp(ref) == 0 and np.ptp(cur) == 0:
        return Outcome(0.0, 1.0 if ref[0] == cur[0] else 0.0)
    res = stats.ttest_ind(ref, cur, equal_var=False)
    return Outcome(float(res.statistic), float(res.pvalue))


@register("epps_singleton", kinds=NUM, score="p_value", threshold=0.05)
def epps_singleton(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Epps-Singleton (empirical characteristic functions; works on discrete data)."""
    if np.ptp(ref) == 0 and np.ptp(cur) == 0:  # its covariance is singular: decide directly
        return Outcome(0.0, 1.0) if ref[0] == cur[0] else Outcome(float("inf"), 0.0)
    try:
        res = stats.epps_singleton_2samp(ref, cur)
    except np.linalg.LinAlgError:  # constant samples: the covariance is singular
        return Outcome(0.0, 1.0) if np.array_equal(np.unique(ref), np.unique(cur)) \
            else Outcome(float("inf"), 0.0)
    return Outcome(float(res.statistic), float(res.pvalue))


def _scale(ref: np.ndarray) -> float:
    sd = float(np.std(ref))
    return sd if sd > 0 else 1.0  # a constant reference: distances in its own units


@register("wasserstein", kinds=NUM, score="distance", threshold=0.1,
          engines=ENGINES)
def wasserstein(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Wasserstein-1 distance in units of the reference's standard deviation."""
    return Outcome(float(stats.wasserstein_distance(ref, cur)) / _scale(ref))


@register("energy_distance", kinds=NUM, score="distance", threshold=0.1)
def energy_distance(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Energy distance in units of the reference's standard deviation.

    scipy's distance is sqrt(2E|X-Y| - E|X-X'| - E|Y-Y'|), which scales with the square root of
    the units: it is computed as if on the data divided by the reference std.
    """
    return Outcome(float(stats.energy_distance(ref, cur)) / float(np.sqrt(_scale(ref))))


@register("psi", kinds=ANY, score="distance", threshold=0.1,
          engines=ENGINES)
def psi(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Population stability index: sum((c - r) * ln(c / r))."""
    return Outcome(SHARE_DISTANCES["psi"](*proportions(ref, cur)))


@register("jensen_shannon", kinds=ANY, score="distance", threshold=0.1,
          engines=ENGINES)
def jensen_shannon(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Jensen-Shannon distance (natural log; 0 = identical, ln(2)^0.5 = disjoint)."""
    return Outcome(SHARE_DISTANCES["jensen_shannon"](*proportions(ref, cur)))


@register("hellinger", kinds=ANY, score="distance", threshold=0.1,
          engines=ENGINES)
def hellinger(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Hellinger distance: ||sqrt(r) - sqrt(c)|| / sqrt(2), in [0, 1]."""
    return Outcome(SHARE_DISTANCES["hellinger"](*proportions(ref, cur)))


@register("kl_div", kinds=ANY, score="distance", threshold=0.1,
          engines=ENGINES)
def kl_div(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Kullback-Leibler divergence KL(reference || current), natural log."""
    return Outcome(SHARE_DISTANCES["kl_div"](*proportions(ref, cur)))


@register("tvd", kinds=ANY, score="distance", threshold=0.1,
          engines=ENGINES)
def tvd(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Total variation distance: half the L1 distance between the shares, in [0, 1]."""
    return Outcome(SHARE_DISTANCES["tvd"](*proportions(ref, cur)))


def _homogeneity(ref: np.ndarray, cur: np.ndarray, lambda_: str | None) -> Outcome:
    table = counts_table(ref, cur)
    if table.shape[1] < 2:
        return Outcome(0.0, 1.0)
    res = stats.chi2_contingency(table, correction=False, lambda_=lambda_)
    return Outcome(float(res.statistic), float(res.pvalue))


@register("chi_square", kinds=CAT, score="p_value", threshold=0.05,
          engines=ENGINES)
def chi_square(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Pearson chi-square test of homogeneity on the 2 x k table of category counts."""
    return _homogeneity(ref, cur, None)


@register("g_test", kinds=CAT, score="p_value", threshold=0.05,
          engines=ENGINES)
def g_test(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """G-test (log-likelihood ratio) of homogeneity on the 2 x k table."""
    return _homogeneity(ref, cur, "log-likelihood")


def _binary(ref: np.ndarray, cur: np.ndarray) -> tuple[int, int, int, int]:
    table = counts_table(ref, cur)
    if table.shape[1] > 2:
        raise ValueError(f"expected at most 2 categories, found {table.shape[1]}")
    if table.shape[1] == 1:
        table = np.hstack([table, np.zeros((2, 1), dtype=int)])
    return int(table[0, 0]), int(table[0].sum()), int(table[1, 0]), int(table[1].sum())


@register("z_test", kinds=("binary",), score="p_value", threshold=0.05,
          engines=ENGINES)
def z_test(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Two-proportion z-test (pooled), two-sided."""
    k1, n1, k2, n2 = _binary(ref, cur)
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return Outcome(0.0, 1.0)
    z = (k1 / n1 - k2 / n2) / se
    return Outcome(float(z), float(2 * stats.norm.sf(abs(z))))


@register("fisher_exact", kinds=("binary",), score="p_value", threshold=0.05,
          engines=ENGINES)
def fisher_exact(ref: np.ndarray, cur: np.ndarray) -> Outcome:
    """Fisher's exact test on the 2 x 2 table (small samples)."""
    k1, n1, k2, n2 = _binary(ref, cur)
    res = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])
    return Outcome(float(res.statistic), float(res.pvalue))
