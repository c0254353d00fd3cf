"""The native expectation engine gives GX's own answers: every evaluator against GX Core on the
same frames (edge cases and random ones), hand-computed cases, and what it leaves to GX."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from e2e_assets.checks.expectation_engine import EVALUATORS, evaluate
from e2e_assets.checks.expectations import _gx_frame_results, load_suite, validate_frame
from e2e_assets.errors import SpecError

RID = "rid"
PATH = Path("suite.json")


def gx_results(frame: pd.DataFrame, expectations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GX's result for each expectation, in the given order (one GX validation)."""
    tagged = [{**e, "meta": {"at": i}} for i, e in enumerate(expectations)]
    out: list[dict[str, Any]] = [{}] * len(expectations)
    for d in _gx_frame_results(frame, {"expectations": tagged}, PATH, RID):
        out[d["expectation_config"]["meta"]["at"]] = d
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is None and b is None
    return bool(a == b) or (isinstance(a, float) and isinstance(b, int) and a == b)


def assert_agrees_with_gx(frame: pd.DataFrame, expectations: list[dict[str, Any]]) -> None:
    for exp, gx in zip(expectations, gx_results(frame, expectations)):
        native = evaluate(frame, exp, RID, 5)
        assert native is not None, f"declined {exp}"
        assert native["success"] == gx["success"], (exp, native, gx["result"])
        for key, value in native["result"].items():
            expected = gx["result"].get(key)
            if key == "unexpected_index_list":  # GX's dicts carry the column then the id
                expected = [dict(sorted(d.items())) for d in expected or []][:5]
                value = [dict(sorted(d.items())) for d in value]
            elif key == "partial_unexpected_list":
                expected = (expected or [])[:5]
            assert same(value, expected), (exp, key, value, expected)


EDGE = pd.DataFrame({
    RID: [f"r{i}" for i in range(8)],
    "x": [1.0, np.nan, 5.0, 10.0, -1.0, 3.0, 0.0, 5.0],
    "n": pd.array([1, 2, 2, None, 7, 8, 9, 9], dtype="Int64"),
    "i": [3, 1, 4, 1, 5, 9, 2, 6],
    "s": ["u", "v", None, "w", "u", "u", "v", None],
    "empty": [np.nan] * 8,
})

EDGE_CASES = [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "s", "mostly": 0.75}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "i"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "empty", "mostly": 0.1}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0,
                                                              "max_value": 5}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "x", "min_value": 0, "max_value": 5, "mostly": 0.7}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "x", "min_value": 0, "max_value": 5, "strict_min": True,
                "strict_max": True}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "max_value": 4.5}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 2}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "i", "min_value": 1, "max_value": 6, "strict_min": True}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "empty",
                                                              "min_value": 0}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "s",
                                                             "value_set": ["u", "v"]}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "i", "value_set": [1, 2, 3], "mostly": 0.4}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "x",
                                                             "value_set": [1, 5, 10]}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "n"}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "x", "mostly": 0.5}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": RID}},
    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "x", "min_value": 0,
                                                            "max_value": 3}},
    {"type": "expect_column_mean_to_be_between",
     "kwargs": {"column": "i", "min_value": 3.875, "strict_min": True}},
    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "i", "max_value": 3.875}},
    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "empty",
                                                            "min_value": 0}},
    {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": [RID, "x", "n"]}},
    {"type": "expect_table_columns_to_match_set",
     "kwargs": {"column_set": [RID, "x", "n"], "exact_match": False}},
    {"type": "expect_table_columns_to_match_set",
     "kwargs": {"column_set": [RID, "x", "gone"], "exact_match": False}},
    {"type": "expect_table_columns_to_match_set",
     "kwargs": {"column_set": list(EDGE.columns)}},
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1,
                                                                "max_value": 8}},
    {"type": "expect_table_row_count_to_be_between",
     "kwargs": {"min_value": 1, "max_value": 8, "strict_max": True}},
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 9}},
]


def test_every_evaluator_is_exercised_against_gx() -> None:
    assert {e["type"] for e in EDGE_CASES} == set(EVALUATORS)


def test_edge_cases_agree_with_gx() -> None:
    assert_agrees_with_gx(EDGE, EDGE_CASES)


