"""The plain ``drift.compare(reference_df, current_df)`` takes the prepared engine, cached by the
reference's content digest; ``exact=True`` takes the exact functions; the engines each test has
are declared once, in the registry (issue 16, part 2)."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from e2e_assets import drift
from e2e_assets.bounded_cache import BoundedCache
from e2e_assets.drift import registry
from e2e_assets.drift.cache import content_digest
from e2e_assets.drift.prepared import _CACHE, FAST_METHODS, GRID, cache_info, needs_sample
from e2e_assets.drift.sql import SQL_METHODS
from e2e_assets.errors import E2EAssetsError

# The tests with a summary-based engine (in memory and in SQL), written out by hand so that a
# declaration dropped from the registry shows up here.
SUMMARY_TESTS = {"ks", "wasserstein", "psi", "jensen_shannon", "hellinger", "kl_div", "tvd",
                 "chi_square", "g_test", "z_test", "fisher_exact"}


def frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, 1, n), "g": rng.gamma(2.0, 1.0, n) + shift,
                         "t": np.round(rng.normal(shift, 1, n), 1),  # many ties
                         "c": rng.choice(list("pqrs"), n, p=[0.4 - shift / 4, 0.3, 0.2,
                                                             0.1 + shift / 4]),
                         "b": rng.choice(["no", "yes"], n)})


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    _CACHE.clear()


def _boom(ref: np.ndarray, cur: np.ndarray) -> drift.Outcome:
    raise AssertionError("the exact function ran")


# the plain call: prepared engine, cached by content -------------------------------------------

def test_plain_call_takes_the_prepared_engine_not_the_exact_function(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ref, cur = frame(5000), frame(4000, shift=0.3, seed=1)
    for name in ("ks", "wasserstein", "chi_square", "tvd", "z_test"):
        monkeypatch.setitem(registry._REGISTRY, name, replace(drift.METHODS[name], fn=_boom))
    report = drift.compare(ref, cur)  # default tests and effect sizes: none may run exactly
    assert report.drifted_columns == ["x", "g", "t", "c"]
    with pytest.raises(AssertionError, match="the exact function ran"):
        drift.compare(ref, cur, exact=True)


def test_same_reference_again_is_a_cache_hit_and_a_mutated_one_a_miss() -> None:
    ref, cur = frame(3000), frame(3000, shift=0.2, seed=1)
    first = drift.compare(ref, cur)
    assert (cache_info().hits, cache_info().misses, cache_info().entries) == (0, 1, 1)
    again = drift.compare(ref, cur)
    copy = drift.compare(ref.copy(), cur)  # another frame object, equal content
    assert (cache_info().hits, cache_info().misses, cache_info().entries) == (2, 1, 1)
    assert first.reference_key == again.reference_key == copy.reference_key
    assert first.reference_key is not None and first.reference_key.startswith("content:sha256:")
    assert again.columns == first.columns == copy.columns
    ref.loc[17, "x"] = 40.0  # mutated in place: the same object, other content
    moved = drift.compare(ref, cur)
    assert cache_info().misses == 2 and moved.reference_key != first.reference_key
    assert moved.columns[0].n_reference == 3000
    drift.prepare(ref)  # prepare's default key is the plain call's: one entry serves both
    assert cache_info().hits == 3 and cache_info().entries == 2


@pytest.mark.parametrize("column", [
    pd.Series(np.arange(40, dtype=np.float64)), pd.Series(np.arange(40)),
    pd.Series([f"v{i % 7}" for i in range(40)]),                         # Arrow-backed text
    pd.Series([f"v{i % 7}" for i in range(40)], dtype=object),           # numpy objects
    pd.Series(list(range(39)) + [None], dtype="Int64"),                  # masked
    pd.Series([f"v{i % 7}" for i in range(40)], dtype="category"),
    pd.Series(pd.date_range("2026-01-01", periods=40, freq="h"))])
def test_content_digest_sees_every_value_and_nothing_else(column: pd.Series) -> None:
    df = pd.DataFrame({"a": column, "z": np.ones(40)})
    key = content_digest(df, ["a", "z"])
    assert content_digest(df.copy(), ["z", "a"]) == key  # equal copy, any column order
    assert content_digest(df.set_axis(range(100, 140)), ["a", "z"]) == key  # index ignored
    changed = df.copy()
    changed.loc[39, "a"] = changed.loc[0, "a"]
    assert content_digest(changed, ["a", "z"]) != key
    assert content_digest(df.rename(columns={"a": "b"}), ["b", "z"]) != key
    assert content_digest(df.iloc[:20], ["a", "z"]) != content_digest(df.iloc[20:], ["a", "z"])


def test_cache_is_bounded_by_entries_and_bytes_and_keeps_the_newest() -> None:
    cache: BoundedCache[int] = BoundedCache(max_entries=3, max_bytes=100, size=lambda v: v)
    for key, size in (("a", 10), ("b", 10), ("c", 10)):
        cache.put(key, size)
    assert cache.get("a") == 10  # a is now the most recently used
    cache.put("d", 10)
    assert "b" not in cache and {"a", "c", "d"} <= {k for k in "abcd" if k in cache}
    cache.put("e", 85)  # c goes (four entries), then a: 10 + 10 + 85 > 100 bytes
    assert [k for k in "abcde" if k in cache] == ["d", "e"] and cache.info().nbytes == 95
    cache.put("huge", 1000)  # larger than the bound on its own: kept alone, still reused
    assert [k for k in ("d", "e", "huge") if k in cache] == ["huge"]
    assert cache.get("huge") == 1000


def test_concurrent_plain_calls_agree_with_sequential_ones() -> None:
    refs = [frame(2000, seed=s) for s in range(3)]
    cur = frame(2000, shift=0.1, seed=9)
    expected = [drift.compare(r, cur, exact=True).columns for r in refs]
    _CACHE.clear()
    got: dict[int, list[drift.ColumnDrift]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            got[i] = drift.compare(refs[i % 3].copy(), cur).columns
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cache_info().entries == 3
    for i, cols in got.items():
        assert [c.drifted for c in cols] == [c.drifted for c in expected[i % 3]]
        assert cols == got[i % 3]


# exact=True, and the fast engine's bounds --------------------------------------------------------

def test_exact_true_is_the_exact_functions() -> None:
    ref, cur = frame(3000), frame(2500, shift=0.2, seed=1)
    report = drift.compare(ref, cur, exact=True, methods={"g": "energy_distance"})
    by = {c.column: c for c in report.columns}
    for col, name in (("x", "ks"), ("g", "energy_distance"), ("t", "ks")):
        out = drift.METHODS[name].fn(ref[col].to_numpy(float), cur[col].to_numpy(float))
        assert (by[col].statistic, by[col].p_value) == (out.statistic, out.p_value)
    cats = drift.METHODS["chi_square"].fn(ref["c"].to_numpy(object), cur["c"].to_numpy(object))
    assert by["c"].statistic == cats.statistic and report.reference_key is None
    assert _CACHE.info().entries == 0  # the exact path prepares nothing
    with pytest.raises(E2EAssetsError, match=r"compare\(exact=True\) needs the reference frame") as err:
        drift.compare(drift.prepare(ref), cur, exact=True)
    assert err.value.exit_code == 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_engine_within_the_documented_bounds_of_exact(seed: int) -> None:
    ref, cur = frame(20_000, seed=seed), frame(15_000, shift=0.15, seed=seed + 10)
    cur.loc[::7, "x"] = np.nan
    for col in ("x", "g", "t"):
        for name in ("ks", "wasserstein", "psi", "jensen_shannon", "hellinger", "kl_div", "tvd"):
            fast = drift.compare(ref, cur, columns=[col], methods={col: name}).columns[0]
            exact = drift.compare(ref, cur, columns=[col], methods={col: name},
                                  exact=True).columns[0]
            if name == "ks":  # exact at the grid points, at most one grid cell (1/B) below
                assert exact.statistic - 1 / GRID - 1e-12 <= fast.statistic <= exact.statistic
            elif name == "wasserstein":  # in reference standard deviations
                assert abs(fast.statistic - exact.statistic) <= 0.002, (col, seed)
            else:  # the same decile bins on both engines
                assert fast.statistic == pytest.approx(exact.statistic, rel=1e-9), name


def test_fast_engine_reads_ties_and_values_between_them_exactly() -> None:
    """A reference on a lattice (0..9, 60% of it at 5) against a current batch that fell
    between its values (all at 4.5: a unit change): at 4.5, F_ref = 0.3 and F_cur = 1, so
    D = 0.7; a CDF read only at the reference's values would see 0.3."""
    ref = pd.DataFrame({"v": np.r_[np.repeat([0.0, 1, 2, 3, 4], 60), np.repeat(5.0, 600),
                                   np.repeat([6.0, 7, 8, 9], 25)]})
    cur = pd.DataFrame({"v": np.full(500, 4.5)})
    ks = drift.compare(ref, cur, methods={"v": "ks"}).columns[0]
    assert ks.statistic == pytest.approx(0.7, abs=1e-12)
    # W1: the 30% below 4.5 move up 1.0 on average, the 70% above it move 1.5 -> 4.5
    sd = float(ref["v"].std(ddof=0))
    moved = (60 * (4.5 + 3.5 + 2.5 + 1.5 + 0.5) + 600 * 0.5 + 25 * (1.5 + 2.5 + 3.5 + 4.5)) / 1000
    w = drift.compare(ref, cur, methods={"v": "wasserstein"}).columns[0]
    assert w.statistic == pytest.approx(moved / sd, abs=1e-9)
    rng = np.random.default_rng(5)  # integer ages against ages that moved by half a year
    ages = pd.DataFrame({"v": rng.integers(18, 80, 20_000).astype(float)})
    later = pd.DataFrame({"v": rng.integers(20, 82, 15_000) + 0.5})
    fast_ks, fast_w = (drift.compare(ages, later, methods={"v": name}).columns[0].statistic
                       for name in ("ks", "wasserstein"))
    exact_ks, exact_w = (drift.compare(ages, later, methods={"v": name}, exact=True)
                         .columns[0].statistic for name in ("ks", "wasserstein"))
    assert fast_ks == pytest.approx(exact_ks, abs=1e-12)  # every age is a grid point: exact
    assert abs(fast_w - exact_w) <= 0.002


