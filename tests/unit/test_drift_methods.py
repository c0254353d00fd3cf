"""Every registered drift test against independent known values, and a contract over the registry.

No expected value here comes from the scipy function the implementation calls. Each statistic
is worked out by hand (in the comments) or by a direct, loop-by-loop implementation of its
published formula in this file; p-values come from closed forms written with ``math`` (normal
tails via ``math.erfc``, chi-square with 1, 2 and 4 degrees of freedom, exact permutation and
hypergeometric counts via ``math.comb`` / enumeration, the t density integrated by Simpson's
rule) or are bracketed by published table values (KS 1.358, W^2 0.461 / 0.743 / 0.347,
Scholz-Stephens 1.960 / 3.752, chi-square 3.841, z 1.960, t 2.776, Fisher's tea tasting).
"""

from __future__ import annotations

import bisect
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from e2e_assets import drift
from e2e_assets.drift import methods as m
from e2e_assets.drift.binning import EPS
from e2e_assets.drift.registry import METHODS


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)


def cats(**counts: int) -> np.ndarray:
    return np.array([k for k, n in counts.items() for _ in range(n)], dtype=object)


def test_registry_has_the_catalogue() -> None:
    assert set(METHODS) == {"ks", "cramer_von_mises", "anderson_darling", "mann_whitney",
                            "t_test", "epps_singleton", "wasserstein", "energy_distance", "psi",
                            "jensen_shannon", "hellinger", "kl_div", "tvd", "chi_square",
                            "g_test", "z_test", "fisher_exact"}
    assert METHODS["ks"].score == "p_value" and METHODS["psi"].score == "distance"
    with pytest.raises(KeyError, match="unknown drift method 'kss'; registered: .*'ks'"):
        METHODS["kss"]


# ---------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov


def test_ks_statistic_by_counting_ecdf_steps() -> None:
    # ref 1 2 3 4 5 (n = 5), cur 3 6 7 (m = 3). Walk the pooled values, F = ECDF of ref, G of cur:
    #   x = 1: F 1/5, G 0    |F-G| = 0.2       x = 5: F 5/5, G 1/3  |F-G| = 2/3  <- the sup
    #   x = 2: F 2/5, G 0           0.4       x = 6: F 1,   G 2/3         1/3
    #   x = 3: F 3/5, G 1/3         0.2667    x = 7: F 1,   G 1           0
    #   x = 4: F 4/5, G 1/3         0.4667
    assert m.ks(arr(1, 2, 3, 4, 5), arr(3, 6, 7)).statistic == pytest.approx(2 / 3)
    # the current entirely below the reference: D = 1
    assert m.ks(arr(5, 6, 7), arr(1, 2)).statistic == pytest.approx(1.0)


def kolmogorov_sf(d: float, n: int, m_: int) -> float:
    """Kolmogorov's limiting series 2 sum (-1)^(k-1) exp(-2 k^2 x^2) with Stephens' (1970)
    finite-sample argument x = (sqrt(en) + 0.12 + 0.11 / sqrt(en)) * D, en = n m / (n + m)."""
    en = n * m_ / (n + m_)
    x = (math.sqrt(en) + 0.12 + 0.11 / math.sqrt(en)) * d
    return 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 101))


def ks_by_ecdf(x: np.ndarray, y: np.ndarray) -> float:
    """sup |F - G| over the pooled values, the ECDFs counted with binary search."""
    xs, ys = sorted(x), sorted(y)
    return max(abs(bisect.bisect_right(xs, v) / len(xs) - bisect.bisect_right(ys, v) / len(ys))
               for v in xs + ys)


@pytest.mark.parametrize(("n", "m_", "j"), [(1000, 1000, 60), (1000, 1000, 61),
                                            (1000, 600, 70), (1000, 600, 75), (400, 400, 30)])
def test_ks_p_value_against_the_published_asymptotics(n: int, m_: int, j: int) -> None:
    # ref = 0, 1, ..., n-1 and cur = j-0.5, j-0.5 + n/m, ...: with equal sizes, below x = j-1
    # the reference has j values and the current none, and from there F - G only shrinks:
    # D = j / n exactly. With unequal sizes D is counted from the ECDFs.
    ref = np.arange(n, dtype=float)
    cur = np.arange(m_, dtype=float) * (n / m_) + j - 0.5
    d = ks_by_ecdf(ref, cur)
    if n == m_:
        assert d == pytest.approx(j / n)
    out = m.ks(ref, cur)
    assert out.statistic == pytest.approx(d)
    assert out.p_value == pytest.approx(kolmogorov_sf(d, n, m_), rel=0.02)
    # The tabulated asymptotic critical value at alpha 0.05: D > 1.358 sqrt((n+m)/(n m)).
    critical = 1.358 * math.sqrt((n + m_) / (n * m_))
    if abs(d - critical) > 0.0005:
        assert (out.p_value < 0.05) == (d > critical), (d, critical, out.p_value)


def test_ks_cases_straddle_the_critical_value() -> None:
    # 60/1000 and 61/1000 lie either side of 1.358 sqrt(2/1000) = 0.06073
    below, above = (m.ks(np.arange(1000.0), np.arange(1000.0) + j - 0.5) for j in (60, 61))
    assert below.p_value > 0.05 > above.p_value


# ---------------------------------------------------------------------------------------------
# Cramér-von Mises (two samples, Anderson 1962)


