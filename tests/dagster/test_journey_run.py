"""Real journey runs on a real Dagster instance (temp DAGSTER_HOME) and real MLflow (SQLite)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from e2e_assets.frames import frame_digest
from e2e_assets.handoff import RunStore
from e2e_assets.home import Home
from e2e_assets.model_registry import client_for
from e2e_assets.orchestration import build_journey_definitions
from e2e_assets.orchestration.instance import instance_for
from e2e_assets.orchestration.run import run_journey
from e2e_assets.results import render_table
from e2e_assets.sinks import count_rows
from e2e_assets.spec import load_journey
from tests.helpers import REPO, journey_variant

pytestmark = pytest.mark.slow
# The real commit, read by git itself: provenance must name it, not merely something non-empty.
HEAD = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                      check=True).stdout.strip()


def load(path: Path, home: Home) -> object:
    return load_journey(path, variables=home.variables())


def materialization(instance: dg.DagsterInstance, journey: str, stage: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey([journey, stage]))
    assert event is not None and event.asset_materialization is not None
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


@pytest.mark.parametrize("name", ["credit_approval", "loan_pricing"])
def test_clean_run_materializes_every_stage_with_provenance(home: Path, name: str) -> None:
    h = Home.from_env()
    journey = load(REPO / "pipelines" / name / "journey.yaml", h)
    run = run_journey(journey, h)
    assert run.exit_code == 0, render_table(run)
    assert [s.status for s in run.stages] == ["materialized"] * 5
    source_rows = run.stages[0].rows_out
    assert source_rows and all(s.rows_out == source_rows for s in run.stages)
    assert count_rows(h.database_url, journey.spec.sink.table) == source_rows

    instance = instance_for(h)
    mv = client_for(h.tracking_uri).get_model_version_by_alias(name, "champion")
    # One Dagster run per stage, in order; the first run's id keys the journey run's hand-off.
    assert len(run.dagster_run_ids) == 5 and run.dagster_run_ids[0] == run.run_id
    for stage, dagster_run_id in zip(journey.stages, run.dagster_run_ids, strict=True):
        meta = materialization(instance, name, stage)
        assert meta["dagster_run_id"] == dagster_run_id
        assert meta.get("journey_run_id", run.run_id) == run.run_id
        assert meta["model_version"] == str(mv.version) and meta["model_run_id"] == mv.run_id
        assert meta["config_digest"] == journey.config_digest
        assert meta["seed"] == str(journey.spec.seed)  # text: a setting, not plotted
        assert meta["git_commit"].removesuffix("+dirty") == HEAD, meta["git_commit"]
        assert meta["package_version"] == "0.1.0"
        stored = pd.read_parquet(h.storage / name / "runs" / run.run_id / f"{stage}.parquet")
        assert meta["data_digest"] == frame_digest(stored)
        assert meta["rows_out"] == len(stored) and meta["wall_time_s"] >= 0
    assert materialization(instance, name, "score")["golden_digest"] == mv.tags["e2e.golden_digest"]
    # Loading the model must not leave MLflow's global tracking URI behind in the environment.
    assert "MLFLOW_TRACKING_URI" not in os.environ


def test_rerun_does_not_duplicate_sink_rows(home: Path) -> None:
    h = Home.from_env()
    journey = load(REPO / "pipelines" / "credit_approval" / "journey.yaml", h)
    first = run_journey(journey, h)
    second = run_journey(journey, h)
    assert first.exit_code == second.exit_code == 0
    rows = first.stages[-1].rows_out
    assert count_rows(h.database_url, "credit_decisions") == rows
    meta = materialization(instance_for(h), "credit_approval", "deliver")
    assert meta["sink_rows_replaced"] == rows and meta["dagster_run_id"] == second.dagster_run_ids[-1]


def test_raising_stage_fails_the_run_and_writes_nothing(home: Path, tmp_path: Path) -> None:
    h = Home.from_env()
    path = journey_variant(tmp_path, replace={
        "function: decide": "function: 'tests.journeys.broken_stages:decide_raises'"})
    run = run_journey(load(path, h), h)
    assert run.exit_code == 1
    assert [s.status for s in run.stages] == ["materialized", "materialized", "materialized",
                                              "failed", "skipped"]
    assert "stage 'decide'" in run.error and "policy table 'credit-policy-2'" in run.error
    assert count_rows(h.database_url, "credit_decisions") == 0


def test_other_alias_is_served_and_recorded(home: Path) -> None:
    h = Home.from_env()
    client = client_for(h.tracking_uri)
    version = client.get_model_version_by_alias("credit_approval", "champion").version
    client.set_registered_model_alias("credit_approval", "challenger", version)
    journey = load(REPO / "pipelines" / "credit_approval" / "journey.yaml", h)
    run = run_journey(journey, h, alias="challenger")
    assert run.exit_code == 0 and run.model["alias"] == "challenger"
    assert materialization(instance_for(h), "credit_approval", "score")["model_alias"] == "challenger"


def test_missing_alias_is_a_config_error_before_running(home: Path) -> None:
    h = Home.from_env()
    journey = load(REPO / "pipelines" / "credit_approval" / "journey.yaml", h)
    run = run_journey(journey, h, alias="nope")
    assert run.exit_code == 2 and run.run_id is None
    assert "has no alias 'nope'" in run.error and "champion -> v1" in run.error


def test_a_subset_run_reads_latest_and_latest_stays_one_chain(home: Path) -> None:
    """A Dagster run of one stage (as from the UI) reads its upstream from the journey's latest;
    then latest names that stage's run, its upstream's run, and nothing computed from older
    outputs of the stage."""
    h = Home.from_env()
    journey = load(REPO / "pipelines" / "credit_approval" / "journey.yaml", h)
    full = run_journey(journey, h)
    assert full.exit_code == 0
    store = RunStore(h.storage, "credit_approval", "reader", journey.stages)
    assert set(store.latest().values()) == {full.run_id}
    defs = build_journey_definitions(journey, home=h)
    job = defs.resolve_job_def("credit_approval_journey")
    result = job.execute_in_process(instance=instance_for(h), raise_on_error=False,
                                    asset_selection=[dg.AssetKey(["credit_approval", "decide"])])
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    assert meta["input_from_run"] == full.run_id  # score came from the full run's lineage
    latest = store.latest()
    assert latest == {"ingest": full.run_id, "features": full.run_id, "score": full.run_id,
                      "decide": result.run_id}  # deliver was computed from the older decide
    record = store.record(result.run_id, "decide")
    assert record is not None and record.input is not None
    assert record.input.run_id == full.run_id and record.input.stage == "score"


def test_a_run_launched_like_the_ui_is_tagged_with_what_it_serves(home: Path) -> None:
    """Runs started from the UI, a schedule or a sensor skip run_journey: the job carries the
    journey, model, alias and commit, and the run adds the version it resolved."""
    h = Home.from_env()
    journey = load(REPO / "pipelines" / "credit_approval" / "journey.yaml", h)
    job = build_journey_definitions(journey, home=h).resolve_job_def("credit_approval_journey")
    instance = instance_for(h)
    result = job.execute_in_process(
        instance=instance, raise_on_error=False,
        asset_selection=[dg.AssetKey(["credit_approval", "ingest"])])
    tags = instance.get_run_by_id(result.run_id).tags  # type: ignore[union-attr]
    assert {k: tags.get(k) for k in ("e2e/journey", "e2e/model", "e2e/alias",
                                     "e2e/model_version")} == {
        "e2e/journey": "credit_approval", "e2e/model": "credit_approval",
        "e2e/alias": "champion", "e2e/model_version": "1"}
    assert tags["e2e/git_commit"]