def test_fast_wasserstein_holds_when_the_current_spreads_into_the_reference_tails() -> None:
    """N(1e4, 4) -> N(1e4, 6): the wider current fills the reference's extreme quantile cells
    (each 1/1000 of its mass, but ~2 std wide); read on those cells alone the distance came out
    0.015 std high. Known value: |6 - 4| E|Z| / 4 = 0.5 sqrt(2 / pi) = 0.3989."""
    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"s": rng.normal(1e4, 4, 300_000)})
    cur = pd.DataFrame({"s": rng.normal(1e4, 6, 300_000)})
    fast = drift.compare(ref, cur, methods={"s": "wasserstein"}).columns[0].statistic
    exact = drift.compare(ref, cur, methods={"s": "wasserstein"}, exact=True).columns[0]
    assert abs(fast - exact.statistic) <= 0.002
    assert fast == pytest.approx(0.5 * math.sqrt(2 / math.pi), abs=0.005)  # sampling error


# known values, worked by hand --------------------------------------------------------------------

def test_fast_engine_gives_hand_worked_ks_and_wasserstein() -> None:
    n = 100_000  # 0..n-1: population std sqrt((n^2 - 1) / 12)
    ref = pd.DataFrame({"u": np.arange(n, dtype=float)})
    sd = math.sqrt((n * n - 1) / 12)
    shifted = pd.DataFrame({"u": np.arange(n, dtype=float) + n / 4})
    # F_ref - F_cur is 1/4 on [n/4, n): D = 0.25; moving every value by n/4 costs n/4.
    ks = drift.compare(ref, shifted, methods={"u": "ks"}).columns[0]
    assert ks.statistic == pytest.approx(0.25, abs=1e-12)
    w = drift.compare(ref, shifted, methods={"u": "wasserstein"}).columns[0]
    assert w.statistic == pytest.approx(n / 4 / sd, abs=0.002)  # 0.8660...
    # doubling every value moves value x by x: W1 = mean(x) = (n - 1) / 2
    doubled = pd.DataFrame({"u": 2 * np.arange(n, dtype=float)})
    w2 = drift.compare(ref, doubled, methods={"u": "wasserstein"}).columns[0]
    assert w2.statistic == pytest.approx((n - 1) / 2 / sd, abs=0.002)  # 1.7320...
    # ten values against the same ten moved up by five: D = 5/10 at x = 5 (grid = the values)
    small = drift.compare(pd.DataFrame({"v": np.arange(1.0, 11.0)}),
                          pd.DataFrame({"v": np.arange(6.0, 16.0)})).columns[0]
    assert small.statistic == 0.5


