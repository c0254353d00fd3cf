"""The release loop's sensors on a real instance: drift episodes from real drift-check
evaluations, new rows in a real SQL source, and the gate requested after a retrain run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from e2e_assets.handoff import RunStore
from e2e_assets.home import Home
from e2e_assets.model_registry import client_for
from e2e_assets.orchestration import build_journey_definitions
from e2e_assets.orchestration.instance import instance_for
from e2e_assets.orchestration.release import (
    CANDIDATE_TAG,
    DriftTick,
    build_release_definitions,
    drift_episode,
    new_rows,
)
from e2e_assets.orchestration.resources import SHADOW_TAG
from e2e_assets.orchestration.run import run_journey
from e2e_assets.results import render_table
from e2e_assets.spec import load_journey
from tests.helpers import REPO

K = 3
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def journey_file(tmp_path: Path, release: dict[str, object], *,
                 table: str = "credit_applications") -> Path:
    """credit_approval with one drift check, its source ``table``, and ``release`` settings."""
    spec = yaml.safe_load((REPO / "pipelines" / "credit_approval" / "journey.yaml").read_text())
    spec["source"]["table"] = table
    spec["checks"] = {"features": [{"kind": "drift", "name": "feature_drift",
                                    "options": {"columns": ["age", "income", "amount"]}}]}
    spec["release"] = {**spec["release"], **release}
    path = tmp_path / "credit_release" / "journey.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def ticks(*flags: str) -> list[DriftTick]:
    """Newest first: 'd' drifted, 'p' passed; run ids r0 (newest), r1, ..."""
    return [DriftTick(f"r{i}", flag == "d") for i, flag in enumerate(flags)]


# --- the episode logic, pure -------------------------------------------------------------------

@pytest.mark.parametrize(("history", "episode"), [
    ("", None), ("p", None), ("ddp", None), ("dd", None), ("pddd", None),
    ("dddp", "r2"), ("ddd", "r2"), ("ddddp", "r3"), ("dddddpddd", "r4"),
])
def test_episode_is_named_by_its_first_drifted_evaluation(history: str,
                                                          episode: str | None) -> None:
    assert drift_episode(ticks(*history), K) == episode


def test_a_streak_longer_than_the_window_continues_the_open_episode() -> None:
    window = ticks(*"dddd")
    assert drift_episode(window, K, complete=False, open_episode="r9") == "r9"
    assert drift_episode(window, K, complete=False) == "r3"  # nothing open: starts here
    assert drift_episode(ticks(*"dddp"), K, complete=False, open_episode="r9") == "r2"


# --- the retraining sensor on real drift evaluations --------------------------------------------

def test_retraining_sensor_requests_one_retrain_per_drift_episode(home: Path,
                                                                  tmp_path: Path) -> None:
    h = Home.from_env()
    journey = load_journey(journey_file(tmp_path, {"drift_ticks": K}),
                           variables=h.variables())
    run = run_journey(journey, h)  # one passing evaluation, and a latest output
    assert run.exit_code == 0, render_table(run)
    instance = instance_for(h)
    defs = build_journey_definitions(journey, home=h)
    drift_job = defs.resolve_job_def("credit_approval_drift_checks")
    sensor = defs.resolve_sensor_def("credit_approval_retraining_sensor")
    assert sensor.job_name == "credit_approval_retrain"
    store = RunStore(h.storage, journey.name, "batches", journey.stages)
    previous = store.record(store.latest()["features"], "features")
    assert previous is not None
    clean = store.read(previous.ref)
    drifted = clean.assign(age=clean["age"] + 2 * np.std(clean["age"]))
    cursor: str | None = None

    def publish(frame: pd.DataFrame) -> None:
        store.publish(store.write("features", frame, previous.input))

    def evaluate(tags: dict[str, str] | None = None) -> tuple[bool, list[dg.RunRequest]]:
        """One drift evaluation, then one sensor tick, the cursor carried as the daemon does."""
        nonlocal cursor
        result = drift_job.execute_in_process(instance=instance, raise_on_error=False,
                                              run_config=QUIET, tags=tags)
        (evaluation,) = result.get_asset_check_evaluations()
        data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
        cursor = data.cursor
        return evaluation.passed, list(data.run_requests or [])

    assert evaluate() == (True, [])
    publish(drifted)
    drifted_runs = []
    for tick in range(1, K + 3):
        passed, requests = evaluate()
        assert not passed
        drifted_runs.append(instance.get_runs(limit=1)[0].run_id)
        if tick == K:  # K consecutive failures: exactly one request, named by the episode
            (request,) = requests
            assert request.run_key == f"drift_episode:{drifted_runs[0]}"
            assert request.tags["e2e/drift_episode"] == drifted_runs[0]
        else:  # before K nothing; after K (same episode) nothing more
            assert requests == [], tick
    # The gate's validation runs (shadow) are no production evidence: they move no streak.
    publish(clean)
    assert evaluate() == (True, [])
    publish(drifted)
    for tick in range(1, K):
        assert evaluate() == (False, [])
    assert evaluate({SHADOW_TAG: "true"}) == (False, [])
    passed, requests = evaluate()  # the K-th production failure of a new episode
    (request,) = requests
    second = request.tags["e2e/drift_episode"]
    assert request.run_key == f"drift_episode:{second}" and second != drifted_runs[0]


# --- the new-data sensor on a real SQL source ---------------------------------------------------

@pytest.mark.parametrize(("column", "values"), [
    ("seq", [1, 2, 3, 4, 5]),
    ("arrived_at", list(pd.date_range("2026-01-01 08:00", periods=5, freq="h"))),
])
def test_new_data_sensor_requests_one_run_per_new_max(home: Path, tmp_path: Path, column: str,
                                                      values: list[object]) -> None:
    h = Home.from_env()
    journey = load_journey(journey_file(tmp_path, {"new_data_column": column},
                                        table="arrivals"), variables=h.variables())
    engine = sa.create_engine(h.database_url)
    frame = pd.DataFrame({"request_id": [f"r{i}" for i in range(5)], column: values})
    frame.head(0).to_sql("arrivals", engine, index=False)
    sensor = build_journey_definitions(journey, home=h).resolve_sensor_def(
        "credit_approval_new_data_sensor")
    assert sensor.job_name == "credit_approval_journey"
    instance = instance_for(h)

    def tick(cursor: str | None) -> dg.SensorExecutionData:
        return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))

    empty = tick(None)
    assert not empty.run_requests and empty.skip_message and "no rows" in empty.skip_message
    frame.head(3).to_sql("arrivals", engine, index=False, if_exists="append")
    first = tick(None)
    (request,) = first.run_requests or []
    assert first.cursor == str(new_rows(h.database_url, "arrivals", column, None)[0])
    assert request.run_key == f"new_data:{first.cursor}"
    assert request.tags["e2e/new_rows"] == "3"
    same = tick(first.cursor)
    assert not same.run_requests and same.cursor == first.cursor
    frame.tail(2).to_sql("arrivals", engine, index=False, if_exists="append")
    second = tick(first.cursor)
    (request,) = second.run_requests or []
    assert request.tags["e2e/new_rows"] == "2" and second.cursor != first.cursor
    assert request.run_key == f"new_data:{second.cursor}"
    engine.dispose()


def test_new_data_sensor_needs_a_sql_table_source(tmp_path: Path) -> None:
    h = Home.from_env(str(tmp_path))
    spec = yaml.safe_load((REPO / "pipelines" / "loan_pricing" / "journey.yaml").read_text())
    spec["release"]["new_data_column"] = "application_id"  # a parquet source: no cursor column
    path = tmp_path / "loan_pricing" / "journey.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    journey = load_journey(path, variables=h.variables())
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="needs a SQL source"):
        build_release_definitions(journey, journey_job="loan_pricing_journey")


# --- the gate after a retrain -------------------------------------------------------------------

def test_gate_is_requested_for_the_version_the_retrain_registered(home: Path,
                                                                  tmp_path: Path) -> None:
    h = Home.from_env()
    hook = {"function": "tests.journeys.release_hooks:constant_model",
            "params": {"recent_rows": 600}}
    journey = load_journey(journey_file(tmp_path, {"retrain": hook}), variables=h.variables())
    defs = build_journey_definitions(journey, home=h)
    instance = instance_for(h)
    result = defs.resolve_job_def("credit_approval_retrain").execute_in_process(
        instance=instance, run_config=QUIET)
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    challenger = client_for(h.tracking_uri).get_model_version_by_alias("credit_approval",
                                                                       "challenger")
    assert run.tags[CANDIDATE_TAG] == str(challenger.version)
    sensor = defs.resolve_sensor_def("credit_approval_gate_after_retrain")
    request = sensor(dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=result.get_run_success_event(),
        dagster_instance=instance, dagster_run=run))
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == run.run_id
    # A config the gate job accepts, naming the candidate the retrain registered.
    config = dg.validate_run_config(defs.resolve_job_def("credit_approval_gate"),
                                    request.run_config)
    assert config["ops"]["credit_approval_gate_decision"]["config"] == {
        "candidate": str(challenger.version), "stage": "score"}
