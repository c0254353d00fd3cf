"""Daily-partitioned journeys in Dagster, and the executor chosen by the deployment setting."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from e2e_assets.errors import InfrastructureError
from e2e_assets.home import Home
from e2e_assets.orchestration import build_journey_definitions
from e2e_assets.orchestration.executors import journey_executor, journey_job, runs_on_workers
from e2e_assets.spec import load_journey
from tests.helpers import REPO

DAILY = REPO / "tests" / "journeys" / "daily_credit" / "journey.yaml"
STAGES = ["ingest", "features", "score", "decide", "deliver"]


def _daily(home: Home):  # type: ignore[no-untyped-def]
    return load_journey(DAILY, variables=home.variables())


def test_stages_and_their_checks_are_partitioned_by_day(tmp_path: Path) -> None:
    home = Home.from_env(str(tmp_path))
    defs = build_journey_definitions(_daily(home), home=home)
    graph = defs.resolve_asset_graph()
    for stage in STAGES:
        partitions = graph.get(dg.AssetKey(["daily_credit", stage])).partitions_def
        assert isinstance(partitions, dg.DailyPartitionsDefinition)
        assert partitions.start.strftime("%Y-%m-%d") == "2026-01-01"
    checks = {k.name: graph.get(k).partitions_def for k in graph.asset_check_keys}
    assert set(checks) == {"feature_drift", "score_drift", "credit_policy", "reconcile"}
    assert all(isinstance(p, dg.DailyPartitionsDefinition) for p in checks.values())
    assert defs.resolve_job_def("daily_credit_journey").partitions_def is not None
    reference = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                             variables=home.variables())
    graph = build_journey_definitions(reference, home=home).resolve_asset_graph()
    assert graph.get(dg.AssetKey(["credit_approval", "score"])).partitions_def is None


def test_the_executor_is_the_deployments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    monkeypatch.delenv("E2E_EXECUTOR", raising=False)
    home = Home.from_env(str(tmp_path))
    assert home.executor == "in_process" and journey_executor(home) is dg.in_process_executor
    job = build_journey_definitions(_daily(home), home=home).resolve_job_def(
        "daily_credit_journey")
    assert job.executor_def is dg.in_process_executor

    monkeypatch.setenv("E2E_EXECUTOR", "celery")
    monkeypatch.setenv("E2E_CELERY_BROKER", "amqp://guest:guest@broker.example:5672//")
    home = Home.from_env(str(tmp_path))
    assert home.celery_broker == "amqp://guest:guest@broker.example:5672//"
    journey = _daily(home)
    assert runs_on_workers(journey, home)
    job = build_journey_definitions(journey, home=home).resolve_job_def("daily_credit_journey")
    assert job.executor_def.name == "celery"

    monkeypatch.setenv("E2E_EXECUTOR", "threads")
    with pytest.raises(InfrastructureError, match=r"E2E_EXECUTOR='threads' is not an "
                                                  r"executor; expected one of \['in_process', "
                                                  r"'celery'\]"):
        Home.from_env(str(tmp_path))


def test_a_worker_rebuilds_the_job_and_refuses_a_changed_journey(tmp_path: Path) -> None:
    home = Home.from_env(str(tmp_path))
    journey = _daily(home)
    kwargs = {"journey_file": str(journey.path), "home_root": str(home.root),
              "tracking_uri": home.tracking_uri, "database_url": home.database_url,
              "executor": "celery", "celery_broker": home.celery_broker,
              "project_dir": str(REPO), "config_digest": journey.config_digest}
    job = journey_job(**kwargs)
    assert job.name == "daily_credit_journey" and job.executor_def.name == "celery"
    with pytest.raises(InfrastructureError, match="resolves differently in this worker"):
        journey_job(**{**kwargs, "database_url": "sqlite:////elsewhere.db"})


@pytest.mark.slow
def test_a_partition_run_reads_its_day_and_its_checks_name_it(home: Path) -> None:
    from e2e_assets.orchestration.instance import instance_for
    from e2e_assets.orchestration.run import run_journey
    from tests.journeys.daily_credit.source import applications

    home_ = Home.from_env()
    engine = sa.create_engine(home_.database_url)
    with engine.begin() as conn:
        applications().to_sql("daily_credit_applications", conn, index=False)
    engine.dispose()
    journey = _daily(home_)
    instance = instance_for(home_)
    run = run_journey(journey, home_, instance=instance, partition="2026-01-03")
    assert run.exit_code == 0, (run.error, [c for c in run.checks if c.failed])
    assert [s.rows_in for s in run.stages] == [318] * 5  # one day of 14: rows n = 3 mod 14
    for run_id in run.dagster_run_ids:
        assert instance.get_run_by_id(run_id).tags["dagster/partition"] == "2026-01-03"
    drift = [c for c in run.checks if c.name.endswith("_drift")]
    assert {c.name for c in drift} == {"feature_drift", "score_drift"}
    assert all(c.metadata["partition"] == "2026-01-03" and
               c.description.startswith("partition 2026-01-03: ") for c in drift)
    assert instance.get_materialized_partitions(
        dg.AssetKey(["daily_credit", "deliver"])) == {"2026-01-03"}
    store = Path(home) / "storage" / "daily_credit"
    assert (store / "latest" / "2026-01-03.json").is_file()  # the day's own latest chain
    assert not (store / "latest.json").exists()

    for bad, expected in ((None, "is partitioned by day: name the day to run"),
                          ("2025-12-31", "has no partition '2025-12-31'")):
        refused = run_journey(journey, home_, instance=instance, partition=bad)
        assert refused.exit_code == 2 and expected in (refused.error or ""), refused.error
    reference = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                             variables=home_.variables())
    refused = run_journey(reference, home_, instance=instance, partition="2026-01-03")
    assert refused.exit_code == 2 and "is not partitioned" in (refused.error or "")
