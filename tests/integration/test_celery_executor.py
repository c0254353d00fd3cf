"""Journeys on a real multi-worker executor: two dagster-celery worker processes, RabbitMQ.

The workers are started as a deployment would start them (``dagster-celery worker start``), each
with its own name, in their own process groups, and are stopped at the end whatever happened.
Each step says in the event log which worker ran it (dagster-celery's engine event "Executing
steps ... in celery worker", metadata "Celery worker": the worker's hostname). The stages hand
frames to each other through the stage store on disk: a stage and its drift check, or two
stages, run on different workers.

Then a backfill: seven days of the partitioned ``daily_credit`` journey through ``e2e-assets
backfill --parallel 7`` (seven runs submitted at once), all on the same two workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq]

DAILY = REPO / "tests" / "journeys" / "daily_credit" / "journey.yaml"
DAYS = [f"2026-01-{d:02d}" for d in range(2, 9)]  # seven daily partitions
STAGES = ("ingest", "features", "score", "decide", "deliver")
WORKER_READY_S = 90


def _worker_env(home: Path, broker: str) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {**os.environ, "E2E_ASSETS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
            "E2E_EXECUTOR": "celery", "E2E_CELERY_BROKER": broker,
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "")}


def _ping(broker: str) -> set[str]:
    from celery import Celery

    app = Celery(broker=broker)
    try:
        return {name for reply in app.control.ping(timeout=1.0) or [] for name in reply}
    finally:
        app.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's process group (the CLI, celery and its pool), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture()
def workers(home: Path, rabbitmq_broker: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two celery workers (one slot each) on the home's Dagster instance; their hostnames."""
    from e2e_assets.home import Home
    from e2e_assets.orchestration.executors import worker_config
    from e2e_assets.orchestration.instance import instance_for

    home_ = Home.from_env()
    instance_for(home_)  # created under the home's lock before the workers open it
    stray = _ping(rabbitmq_broker)
    assert not stray, (f"celery workers not started by this test listen on {rabbitmq_broker}: "
                       f"{sorted(stray)}; they would take its steps")
    config = tmp_path / "celery.yaml"
    config.write_text(yaml.safe_dump(worker_config(home_)))
    tag = uuid.uuid4().hex[:6]
    names = [f"e2e-w1-{tag}", f"e2e-w2-{tag}"]
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for name in names:
            log = (tmp_path / f"{name}.log").open("wb")
            logs.append(log)
            procs.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("dagster-celery")), "worker", "start",
                 "-A", "dagster_celery.app", "-y", str(config), "-n", name, "-l", "INFO",
                 "--", "--concurrency=1"],
                cwd=REPO, env=_worker_env(home, rabbitmq_broker), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + WORKER_READY_S
        hostnames: set[str] = set()
        while time.monotonic() < deadline:
            dead = [p for p in procs if p.poll() is not None]
            assert not dead, "a worker exited at start:\n" + "\n".join(
                (tmp_path / f"{n}.log").read_text()[-2000:] for n in names)
            hostnames = {h for h in _ping(rabbitmq_broker) if h.split("@")[0] in names}
            if len(hostnames) == 2:
                break
        assert len(hostnames) == 2, f"workers not ready in {WORKER_READY_S} s: {hostnames}"
        yield sorted(hostnames)
    finally:
        for proc in procs:
            _stop(proc)
        for log in logs:
            log.close()


def _steps_by_worker(instance: object, run_ids: list[str]) -> dict[str, str]:
    """step key (per run) -> the celery worker that ran it, from the runs' event logs."""
    import dagster as dg

    out = {}
    for run_id in run_ids:
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):  # type: ignore[attr-defined]
            event = entry.dagster_event
            worker = event.engine_event_data.metadata.get("Celery worker")
            if worker is not None:
                out[f"{run_id}:{event.step_key}"] = str(worker.value)
    return out


