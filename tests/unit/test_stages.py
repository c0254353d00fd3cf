"""run_stage: stage functions wrapped with errors naming journey and stage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from e2e_assets.errors import StageError
from e2e_assets.spec import load_journey
from e2e_assets.stages import run_stage, run_through
from tests.helpers import journey_variant

VARS = {"E2E_DATABASE_URL": "sqlite:///:memory:"}
RAW = pd.DataFrame({"request_id": ["a"], "Seniority": [1], "Home": ["rent"], "Time": [36],
                    "Age": [30], "Marital": ["married"], "Records": ["no"], "Job": ["fixed"],
                    "Expenses": [50], "Income": [100.0], "Assets": [0.0], "Debt": [0.0],
                    "Amount": [800], "Price": [1000]})


class ConstantModel:
    """No feature_names_in_: the reference score falls back to its declared feature list."""

    def predict_proba(self, x: pd.DataFrame) -> object:
        import numpy as np

        return np.tile([0.9, 0.1], (len(x), 1))


def variant(tmp_path: Path, **replace: str) -> object:
    return load_journey(journey_variant(tmp_path, replace=replace), variables=VARS)


def test_run_through_reference_stages(tmp_path: Path) -> None:
    journey = load_journey(journey_variant(tmp_path), variables=VARS)
    out = run_through(journey, RAW, models={"score": ConstantModel()}, until="deliver")
    assert list(out) == ["ingest", "features", "score", "decide", "deliver"]
    assert out["deliver"]["decision"].tolist() == ["approve"]
    assert out["deliver"]["p_default"].tolist() == [pytest.approx(0.1)]


def test_raising_stage_is_named(tmp_path: Path) -> None:
    journey = variant(tmp_path, **{"function: decide": "function: 'tests.journeys.broken_stages:decide_raises'"})
    with pytest.raises(StageError) as err:
        run_through(journey, RAW, models={"score": ConstantModel()}, until="decide")
    assert err.value.stage == "decide" and err.value.journey == "credit_approval"
    assert "ValueError: policy table 'credit-policy-2' not found" in str(err.value)


def test_stage_must_keep_request_id(tmp_path: Path) -> None:
    journey = variant(tmp_path, **{"function: build_features": "function: 'tests.journeys.broken_stages:features_drop_request_id'"})
    with pytest.raises(StageError, match="no request id column 'request_id'") as err:
        run_through(journey, RAW, models={"score": ConstantModel()}, until="features")
    assert err.value.stage == "features"


def test_stage_must_return_a_frame(tmp_path: Path) -> None:
    journey = variant(tmp_path, **{"function: score": "function: 'tests.journeys.broken_stages:score_returns_array'"})
    with pytest.raises(StageError, match="returned ndarray, expected a pandas DataFrame"):
        run_through(journey, RAW, models={"score": ConstantModel()}, until="score")


def test_unknown_stage_name(tmp_path: Path) -> None:
    journey = load_journey(journey_variant(tmp_path), variables=VARS)
    with pytest.raises(StageError, match="stage 'scoring' .*unknown stage; the journey's "
                       "stages are \\['ingest', 'features', 'score', 'decide', 'deliver'\\]"):
        run_stage(journey, "scoring", RAW)
