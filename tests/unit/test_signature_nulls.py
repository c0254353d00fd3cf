"""Finding: on seed 2 the credit bootstrap's own gate refused a clean model. Its training sample
had no null ``marital`` by chance, MLflow's inferred signature required it, and the served
batch held one null in 1,337 rows. Columns with nulls in the held-out input are optional."""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.model_selection import train_test_split

from e2e_assets.bootstrap import _nullable


def required(signature: object) -> dict[str, bool]:
    return {c.name: c.required for c in signature.inputs.inputs}  # type: ignore[attr-defined]


def test_columns_null_in_the_held_out_input_become_optional() -> None:
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": pd.Series(["x", "y", "x"], dtype=object),
                          "c": [1.5, 2.5, 3.5]})
    held_out = pd.DataFrame({"a": [1.0, np.nan], "b": pd.Series(["x", None], dtype=object),
                             "c": [4.5, 5.5]})
    signature = infer_signature(train, np.array([0.1, 0.2, 0.3]))
    assert required(signature) == {"a": True, "b": True, "c": True}
    relaxed = _nullable(signature, held_out)
    assert required(relaxed) == {"a": False, "b": False, "c": True}
    assert [c.type for c in relaxed.inputs.inputs] == [c.type for c in signature.inputs.inputs]
    assert relaxed.outputs == signature.outputs
    assert _nullable(signature, None) is signature
    assert _nullable(signature, held_out[["c"]]) is signature


def test_credit_seed_2_marital_is_optional_once_the_held_out_input_is_seen() -> None:
    from pipelines.credit_approval import stages
    from pipelines.credit_approval.train import load_applications

    data = load_applications()
    train, serve = train_test_split(data, test_size=0.3, random_state=2, stratify=data["Status"])
    x_train = stages.build_features(stages.ingest(train))[stages.FEATURES]
    x_serve = stages.build_features(stages.ingest(serve))[stages.FEATURES]
    assert x_train["marital"].notna().all() and x_serve["marital"].isna().sum() == 1
    signature = infer_signature(x_train, np.zeros(len(x_train)))
    assert required(signature)["marital"]  # what refused the clean model
    assert not required(_nullable(signature, x_serve))["marital"]
    assert required(_nullable(signature, x_serve))["amount"]  # never null: still required
