"""The documented PostgreSQL deployment (docs/deployment/), end to end: Dagster's instance from
the very ``dagster.yaml`` we document, MLflow and the journey's tables on the real PostgreSQL
server; a journey run, a retrain and the gate through the real CLI; the results read back
through Dagster's instance API and MLflow's client, and no SQLite file anywhere.

These run in CI (CI=true fails instead of skipping when the server is not reachable).
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from e2e_assets.errors import InfrastructureError
from e2e_assets.home import Home
from e2e_assets.model_registry import client_for
from e2e_assets.orchestration.instance import instance_for
from e2e_assets.orchestration.resources import JOURNEY_RUN_TAG
from e2e_assets.validation_run import LAST_VALIDATION_TAG
from tests.conftest import REPO, cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
DEPLOYMENT_YAML = REPO / "docs" / "deployment" / "dagster.yaml"
MODEL = "credit_approval"
STAGES = ("ingest", "features", "score", "decide", "deliver")


@pytest.fixture()
def databases(pg_server: str) -> Iterator[dict[str, str]]:
    """One fresh database per store, as the deployment README says (Dagster and MLflow each keep
    an ``alembic_version`` table); their URLs with the driver each needs. Dropped afterwards."""
    prefix = f"e2e_test_{uuid.uuid4().hex[:12]}"
    server = sa.make_url(pg_server)
    drivers = {"dagster": "postgresql+psycopg2", "mlflow": "postgresql+psycopg",
               "journeys": "postgresql+psycopg"}
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    created: list[str] = []
    try:
        with admin.connect() as conn:
            for store in drivers:
                conn.execute(sa.text(f'CREATE DATABASE "{prefix}_{store}"'))
                created.append(f"{prefix}_{store}")
        yield {store: server.set(drivername=driver, database=f"{prefix}_{store}")
               .render_as_string(hide_password=False) for store, driver in drivers.items()}
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def deployment(tmp_path: Path, databases: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A DAGSTER_HOME holding the documented dagster.yaml, and the environment the deployment
    README tells to set (E2E_ASSETS_HOME is given by ``cli``)."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(DEPLOYMENT_YAML, dagster_home / "dagster.yaml")
    return dagster_home, {"DAGSTER_HOME": str(dagster_home),
                          "E2E_DAGSTER_PG_URL": databases["dagster"],
                          "MLFLOW_TRACKING_URI": databases["mlflow"],
                          "E2E_DATABASE_URL": databases["journeys"]}


def sqlite_files(folder: Path) -> list[Path]:
    """Files under ``folder`` that are SQLite databases, whatever their names."""
    found = []
    for path in (p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as fh:
            if path.suffix in (".db", ".sqlite") or fh.read(16) == b"SQLite format 3\x00":
                found.append(path)
    return found


def test_run_and_gate_on_the_documented_postgres_deployment(
        tmp_path: Path, databases: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    dagster_home, env = deployment(tmp_path, databases)
    for command in (("bootstrap", MODEL), ("run", MODEL), ("retrain", MODEL),
                    ("gate", MODEL, "--candidate", "challenger")):
        proc = cli(*command, home=home, env=env)
        assert proc.returncode == 0, f"{command}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    assert "PROMOTED" in proc.stdout
    assert (dagster_home / "dagster.yaml").read_bytes() == DEPLOYMENT_YAML.read_bytes()
    run = json.loads((home / "reports" / f"{MODEL}.json").read_text())["runs"][0]
    gate = json.loads((home / "reports" / f"{MODEL}-gate.json").read_text())
    assert run["status"] == "passed" and gate["gate"]["verdict"] == "promoted"

    # Dagster: the instance a deployment loads (DAGSTER_HOME + the URL) is PostgreSQL's...
    for key in ("DAGSTER_HOME", "E2E_DAGSTER_PG_URL"):
        monkeypatch.setenv(key, env[key])
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert instance.run_storage.postgres_url == databases["dagster"]
        # ... and holds the headless run and the gate's validation run: one Dagster run per
        # stage, every one a success, each stage materialized and every check evaluated in it.
        for journey_run in (run, gate["run"]):
            ids = journey_run["dagster_run_ids"]
            tagged = instance.get_runs(filters=dg.RunsFilter(
                tags={JOURNEY_RUN_TAG: journey_run["run_id"]}))
            assert sorted(r.run_id for r in tagged) == sorted(ids) and len(ids) == len(STAGES)
            assert {r.status for r in tagged} == {dg.DagsterRunStatus.SUCCESS}
            stage_run = dict(zip(STAGES, ids, strict=True))
            for stage, run_id in stage_run.items():
                records = instance.fetch_materializations(dg.AssetKey([MODEL, stage]),
                                                          limit=20).records
                assert run_id in {r.run_id for r in records}, stage
            for check in journey_run["checks"]:
                assert check["evaluated"] and check["passed"], check
                key = dg.AssetCheckKey(dg.AssetKey([MODEL, check["stage"]]), check["name"])
                history = instance.event_log_storage.get_asset_check_execution_history(
                    key, limit=20)
                (record,) = [r for r in history if r.run_id == stage_run[check["stage"]]]
                assert record.status.name == "SUCCEEDED", key
                assert isinstance(record.evaluation, dg.AssetCheckEvaluation)
                assert record.evaluation.passed, key
        assert len(run["checks"]) >= 25  # every stage's checks, not a few
        gate_run = instance.get_run_by_id(gate["gate"]["dagster_run_id"])
        assert gate_run is not None and gate_run.tags["e2e/gate/verdict"] == "promoted"
        score = instance.get_latest_materialization_event(dg.AssetKey([MODEL, "score"]))
        assert score is not None and score.run_id == gate["run"]["dagster_run_ids"][2]
        assert score.asset_materialization is not None
        assert score.asset_materialization.metadata["model_version"].value == "2"

    # MLflow on PostgreSQL: champion moved to the gated challenger; the gate's record run
    # holds the quality metrics it decided on; the headless run's validation run its counts.
    client = client_for(databases["mlflow"])
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "2" and champion.tags["e2e.gate.verdict"] == "promoted"
    decided = client.get_run(gate["gate"]["mlflow_run_id"])
    assert decided.data.tags["e2e.gate.verdict"] == "promoted"
    assert decided.data.tags["e2e.gate.dagster_run_id"] == gate["gate"]["dagster_run_id"]
    assert decided.data.metrics["roc_auc"] == pytest.approx(gate["gate"]["quality"]["roc_auc"])
    assert decided.data.metrics["roc_auc"] > 0.75
    validation = client.get_run(client.get_model_version(MODEL, "1").tags[LAST_VALIDATION_TAG])
    assert validation.data.tags["e2e.dagster_run_id"] == run["run_id"]
    assert validation.data.metrics["checks_passed"] == len(run["checks"])
    assert validation.data.metrics["checks_failed"] == 0

    # Nothing fell back to SQLite: not Dagster, not MLflow, not the journey's tables.
    assert sqlite_files(dagster_home) == [] and sqlite_files(home) == []


def test_a_bare_postgresql_url_is_refused_before_any_run(
        tmp_path: Path, databases: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy 2.1 reads postgresql:// as psycopg 3, on which dagster-postgres's event log
    fails at the first event; the home refuses it, naming the URL to write instead."""
    dagster_home, _ = deployment(tmp_path, databases)
    bare = sa.make_url(databases["dagster"]).set(drivername="postgresql")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("E2E_DAGSTER_PG_URL", bare.render_as_string(hide_password=False))
    with pytest.raises(InfrastructureError, match=r"postgresql\+psycopg2://"):
        instance_for(Home.from_env(tmp_path / "home"))
