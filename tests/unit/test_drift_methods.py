"""Every registered drift test: known values (scipy or by hand) and a contract over the registry."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from e2e_assets import drift
from e2e_assets.drift import methods as m
from e2e_assets.drift.registry import METHODS

RNG = np.random.default_rng(42)
A = RNG.normal(0, 1, 800)
B = RNG.normal(0.3, 1.2, 600)


def test_registry_has_the_catalogue() -> None:
    assert set(METHODS) == {"ks", "cramer_von_mises", "anderson_darling", "mann_whitney",
                            "t_test", "epps_singleton", "wasserstein", "energy_distance", "psi",
                            "jensen_shannon", "hellinger", "kl_div", "tvd", "chi_square",
                            "g_test", "z_test", "fisher_exact"}
    assert METHODS["ks"].score == "p_value" and METHODS["psi"].score == "distance"
    with pytest.raises(KeyError, match="unknown drift method 'kss'; registered: .*'ks'"):
        METHODS["kss"]


@pytest.mark.parametrize(("name", "reference"), [
    ("ks", lambda a, b: stats.ks_2samp(a, b, method="asymp")),
    ("cramer_von_mises", lambda a, b: stats.cramervonmises_2samp(a, b, method="asymptotic")),
    ("anderson_darling", lambda a, b: stats.anderson_ksamp([a, b])),
    ("mann_whitney", lambda a, b: stats.mannwhitneyu(a, b, alternative="two-sided")),
    ("t_test", lambda a, b: stats.ttest_ind(a, b, equal_var=False)),
    ("epps_singleton", lambda a, b: stats.epps_singleton_2samp(a, b)),
])
def test_p_value_tests_match_scipy(name: str, reference: object) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # anderson_ksamp's p-value cap
        ref = reference(A, B)  # type: ignore[operator]
    out = METHODS[name].fn(A, B)
    assert out.statistic == pytest.approx(float(ref.statistic))
    assert out.p_value == pytest.approx(float(ref.pvalue))


def test_distances_match_scipy() -> None:
    sd = np.std(A)
    assert m.wasserstein(A, B).statistic == pytest.approx(stats.wasserstein_distance(A, B) / sd)
    assert m.energy_distance(A, B).statistic == pytest.approx(stats.energy_distance(A, B) / sd)


CAT_R = np.array(["a"] * 50 + ["b"] * 50, dtype=object)
CAT_C = np.array(["a"] * 25 + ["b"] * 75, dtype=object)


def test_binned_distances_by_hand() -> None:
    r, c = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert m.psi(CAT_R, CAT_C).statistic == pytest.approx(
        (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5))
    assert m.jensen_shannon(CAT_R, CAT_C).statistic == pytest.approx(distance.jensenshannon(r, c))
    assert m.hellinger(CAT_R, CAT_C).statistic == pytest.approx(
        math.sqrt((math.sqrt(0.5) - 0.5) ** 2 + (math.sqrt(0.5) - math.sqrt(0.75)) ** 2)
        / math.sqrt(2))
    assert m.kl_div(CAT_R, CAT_C).statistic == pytest.approx(
        0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75))
    assert m.tvd(CAT_R, CAT_C).statistic == pytest.approx(0.25)


def test_count_tests_by_hand_and_scipy() -> None:
    table = [[50, 50], [25, 75]]
    chi = stats.chi2_contingency(table, correction=False)
    assert m.chi_square(CAT_R, CAT_C).p_value == pytest.approx(chi.pvalue)
    g = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert m.g_test(CAT_R, CAT_C).statistic == pytest.approx(g.statistic)
    # 50/100 vs 25/100: pooled 0.375, se = sqrt(.375 * .625 * .02) = 0.0684653
    z = m.z_test(CAT_R, CAT_C)
    assert z.statistic == pytest.approx(0.25 / math.sqrt(0.375 * 0.625 * 0.02))
    assert z.p_value == pytest.approx(2 * stats.norm.sf(z.statistic))
    assert m.fisher_exact(CAT_R, CAT_C).p_value == pytest.approx(
        stats.fisher_exact([[50, 50], [25, 75]]).pvalue)


def samples(kind: str, shift: bool, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    if kind == "numeric":
        return rng.normal(0, 1, n), rng.normal(1.0 if shift else 0, 1, n)
    if kind == "binary":
        ref = rng.choice(["y", "n"], n, p=[0.5, 0.5]).astype(object)
        cur = rng.choice(["y", "n"], n, p=[0.8, 0.2] if shift else [0.5, 0.5]).astype(object)
        return ref, cur
    cats = list("abcdef")
    ref = rng.choice(cats, n).astype(object)
    cur = rng.choice(cats, n, p=[0.5, 0.1, 0.1, 0.1, 0.1, 0.1] if shift else None).astype(object)
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
