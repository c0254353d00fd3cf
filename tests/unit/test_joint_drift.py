"""Joint drift (issue 13, "joint shifts are missed"): a domain classifier sees what per-column
tests cannot, and stays quiet on samples of one population."""

from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.model_selection import train_test_split

from e2e_assets.checks import joint_drift as joint_check
from e2e_assets.checks.base import StageCheckContext, get_kind
from e2e_assets.drift import compare, joint
from e2e_assets.drift.joint import domain_classifier_test
from e2e_assets.errors import SpecError
from e2e_assets.model_registry import ResolvedModel
from e2e_assets.spec import load_journey
from pipelines.credit_approval import stages as credit
from pipelines.credit_approval.train import load_applications
from tests.helpers import REPO, journey_variant

VARS = {"E2E_DATABASE_URL": "sqlite://"}


def correlated(n: int, rng: np.random.Generator) -> pd.DataFrame:
    a = rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": 0.9 * a + np.sqrt(1 - 0.81) * rng.normal(size=n),
                         "c": rng.normal(size=n), "d": rng.choice(["x", "y", "z"], n)})


# the pure test -------------------------------------------------------------------------------

def test_same_population_false_alarms_stay_within_alpha() -> None:
    alpha, runs = 0.05, 20
    alarms, significant = 0, 0
    for seed in range(runs):
        both = correlated(600, np.random.default_rng(100 + seed))
        res = domain_classifier_test(both.iloc[:300], both.iloc[300:], alpha=alpha, seed=seed)
        alarms += res.drifted
        significant += res.p_value < alpha  # the p-value alone, without the effect floor's help
        assert res.drivers == () or res.drifted
    # At most what alpha allows: P(Binomial(20, 0.05) > bound) < 0.001.
    bound = int(stats.binom.ppf(0.999, runs, alpha))
    assert significant <= bound and alarms <= significant


def test_one_correlated_column_shuffled_is_joint_drift_that_marginal_tests_miss() -> None:
    rng = np.random.default_rng(7)
    ref, cur = correlated(1000, rng), correlated(1000, rng)
    cur["b"] = rng.permutation(cur["b"].to_numpy())  # marginals unchanged, corr(a, b) gone
    assert not compare(ref, cur, columns=["a", "b", "c", "d"]).drifted_columns
    res = domain_classifier_test(ref, cur, alpha=0.05, seed=0)
    assert res.drifted and res.auc > 0.6 and res.p_value < 1e-6
    drivers = [c for c, _ in res.drivers]
    assert "b" in drivers and drivers[0] in {"a", "b"} and "c" not in drivers[:2]


def test_a_pure_marginal_shift_is_drift() -> None:
    rng = np.random.default_rng(8)
    ref, cur = correlated(1000, rng), correlated(1000, rng)
    cur["c"] = cur["c"] + 0.6
    res = domain_classifier_test(ref, cur, seed=0)
    assert res.drifted and res.drivers[0][0] == "c"


def test_p_value_and_auc_in_hand_checkable_cases() -> None:
    # Separable, 50 rows a side: each of the 5 folds holds 10 + 10 rows and calls exactly the
    # 10 current ones "current": Fisher's one-sided p = 1 / C(20, 10); merged: twice that.
    ref = pd.DataFrame({"x": np.zeros(50)})
    cur = pd.DataFrame({"x": np.ones(50)})
    res = domain_classifier_test(ref, cur, seed=0)
    assert (res.auc, res.n_correct, res.n_per_side) == (1.0, 100, 50)
    assert res.fold_p_values == pytest.approx((1 / comb(20, 10),) * 5, rel=1e-9)
    assert res.p_value == pytest.approx(2 / comb(20, 10), rel=1e-9) and res.drifted
    # Identical constant rows: every score is 1/2, every row called "reference": each fold's
    # table has nothing called "current", p = 1; AUC exactly 1/2, 50 of 100 right.
    same = domain_classifier_test(ref, ref.copy(), seed=0)
    assert (same.auc, same.n_correct, same.p_value, same.drifted) == (0.5, 50, 1.0, False)
    # One fold's p-value against the hypergeometric tail by hand: 20 rows, 10 current, 8 called
    # "current" of which 6 are: P(X >= 6), X ~ Hypergeometric(20, 10, 8).
    called = np.array([True] * 6 + [False] * 4 + [True] * 2 + [False] * 8)
    is_current = np.array([True] * 10 + [False] * 10)
    tail = sum(comb(10, k) * comb(10, 8 - k) for k in range(6, 9)) / comb(20, 8)
    assert joint._fold_p_value(called, is_current) == pytest.approx(tail, rel=1e-12)


