"""The same journey on the real PostgreSQL server: source and sink tables, and MLflow's store.

These run in CI (CI=true fails instead of skipping when the server is not reachable).
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from e2e_assets.model_registry import client_for
from tests.conftest import cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_credit_approval_source_and_sink_on_postgres(home: Path, pg_database: str) -> None:
    env = {"E2E_DATABASE_URL": pg_database}
    boot = cli("bootstrap", "credit_approval", home=home, env=env)
    assert boot.returncode == 0, boot.stderr
    assert "source missing" in boot.stderr  # the model existed; the PG source did not
    for attempt in (1, 2):  # twice: the sink must not duplicate
        proc = cli("run", "credit_approval", home=home, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    engine = sa.create_engine(pg_database)
    with engine.connect() as conn:
        requests = conn.execute(sa.text("SELECT count(*) FROM credit_applications")).scalar()
        rows = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT request_id) FROM credit_decisions")).one()
        decisions = {r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT decision FROM credit_decisions"))}
    engine.dispose()
    assert requests == 1337 and tuple(rows) == (1337, 1337)
    assert decisions == {"approve", "review", "decline"}
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    ingest = instance.fetch_materializations(dg.AssetKey(["credit_approval", "ingest"]),
                                             limit=1).records[0].asset_materialization
    assert ingest.metadata["source"].value.startswith("sql postgresql+psycopg://")
    report = json.loads((home / "reports" / "credit_approval.json").read_text())
    (sql_check,) = [c for c in report["runs"][0]["checks"]
                    if c["name"] == "source_table_expectations"]
    assert sql_check["passed"] and "on table credit_applications" in sql_check["description"]


def test_gx_suite_validates_inside_postgres_and_catches_bad_rows(home: Path,
                                                                  pg_database: str) -> None:
    env = {"E2E_DATABASE_URL": pg_database}
    assert cli("bootstrap", "credit_approval", home=home, env=env).returncode == 0
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:  # an upstream bug: ages in months for a tenth of the rows
        conn.execute(sa.text('UPDATE credit_applications SET "Age" = "Age" * 12 '
                             "WHERE request_id < 'CA-00500'"))
    engine.dispose()
    proc = cli("run", "credit_approval", home=home, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("FAILED blocking error check 'source_table_expectations' on stage 'ingest'"
            in proc.stdout)
    assert "expect_column_values_to_be_between(Age)" in proc.stdout
    assert "on table credit_applications" in proc.stdout


def test_mlflow_backend_store_on_postgres(tmp_path: Path, pg_database: str) -> None:
    home = tmp_path / "pg_mlflow_home"
    env = {"MLFLOW_TRACKING_URI": pg_database}
    boot = cli("bootstrap", "credit_approval", home=home, env=env)
    assert boot.returncode == 0, boot.stderr
    proc = cli("run", "credit_approval", home=home, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mv = client_for(pg_database).get_model_version_by_alias("credit_approval", "champion")
    assert str(mv.version) == "1" and mv.tags["e2e.golden_digest"].startswith("sha256:")
    assert mv.tags["e2e.gate.verdict"] == "promoted"  # gated, its alias moved under the PG lock
    assert not (home / "mlflow.db").exists()  # nothing fell back to the SQLite default
    engine = sa.create_engine(pg_database)
    with engine.connect() as conn:
        aliases = conn.execute(sa.text(
            "SELECT alias, version FROM registered_model_aliases")).all()
    engine.dispose()
    assert ("champion", 1) in [tuple(a) for a in aliases]
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    score = instance.fetch_materializations(dg.AssetKey(["credit_approval", "score"]),
                                            limit=1).records[0].asset_materialization
    assert score.metadata["model_run_id"].value == mv.run_id
