"""Credit approval: application -> risk features -> P(default) -> approve/review/decline.

Decision policy (parameters in journey.yaml, ``stages.decide.params``):

1. Risk band from the model's probability of default ``p_default``:
   ``p_default < approve_below`` -> approve (LOW_RISK);
   ``p_default >= decline_at`` -> decline (HIGH_RISK); otherwise review (MEDIUM_RISK).
2. An approval is downgraded to review when the applicant has no verified income
   (NO_VERIFIED_INCOME), has prior records (PRIOR_RECORDS) or asks for more than the price of
   the purchase (AMOUNT_EXCEEDS_PRICE). Declines are never upgraded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

CATEGORICAL = ["home", "marital", "records", "job"]
NUMERIC = ["seniority", "time", "age", "expenses", "income", "assets", "debt", "amount", "price",
           "loan_to_price", "debt_to_income"]
FEATURES = CATEGORICAL + NUMERIC
POLICY_VERSION = "credit-policy-1"


def ingest(requests: pd.DataFrame) -> pd.DataFrame:
    """Normalise raw applications: snake_case column names, one row per request."""
    out = requests.rename(columns=str.lower)
    return out.drop(columns=["status"], errors="ignore")


RAW = ["request_id", "seniority", "home", "time", "age", "marital", "records", "job", "expenses",
       "income", "assets", "debt", "amount", "price"]


def build_features(applications: pd.DataFrame) -> pd.DataFrame:
    """Model inputs: categoricals as strings, numbers as float64, two affordability ratios."""
    # Like most feature code, a missing input column becomes nulls rather than a crash; the
    # expectations and the signature contract are what notice.
    applications = applications.reindex(columns=RAW)
    out = pd.DataFrame({"request_id": applications["request_id"]})
    for col in CATEGORICAL:
        out[col] = applications[col].astype(object).where(applications[col].notna(), None)
    for col in ("seniority", "time", "age", "expenses", "income", "assets", "debt", "amount",
                "price"):
        out[col] = pd.to_numeric(applications[col], errors="coerce").astype("float64")
    out["loan_to_price"] = out["amount"] / out["price"].where(out["price"] > 0)
    out["debt_to_income"] = out["debt"] / out["income"].where(out["income"] > 0)
    return out


def score(features: pd.DataFrame, model: Any) -> pd.DataFrame:
    """P(default) from the champion model; keeps the features decide needs."""
    columns = list(getattr(model, "feature_names_in_", FEATURES))
    out = features.copy()
    out["p_default"] = model.predict_proba(features[columns])[:, 1].astype("float64")
    return out


def review_score(features: pd.DataFrame, p_review: float = 0.35) -> pd.DataFrame:
    """Fallback for ``score`` when the model is down: the same columns, a conservative
    ``p_default`` inside the review band, so decide approves nobody and sends every
    application to a human."""
    out = features.copy()
    out["p_default"] = float(p_review)
    return out


def decide(scored: pd.DataFrame, approve_below: float = 0.25, decline_at: float = 0.5
           ) -> pd.DataFrame:
    """Approve / review / decline with a reason code, per the policy in the module docstring."""
    p = scored["p_default"].to_numpy()
    decision = np.where(p < approve_below, "approve", np.where(p >= decline_at, "decline",
                                                                "review"))
    reason = np.where(decision == "approve", "LOW_RISK",
                      np.where(decision == "decline", "HIGH_RISK", "MEDIUM_RISK"))
    downgrades = [  # first matching reason wins
        ("NO_VERIFIED_INCOME", ~(scored["income"] > 0).to_numpy()),
        ("PRIOR_RECORDS", (scored["records"] == "yes").to_numpy()),
        ("AMOUNT_EXCEEDS_PRICE", (scored["loan_to_price"] > 1.0).to_numpy()),
    ]
    for code, mask in downgrades:
        reason = np.where((reason == "LOW_RISK") & mask, code, reason)
    decision = np.where((decision == "approve") & (reason != "LOW_RISK"), "review", decision)
    return pd.DataFrame({
        "request_id": scored["request_id"].to_numpy(),
        "p_default": p,
        "decision": decision.astype(object),
        "reason_code": reason.astype(object),
        "income": scored["income"].to_numpy(),
        "records": scored["records"].to_numpy(),
    })


def deliver(decisions: pd.DataFrame) -> pd.DataFrame:
    """The rows the loan-origination system consumes, one per request."""
    out = decisions[["request_id", "decision", "reason_code", "p_default"]].copy()
    out["policy_version"] = POLICY_VERSION
    return out
