"""suggest_suite's margins, worked by hand (see the module doc of e2e_assets.checks.suggest)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from e2e_assets.checks.suggest import suggest_suite


def by_column(suite: dict, column: str) -> dict[str, dict]:
    return {f"{e['type']}:{e['severity']}:{'mostly' in e['kwargs']}": e["kwargs"]
            for e in suite["expectations"] if e["kwargs"].get("column") == column}


def test_range_is_the_rank_widened_quantiles_plus_a_tenth_of_their_span() -> None:
    ref = pd.DataFrame({"request_id": [f"r{i}" for i in range(1000)],
                        "x": np.arange(1000, dtype=float)})
    exps = by_column(suggest_suite(ref, name="t", id_column="request_id"), "x")
    # q(0.005) = 4.995 and q(0.995) = 994.005 (linear interpolation over 0..999); the ranks
    # moved out by 3 * sqrt(0.005 * 0.995 / 1000) = 0.0067 reach q(0) = 0 and q(1) = 999;
    # then 10% of 994.005 - 4.995 = 98.901 on each side, the low end clamped at 0.
    soft = exps["expect_column_values_to_be_between:critical:True"]
    assert soft["min_value"] == 0.0 and soft["max_value"] == pytest.approx(1097.9)
    assert soft["mostly"] == 0.98
    assert exps["expect_column_values_to_be_between:critical:False"] == {
        "column": "x", "min_value": 0.0}  # never negative in the reference
    half = math.sqrt((1000 ** 2 - 1) / 12) / 2  # population std of 0..999, halved
    mean = exps["expect_column_mean_to_be_between:warning:False"]
    assert mean["min_value"] == pytest.approx(499.5 - half, rel=1e-5)
    assert mean["max_value"] == pytest.approx(499.5 + half, rel=1e-5)


def test_domains_nulls_categories_ids_and_the_label() -> None:
    n = 1000
    ref = pd.DataFrame({"request_id": [f"r{i}" for i in range(n)],
                        "flag": [i % 2 for i in range(n)],
                        "rate": np.linspace(0.0, 0.9, n),
                        "home": (["own", "rent", None, "rent", "own"] * 200),
                        "Status": ["good"] * n})
    suite = suggest_suite(ref, name="t", id_column="request_id", label="Status")
    assert by_column(suite, "flag")["expect_column_values_to_be_in_set:critical:False"][
        "value_set"] == [0, 1]
    assert by_column(suite, "rate")["expect_column_values_to_be_between:critical:False"] == {
        "column": "rate", "min_value": 0.0, "max_value": 1.0}
    # 20% nulls: at most 0.2 + 3 * sqrt(0.2 * 0.8 / 1000) + 0.01 = 0.2479 may be null
    home = by_column(suite, "home")
    assert home["expect_column_values_to_not_be_null:critical:True"]["mostly"] == pytest.approx(
        1 - 0.2 - 3 * math.sqrt(0.2 * 0.8 / 1000) - 0.01, abs=1e-4)
    assert home["expect_column_values_to_be_in_set:critical:True"] == {
        "column": "home", "value_set": ["own", "rent"], "mostly": 0.99}
    ids = by_column(suite, "request_id")
    assert "expect_column_values_to_be_unique:critical:False" in ids
    assert ids["expect_column_values_to_not_be_null:critical:False"] == {"column": "request_id"}
    assert not by_column(suite, "Status")  # the label is never an expectation
    assert "Status" not in suite["expectations"][0]["kwargs"]["column_set"]


def test_a_failed_warning_expectation_reports_without_blocking(tmp_path) -> None:
    from e2e_assets.checks.expectations import validate_frame

    frame = pd.DataFrame({"request_id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]})
    path = tmp_path / "suite.json"

    def suite(severity: str) -> dict:
        return {"name": "t", "expectations": [
            {"type": "expect_column_mean_to_be_between", "severity": severity,
             "kwargs": {"column": "x", "min_value": 10, "max_value": 20}}]}

    warned = validate_frame(frame, suite("warning"), path, id_column="request_id")
    assert not warned.passed and warned.severity == "warn"
    assert "(warning severity)" in warned.summary
    critical = validate_frame(frame, suite("critical"), path, id_column="request_id")
    assert not critical.passed and critical.severity is None
    info = validate_frame(frame, suite("info"), path, id_column="request_id")
    assert info.passed  # info is recorded in the metadata only
    assert info.metadata["expectations"][0]["success"] is False


@pytest.mark.parametrize(("severity", "blocks"), [("warn", False), (None, True)])
def test_a_warn_result_is_a_failed_warn_check_that_never_blocks(severity, blocks) -> None:
    from e2e_assets.checks.base import CheckKind, CheckResult, ConfiguredCheck, Options
    from e2e_assets.checks.base import StageCheckContext as Ctx
    from e2e_assets.checks.runner import evaluate_one
    from e2e_assets.spec.model import CheckSpec

    kind = CheckKind(name="k", phase="output", options=Options, stages=None, description="",
                     evaluate=lambda ctx, o: CheckResult(False, "only warnings", severity=severity))
    check = ConfiguredCheck(stage="score", spec=CheckSpec(kind="k"), kind=kind, options=Options())
    evaluated = evaluate_one(Ctx(journey=None, stage="score", input=None), check)  # type: ignore[arg-type]
    assert evaluated.blocks is blocks
    assert evaluated.severity == ("warn" if severity else "error")
