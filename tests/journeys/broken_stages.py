"""Stage functions that break in the ways real stage code breaks, for the failure-path tests."""

from __future__ import annotations

import pandas as pd

from pipelines.credit_approval import stages as credit


def decide_raises(scored: pd.DataFrame, **params: object) -> pd.DataFrame:
    raise ValueError("policy table 'credit-policy-2' not found")


def deliver_raises(decisions: pd.DataFrame) -> pd.DataFrame:
    credit.deliver(decisions)
    raise RuntimeError("origination system rejected the batch")


def features_drop_request_id(applications: pd.DataFrame) -> pd.DataFrame:
    return credit.build_features(applications).drop(columns=["request_id"])


def score_returns_array(features: pd.DataFrame, model: object) -> object:
    return credit.score(features, model)["p_default"].to_numpy()