def midranks(pooled: list[float]) -> list[float]:
    return [sum(w < v for w in pooled) + (sum(w == v for w in pooled) + 1) / 2 for v in pooled]


def cvm_t(x: list[float], y: list[float]) -> float:
    """Anderson (1962): U = n sum (r_i - i)^2 + m sum (s_j - j)^2 with r_i, s_j the pooled ranks
    of the sorted samples; T = U / (n m N) - (4 n m - 1) / (6 N)."""
    x, y = sorted(x), sorted(y)
    n, m_ = len(x), len(y)
    big_n = n + m_
    r = midranks(x + y)
    u = (n * sum((r[i] - (i + 1)) ** 2 for i in range(n))
         + m_ * sum((r[n + j] - (j + 1)) ** 2 for j in range(m_)))
    return u / (n * m_ * big_n) - (4 * n * m_ - 1) / (6 * big_n)


def cvm_t_star(t: float, n: int, m_: int) -> float:
    """T standardised to the mean 1/6 and variance 1/45 of the limiting W^2 (Anderson 1962:
    E T = (1 + 1/N) / 6, Var T = (N+1)(4 m n N - 3(m^2 + n^2) - 2 m n) / (45 N^2 4 m n))."""
    big_n = n + m_
    mean = (1 + 1 / big_n) / 6
    var = (big_n + 1) * (4 * m_ * n * big_n - 3 * (n * n + m_ * m_) - 2 * n * m_) / (
        45 * big_n**2 * 4 * m_ * n)
    return 1 / 6 + (t - mean) / math.sqrt(45 * var)


def test_cramer_von_mises_statistic_by_ranks() -> None:
    # x = 1 2 5, y = 3 4 6 7: pooled order 1 2 3 4 5 6 7, so x's ranks 1 2 5, y's 3 4 6 7.
    # U = 3 [(1-1)^2 + (2-2)^2 + (5-3)^2] + 4 [(3-1)^2 + (4-2)^2 + (6-3)^2 + (7-4)^2]
    #   = 3 * 4 + 4 * 26 = 116;  T = 116 / (3 * 4 * 7) - (48 - 1) / 42 = 116/84 - 47/42 = 11/42
    out = m.cramer_von_mises(arr(1, 2, 5), arr(3, 4, 6, 7))
    assert out.statistic == pytest.approx(11 / 42)
    assert cvm_t([1, 2, 5], [3, 4, 6, 7]) == pytest.approx(11 / 42)
    ties_x, ties_y = [1.0, 2.0, 2.0, 4.0, 5.0, 5.0], [2.0, 3.0, 5.0, 6.0, 6.0]  # midranks
    assert m.cramer_von_mises(np.array(ties_x), np.array(ties_y)).statistic == pytest.approx(
        cvm_t(ties_x, ties_y))


# Upper percentage points of the limiting W^2 (Anderson & Darling 1952): 10% 0.34730,
# 5% 0.46136, 1% 0.74346. Samples 0..n-1 against s+0.5, s+1.5, ... (m values) whose standardised
# T lands within 0.002 of each point, on either side of it.
@pytest.mark.parametrize(("n", "m_", "s", "level", "critical"), [
    (60, 54, 10, 0.05, 0.46136), (80, 45, 17, 0.05, 0.46136),
    (100, 98, 9, 0.10, 0.34730), (100, 68, 15, 0.10, 0.34730),
    (100, 94, 15, 0.01, 0.74346), (100, 75, 1, 0.01, 0.74346)])
def test_cramer_von_mises_p_value_against_the_w2_table(n: int, m_: int, s: int, level: float,
                                                       critical: float) -> None:
    x = [float(i) for i in range(n)]
    y = [i + s + 0.5 for i in range(m_)]
    t = cvm_t(x, y)
    t_star = cvm_t_star(t, n, m_)
    assert abs(t_star - critical) < 0.002
    out = m.cramer_von_mises(np.array(x), np.array(y))
    assert out.statistic == pytest.approx(t)
    assert (out.p_value < level) == (t_star > critical)
    # the W^2 density is below 0.7 near these points, so p moves less than 0.7 per unit of T*
    assert abs(out.p_value - level) <= 0.7 * abs(t_star - critical) + 1e-4


# ---------------------------------------------------------------------------------------------
# Anderson-Darling k-sample (Scholz & Stephens 1987)


def ad_k_sample(samples: list[list[float]]) -> float:
    """Scholz & Stephens (1987): A^2_akN (their eq. 7, midranks, valid with ties) standardised
    as (A^2 - (k - 1)) / sigma_N with sigma_N^2 from their eq. 4."""
    k = len(samples)
    pooled = sorted(v for s in samples for v in s)
    big_n = len(pooled)
    a2 = 0.0
    for s in samples:
        inner, b_j, m_ij = 0.0, 0, 0
        for z in sorted(set(pooled)):
            l_j = sum(v == z for v in pooled)
            f_ij = sum(v == z for v in s)
            b_j += l_j
            m_ij += f_ij
            b_a, m_a = b_j - l_j / 2, m_ij - f_ij / 2
            inner += l_j / big_n * (big_n * m_a - len(s) * b_a) ** 2 / (
                b_a * (big_n - b_a) - big_n * l_j / 4)
        a2 += inner / len(s)
    a2 *= (big_n - 1) / big_n
    hh = sum(1 / len(s) for s in samples)
    h = sum(1 / i for i in range(1, big_n))
    g = sum(1 / ((big_n - i) * j) for i in range(1, big_n - 1) for j in range(i + 1, big_n))
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * hh
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * hh - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * hh + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    var = (a * big_n**3 + b * big_n**2 + c * big_n + d) / (
        (big_n - 1) * (big_n - 2) * (big_n - 3))
    return (a2 - (k - 1)) / math.sqrt(var)


