"""Fraud-screened credit approval: application -> fraud screen -> risk features -> P(default)
-> decision.

Two models serve this journey: ``screen`` gets the fraud-screen model (P(suspicious) from the
application as ingested), ``score`` the credit model (P(default) from the risk features).

Decision policy (parameters in journey.yaml, ``stages.decide.params``):

1. Fraud first: ``fraud_score >= fraud_decline_at`` -> decline (FRAUD_SUSPECTED);
   ``fraud_score >= fraud_review_at`` sets ``fraud_flag`` and never lets an approval through
   (review, FRAUD_REVIEW).
2. Then credit risk: ``p_default < approve_below`` -> approve (LOW_RISK);
   ``p_default >= decline_at`` -> decline (HIGH_RISK); otherwise review (MEDIUM_RISK).
   An approval without verified income becomes a review (NO_VERIFIED_INCOME).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# What ingest hands on: the application as submitted, snake_case, without the outcome label.
RAW = ["request_id", "seniority", "home", "time", "age", "marital", "records", "job", "expenses",
       "income", "assets", "debt", "amount", "price"]
SCREEN_INPUT = RAW[1:]  # the fraud model reads the application as is (its signature)
CATEGORICAL = ["home", "marital", "records", "job"]
NUMERIC = ["seniority", "time", "age", "expenses", "income", "assets", "debt", "amount", "price",
           "loan_to_price", "debt_to_income"]
FEATURES = CATEGORICAL + NUMERIC
POLICY_VERSION = "fraud-credit-policy-1"


def ingest(requests: pd.DataFrame) -> pd.DataFrame:
    """Normalise raw applications: snake_case columns, no outcome label, fixed column order."""
    out = requests.rename(columns=str.lower).drop(columns=["status"], errors="ignore")
    return out[RAW]


def screen(applications: pd.DataFrame, model: Any) -> pd.DataFrame:
    """Fraud screen: P(suspicious application) from the fraud-screen model."""
    columns = list(getattr(model, "feature_names_in_", SCREEN_INPUT))
    out = applications.copy()
    out["fraud_score"] = model.predict_proba(applications[columns])[:, 1].astype("float64")
    return out


def build_features(screened: pd.DataFrame) -> pd.DataFrame:
    """Credit model inputs (categoricals as strings, numbers as float64, two ratios); the fraud
    score is carried along for decide."""
    out = pd.DataFrame({"request_id": screened["request_id"]})
    for col in CATEGORICAL:
        out[col] = screened[col].astype(object).where(screened[col].notna(), None)
    for col in ("seniority", "time", "age", "expenses", "income", "assets", "debt", "amount",
                "price"):
        out[col] = pd.to_numeric(screened[col], errors="coerce").astype("float64")
    out["loan_to_price"] = out["amount"] / out["price"].where(out["price"] > 0)
    out["debt_to_income"] = out["debt"] / out["income"].where(out["income"] > 0)
    out["fraud_score"] = screened["fraud_score"].astype("float64")
    return out


def score(features: pd.DataFrame, model: Any) -> pd.DataFrame:
    """P(default) from the credit model."""
    columns = list(getattr(model, "feature_names_in_", FEATURES))
    out = features[["request_id", "income", "fraud_score"]].copy()
    out["p_default"] = model.predict_proba(features[columns])[:, 1].astype("float64")
    return out


def decide(scored: pd.DataFrame, fraud_review_at: float = 0.5, fraud_decline_at: float = 0.8,
           approve_below: float = 0.25, decline_at: float = 0.5) -> pd.DataFrame:
    """Approve / review / decline: fraud screen first, then credit risk (module docstring)."""
    p, fraud = scored["p_default"].to_numpy(), scored["fraud_score"].to_numpy()
    decision = np.where(p < approve_below, "approve",
                        np.where(p >= decline_at, "decline", "review")).astype(object)
    reason = np.where(decision == "approve", "LOW_RISK",
                      np.where(decision == "decline", "HIGH_RISK", "MEDIUM_RISK")).astype(object)
    no_income = ~(scored["income"] > 0).to_numpy()
    decision[no_income & (decision == "approve")] = "review"
    reason[no_income & (reason == "LOW_RISK")] = "NO_VERIFIED_INCOME"
    flag = fraud >= fraud_review_at
    to_review = flag & (decision == "approve")
    decision[to_review], reason[to_review] = "review", "FRAUD_REVIEW"
    to_decline = fraud >= fraud_decline_at
    decision[to_decline], reason[to_decline] = "decline", "FRAUD_SUSPECTED"
    return pd.DataFrame({
        "request_id": scored["request_id"].to_numpy(),
        "fraud_score": fraud,
        "fraud_flag": flag,
        "p_default": p,
        "decision": decision,
        "reason_code": reason,
        "income": scored["income"].to_numpy(),
    })


def deliver(decisions: pd.DataFrame) -> pd.DataFrame:
    """The rows the origination system consumes, one per request."""
    out = decisions[["request_id", "decision", "reason_code", "p_default", "fraud_score"]].copy()
    out["policy_version"] = POLICY_VERSION
    return out