def test_effect_floor_and_subsampling() -> None:
    rng = np.random.default_rng(9)
    ref, cur = correlated(5000, rng), correlated(5000, rng)
    cur["c"] = cur["c"] + 0.2  # significant with 5,000 rows a side, but a small split
    res = domain_classifier_test(ref, cur, seed=0)
    assert res.p_value < 0.05 and 0 < res.effect < 0.05 and not res.drifted
    assert res.drivers == ()  # none reported for a split that is not drift
    small = domain_classifier_test(ref, cur.iloc[:403], max_rows=300, seed=0)
    assert (small.n_per_side, small.n_reference, small.n_current) == (300, 5000, 403)
    assert domain_classifier_test(ref, cur.iloc[:403], seed=0).n_per_side == 400  # 5 folds
    with pytest.raises(ValueError, match=r"current frame lacks columns \['a'\]"):
        domain_classifier_test(ref, cur.drop(columns="a"), ["a", "b"], seed=0)


# the check kind and the credit journey ---------------------------------------------------------

@pytest.fixture(scope="module")
def credit_split() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The bootstrap's split (seed 42): training features, served raw rows and their features."""
    data = load_applications()
    train, serve = train_test_split(data, test_size=0.3, random_state=42,
                                    stratify=data["Status"])
    serve = serve.sort_values("request_id")
    features = credit.build_features(credit.ingest(train))
    return features, serve, credit.build_features(credit.ingest(serve))


def credit_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: pd.DataFrame,
               current: pd.DataFrame) -> StageCheckContext:
    monkeypatch.setattr(joint_check, "reference_frame", lambda ctx, options: reference)
    record = ResolvedModel("credit_approval", "champion", "1", "run", "models:/credit_approval/1")
    return StageCheckContext(journey=load_journey(journey_variant(tmp_path), variables=VARS),
                             stage="features", input=None, output=current, record_model=record,
                             tracking_uri="sqlite://")


def test_credit_income_shuffled_across_served_rows_is_caught_and_the_clean_batch_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        credit_split: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    reference, served, clean = credit_split
    journey = load_journey(journey_variant(tmp_path), variables=VARS)
    check = next(c for c in journey.checks["features"] if c.name == "joint_drift")
    assert check.severity == "warn" and check.phase == "monitor"
    shuffled_raw = served.assign(
        Income=np.random.default_rng(1).permutation(served["Income"].to_numpy()))
    shuffled = credit.build_features(credit.ingest(shuffled_raw))
    feature_drift = next(c for c in journey.checks["features"] if c.name == "feature_drift")
    assert not compare(reference, shuffled, columns=feature_drift.options.columns).drifted_columns

    ok = joint_check.check_joint_drift(credit_ctx(tmp_path, monkeypatch, reference, clean),
                                       check.options)
    assert ok.passed, ok.summary
    assert "request_id" not in ok.metadata["columns"] and ok.metadata["rows_per_side"] == 1335
    bad = joint_check.check_joint_drift(credit_ctx(tmp_path, monkeypatch, reference, shuffled),
                                        check.options)
    assert not bad.passed and bad.metadata["p_value"] < 0.01 < ok.metadata["p_value"]
    assert bad.metadata["drivers"][0]["column"] == "income", bad.summary
    assert "driven by income" in bad.summary


@pytest.mark.parametrize(("columns", "message"), [
    ("[age, request_id]", "request id 'request_id'"),
    ("[age, income, age]", "columns named more than once: ['age']"),
    ("[]", "at least 1 item"),
])
def test_bad_columns_are_refused_at_load(tmp_path: Path, columns: str, message: str) -> None:
    path = journey_variant(tmp_path, replace={
        "- kind: joint_drift ": f"- options: {{columns: {columns}}}\n      kind: joint_drift "})
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field is not None and err.value.field.endswith(".options.columns")
    assert message in str(err.value)


def test_dry_run_names_missing_columns() -> None:
    kind = get_kind("joint_drift")
    ctx = StageCheckContext(journey=None, stage="features", input=None,  # type: ignore[arg-type]
                            output=pd.DataFrame({"age": [30, 40]}))
    assert kind.dry_run is not None
    problems = kind.dry_run(ctx, joint_check.JointDriftOptions(columns=["age", "incme"]))
    assert [p["column"] for p in problems] == ["incme"]
    assert "joint_drift columns names column 'incme'" in problems[0]["message"]
    assert (REPO / "pipelines/credit_approval/journey.yaml").read_text().count(
        "kind: joint_drift") == 1