# Scholz & Stephens (1987), Table 1, m = k - 1 = 1: upper points of the standardised statistic
# 0.25: 0.326, 0.10: 1.225, 0.05: 1.960, 0.025: 2.719, 0.01: 3.752. The wrapper documents that
# the p-value is capped to [0.001, 0.25].
AD_TABLE = [(0.25, 0.326), (0.10, 1.225), (0.05, 1.960), (0.025, 2.719), (0.01, 3.752)]


def shifted(n: int, m_: int, s: float) -> tuple[list[float], list[float]]:
    return [float(i) for i in range(n)], [i + s for i in range(m_)]


AD_CASES = [  # hand statistic (rounded) and the table interval it falls in
    shifted(10, 8, 2.5),                                 # -0.27  below 0.326: p capped at 0.25
    ([1.0, 3, 5, 7], [2.0, 4, 6, 8, 10]),                # -0.41  interleaved
    shifted(20, 15, 5.5),                                #  0.68  0.10 < p < 0.25
    shifted(10, 8, 3.5),                                 #  1.06
    ([1.0, 2, 2, 3, 5], [2.0, 3, 3, 6, 8, 9]),           #  1.40  ties; 0.05 < p < 0.10
    shifted(20, 15, 6.5),                                #  1.81
    shifted(10, 8, 4.5),                                 #  2.62  0.025 < p < 0.05
    shifted(20, 15, 7.5),                                #  3.13  0.01 < p < 0.025
    shifted(10, 8, 5.5),                                 #  4.25  p < 0.01
    shifted(10, 10, 30.5),                               #  9.86  disjoint: p at its 0.001 cap
]


@pytest.mark.parametrize(("x", "y"), AD_CASES)
def test_anderson_darling_statistic_by_formula_and_p_by_table(x: list[float],
                                                              y: list[float]) -> None:
    stat = ad_k_sample([x, y])
    out = m.anderson_darling(np.array(x), np.array(y))
    assert out.statistic == pytest.approx(stat, rel=1e-9)
    assert 0.001 <= out.p_value <= 0.25
    if stat < AD_TABLE[0][1]:
        assert out.p_value == pytest.approx(0.25)
    for level, critical in AD_TABLE:  # the p-value sits on the table's side of every point
        assert (out.p_value < level) == (stat > critical), (stat, level, out.p_value)


def test_anderson_darling_cases_cover_every_interval_of_the_table() -> None:
    points = [-math.inf] + [c for _, c in AD_TABLE] + [math.inf]
    seen = {sum(ad_k_sample([x, y]) > p for p in points[1:-1]) for x, y in AD_CASES}
    assert seen == set(range(len(points) - 1))
    far = m.anderson_darling(*(np.array(v) for v in AD_CASES[-1]))
    assert far.p_value == pytest.approx(0.001)


# ---------------------------------------------------------------------------------------------
# Mann-Whitney U


def exact_mwu_two_sided(u: float, n: int, m_: int) -> float:
    """Enumerate every way to give n of the ranks 1..n+m to the first sample (no ties)."""
    total, extreme = 0, 0
    hi = max(u, n * m_ - u)
    for chosen in itertools.combinations(range(1, n + m_ + 1), n):
        u_perm = sum(chosen) - n * (n + 1) / 2
        total += 1
        extreme += u_perm >= hi
    return min(1.0, 2 * extreme / total)


def test_mann_whitney_u_by_counting_pairs_and_exact_p_by_enumeration() -> None:
    ref, cur = [19, 22, 16, 29, 24], [20, 11, 17, 12]
    # pairs with ref > cur: 19 beats 11 17 12 (3), 22 all (4), 16 beats 11 12 (2), 29 (4),
    # 24 (4): U = 17 of 20. Of the C(9, 5) = 126 rank sets, 7 give U >= 17: p = 2 * 7/126.
    out = m.mann_whitney(arr(*ref), arr(*cur))
    assert out.statistic == 17
    assert exact_mwu_two_sided(17, 5, 4) == pytest.approx(14 / 126)
    assert out.p_value == pytest.approx(14 / 126)


def test_mann_whitney_normal_approximation_with_ties() -> None:
    ref = [1, 2, 2, 3, 3, 3, 4, 5, 6, 7]
    cur = [3, 4, 4, 5, 6, 6, 7, 8, 9, 9, 10]
    n, m_ = len(ref), len(cur)
    # pairs ref > cur, ties counting half: 1, 2, 2 beat nothing; each 3 ties one 3 (3 * 0.5);
    # 4 beats 3 and ties 4 4 (2); 5 beats 3 4 4, ties 5 (3.5); 6 beats 3 4 4 5, ties 6 6 (5);
    # 7 beats 3 4 4 5 6 6, ties 7 (6.5): U = 1.5 + 2 + 3.5 + 5 + 6.5 = 18.5
    u = sum((a > b) + 0.5 * (a == b) for a in ref for b in cur)
    pooled = ref + cur
    big_n = n + m_
    tie_term = sum(t**3 - t for t in (pooled.count(v) for v in set(pooled)))
    sigma = math.sqrt(n * m_ / 12 * ((big_n + 1) - tie_term / (big_n * (big_n - 1))))
    z = (max(u, n * m_ - u) - n * m_ / 2 - 0.5) / sigma  # continuity-corrected
    out = m.mann_whitney(arr(*ref), arr(*cur))
    assert out.statistic == u == 18.5
    assert out.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Welch's t