def test_fast_engine_gives_hand_worked_category_tests() -> None:
    ref = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20,
                        "b": ["yes"] * 60 + ["no"] * 40})
    cur = pd.DataFrame({"c": ["a"] * 30 + ["b"] * 30 + ["c"] * 40,
                        "b": ["yes"] * 40 + ["no"] * 60})
    report = {c.column: c for c in drift.compare(ref, cur).columns}
    # expected counts 40/30/30 per row: 2 * (10^2/40) + 0 + 2 * (10^2/30) = 5 + 20/3
    chi2 = 5 + 20 / 3
    assert report["c"].method == "chi_square"
    assert report["c"].statistic == pytest.approx(chi2)
    assert report["c"].p_value == pytest.approx(math.exp(-chi2 / 2))  # 2 degrees of freedom
    assert report["c"].effect_size == pytest.approx(0.2)  # tvd: (0.2 + 0 + 0.2) / 2
    # 60/100 against 40/100, pooled 1/2: se = sqrt(1/4 * 2/100), z = 0.2 / se = 2 sqrt(2)
    assert report["b"].method == "z_test"
    assert abs(report["b"].statistic) == pytest.approx(2 * math.sqrt(2))
    assert report["b"].p_value == pytest.approx(math.erfc(2.0))  # 2 * (1 - Phi(2 sqrt 2))
    psi = drift.compare(ref, cur, columns=["c"], methods={"c": "psi"}).columns[0]
    assert psi.statistic == pytest.approx(-0.2 * math.log(0.6) + 0.2 * math.log(2.0))


