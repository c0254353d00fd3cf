"""The reference journeys' stage functions, called directly on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.credit_approval import stages as credit
from pipelines.loan_pricing import stages as loans


def scored_credit(p: list[float], income: list[float], records: list[str],
                  loan_to_price: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"request_id": [f"r{i}" for i in range(len(p))], "p_default": p,
                         "income": income, "records": records, "loan_to_price": loan_to_price})


def test_credit_policy_bands_and_reasons() -> None:
    df = scored_credit(
        p=[0.10, 0.25, 0.49, 0.50, 0.90, 0.10, 0.10, 0.10, 0.10],
        income=[100, 100, 100, 100, 100, np.nan, 0, 100, 100],
        records=["no", "no", "no", "no", "no", "no", "no", "yes", "no"],
        loan_to_price=[0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1.2])
    out = credit.decide(df, approve_below=0.25, decline_at=0.5)
    assert out["decision"].tolist() == ["approve", "review", "review", "decline", "decline",
                                        "review", "review", "review", "review"]
    assert out["reason_code"].tolist() == [
        "LOW_RISK", "MEDIUM_RISK", "MEDIUM_RISK", "HIGH_RISK", "HIGH_RISK",
        "NO_VERIFIED_INCOME", "NO_VERIFIED_INCOME", "PRIOR_RECORDS", "AMOUNT_EXCEEDS_PRICE"]


def test_credit_policy_first_downgrade_wins_and_declines_stay() -> None:
    df = scored_credit(p=[0.1, 0.9], income=[np.nan, np.nan], records=["yes", "yes"],
                       loan_to_price=[2.0, 2.0])
    out = credit.decide(df)
    assert out["reason_code"].tolist() == ["NO_VERIFIED_INCOME", "HIGH_RISK"]
    assert out["decision"].tolist() == ["review", "decline"]


def test_credit_features_types_and_ratios() -> None:
    raw = pd.DataFrame({"request_id": ["a", "b"], "Seniority": [1, 2], "Home": ["rent", None],
                        "Time": [36, 48], "Age": [30, 40], "Marital": ["married", "single"],
                        "Records": ["no", "yes"], "Job": ["fixed", "fixed"],
                        "Expenses": [50, 60], "Income": [100.0, 0.0], "Assets": [0.0, 1.0],
                        "Debt": [50.0, 10.0], "Amount": [800, 1000], "Price": [1000, 0],
                        "Status": ["good", "bad"]})
    feats = credit.build_features(credit.ingest(raw))
    assert list(feats.columns) == ["request_id", *credit.FEATURES]
    assert feats["loan_to_price"].iloc[0] == pytest.approx(0.8)
    assert np.isnan(feats["loan_to_price"].iloc[1])  # price 0: undefined, not infinite
    assert feats["debt_to_income"].iloc[0] == pytest.approx(0.5)
    assert np.isnan(feats["debt_to_income"].iloc[1])
    assert feats["home"].iloc[1] is None
    assert all(feats[c].dtype == "float64" for c in credit.NUMERIC)


BANDS = {"A": [5.0, 8.5], "C": [12.0, 16.5]}


def scored_loans(rates: list[float], grades: list[str], states: list[str]) -> pd.DataFrame:
    n = len(rates)
    return pd.DataFrame({"request_id": [f"r{i}" for i in range(n)], "state": states,
                         "grade": grades, "loan_amount": [1000.0] * n, "term": [36.0] * n,
                         "model_rate": rates})


def test_loan_pricing_policy() -> None:
    df = scored_loans([6.0, 4.0, 9.0, 20.0, 15.0, 15.0, 7.0],
                      ["A", "A", "A", "C", "C", "C", "Z"],
                      ["CA", "CA", "CA", "CA", "AR", "NY", "CA"])
    out = loans.decide(df, grade_bands=BANDS, state_caps={"AR": 13.0, "NY": 10.0},
                       refer_gap=3.0)
    assert out["offered_rate"].tolist()[:6] == [6.0, 5.0, 8.5, 16.5, 13.0, 12.0]
    assert out["pricing_reason"].tolist()[:6] == ["MODEL", "GRADE_FLOOR", "GRADE_CAP",
                                                   "GRADE_CAP", "STATE_CAP", "STATE_CAP"]
    # 20.0 is 3.5 points above C's cap; NY's cap sits below C's floor; grade Z has no band.
    assert out["decision"].tolist() == ["offer", "offer", "offer", "refer", "offer", "refer",
                                        "refer"]
    assert out["rate_cap"].tolist()[3:6] == [16.5, 13.0, 10.0]


def test_offered_rate_never_exceeds_cap_on_real_spread() -> None:
    rng = np.random.default_rng(0)
    df = scored_loans(list(rng.uniform(0, 40, 500)), ["A", "C"] * 250, ["AR", "CA"] * 250)
    out = loans.decide(df, grade_bands=BANDS, state_caps={"AR": 7.0})
    priced = out[out["decision"] == "offer"]
    assert (priced["offered_rate"] <= priced["rate_cap"] + 1e-9).all()