def t_two_sided(t: float, df: float, steps: int = 4000) -> float:
    """1 - 2 * integral_0^|t| of the Student t density, by Simpson's rule."""
    const = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    h = abs(t) / steps
    f = [const * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
    area = h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))
    return 1 - 2 * area


def welch(x: list[float], y: list[float]) -> tuple[float, float]:
    n, m_ = len(x), len(y)
    mx, my = sum(x) / n, sum(y) / m_
    vx = sum((v - mx) ** 2 for v in x) / (n - 1)
    vy = sum((v - my) ** 2 for v in y) / (m_ - 1)
    se2 = vx / n + vy / m_
    df = se2**2 / ((vx / n) ** 2 / (n - 1) + (vy / m_) ** 2 / (m_ - 1))  # Welch-Satterthwaite
    return (mx - my) / math.sqrt(se2), df


def test_welch_t_closed_form_with_two_degrees_of_freedom() -> None:
    # ref 0 2: mean 1, s^2 2; cur 3 5: mean 4, s^2 2. se = sqrt(2/2 + 2/2) = sqrt(2),
    # t = -3 / sqrt(2); df = (1 + 1)^2 / (1/1 + 1/1) = 2, where the t CDF is closed:
    # p = 1 - |t| / sqrt(2 + t^2) = 1 - 2.12132 / 2.54951 = 0.167949
    out = m.t_test(arr(0, 2), arr(3, 5))
    t = -3 / math.sqrt(2)
    assert out.statistic == pytest.approx(t)
    assert out.p_value == pytest.approx(1 - abs(t) / math.sqrt(2 + t * t))
    assert t_two_sided(t, 2) == pytest.approx(1 - abs(t) / math.sqrt(2 + t * t), abs=1e-10)


def test_welch_t_unequal_variances_by_formula() -> None:
    ref = [4.1, 5.0, 5.5, 6.2, 4.8, 5.9, 5.1, 4.4]
    cur = [6.0, 8.5, 3.9, 9.7, 7.2, 5.0, 10.1, 7.7, 8.8, 6.6, 9.0, 4.9]
    t, df = welch(ref, cur)
    assert 10 < df < 15 and df != int(df)  # a fractional df: the general case
    out = m.t_test(arr(*ref), arr(*cur))
    assert out.statistic == pytest.approx(t, rel=1e-12)
    assert out.p_value == pytest.approx(t_two_sided(t, df), abs=1e-9)


def test_welch_t_at_the_tabulated_critical_value() -> None:
    # n = 3 each with s^2 = 1: df = 4; the table gives t(0.975, 4) = 2.776. A mean shift of
    # 2.776 * se, se = sqrt(1/3 + 1/3), puts t at the critical value: p = 0.05.
    shift = 2.776 * math.sqrt(2 / 3)
    out = m.t_test(arr(0, 1, 2) + shift, arr(0, 1, 2))
    assert out.statistic == pytest.approx(2.776)
    assert out.p_value == pytest.approx(0.05, abs=1e-4)


# ---------------------------------------------------------------------------------------------
# Epps-Singleton


def linear_quantile(sorted_v: list[float], p: float) -> float:
    pos = p * (len(sorted_v) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_v) - 1)
    return sorted_v[lo] + (sorted_v[hi] - sorted_v[lo]) * (pos - lo)


def epps_singleton(x: list[float], y: list[float], t: tuple[float, float] = (0.4, 0.8)
                   ) -> tuple[float, float]:
    """Epps & Singleton (1986): the empirical characteristic functions at t / sigma (sigma the
    pooled semi-interquartile range) as g(v) = (cos t1 v, cos t2 v, sin t1 v, sin t2 v);
    W = N d' Omega^-1 d with d the difference of the sample means of g and
    Omega = N/n1 Cov1 + N/n2 Cov2 (biased covariances); their small-sample factor when
    max(n1, n2) < 25; p from chi-square with 4 df, whose tail is exp(-w/2) (1 + w/2)."""
    n1, n2 = len(x), len(y)
    big_n = n1 + n2
    pooled = sorted(x + y)
    sigma = (linear_quantile(pooled, 0.75) - linear_quantile(pooled, 0.25)) / 2
    t1, t2 = t[0] / sigma, t[1] / sigma

    def g(v: float) -> list[float]:
        return [math.cos(t1 * v), math.cos(t2 * v), math.sin(t1 * v), math.sin(t2 * v)]

    def mean_cov(sample: list[float]) -> tuple[list[float], list[list[float]]]:
        rows = [g(v) for v in sample]
        mu = [sum(r[a] for r in rows) / len(rows) for a in range(4)]
        cov = [[sum((r[a] - mu[a]) * (r[b] - mu[b]) for r in rows) / len(rows)
                for b in range(4)] for a in range(4)]
        return mu, cov

    (mu1, c1), (mu2, c2) = mean_cov(x), mean_cov(y)
    omega = np.array([[big_n / n1 * c1[a][b] + big_n / n2 * c2[a][b] for b in range(4)]
                      for a in range(4)])
    d = np.array([mu1[a] - mu2[a] for a in range(4)])
    w = big_n * float(d @ np.linalg.inv(omega) @ d)
    if max(n1, n2) < 25:
        w /= 1 + big_n ** -0.45 + 10.1 * (n1 ** -1.7 + n2 ** -1.7)
    return w, math.exp(-w / 2) * (1 + w / 2)