# one registry of engines ----------------------------------------------------------------------

def test_engine_lists_are_the_registry_declarations() -> None:
    declared = {e: {m for m in drift.METHODS if e in drift.METHODS[m].engines}
                for e in registry.ENGINES}
    assert declared["exact"] == set(drift.METHODS)
    assert set(FAST_METHODS) == declared["prepared"] == SUMMARY_TESTS
    assert set(SQL_METHODS) == declared["sql"] == SUMMARY_TESTS
    assert sorted(FAST_METHODS) == sorted(SUMMARY_TESTS) and "t_test" not in FAST_METHODS


def test_engine_lists_follow_a_change_in_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    exact_only = replace(drift.METHODS["psi"], engines=frozenset({"exact"}))
    monkeypatch.setitem(registry._REGISTRY, "psi", exact_only)
    assert "psi" not in FAST_METHODS and "psi" not in SQL_METHODS
    assert needs_sample(["psi"])
    with pytest.raises(ValueError, match="'psi' cannot run on column 'x' in SQL"):
        drift.compare_sql(None, "ref", "cur", methods={"x": "psi"})  # type: ignore[arg-type]
    ref, cur = frame(2000), frame(2000, shift=0.3, seed=1)  # now psi runs its exact function
    fast = drift.compare(ref, cur, columns=["x"], methods={"x": "psi"}).columns[0]
    exact = drift.compare(ref, cur, columns=["x"], methods={"x": "psi"}, exact=True).columns[0]
    assert fast.statistic == exact.statistic
    claimed = replace(drift.METHODS["t_test"], engines=frozenset({"exact", "prepared"}))
    monkeypatch.setitem(registry._REGISTRY, "t_test", claimed)
    with pytest.raises(E2EAssetsError, match=r"\['t_test'\] declare the prepared engine, but it "
                                             r"computes no such statistic for numeric column 'x'"):
        drift.compare(ref, cur, columns=["x"], methods={"x": "t_test"})


def test_register_refuses_engines_it_does_not_know() -> None:
    with pytest.raises(KeyError, match=r"'mine' declares unknown engines \['gpu'\]; engines: "
                                       r"\['exact', 'prepared', 'sql'\]") as unknown:
        drift.register("mine", kinds=("numeric",), score="distance", threshold=0.1,
                       engines=("exact", "gpu"))  # type: ignore[arg-type]
    with pytest.raises(E2EAssetsError, match=r"'mine' declares engines \['prepared'\] without "
                                             r"'exact'") as no_exact:
        drift.register("mine", kinds=("numeric",), score="distance", threshold=0.1,
                       engines=("prepared",))
    assert isinstance(unknown.value, E2EAssetsError) and unknown.value.exit_code == 2
    assert no_exact.value.exit_code == 2 and "mine" not in drift.METHODS


# every registered test through the plain call --------------------------------------------------

@pytest.mark.parametrize("name", list(drift.METHODS))
def test_every_registered_method_works_through_the_plain_call(name: str) -> None:
    ref, cur = frame(3000), frame(2500, shift=0.5, seed=1)
    kinds = drift.METHODS[name].kinds
    col = "x" if "numeric" in kinds else ("c" if "categorical" in kinds else "b")
    if col == "b":  # a two-valued column that moved
        cur = cur.assign(b=np.where(np.arange(2500) % 10 < 7, "yes", "no"))
    drift.prepare(ref[[col]])  # a summary without samples already cached under the same key
    plain = drift.compare(ref, cur, columns=[col], methods={col: name}).columns[0]
    exact = drift.compare(ref, cur, columns=[col], methods={col: name}, exact=True).columns[0]
    assert cache_info().hits == 1  # the plain call used the cached summary
    assert plain.method == exact.method == name and plain.drifted and exact.drifted
    if name not in FAST_METHODS:  # the exact function on the frame's own values
        assert (plain.statistic, plain.p_value) == (exact.statistic, exact.p_value)
    elif name == "ks":
        assert exact.statistic - 1 / GRID - 1e-12 <= plain.statistic <= exact.statistic
    elif name == "wasserstein":
        assert abs(plain.statistic - exact.statistic) <= 0.002
    else:
        assert plain.statistic == pytest.approx(exact.statistic, rel=1e-9)
        if exact.p_value is not None:
            assert plain.p_value == pytest.approx(exact.p_value, rel=1e-9)
