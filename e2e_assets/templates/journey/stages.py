"""card_default: a card account -> features -> P(default) -> action -> delivered.

A card issuer reviews its accounts each day (ISLR::Default: balance, income, student status).
Each stage is a plain function of a DataFrame, with no Dagster or MLflow in it: e2e-assets runs
them in order, checks what each hands on, and gives ``score`` the model the registry serves.
Replace them with your own; keep one row per request, keyed by ``request_id``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["balance", "income", "student"]
POLICY_VERSION = "card-policy-1"


def ingest(requests: pd.DataFrame) -> pd.DataFrame:
    """The requests as read from the source: one row per account, the label never included."""
    return requests.drop(columns=["default"], errors="ignore").reset_index(drop=True)


def build_features(accounts: pd.DataFrame) -> pd.DataFrame:
    """Model inputs: balance and income as float64, student as 0/1."""
    return pd.DataFrame({
        "request_id": accounts["request_id"].astype(str),
        "balance": pd.to_numeric(accounts["balance"], errors="coerce").astype("float64"),
        "income": pd.to_numeric(accounts["income"], errors="coerce").astype("float64"),
        "student": (accounts["student"] == "Yes").astype("int64"),
    })


def score(features: pd.DataFrame, model: Any) -> pd.DataFrame:
    """P(default) from the served model, beside the features decide needs."""
    out = features.copy()
    out["p_default"] = model.predict_proba(features[FEATURES])[:, 1].astype("float64")
    return out


def decide(scored: pd.DataFrame, limit_at: float = 0.2, close_at: float = 0.6) -> pd.DataFrame:
    """keep / limit / close: ``p_default >= close_at`` closes the account, ``>= limit_at``
    lowers its limit, anything lower keeps it."""
    p = scored["p_default"].to_numpy()
    action = np.where(p >= close_at, "close", np.where(p >= limit_at, "limit", "keep"))
    return pd.DataFrame({"request_id": scored["request_id"].to_numpy(), "p_default": p,
                         "action": action.astype(object),
                         "balance": scored["balance"].to_numpy()})


def deliver(decisions: pd.DataFrame) -> pd.DataFrame:
    """The rows the account system consumes, one per account."""
    out = decisions[["request_id", "action", "p_default"]].copy()
    out["policy_version"] = POLICY_VERSION
    return out