ES_REF = [0.3, -1.2, 0.8, 1.9, -0.4, 0.1, -2.1, 1.1, 0.6, -0.7, 0.0, 1.4, -1.6, 0.9, -0.2]
ES_CUR = [1.3, 0.2, 2.2, 0.9, 1.8, -0.5, 2.9, 1.0, 0.4, 1.6, 2.5, 0.7]


@pytest.mark.parametrize(("x", "y"), [
    (ES_REF, ES_CUR),                                            # small: corrected
    (ES_REF * 2 + [2.5, -2.6], [v * 2 for v in ES_CUR] * 3),     # 32 vs 36: uncorrected
    ([float(i) for i in range(10)], [i + 3.5 for i in range(10)]),
])
def test_epps_singleton_by_its_formula(x: list[float], y: list[float]) -> None:
    w, p = epps_singleton(x, y)
    out = m.epps_singleton(np.array(x), np.array(y))
    assert out.statistic == pytest.approx(w, rel=1e-8)
    assert out.p_value == pytest.approx(p, rel=1e-8)


def test_epps_singleton_identical_samples_give_p_one() -> None:
    out = m.epps_singleton(np.array(ES_REF), np.array(ES_REF))
    assert out.statistic == pytest.approx(0.0, abs=1e-9) and out.p_value == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Wasserstein and energy distance, in reference standard deviations (np.std, ddof 0)


def test_wasserstein_equal_sizes_is_mean_gap_of_sorted_values_over_reference_std() -> None:
    # sorted ref 0 1 2 3, sorted cur 1 1 4 6: |0-1| + |1-1| + |2-4| + |3-6| = 6, mean 1.5.
    # ref std (population) = sqrt(((-1.5)^2 + (-.5)^2 + .5^2 + 1.5^2) / 4) = sqrt(1.25)
    assert m.wasserstein(arr(3, 0, 2, 1), arr(6, 1, 4, 1)).statistic == pytest.approx(
        1.5 / math.sqrt(1.25))


def test_wasserstein_unequal_sizes_by_the_cdf_integral() -> None:
    # ref 0 2 (std 1), cur 1: |F - G| = 1/2 on [0, 1) and 1/2 on [1, 2): integral 1.
    assert m.wasserstein(arr(0, 2), arr(1)).statistic == pytest.approx(1.0)
    # a constant reference has no std: the distance stays in its own units (|5 - 3| = 2)
    assert m.wasserstein(arr(3, 3, 3), arr(5, 5)).statistic == pytest.approx(2.0)


def energy_by_definition(x: list[float], y: list[float]) -> float:
    """sqrt(2 E|X-Y| - E|X-X'| - E|Y-Y'|) over all pairs (X' an independent copy of X)."""
    exy = sum(abs(a - b) for a in x for b in y) / (len(x) * len(y))
    exx = sum(abs(a - b) for a in x for b in x) / len(x) ** 2
    eyy = sum(abs(a - b) for a in y for b in y) / len(y) ** 2
    return math.sqrt(2 * exy - exx - eyy)


def test_energy_distance_by_its_definition_in_reference_stds() -> None:
    # ref 0 2: E|X-X'| = (0 + 2 + 2 + 0) / 4 = 1; cur 1: E|Y-Y'| = 0; E|X-Y| = (1 + 1) / 2 = 1
    # D^2 = 2 - 1 - 0 = 1 and the reference std is 1: D = 1.
    assert m.energy_distance(arr(0, 2), arr(1)).statistic == pytest.approx(1.0)
    # In reference standard deviations means: on the data divided by the reference std.
    ref, cur = [10.0, 14.0, 11.0, 19.0, 16.0], [13.0, 22.0, 25.0, 17.0]
    sd = float(np.std(ref))
    expected = energy_by_definition([v / sd for v in ref], [v / sd for v in cur])
    assert m.energy_distance(np.array(ref), np.array(cur)).statistic == pytest.approx(expected)


@pytest.mark.parametrize("name", ["wasserstein", "energy_distance"])
def test_distances_in_reference_stds_do_not_depend_on_units(name: str) -> None:
    ref, cur = arr(10, 14, 11, 19, 16), arr(13, 22, 25, 17)
    fn = METHODS[name].fn
    base = fn(ref, cur).statistic
    for scale, offset in ((100.0, 0.0), (0.01, 0.0), (1.0, 1e4), (2.5, -30.0)):
        assert fn(ref * scale + offset, cur * scale + offset).statistic == pytest.approx(
            base, rel=1e-9), (scale, offset)


# ---------------------------------------------------------------------------------------------
# Binned distances: reference deciles + an overflow bin each side, empty bins floored at EPS

DECILE_REF = np.arange(100, dtype=float)
# Deciles of 0..99 (linear): 0, 9.9, 19.8, ..., 89.1, 99 -> bins (-inf, 0) [0, 9.9) ...
# [89.1, 99] (99, inf): ten values each, the overflow bins empty. i*10 + 0.5 is in decile i.
SHARES_CUR = [0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]
DECILE_CUR = np.repeat([10 * i + 0.5 for i in range(10)], [round(s * 100) for s in SHARES_CUR])
S = 1 + 2 * EPS  # both share vectors: ten real shares summing to 1 plus two empty bins at EPS


