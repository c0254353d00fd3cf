"""Bootstrap hooks that register bad credit models the documented way (``ctx.register_model``,
with a labelled golden set of their own): the promotion gate must refuse every one of them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from pipelines.credit_approval.stages import FEATURES, NUMERIC, build_features, ingest
from pipelines.credit_approval.train import load_applications, make_model


def _split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = load_applications()
    return train_test_split(data, test_size=0.3, random_state=seed, stratify=data["Status"])


def bad_credit_model(ctx: Any, kind: str = "constant") -> None:
    """Register one bad model of ``kind`` as the credit model (never the source)."""
    train, serve = _split(ctx.seed)
    x = build_features(ingest(train))[FEATURES]
    y = (train["Status"] == "bad").astype(int).to_numpy()
    if kind == "constant":  # every applicant gets the base rate: all 'review'
        model: Any = DummyClassifier(strategy="prior").fit(x, y)
    elif kind == "shuffled":  # trained on shuffled labels: noise
        model = make_model(ctx.seed).fit(x, np.random.default_rng(0).permutation(y))
    elif kind == "stump":  # one split: weaker, but not useless
        numeric = Pipeline([("model", DecisionTreeClassifier(max_depth=1, random_state=0))])
        model = _numeric_only(numeric).fit(x, y)
    elif kind == "linear_few":  # a linear model on three features: clearly weaker
        model = _numeric_only(Pipeline([("scale", StandardScaler()), (
            "model", LogisticRegression(max_iter=500))]), ["income", "amount", "seniority"]
        ).fit(x, y)
    elif kind == "small_sample":  # the right model on 150 rows
        model = make_model(ctx.seed).fit(x.head(150), y[:150])
    elif kind == "few_iterations":  # the right model, stopped after 10 boosting rounds
        model = make_model(ctx.seed).set_params(model__max_iter=10).fit(x, y)
    elif kind == "linear":  # a linear model on every numeric feature
        model = _numeric_only(Pipeline([("scale", StandardScaler()), (
            "model", LogisticRegression(max_iter=2000))])).fit(x, y)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    golden = serve.sample(200, random_state=1)
    ctx.register_model(model, training=train, model_input=x,
                       golden_requests=golden.sort_values("request_id"),
                       params={"model": f"bad-{kind}"})


def _numeric_only(model: Any, columns: list[str] | None = None) -> Pipeline:
    """``model`` on a few numeric columns, missing values as 0: sklearn types only (skops)."""
    pick = ColumnTransformer([("num", SimpleImputer(strategy="constant", fill_value=0.0),
                               columns or NUMERIC)], remainder="drop")
    return Pipeline([("pick", pick), *model.steps])
