"""Drift checks on real runs: pass on clean data, fail on covariate_drift, unit_change and
output_drift; re-evaluated by the checks-only job without re-materializing anything."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from e2e_assets.faults import Fault, with_faults
from e2e_assets.frames import write_parquet_atomic
from e2e_assets.handoff import RunStore
from e2e_assets.home import Home
from e2e_assets.inprocess import run_in_process
from e2e_assets.orchestration import build_journey_definitions
from e2e_assets.orchestration.instance import instance_for
from e2e_assets.orchestration.run import run_journey
from e2e_assets.results import render_table
from e2e_assets.spec import load_journey
from tests.helpers import REPO, journey_with_checks

pytestmark = pytest.mark.slow

DRIFT_ONLY = {
    "credit_approval": """\
  features:
    - {kind: drift, name: feature_drift, options: {columns: [age, income, amount, home, job]}}
  score:
    - {kind: drift, name: score_drift, options: {columns: [p_default], reference: holdout}}
""",
    "loan_pricing": """\
  features:
    - kind: drift
      name: feature_drift
      options: {columns: [annual_income, loan_amount, debt_to_income, grade, term]}
  score:
    - {kind: drift, name: rate_drift, options: {columns: [model_rate], reference: holdout}}
""",
}
FAULTS = [
    ("credit_approval", Fault("covariate_drift", "ingest", "age"), ("features", "feature_drift")),
    ("credit_approval", Fault("unit_change", "features", "income"),
     ("features", "feature_drift")),
    ("credit_approval", Fault("output_drift", "score", "p_default"), ("score", "score_drift")),
    ("loan_pricing", Fault("covariate_drift", "ingest", "annual_income"),
     ("features", "feature_drift")),
    ("loan_pricing", Fault("unit_change", "features", "loan_amount"),
     ("features", "feature_drift")),
    ("loan_pricing", Fault("output_drift", "score", "model_rate"), ("score", "rate_drift")),
]


def drift_only(tmp_path: Path, name: str, h: Home) -> object:
    return load_journey(journey_with_checks(tmp_path, DRIFT_ONLY[name], name),
                        variables=h.variables())


@pytest.mark.parametrize("name", ["credit_approval", "loan_pricing"])
def test_drift_checks_pass_on_clean_data(home: Path, tmp_path: Path, name: str) -> None:
    h = Home.from_env()
    run = run_journey(drift_only(tmp_path, name, h), h)
    assert run.exit_code == 0, render_table(run)
    assert {c.name for c in run.checks if c.kind == "drift"} == {"feature_drift", "score_drift" if
                                            name == "credit_approval" else "rate_drift"}
    # output drift compares with the model's out-of-sample outputs on its held-out requests
    (output,) = [c for c in run.checks if c.stage == "score" and c.kind == "drift"]
    assert output.metadata["reference"] == "holdout"
    assert output.metadata["reference_rows"] >= 1000


@pytest.mark.parametrize(("name", "fault", "caught_by"), FAULTS,
                         ids=[f"{n}-{f.id}" for n, f, _ in FAULTS])
def test_drift_fault_fails_its_drift_check(home: Path, tmp_path: Path, name: str, fault: Fault,
                                           caught_by: tuple[str, str]) -> None:
    h = Home.from_env()  # in process, through the stage protocol, monitors included
    run = run_in_process(with_faults(drift_only(tmp_path, name, h), [fault]), h)
    failing = {(c.stage, c.name): c for c in run.blocking_failures}
    assert caught_by in failing, [(c.stage, c.name, c.result.summary) for c in run.failed]
    assert fault.column is not None and fault.column in failing[caught_by].result.summary
    assert run.blocked_at == caught_by[0]  # blocking: nothing downstream of the drifted stage


def test_checks_only_job_reevaluates_without_materializing(home: Path, tmp_path: Path) -> None:
    h = Home.from_env()
    journey = drift_only(tmp_path, "credit_approval", h)
    assert run_journey(journey, h).exit_code == 0
    instance = instance_for(h)
    key = dg.AssetKey(["credit_approval", "features"])
    before = instance.fetch_materializations(key, limit=10).records
    defs = build_journey_definitions(journey, home=h)
    job = defs.resolve_job_def("credit_approval_drift_checks")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    assert {e.check_name for e in result.get_asset_check_evaluations()} == {"feature_drift",
                                                                            "score_drift"}
    assert result.get_asset_materialization_events() == []
    assert len(instance.fetch_materializations(key, limit=10).records) == len(before)
    # A new batch of features, drifted, becomes the journey's latest (as a run would publish it).
    store = RunStore(h.storage, "credit_approval", "drifted-batch", journey.stages)
    previous = store.record(store.latest()["features"], "features")
    assert previous is not None
    df = store.read(previous.ref)
    store.publish(store.write("features", df.assign(age=df["age"] + 2 * np.std(df["age"])),
                              previous.input))
    again = job.execute_in_process(instance=instance, raise_on_error=False)
    (feature,) = [e for e in again.get_asset_check_evaluations()
                  if e.check_name == "feature_drift"]
    assert not feature.passed and "age" in feature.description
    # A stored output edited behind the store's back fails its check closed, naming why.
    tampered = store.run_dir() / "features.parquet"
    write_parquet_atomic(df, tampered)
    third = job.execute_in_process(instance=instance, raise_on_error=False)
    (feature,) = [e for e in third.get_asset_check_evaluations()
                  if e.check_name == "feature_drift"]
    assert not feature.passed and "changed after it was written" in feature.description


def test_drift_schedule_targets_the_checks_only_job(tmp_path: Path) -> None:
    h = Home.from_env(str(tmp_path))
    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables=h.variables())
    defs = build_journey_definitions(journey, home=h)
    schedule = defs.resolve_schedule_def("credit_approval_drift_schedule")
    assert schedule.job_name == "credit_approval_drift_checks"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(instance=instance)
        requests = list(schedule.evaluate_tick(ctx).run_requests or [])
    assert len(requests) == 1