def test_binned_distances_on_numbers_by_hand() -> None:
    # ref shares 0.1 in each decile, cur as SHARES_CUR; both EPS in the two overflow bins,
    # which therefore add nothing below.
    # psi = sum (c - r) ln(c / r) = 2 * 0.1 ln 2 + 4 * 0 + 4 * (-0.05) ln(1/2) = 0.4 ln 2
    assert m.psi(DECILE_REF, DECILE_CUR).statistic == pytest.approx(0.4 * math.log(2))
    # The normalised distances divide both vectors by S.
    # tvd = 1/2 sum |r - c| / S = 1/2 (2 * 0.1 + 4 * 0.05) / S = 0.2 / S
    assert m.tvd(DECILE_REF, DECILE_CUR).statistic == pytest.approx(0.2 / S)
    # kl(r || c) = sum r ln(r / c) / S = (2 * 0.1 ln(1/2) + 4 * 0.1 ln 2) / S = 0.2 ln 2 / S
    assert m.kl_div(DECILE_REF, DECILE_CUR).statistic == pytest.approx(0.2 * math.log(2) / S)
    # hellinger = sqrt(sum (sqrt r - sqrt c)^2 / S) / sqrt 2
    h2 = 2 * (math.sqrt(0.1) - math.sqrt(0.2)) ** 2 + 4 * (math.sqrt(0.1) - math.sqrt(0.05)) ** 2
    assert m.hellinger(DECILE_REF, DECILE_CUR).statistic == pytest.approx(
        math.sqrt(h2 / S) / math.sqrt(2))
    # jensen-shannon = sqrt((kl(r || mid) + kl(c || mid)) / 2), mid = (r + c) / 2, natural log:
    # per decile r ln(2r / (r + c)) + c ln(2c / (r + c)); zero where r = c.
    js2 = (2 * (0.1 * math.log(0.2 / 0.3) + 0.2 * math.log(0.4 / 0.3))
           + 4 * (0.1 * math.log(0.2 / 0.15) + 0.05 * math.log(0.1 / 0.15))) / 2 / S
    assert m.jensen_shannon(DECILE_REF, DECILE_CUR).statistic == pytest.approx(math.sqrt(js2))


def test_binned_distances_see_mass_beyond_the_reference_range() -> None:
    # 30% below the reference minimum, 20% in the first decile, 50% above the maximum:
    # cur shares (EPS-floored) [0.3, 0.2, EPS x 9, 0.5], ref [EPS, 0.1 x 10, EPS].
    cur = np.repeat([-5.0, 0.5, 150.0], [30, 20, 50])
    r = [EPS] + [0.1] * 10 + [EPS]
    c = [0.3, 0.2] + [EPS] * 9 + [0.5]
    psi = sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c))
    assert m.psi(DECILE_REF, cur).statistic == pytest.approx(psi)
    assert psi > 5  # the overflow bins carry the drift: without them psi would be ~0.9
    rn, cn = [v / sum(r) for v in r], [v / sum(c) for v in c]
    assert m.tvd(DECILE_REF, cur).statistic == pytest.approx(
        0.5 * sum(abs(a - b) for a, b in zip(rn, cn)))
    assert m.kl_div(DECILE_REF, cur).statistic == pytest.approx(
        sum(a * math.log(a / b) for a, b in zip(rn, cn)))
    assert m.hellinger(DECILE_REF, cur).statistic == pytest.approx(
        math.sqrt(sum((math.sqrt(a) - math.sqrt(b)) ** 2 for a, b in zip(rn, cn)) / 2))
    mid = [(a + b) / 2 for a, b in zip(rn, cn)]
    js2 = (sum(a * math.log(a / x) for a, x in zip(rn, mid))
           + sum(b * math.log(b / x) for b, x in zip(cn, mid))) / 2
    assert m.jensen_shannon(DECILE_REF, cur).statistic == pytest.approx(math.sqrt(js2))


CAT_R = cats(a=50, b=50)
CAT_C = cats(a=25, b=75)


def test_binned_distances_on_categories_by_hand() -> None:
    # shares r = (0.5, 0.5), c = (0.25, 0.75): no empty category, no EPS
    assert m.psi(CAT_R, CAT_C).statistic == pytest.approx(
        (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5))
    js2 = (0.5 * math.log(0.5 / 0.375) + 0.5 * math.log(0.5 / 0.625)
           + 0.25 * math.log(0.25 / 0.375) + 0.75 * math.log(0.75 / 0.625)) / 2
    assert m.jensen_shannon(CAT_R, CAT_C).statistic == pytest.approx(math.sqrt(js2))
    assert m.hellinger(CAT_R, CAT_C).statistic == pytest.approx(
        math.sqrt((math.sqrt(0.5) - 0.5) ** 2 + (math.sqrt(0.5) - math.sqrt(0.75)) ** 2)
        / math.sqrt(2))
    assert m.kl_div(CAT_R, CAT_C).statistic == pytest.approx(
        0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75))
    assert m.tvd(CAT_R, CAT_C).statistic == pytest.approx(0.25)


