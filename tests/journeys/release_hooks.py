"""Retrain hooks for release-loop tests."""

from __future__ import annotations

from typing import Any

from sklearn.dummy import DummyClassifier
from sklearn.model_selection import train_test_split

from pipelines.credit_approval.stages import FEATURES, build_features, ingest
from pipelines.credit_approval.train import load_applications


def constant_model(ctx: Any, recent_rows: int = 1000) -> None:
    """credit_approval retrained into a model that learned nothing: every applicant gets the
    prior default rate (ROC AUC 0.5). The challenger a gate must refuse."""
    recent = ctx.recent_requests(recent_rows).merge(
        load_applications()[["request_id", "Status"]], on="request_id")
    recent = recent[~recent["request_id"].isin(ctx.evaluation_ids())]
    fit_on, golden = train_test_split(recent, test_size=0.3, random_state=ctx.seed,
                                      stratify=recent["Status"])
    features = build_features(ingest(fit_on))[FEATURES]
    model = DummyClassifier(strategy="prior").fit(features, fit_on["Status"] == "bad")
    ctx.register_model(model, training=fit_on, model_input=features,
                       golden_requests=golden.sort_values("request_id"),
                       params={"model": "DummyClassifier(prior)"})
