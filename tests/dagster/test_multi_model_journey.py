"""A six-stage, two-model journey written as a user would from the README
(tests/journeys/fraud_credit): ingest -> screen (fraud model) -> features -> score (credit model)
-> decide -> deliver, on a real Dagster instance and real MLflow (SQLite) in a temp home.

The home is bootstrapped once for the module (both models trained and registered, fraud screen
first, then the credit model of record with its golden set), which is most of the time spent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from time import perf_counter
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from e2e_assets.bootstrap import bootstrap_journey
from e2e_assets.faults import Fault, with_faults
from e2e_assets.home import Home
from e2e_assets.model_registry import client_for
from e2e_assets.orchestration.instance import instance_for
from e2e_assets.orchestration.run import run_journey
from e2e_assets.results import render_table
from e2e_assets.sinks import shadow_table
from e2e_assets.spec import Journey, load_journey
from tests.helpers import REPO

pytestmark = pytest.mark.slow

JOURNEY_FILE = REPO / "tests" / "journeys" / "fraud_credit" / "journey.yaml"
NAME = "fraud_credit"
STAGES = ["ingest", "screen", "features", "score", "decide", "deliver"]
SINK = "fraud_credit_decisions"


@pytest.fixture(scope="module")
def fc_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh home (MLflow on SQLite, parquet source, SQLite sink, Dagster instance) with the
    journey bootstrapped once for this module."""
    root = tmp_path_factory.mktemp("fraud_credit_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("E2E_ASSETS_HOME", str(root))
        mp.setenv("DAGSTER_HOME", str(root / "dagster"))
        mp.chdir(REPO)
        home = Home.from_env()
        with warnings.catch_warnings():
            # MLflow's input-example writer compares a column index with a range, which pandas
            # 3.1 deprecates (Pandas4Warning, a DeprecationWarning raised from mlflow's frame);
            # the suite turns warnings into errors. Silence exactly that one.
            warnings.filterwarnings("ignore", message="Operation with range is deprecated",
                                    category=DeprecationWarning, module="mlflow")
            result = bootstrap_journey(load(home), home)
        assert result.ran, result.reason
        yield root


def load(home: Home) -> Journey:
    return load_journey(JOURNEY_FILE, variables=home.variables())


def materialization(instance: dg.DagsterInstance, stage: str) -> dict[str, Any] | None:
    event = instance.get_latest_materialization_event(dg.AssetKey([NAME, stage]))
    if event is None or event.asset_materialization is None:
        return None
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def sink_frame(home: Home, table: str = SINK) -> pd.DataFrame | None:
    engine = sa.create_engine(home.database_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return None
            return pd.read_sql_table(table, conn).sort_values("request_id", ignore_index=True)
    finally:
        engine.dispose()


def test_spec_has_six_stages_and_two_models(fc_home: Path) -> None:
    journey = load(Home.from_env())
    assert list(journey.stages) == STAGES
    assert journey.spec.model_stages == ("screen", "score")
    screen_model = journey.spec.model_for("screen")
    assert screen_model is not None and screen_model.uri == "models:/fraud_screen@champion"
    assert journey.spec.primary_model == journey.spec.model_for("score")  # model of record
    assert journey.spec.sink_stage == "deliver"


def test_clean_run_serves_both_models_and_delivers_every_request(fc_home: Path) -> None:
    h = Home.from_env()
    journey = load(h)
    started = perf_counter()
    run = run_journey(journey, h)
    wall = perf_counter() - started
    print(f"\nclean run of {NAME}: {wall:.1f} s\n{render_table(run)}")
    assert run.exit_code == 0, render_table(run)
    assert [s.stage for s in run.stages] == STAGES
    assert [s.status for s in run.stages] == ["materialized"] * 6
    requests = pd.read_parquet(h.root / "sources" / "fraud_credit_requests.parquet")
    assert all(s.rows_out == len(requests) for s in run.stages)

    # Every stage's materialization belongs to this run, in stage order; each model stage names
    # the exact version of its own model, the other stages the model of record.
    client = client_for(h.tracking_uri)
    fraud = client.get_model_version_by_alias("fraud_screen", "champion")
    credit = client.get_model_version_by_alias("fraud_credit", "champion")
    assert fraud.run_id != credit.run_id
    instance = instance_for(h)
    metas: dict[str, dict[str, Any]] = {}
    for stage, dagster_run_id in zip(STAGES, run.dagster_run_ids, strict=True):
        meta = materialization(instance, stage)
        assert meta is not None and meta["dagster_run_id"] == dagster_run_id, stage
        metas[stage] = meta
    records = [instance.get_latest_materialization_event(dg.AssetKey([NAME, s])) for s in STAGES]
    timestamps = [r.timestamp for r in records if r is not None]
    assert timestamps == sorted(timestamps)  # materialized in stage order
    screen, score = metas["screen"], metas["score"]
    assert (screen["model_name"], screen["model_version"], screen["model_run_id"]) == (
        "fraud_screen", str(fraud.version), fraud.run_id)
    assert screen["model_uri"] == f"models:/fraud_screen/{fraud.version}"
    assert (score["model_name"], score["model_version"], score["model_run_id"]) == (
        "fraud_credit", str(credit.version), credit.run_id)
    assert score["model_uri"] == f"models:/fraud_credit/{credit.version}"
    assert score["golden_digest"] == credit.tags["e2e.golden_digest"]
    for stage in ("ingest", "features", "decide", "deliver"):  # no model: the model of record
        assert metas[stage]["model_name"] == "fraud_credit"
        assert "model_uri" not in metas[stage]
    # The run itself pins both versions.
    assert run.run_id is not None
    dagster_run = instance.get_run_by_id(run.run_id)
    assert dagster_run is not None
    tags = dagster_run.tags
    assert tags["e2e/model_version/screen"] == str(fraud.version)
    assert tags["e2e/model_version/score"] == str(credit.version)

    # Checks ran (and passed) on both model stages, and on decide and deliver.
    ran = {(c.stage, c.name) for c in run.checks if c.evaluated}
    assert {("screen", "screen_signature"), ("screen", "golden"), ("score", "score_signature"),
            ("score", "golden"), ("score", "score_sanity"), ("decide", "fraud_credit_policy"),
            ("decide", "golden"), ("deliver", "reconcile"),
            ("deliver", "downstream_contract")} <= ran
    assert not [c for c in run.checks if c.failed], render_table(run)
    described = {(c.stage, c.name): c.description for c in run.checks}
    assert f"fraud_screen v{fraud.version}" in described[("screen", "screen_signature")]
    assert f"fraud_credit v{credit.version}" in described[("score", "score_signature")]

    # The sink has one row per request, and the fraud screen shaped the decisions.
    sink = sink_frame(h)
    assert sink is not None and len(sink) == len(requests)
    assert sink["request_id"].is_unique
    assert set(sink["request_id"]) == set(requests["request_id"])
    assert (sink.loc[sink["fraud_score"] >= 0.8, "decision"] == "decline").all()
    assert (sink["reason_code"] == "FRAUD_SUSPECTED").sum() > 0
    assert (sink["decision"] == "approve").sum() > 0


def test_wrong_fraud_model_is_caught_and_nothing_is_delivered(fc_home: Path) -> None:
    h = Home.from_env()
    journey = load(h)
    before = {t: sink_frame(h, t) for t in (SINK, shadow_table(SINK))}  # a drill's: the shadow
    deliver_before = materialization(instance_for(h), "deliver")
    run = run_journey(with_faults(journey, [Fault("wrong_model", "screen")]), h)
    assert run.exit_code == 1, render_table(run)
    failed = list(run.blocking_failures)
    assert failed, render_table(run)
    assert all(c.stage in STAGES[1:] for c in failed)
    assert failed[0].stage == "screen" and failed[0].name == "golden", render_table(run)
    statuses = {s.stage: s.status for s in run.stages}
    assert statuses["ingest"] == "materialized" and statuses["screen"] == "blocked"
    assert all(statuses[s] == "skipped" for s in STAGES[2:]), statuses
    # Nothing reached either sink: the rows are exactly what they were (or there are none).
    for table, rows in before.items():
        after = sink_frame(h, table)
        if rows is None:
            assert after is None or after.empty
        else:
            pd.testing.assert_frame_equal(after, rows)
    instance = instance_for(h)
    assert materialization(instance, "deliver") == deliver_before  # deliver did not run
    ingest = materialization(instance, "ingest")  # the drill is on the record
    assert ingest is not None and ingest["dagster_run_id"] == run.run_id
    assert ingest["injected_faults"] == "wrong_model@screen"


def test_cli_validate_prints_the_six_stages(fc_home: Path) -> None:
    exe = Path(sys.executable).with_name("e2e-assets")
    env = {**os.environ, "E2E_ASSETS_HOME": str(fc_home)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run([str(exe), "validate", str(JOURNEY_FILE.relative_to(REPO))],
                          check=False, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "valid journey 'fraud_credit'" in proc.stdout
    assert " -> ".join(STAGES) in proc.stdout, proc.stdout