def test_binned_distances_bounds_on_disjoint_categories() -> None:
    # all 'a' against all 'b': shares (1, EPS) and (EPS, 1), both summing to 1 + EPS.
    # tvd = (1 - EPS) / (1 + EPS) and hellinger = (1 - sqrt EPS) / sqrt(1 + EPS): just below 1;
    # jensen-shannon just below its natural-log maximum sqrt(ln 2).
    ref, cur = cats(a=40), cats(b=40)
    assert m.tvd(ref, cur).statistic == pytest.approx((1 - EPS) / (1 + EPS))
    assert m.hellinger(ref, cur).statistic == pytest.approx(
        (1 - math.sqrt(EPS)) / math.sqrt(1 + EPS))
    a, b = 1 / (1 + EPS), EPS / (1 + EPS)  # the normalised shares; mid = 1/2 in both cells
    js = math.sqrt(a * math.log(2 * a) + b * math.log(2 * b))
    assert m.jensen_shannon(ref, cur).statistic == pytest.approx(js)
    assert math.sqrt(math.log(2)) - 0.01 < js < math.sqrt(math.log(2))


# ---------------------------------------------------------------------------------------------
# Counts: chi-square, G, z, Fisher


def test_chi_square_and_g_on_a_2x2_table_by_hand() -> None:
    # ref a 50 b 50, cur a 25 b 75; column totals 75 / 125 of 200, so every expected count is
    # row total * column share: 37.5 and 62.5 in both rows.
    # chi2 = sum (O - E)^2 / E = 2 * (12.5^2 / 37.5 + 12.5^2 / 62.5) = 2 * (4.1667 + 2.5) = 40/3
    # 1 df: P(chi2_1 > x) = P(|Z| > sqrt x) = erfc(sqrt(x / 2))
    chi = m.chi_square(CAT_R, CAT_C)
    assert chi.statistic == pytest.approx(40 / 3)
    assert chi.p_value == pytest.approx(math.erfc(math.sqrt(40 / 3 / 2)))
    # G = 2 sum O ln(O / E)
    g = 2 * (50 * math.log(50 / 37.5) + 50 * math.log(50 / 62.5)
             + 25 * math.log(25 / 37.5) + 75 * math.log(75 / 62.5))
    out = m.g_test(CAT_R, CAT_C)
    assert out.statistic == pytest.approx(g)
    assert out.p_value == pytest.approx(math.erfc(math.sqrt(g / 2)))


def test_chi_square_and_g_on_a_2x3_table_by_hand() -> None:
    # ref a 10 b 20 c 30, cur a 30 b 20 c 10: every expected count 20.
    # chi2 = (100 + 0 + 100) / 20 * 2 = 20; 2 df: P(chi2_2 > x) = exp(-x / 2)
    ref, cur = cats(a=10, b=20, c=30), cats(a=30, b=20, c=10)
    chi = m.chi_square(ref, cur)
    assert chi.statistic == pytest.approx(20.0)
    assert chi.p_value == pytest.approx(math.exp(-10))
    g = 2 * 2 * (10 * math.log(10 / 20) + 30 * math.log(30 / 20))
    out = m.g_test(ref, cur)
    assert out.statistic == pytest.approx(g)
    assert out.p_value == pytest.approx(math.exp(-g / 2))


@pytest.mark.parametrize(("ref", "cur", "below"), [
    # chi2 = N (ad - bc)^2 / (r1 r2 c1 c2)
    # 300 (41*94 - 59*106)^2 / (100 * 200 * 147 * 153) = 3.84154 > 3.84146 (the 5% point)
    (cats(a=41, b=59), cats(a=106, b=94), True),
    # 200 (31*81 - 69*19)^2 / (100 * 100 * 50 * 150) = 3.84 < 3.84146
    (cats(a=31, b=69), cats(a=19, b=81), False)])
def test_chi_square_at_the_tabulated_critical_value(ref: np.ndarray, cur: np.ndarray,
                                                    below: bool) -> None:
    out = m.chi_square(ref, cur)
    assert out.statistic == pytest.approx(3.8415366 if below else 3.84, abs=1e-6)
    assert (out.p_value < 0.05) == below
    assert out.p_value == pytest.approx(0.05, abs=1e-4)


def test_chi_square_and_g_with_one_category_is_no_drift() -> None:
    for fn in (m.chi_square, m.g_test):
        assert fn(cats(a=5), cats(a=9)) == m.Outcome(0.0, 1.0)


def test_z_test_for_two_proportions_by_formula() -> None:
    # 'a' is the first category: 50/100 vs 25/100, pooled 75/200 = 0.375,
    # se = sqrt(0.375 * 0.625 * (1/100 + 1/100)) = 0.0684653, z = 0.25 / se = 3.6515
    z = 0.25 / math.sqrt(0.375 * 0.625 * 0.02)
    out = m.z_test(CAT_R, CAT_C)
    assert out.statistic == pytest.approx(z)
    assert out.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))  # 2 * (1 - Phi(|z|))
    # the same table's chi-square is z^2 (a 2 x 2 identity)
    assert m.chi_square(CAT_R, CAT_C).statistic == pytest.approx(z * z)


def test_z_test_at_the_tabulated_critical_value() -> None:
    # 41/100 vs 106/200: pooled 0.49, se = sqrt(.49 * .51 * (1/100 + 1/200)) = 0.061225,
    # z = -0.12 / 0.061225 = -1.95998, at the table's 1.960 for two-sided 5%
    out = m.z_test(cats(a=41, b=59), cats(a=106, b=94))
    assert out.statistic == pytest.approx(-0.12 / math.sqrt(0.49 * 0.51 * 0.015))
    assert out.statistic == pytest.approx(-1.96, abs=1e-4)
    assert out.p_value == pytest.approx(0.05, abs=1e-4)


