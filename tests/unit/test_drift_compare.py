"""drift.compare: selection, Benjamini-Hochberg, the effect floor, and the fast path's bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from e2e_assets import drift
from e2e_assets.drift.prepared import _CACHE, GRID

RNG = np.random.default_rng(3)


def frame(n: int, shift: float = 0.0, cat_p: list[float] | None = None,
          seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(shift, 1, n), "y": rng.exponential(2, n),
        "k": rng.integers(0, 4, n),  # 4 distinct numbers: categorical
        "c": rng.choice(list("abcde"), n, p=cat_p),
        "b": rng.choice(["yes", "no"], n),
    })


def test_public_surface_and_default_selection() -> None:
    report = drift.compare(frame(3000), frame(3000, seed=1))
    by = {c.column: c for c in report.columns}
    assert {c: (by[c].kind, by[c].method) for c in by} == {
        "x": ("numeric", "ks"), "y": ("numeric", "ks"), "k": ("categorical", "chi_square"),
        "c": ("categorical", "chi_square"), "b": ("binary", "z_test")}
    col = by["x"]
    for field in ("column", "method", "statistic", "p_value", "threshold", "drifted",
                  "effect_size"):
        assert hasattr(col, field)
    assert not report.drifted and report.drift_share == 0.0
    small = drift.compare(frame(50), frame(50, seed=1))
    assert {c.column: c.method for c in small.columns}["b"] == "fisher_exact"
    psi = drift.compare(frame(500), frame(500, seed=1), methods={"x": "psi"})
    assert psi.columns[0].method == "psi" and psi.columns[0].p_value is None


def test_benjamini_hochberg_matches_scipy() -> None:
    p = RNG.random(40) ** 3
    assert np.allclose(drift.benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"))


def test_effect_floor_ignores_negligible_shifts_at_large_n() -> None:
    ref, cur = frame(400_000), frame(400_000, shift=0.03, seed=1)
    report = drift.compare(ref, cur, columns=["x"])
    (x,) = report.columns
    assert x.adjusted_p_value < 1e-6  # KS alone would flag it...
    assert x.effect_size < 0.1 and not x.drifted  # ...but 0.03 std is below the floor
    assert drift.compare(ref, cur, columns=["x"], effect_floor=0.01).columns[0].drifted


def test_material_shift_is_flagged_and_dataset_verdict() -> None:
    ref = frame(10_000)
    cur = frame(10_000, shift=0.5, cat_p=[0.4, 0.15, 0.15, 0.15, 0.15], seed=1)
    report = drift.compare(ref, cur)
    assert report.drifted_columns == ["x", "c"]
    assert report.drift_share == pytest.approx(0.4) and not report.drifted  # share < 0.5
    assert drift.compare(ref, cur, share=0.3).drifted


def test_fdr_controls_false_flags_across_many_columns() -> None:
    rng = np.random.default_rng(11)
    runs_flagged_fdr = flags_raw = 0
    zero = {"numeric": 0.0}  # no floor: the test alone decides
    for _ in range(40):
        ref = pd.DataFrame({f"v{i}": rng.normal(0, 1, 300) for i in range(40)})
        cur = pd.DataFrame({f"v{i}": rng.normal(0, 1, 300) for i in range(40)})
        runs_flagged_fdr += any(c.drifted for c in
                                drift.compare(ref, cur, effect_floor=zero).columns)
        flags_raw += sum(c.drifted for c in drift.compare(ref, cur, effect_floor=zero,
                                                          fdr=False).columns)
    # Without correction ~5% of the 1,600 null columns are flagged (80 expected); with BH,
    # under the global null, the chance that a run flags anything is alpha (2 of 40 expected).
    assert flags_raw >= 50
    assert runs_flagged_fdr <= 6


def test_fast_path_agrees_with_exact_within_documented_bounds() -> None:
    ref = frame(50_000, seed=5)
    cur = frame(40_000, shift=0.2, cat_p=[0.3, 0.2, 0.2, 0.15, 0.15], seed=6)
    _CACHE.clear()
    prepared = drift.prepare(ref)
    names = ["ks", "wasserstein", "psi", "jensen_shannon", "hellinger", "kl_div", "tvd"]
    for method in names:
        for col in ("x", "y"):
            exact = drift.compare(ref, cur, columns=[col], methods={col: method},
                                  exact=True).columns[0]
            fast = drift.compare(prepared, cur, columns=[col], methods={col: method}).columns[0]
            if method == "ks":  # exact at grid points, at most one reference cell below
                assert exact.statistic - 1 / GRID - 1e-12 <= fast.statistic <= exact.statistic
            elif method == "wasserstein":
                assert abs(fast.statistic - exact.statistic) <= 0.002  # in reference stds
            else:  # same bins on both paths
                assert fast.statistic == pytest.approx(exact.statistic, rel=1e-9), method
    for col in ("c", "b", "k"):
        exact = drift.compare(ref, cur, columns=[col], exact=True).columns[0]
        fast = drift.compare(prepared, cur, columns=[col]).columns[0]
        assert fast.statistic == pytest.approx(exact.statistic)
        assert fast.effect_size == pytest.approx(exact.effect_size)


def test_prepared_reference_is_cached_by_key() -> None:
    _CACHE.clear()
    ref = frame(1000)
    a = drift.prepare(ref, key="golden:sha256:abc")
    assert drift.prepare(ref.iloc[:10], key="golden:sha256:abc") is a  # keyed, not recomputed
    assert drift.prepare(ref) is drift.prepare(ref.copy())  # default key: the content digest
    with pytest.raises(ValueError, match="column 'x' kept no sample; prepare it with keep_s"):
        drift.compare(a, frame(1000, seed=1), columns=["x"], methods={"x": "anderson_darling"})


def test_errors_name_columns_and_methods() -> None:
    with pytest.raises(KeyError, match=r"columns \['zz'\] are not in both"):
        drift.compare(frame(100), frame(100), columns=["zz"])
    with pytest.raises(KeyError, match="unknown drift method 'kss'"):
        drift.compare(frame(100), frame(100), methods={"x": "kss"})
    with pytest.raises(ValueError, match="does not accept categorical column 'c'"):
        drift.compare(frame(100), frame(100), columns=["c"], methods={"c": "ks"})
