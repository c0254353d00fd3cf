"""Check kinds as pure functions: a clean case that passes and the fault it exists to catch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from e2e_assets.checks.base import MASK, StageCheckContext
from e2e_assets.checks.contract import (
    ColumnContract,
    check_declared_columns,
    check_signature_columns,
)
from e2e_assets.checks.expectations import validate_frame
from e2e_assets.checks.frame_diff import compare_frames, compare_statistically, wilson_interval
from e2e_assets.checks.reconcile import reconcile_ids
from e2e_assets.checks.rules import RulesOptions, check_rules
from e2e_assets.checks.suggest import suggest_suite
from e2e_assets.faults import Fault, contract_break, lost_records, null_burst, unit_change
from e2e_assets.model_registry import InputColumn
from e2e_assets.spec import load_journey
from pipelines.credit_approval import stages as credit
from pipelines.credit_approval.train import load_applications
from tests.helpers import journey_variant

VARS = {"E2E_DATABASE_URL": "sqlite://"}


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return credit.build_features(credit.ingest(load_applications()))


# reconcile -------------------------------------------------------------------------------

def test_reconcile_clean_and_each_kind_of_loss() -> None:
    ids = [f"r{i}" for i in range(100)]
    assert reconcile_ids(ids, ids, in_sink=ids).passed
    res = reconcile_ids(ids, ids[2:] + ["r5", "x1"], in_sink=ids[2:] + ["x1"])
    assert not res.passed
    m = res.metadata
    assert (m["lost"], m["duplicated"], m["unexpected"]) == (2, 1, 1)
    assert m["lost_sample"] == ["r0", "r1"] and m["duplicated_sample"] == ["r5"]
    assert "2 lost, 1 duplicated, 1 unexpected" in res.summary
    in_sink = reconcile_ids(ids, ids, in_sink=ids[:-3])
    assert not in_sink.passed and in_sink.metadata["missing_in_sink"] == 3


def test_reconcile_catches_lost_records_fault() -> None:
    df = pd.DataFrame({"request_id": [f"r{i}" for i in range(500)]})
    faulty = lost_records(df, Fault("lost_records", "deliver", params={"drop": 0.01,
                                                                       "duplicate": 2}))
    res = reconcile_ids(df["request_id"], faulty["request_id"])
    assert not res.passed and res.metadata["lost"] == 5 and res.metadata["duplicated"] == 2


# compare (golden, reproducibility) ------------------------------------------------------

def test_wilson_interval_matches_scipy() -> None:
    for k, n in [(8, 10), (0, 20), (199, 200), (50, 100)]:
        ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        lo, hi = wilson_interval(k, n)
        assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)


def test_compare_frames_exact_tolerance_rows_and_nulls() -> None:
    a = pd.DataFrame({"id": ["a", "b", "c"], "p": [0.1, 0.2, np.nan], "d": ["x", "y", None]})
    assert compare_frames(a, a.copy(), key="id").passed
    b = a.assign(p=[0.1 + 1e-7, 0.2, np.nan])
    assert not compare_frames(a, b, key="id").passed
    assert compare_frames(a, b, key="id", default_abs=1e-6).passed
    assert compare_frames(a, b, key="id", tolerances={"p": (1e-6, 0)}).passed
    res = compare_frames(a, a.assign(d=["x", "z", None]).iloc[1:], key="id")
    assert not res.passed and res.metadata["missing_rows"] == 1
    assert "'d' differs on 1 of 2 rows" in res.summary
    assert res.samples[0] == {"id": "b", "column": "d", "expected": "y", "actual": "z"}


def test_compare_frames_catches_precision_change(features: pd.DataFrame) -> None:
    scored = pd.DataFrame({"request_id": features["request_id"],
                           "p": np.random.default_rng(0).random(len(features))})
    res = compare_frames(scored, scored.assign(p=scored["p"].round(2)), key="request_id",
                         default_abs=1e-9)
    assert not res.passed and res.metadata["columns"][0]["max_abs_diff"] <= 0.005


def test_compare_statistically_against_scipy() -> None:
    rng = np.random.default_rng(1)
    base = pd.DataFrame({"id": range(400), "p": rng.random(400),
                         "d": rng.choice(["a", "b"], 400)})
    same = compare_statistically(base, base.copy(), key="id", columns=["p", "d"],
                                 min_agreement=0.99, alpha=0.01)
    assert same.passed
    shifted = base.assign(p=np.clip(base["p"] + 0.2, 0, 1))
    res = compare_statistically(base, shifted, key="id", columns=["p"], min_agreement=0.99,
                                alpha=0.01)
    ref = stats.ks_2samp(base["p"], shifted["p"])
    assert not res.passed
    assert res.metadata["columns"][0]["p_value"] == pytest.approx(ref.pvalue)
    flipped = base.assign(d=np.where(np.arange(400) < 40, "z", base["d"]))
    res = compare_statistically(base, flipped, key="id", columns=["d"], min_agreement=0.99,
                                alpha=0.01)
    assert not res.passed and "agrees on 90.0%" in res.summary


# rules --------------------------------------------------------------------------------------

def rules_ctx(tmp_path: Path, df: pd.DataFrame) -> StageCheckContext:
    journey = load_journey(journey_variant(tmp_path), variables=VARS)
    return StageCheckContext(journey=journey, stage="decide", input=None, output=df)


def test_rules_pass_clean_and_catch_policy_violation(tmp_path: Path) -> None:
    decided = pd.DataFrame({"request_id": ["a", "b", "c", "d"],
                            "decision": ["approve", "review", "approve", "decline"],
                            "income": [100.0, np.nan, 50.0, 20.0], "region": list("xxyy")})
    opts = RulesOptions.model_validate({"rules": [
        {"name": "needs_income", "expr": "decision == 'approve' implies income > 0",
         "message": "no income"}]})
    assert check_rules(rules_ctx(tmp_path, decided), opts).passed
    bad = decided.assign(decision=["approve", "approve", "approve", "decline"])
    res = check_rules(rules_ctx(tmp_path, bad), opts)
    assert not res.passed and "'needs_income'" in res.summary and "no income" in res.summary
    # income is sensitive in credit_approval: the sample shows the id, never the value
    assert res.samples == ({"rule": "needs_income", "request_id": "b", "decision": "approve",
                            "income": None},)
    res = check_rules(rules_ctx(tmp_path, bad.assign(income=[1.0, -5.0, 1.0, 1.0])), opts)
    assert res.samples[0]["income"] == MASK


def test_rules_where_mostly_and_cohorts(tmp_path: Path) -> None:
    df = pd.DataFrame({"request_id": [str(i) for i in range(10)],
                       "ok": [True] * 8 + [False] * 2, "region": ["n"] * 5 + ["s"] * 5})
    def run(rule: dict) -> object:
        return check_rules(rules_ctx(tmp_path, df), RulesOptions.model_validate({"rules": [rule]}))
    assert not run({"name": "r", "expr": "ok == True"}).passed
    assert run({"name": "r", "expr": "ok == True", "mostly": 0.8}).passed
    assert run({"name": "r", "expr": "ok == True", "where": "region == 'n'"}).passed
    by = run({"name": "r", "expr": "ok == True", "mostly": 0.7, "by": "region"})
    assert not by.passed and "cohort region=s passes 60.0%" in by.summary


# contracts ----------------------------------------------------------------------------------

SIGNATURE = (InputColumn("income", "double", False), InputColumn("amount", "double", True),
             InputColumn("home", "string", False))


def test_signature_contract_clean_and_faults(features: pd.DataFrame) -> None:
    features = features[["request_id", "income", "amount", "home"]]
    assert check_signature_columns(features, SIGNATURE, ("request_id",)) == []
    renamed = features.rename(columns={"amount": "amount_v2"})
    problems = check_signature_columns(renamed, SIGNATURE, ("request_id",))
    assert {"column": "amount", "expected": "double (required)", "found": "missing"} in problems
    burst = null_burst(features, Fault("null_burst", "features", "amount"))
    problems = check_signature_columns(burst, SIGNATURE, ("request_id",))
    assert any(p["column"] == "amount" and "nulls" in p["found"] for p in problems)
    assert not any(p["column"] == "income" and "nulls" in p["found"]
                   for p in check_signature_columns(features, SIGNATURE))  # optional: fine
    typed = features.assign(home=1.0)
    assert {"column": "home", "expected": "string", "found": "float64"} in \
        check_signature_columns(typed, SIGNATURE, ("request_id",))


def test_signature_contract_refuses_extra_columns_unless_allowed(features: pd.DataFrame
                                                                ) -> None:
    """Finding: the signature contract never failed on extra columns, though its docs said it
    checks them. A model fed a column it was not trained on is an error by default."""
    extra = features[["request_id", "income", "amount", "home", "age"]]
    problems = check_signature_columns(extra, SIGNATURE, ("request_id",))
    assert problems == [{"column": "age", "expected": "no column outside the signature",
                         "found": "extra column (float64)"}]
    allowed = check_signature_columns(extra, SIGNATURE, ("request_id",), allow_extra=True)
    assert [p["severity"] for p in allowed] == ["info"]  # reported, not failed


def test_downstream_contract_catches_class_ids() -> None:
    out = pd.DataFrame({"request_id": ["a", "b"], "p": [0.2, 0.9],
                        "decision": ["approve", "decline"]})
    contract = {"request_id": ColumnContract(type="string"),
                "p": ColumnContract(type="float", min=0, max=1),
                "decision": ColumnContract(type="string", allowed=["approve", "decline"])}
    assert check_declared_columns(out, contract, allow_extra=False) == []
    broken = contract_break(out, Fault("contract_break", "deliver", "p"))
    assert check_declared_columns(broken, contract, False) == [
        {"column": "p", "expected": "float", "found": "int64"}]
    odd = out.assign(decision=["approve", "maybe"], p=[0.2, 1.5], extra=1)
    problems = check_declared_columns(odd, contract, allow_extra=False)
    assert [p["column"] for p in problems] == ["p", "decision", "extra"]


# expectations (real GX) ---------------------------------------------------------------------

def test_suggested_suite_passes_on_its_sample_and_catches_faults(features: pd.DataFrame,
                                                                 tmp_path: Path) -> None:
    suite = suggest_suite(features, name="f", id_column="request_id", sensitive=("income",))
    path = tmp_path / "features.json"
    clean = validate_frame(features, suite, path, id_column="request_id", sensitive=("income",))
    assert clean.passed, clean.summary
    burst = null_burst(features, Fault("null_burst", "features", "income", {"share": 0.3}))
    res = validate_frame(burst, suite, path, id_column="request_id", sensitive=("income",))
    assert not res.passed and "expect_column_values_to_not_be_null(income)" in res.summary
    row = next(r for r in res.metadata["expectations"]
               if r["expectation"] == "expect_column_values_to_not_be_null"
               and r["column"] == "income")
    assert 30 < row["unexpected_percent"] < 45  # ~30% burst on top of ~8.6% missing
    assert res.samples and all(s["income"] == MASK or s["income"] is None for s in res.samples)
    scaled = unit_change(features, Fault("unit_change", "features", "amount"))
    res = validate_frame(scaled, suite, path, id_column="request_id")
    assert not res.passed and "expect_column_values_to_be_between(amount)" in res.summary
    assert res.samples[0]["request_id"].startswith("CA-")


def test_cohort_bias_fault_takes_its_cohort_from_the_command_line() -> None:
    from e2e_assets.errors import SpecError
    from e2e_assets.faults import cohort_bias, parse_fault

    fault = parse_fault("cohort_bias:score:p_default=home == 'rent'")
    frame = pd.DataFrame({"request_id": ["a", "b"], "home": ["rent", "owner"],
                          "p_default": [0.1, 0.1]})
    out = cohort_bias(frame, fault)
    assert out["p_default"].tolist() == [pytest.approx(0.3), pytest.approx(0.1)]
    with pytest.raises(SpecError, match="needs its cohort as a rule"):  # no categorical column
        cohort_bias(frame, parse_fault("cohort_bias:score:p_default"))