def test_z_test_degenerate_tables() -> None:
    # one category on both sides: se = 0, no evidence either way
    assert m.z_test(cats(a=10), cats(a=20)) == m.Outcome(0.0, 1.0)
    # all 'a' against all 'b': pooled 0.5, se = sqrt(.25 * (2/20)) = 0.1581, z = 1 / se
    out = m.z_test(cats(a=20), cats(b=20))
    assert out.statistic == pytest.approx(1 / math.sqrt(0.25 * 0.1))
    with pytest.raises(ValueError, match="at most 2 categories"):
        m.z_test(cats(a=1, b=1, c=1), cats(a=2))


def fisher_two_sided(a: int, b: int, c: int, d: int) -> float:
    """Sum of the hypergeometric probabilities of all tables with the margins of [[a, b], [c, d]]
    that are no more likely than the observed one."""
    r1, c1, n = a + b, a + c, a + b + c + d

    def prob(k: int) -> float:
        return math.comb(c1, k) * math.comb(n - c1, r1 - k) / math.comb(n, r1)

    observed = prob(a)
    support = range(max(0, r1 + c1 - n), min(r1, c1) + 1)
    return sum(prob(k) for k in support if prob(k) <= observed * (1 + 1e-7))


def test_fisher_exact_tea_tasting() -> None:
    # Fisher (1935): 3 of 4 cups right, [[3, 1], [1, 3]]. P(k right) = C(4,k) C(4,4-k) / C(8,4):
    # k = 0..4 -> 1, 16, 36, 16, 1 (of 70). Two-sided: tables as likely or less than 16/70:
    # 1 + 16 + 16 + 1 = 34/70 = 0.4857. Odds ratio (3 * 3) / (1 * 1) = 9.
    out = m.fisher_exact(cats(a=3, b=1), cats(a=1, b=3))
    assert out.p_value == pytest.approx(34 / 70)
    assert out.statistic == pytest.approx(9.0)


def test_fisher_exact_by_hypergeometric_sums() -> None:
    # [[3, 7], [9, 1]]: odds ratio 3 * 1 / (7 * 9) = 1/21
    out = m.fisher_exact(cats(a=3, b=7), cats(a=9, b=1))
    assert out.statistic == pytest.approx(1 / 21)
    assert out.p_value == pytest.approx(fisher_two_sided(3, 7, 9, 1))
    assert out.p_value < 0.05
    # a single category on both sides: the table is [[n1, 0], [n2, 0]], nothing to test
    assert m.fisher_exact(cats(a=4), cats(a=6)).p_value == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# The contract over the whole registry


def samples(kind: str, shift: bool, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    if kind == "numeric":
        return rng.normal(0, 1, n), rng.normal(1.0 if shift else 0, 1, n)
    if kind == "binary":
        ref = rng.choice(["y", "n"], n, p=[0.5, 0.5]).astype(object)
        cur = rng.choice(["y", "n"], n, p=[0.8, 0.2] if shift else [0.5, 0.5]).astype(object)
        return ref, cur
    letters = list("abcdef")
    ref = rng.choice(letters, n).astype(object)
    cur = rng.choice(letters, n, p=[0.5, 0.1, 0.1, 0.1, 0.1, 0.1] if shift else None
                     ).astype(object)
    return ref, cur


def kinds_of(name: str) -> list[str]:
    return sorted(METHODS[name].kinds)


@pytest.mark.parametrize("name", list(METHODS))
def test_contract_identical_is_not_drift_and_shift_is(name: str) -> None:
    method = METHODS[name]
    for kind in kinds_of(name):
        ref, _ = samples(kind, False)
        assert not method.drifted(method.fn(ref, ref.copy())), (name, kind, "identical")
        ref, cur = samples(kind, True)
        assert method.drifted(method.fn(ref, cur)), (name, kind, "shifted")


@pytest.mark.parametrize("name", list(METHODS))
def test_contract_nan_empty_and_constant_columns(name: str) -> None:
    kind = kinds_of(name)[0]
    ref, cur = samples(kind, True, 300)
    ref_s, cur_s = pd.Series(ref), pd.Series(cur)
    with_nan = cur_s.copy()
    with_nan.iloc[::10] = None
    report = drift.compare(pd.DataFrame({"x": ref_s}), pd.DataFrame({"x": with_nan}),
                           methods={"x": name}) if kind != "binary" else None
    if report is not None:  # nulls are dropped, the rest is tested
        (col,) = report.columns
        assert col.n_current == 270 and col.method == name and col.drifted
    empty = drift.compare(pd.DataFrame({"x": ref_s}), pd.DataFrame({"x": pd.Series(
        [None] * 5, dtype=ref_s.dtype)}), methods={"x": name})
    assert empty.columns[0].note == "empty" and not empty.columns[0].drifted
    if kind == "numeric":  # constant columns: equal constants no drift, different ones drift
        same = METHODS[name].fn(np.full(50, 3.0), np.full(60, 3.0))
        other = METHODS[name].fn(np.full(50, 3.0), np.full(60, 4.0))
        assert not METHODS[name].drifted(same)
        assert METHODS[name].drifted(other), name