def test_journeys_run_on_two_celery_workers(home: Path, workers: list[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster as dg

    from e2e_assets.home import Home
    from e2e_assets.identity import JOURNEY_TAG
    from e2e_assets.orchestration.instance import instance_for
    from e2e_assets.orchestration.resources import JOURNEY_RUN_TAG
    from e2e_assets.orchestration.run import run_journey
    from e2e_assets.spec import load_journey
    from tests.journeys.daily_credit.source import applications

    monkeypatch.setenv("E2E_EXECUTOR", "celery")
    home_ = Home.from_env()
    assert home_.executor == "celery"
    instance = instance_for(home_)

    # The reference credit journey, every stage and check as a step on the workers.
    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables=home_.variables())
    run = run_journey(journey, home_, instance=instance)
    assert run.exit_code == 0, (run.error, [c for c in run.checks if c.failed])
    assert [s.status for s in run.stages] == ["materialized"] * 5
    ran_on = _steps_by_worker(instance, list(run.dagster_run_ids))
    stage_steps = {k.split(":")[1] for k in ran_on}
    assert {f"credit_approval__{s}" for s in STAGES} <= stage_steps
    assert any("drift" in k for k in stage_steps)  # monitoring checks are steps of their own
    print(f"\ncredit_approval on 2 celery workers: {run.wall_time_s:.1f} s, steps per worker "
          f"{dict(Counter(ran_on.values()))}")

    # A backfill: seven days of daily_credit, seven CLI processes submitting at once.
    engine = sa.create_engine(home_.database_url)
    with engine.begin() as conn:
        applications().to_sql("daily_credit_applications", conn, index=False)
    engine.dispose()
    env = {**os.environ, "E2E_ASSETS_HOME": str(home), "E2E_EXECUTOR": "celery"}
    env.pop("DAGSTER_HOME", None)
    exe = str(Path(sys.executable).with_name("e2e-assets"))
    started = time.perf_counter()
    proc = subprocess.run([exe, "backfill", str(DAILY), "--from", DAYS[0], "--to", DAYS[-1],
                           "--parallel", "7"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    backfill_s = time.perf_counter() - started
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    for day in DAYS:  # one line per day in the table, each passed with its own report
        assert any(line.startswith(f"{day}  PASSED") for line in proc.stdout.splitlines()), \
            proc.stdout
        assert (home / "reports" / f"daily_credit-{day}.json").is_file()

    runs = instance.get_runs(filters=dg.RunsFilter(tags={JOURNEY_TAG: "daily_credit"}))
    by_journey_run: dict[str, list[dg.DagsterRun]] = {}
    for dagster_run in runs:
        by_journey_run.setdefault(dagster_run.tags[JOURNEY_RUN_TAG], []).append(dagster_run)
    assert len(by_journey_run) == 7  # seven journey runs, one per day
    for stage_runs in by_journey_run.values():
        assert len(stage_runs) == 5
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in stage_runs)
        assert len({r.tags["dagster/partition"] for r in stage_runs}) == 1  # one day each
    assert {rs[0].tags["dagster/partition"] for rs in by_journey_run.values()} == set(DAYS)

    for stage in STAGES:  # a materialization per partition per stage
        done = instance.get_materialized_partitions(dg.AssetKey(["daily_credit", stage]))
        assert set(DAYS) <= done, (stage, sorted(done))

    run_ids = [r.run_id for r in runs]
    drift: dict[tuple[str, str], list[str]] = {}
    for run_id in run_ids:
        for entry in instance.all_logs(run_id,
                                       of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            if evaluation.check_name.endswith("_drift"):
                drift.setdefault((evaluation.check_name, evaluation.partition), []).append(
                    evaluation.description or "")
    for day in DAYS:  # each day's drift compared that day's rows, and says so
        for check in ("feature_drift", "score_drift"):
            descriptions = drift.get((check, day))
            assert descriptions and all(d.startswith(f"partition {day}: ")
                                        for d in descriptions), (check, day, descriptions)

    ran_on = _steps_by_worker(instance, run_ids)
    per_worker = Counter(ran_on.values())
    assert set(per_worker) == set(workers), per_worker  # both workers ran steps
    print(f"backfill of 7 daily partitions on 2 celery workers: {backfill_s:.1f} s, "
          f"steps per worker {dict(per_worker)}")