def test_an_empty_frame_agrees_with_gx() -> None:
    assert_agrees_with_gx(EDGE.iloc[:0], [e for e in EDGE_CASES if e["type"] !=
                                           "expect_column_mean_to_be_between"])


@pytest.mark.parametrize("seed", range(3))
def test_random_frames_agree_with_gx(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    x = rng.normal(0, 1, n)
    x[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame({RID: [f"r{i}" for i in range(n)], "x": x,
                          "k": rng.integers(0, 500, n),
                          "c": rng.choice(["a", "b", "c", None], n)})
    low, high = sorted(rng.normal(0, 1, 2))
    assert_agrees_with_gx(frame, [
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "x", "min_value": float(low), "max_value": float(high),
                    "mostly": float(rng.random())}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "k", "min_value": int(rng.integers(0, 50)),
                    "strict_min": bool(seed % 2)}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x",
                                                                   "mostly": 0.9}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "c", "value_set": ["a", "b"], "mostly": 0.6}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "k",
                                                                 "mostly": 0.6}},
        {"type": "expect_column_mean_to_be_between",
         "kwargs": {"column": "x", "min_value": -0.05, "max_value": 0.05}},
    ])


def test_hand_computed_counts() -> None:
    """x = 1, null, 5, 10, -1, 3, 0, 5: two of the seven non-null values are outside [0, 5]."""
    between = evaluate(EDGE, EDGE_CASES[4], RID, 5)
    assert between is not None and between["success"] is False
    assert between["result"]["unexpected_count"] == 2
    assert between["result"]["unexpected_percent"] == pytest.approx(200 / 7)
    assert between["result"]["unexpected_percent_total"] == pytest.approx(25.0)
    assert between["result"]["unexpected_index_list"] == [{"x": 10.0, RID: "r3"},
                                                          {"x": -1.0, RID: "r4"}]
    mostly = evaluate(EDGE, EDGE_CASES[5], RID, 5)  # 5/7 = 0.714 >= 0.7
    assert mostly is not None and mostly["success"] is True
    mean = evaluate(EDGE, EDGE_CASES[17], RID, 5)  # 23 / 7
    assert mean is not None and mean["result"]["observed_value"] == pytest.approx(23 / 7)
    unique = evaluate(EDGE, EDGE_CASES[14], RID, 5)  # 2, 2 and 9, 9 repeat; the null is skipped
    assert unique is not None and unique["result"]["unexpected_count"] == 4


@pytest.mark.parametrize("exp", [
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "s", "min_value": "a"}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "gone", "min_value": 0}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x"}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "x", "min_value": 5, "max_value": 1}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "x", "min_value": {"$PARAMETER": "low"}}},
    {"type": "expect_column_values_to_not_be_null",
     "kwargs": {"column": "x", "row_condition": 'i > 2', "condition_parser": "pandas"}},
    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "s", "min_value": 0}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "u"}},
], ids=["string_column", "missing_column", "no_bounds", "min_above_max", "suite_parameter",
        "row_condition", "mean_of_strings", "no_native_evaluator"])
def test_what_gx_must_answer_is_declined(exp: dict[str, Any]) -> None:
    assert evaluate(EDGE, exp, RID, 5) is None


def test_a_suite_mixing_engines_keeps_its_order_and_names_each_engine() -> None:
    suite = {"expectations": [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "^u$"}},
        EDGE_CASES[0],
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "gone",
                                                                  "min_value": 0}},
        EDGE_CASES[4]]}
    result = validate_frame(EDGE, suite, PATH, id_column=RID)
    rows = result.metadata["expectations"]
    assert [r["expectation"] for r in rows] == [e["type"] for e in suite["expectations"]]
    assert [r["engine"] for r in rows] == ["gx", "native", "gx", "native"]
    assert [r["success"] for r in rows] == [False, False, False, False]
    assert rows[2]["error"] and "gone" in rows[2]["error"]
    assert not result.passed and result.metadata["failed"] == 4


def test_an_unknown_severity_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"expectations": [{"type": "expect_column_to_exist", '
                    '"kwargs": {"column": "x"}, "severity": "fatal"}]}')
    with pytest.raises(SpecError, match=r"'fatal' is not one of") as err:
        load_suite(path)
    assert "expectations.0.severity" in str(err.value) and str(path) in str(err.value)
