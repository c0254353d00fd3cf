"""Loan pricing: application -> features -> model rate -> priced offer within policy.

Pricing policy (parameters in journey.yaml, ``stages.decide.params``):

1. The model suggests an interest rate (``model_rate``, percent per year).
2. The offered rate is clipped to the band of the applicant's grade
   (``grade_bands[grade] = [floor, cap]``), then to the cap of the borrower's state where one
   applies (``state_caps[state]``, usury limits), never below the grade floor.
   ``pricing_reason`` says which rule set the rate: MODEL, GRADE_FLOOR, GRADE_CAP or STATE_CAP.
3. When the model's rate is further than ``refer_gap`` points outside the grade band, or the
   state cap sits below the grade floor, the offer is referred to a human (decision ``refer``);
   otherwise ``offer``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

CATEGORICAL = ["grade", "homeownership", "verified_income", "loan_purpose", "application_type"]
NUMERIC = ["emp_length", "annual_income", "debt_to_income", "delinq_2y", "inquiries_last_12m",
           "total_credit_lines", "open_credit_lines", "total_credit_limit",
           "total_credit_utilized", "num_historical_failed_to_pay", "public_record_bankrupt",
           "account_never_delinq_percent", "loan_amount", "term", "credit_utilization",
           "loan_to_income"]
FEATURES = CATEGORICAL + NUMERIC
REQUEST_COLUMNS = ["request_id", "state", *CATEGORICAL, *NUMERIC[:-2]]


def build_features(applications: pd.DataFrame) -> pd.DataFrame:
    """Model inputs plus the state (for pricing); numbers as float64, two ratios."""
    applications = applications.reindex(columns=REQUEST_COLUMNS)  # missing inputs -> nulls
    out = pd.DataFrame({"request_id": applications["request_id"],
                        "state": applications["state"].astype(object)})
    for col in CATEGORICAL:
        out[col] = applications[col].astype(object).where(applications[col].notna(), None)
    for col in NUMERIC[:-2]:
        out[col] = pd.to_numeric(applications[col], errors="coerce").astype("float64")
    limit = out["total_credit_limit"].where(out["total_credit_limit"] > 0)
    out["credit_utilization"] = out["total_credit_utilized"] / limit
    income = out["annual_income"].where(out["annual_income"] > 0)
    out["loan_to_income"] = out["loan_amount"] / income
    return out


def score(features: pd.DataFrame, model: Any) -> pd.DataFrame:
    """The model's suggested rate, in percent."""
    columns = list(getattr(model, "feature_names_in_", FEATURES))
    out = features[["request_id", "state", "grade", "loan_amount", "term"]].copy()
    out["model_rate"] = model.predict(features[columns]).astype("float64")
    return out


class _GradeRates:
    """Stands in for the model: the rate of each request's grade from a table."""

    def __init__(self, rates: dict[str, float]) -> None:
        self.rates = rates

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return x["grade"].astype(object).map(self.rates).astype("float64").to_numpy()


def grade_rate(features: pd.DataFrame, rates: dict[str, float]) -> pd.DataFrame:
    """Fallback for ``score`` when the model is down: the rate of the applicant's grade from a
    table (``rates[grade]``), through ``score`` itself so the columns are the model's; an
    unknown grade gets no rate (NaN), which decide refers to a human."""
    return score(features, _GradeRates(rates))


def decide(scored: pd.DataFrame, grade_bands: dict[str, list[float]],
           state_caps: dict[str, float], refer_gap: float = 3.0) -> pd.DataFrame:
    """Offered rate and decision per the pricing policy in the module docstring."""
    rate = scored["model_rate"].to_numpy()
    grade = scored["grade"].astype(object)
    floor = grade.map(lambda g: grade_bands.get(g, [np.nan, np.nan])[0]).astype(float).to_numpy()
    cap = grade.map(lambda g: grade_bands.get(g, [np.nan, np.nan])[1]).astype(float).to_numpy()
    state_cap = scored["state"].map(state_caps).astype(float).to_numpy()
    offered = np.clip(rate, floor, cap)
    reason = np.where(rate < floor, "GRADE_FLOOR", np.where(rate > cap, "GRADE_CAP", "MODEL"))
    capped = ~np.isnan(state_cap) & (offered > state_cap)
    offered = np.where(capped, np.maximum(state_cap, floor), offered)
    reason = np.where(capped, "STATE_CAP", reason)
    unpriceable = np.isnan(floor) | (rate < floor - refer_gap) | (rate > cap + refer_gap)
    unpriceable |= ~np.isnan(state_cap) & (state_cap < floor)
    return pd.DataFrame({
        "request_id": scored["request_id"].to_numpy(),
        "grade": grade.to_numpy(),
        "state": scored["state"].astype(object).to_numpy(),
        "model_rate": rate,
        "offered_rate": np.round(offered, 2),
        "rate_cap": np.fmin(cap, state_cap),
        "pricing_reason": reason.astype(object),
        "decision": np.where(unpriceable, "refer", "offer").astype(object),
    })


def deliver(priced: pd.DataFrame) -> pd.DataFrame:
    """The rows the servicing system consumes, one per request."""
    return priced[["request_id", "decision", "offered_rate", "pricing_reason", "grade", "state"]]
