"""The release loop end to end in Dagster, on the real registry and the real instance.

Covariate drift injected into the source fails the drift check on K consecutive evaluations;
the retraining sensor requests exactly one retrain; the retrain registers a challenger; the
run-status sensor requests the gate for it; the gate promotes it. Then a retrain that learned
nothing: the gate refuses it, the champion stays, the candidate carries the reasons.

The journey is the reference one, as shipped: feature_drift is a warning that starts the
retrain, and in the gate's validation run every drift check is reported, not blocking (the data
drifted, not the candidate), so the drift that starts the retrain does not refuse its result.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from e2e_assets.home import Home
from e2e_assets.model_registry import client_for
from e2e_assets.orchestration import build_journey_definitions
from e2e_assets.orchestration.instance import instance_for
from e2e_assets.orchestration.release import CANDIDATE_TAG, VERDICT_TAG
from e2e_assets.orchestration.run import run_journey
from e2e_assets.release.blessing import FAILED_CHECKS_TAG, PROMOTED, REJECTED
from e2e_assets.release.blessing import VERDICT_TAG as VERSION_VERDICT_TAG
from e2e_assets.results import render_table
from e2e_assets.spec import Journey, load_journey
from tests.helpers import journey_variant

pytestmark = pytest.mark.slow
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
SETTINGS: dict[str, str] = {}  # the reference journey as shipped
CONSTANT_RETRAIN = {"function: pipelines.credit_approval.train:retrain":
                    "function: tests.journeys.release_hooks:constant_model"}


def load(folder: Path, home: Home, replace: dict[str, str]) -> Journey:
    return load_journey(journey_variant(folder, replace=replace), variables=home.variables())


def retrain_then_gate(defs: dg.Definitions, instance: dg.DagsterInstance,
                      tags: Mapping[str, str] | None = None) -> tuple[str, Any]:
    """Run the retrain job as the daemon would, then the gate run its sensor requests."""
    retrain = defs.resolve_job_def("credit_approval_retrain").execute_in_process(
        instance=instance, run_config=QUIET, tags=tags)
    assert retrain.success
    run = instance.get_run_by_id(retrain.run_id)
    assert run is not None
    sensor = defs.resolve_sensor_def("credit_approval_gate_after_retrain")
    request = sensor(dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=retrain.get_run_success_event(),
        dagster_instance=instance, dagster_run=run))
    assert isinstance(request, dg.RunRequest) and request.run_key == run.run_id
    gate = defs.resolve_job_def("credit_approval_gate").execute_in_process(
        instance=instance, run_config={**request.run_config, **QUIET}, tags=request.tags,
        raise_on_error=False)
    return run.tags[CANDIDATE_TAG], gate


def test_drift_retrains_once_and_the_gate_promotes_then_refuses_a_constant_model(
        home: Path, tmp_path: Path) -> None:
    h = Home.from_env()
    journey = load(tmp_path / "drift", h, SETTINGS)
    k = journey.spec.release.drift_ticks
    instance = instance_for(h)
    defs = build_journey_definitions(journey, home=h)
    registry = client_for(h.tracking_uri)
    champion = str(registry.get_model_version_by_alias("credit_approval", "champion").version)
    engine = sa.create_engine(h.database_url)
    with engine.begin() as conn:  # the applicants are 4 years older than the model knows
        conn.execute(sa.text('UPDATE credit_applications SET "Age" = "Age" + 4'))
    engine.dispose()

    # K + 1 evaluations: the journey run, then the checks-only job; the sensor after each.
    sensor = defs.resolve_sensor_def("credit_approval_retraining_sensor")
    run = run_journey(journey, h)  # feature_drift warns; decisions keep flowing
    assert run.exit_code == 0, render_table(run)
    assert [c.passed for c in run.checks if c.name == "feature_drift"] == [False]
    drift_job = defs.resolve_job_def("credit_approval_drift_checks")
    cursor, requests = None, []
    for tick in range(1, k + 2):
        if tick > 1:
            drift_job.execute_in_process(instance=instance, run_config=QUIET,
                                         raise_on_error=False)
        data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
        cursor = data.cursor
        requests += [(tick, r) for r in data.run_requests or []]
    assert [t for t, _ in requests] == [k]  # exactly one retrain, on the K-th failure
    candidate, gate = retrain_then_gate(defs, instance, requests[0][1].tags)

    assert gate.success, [e.message for e in gate.all_events if e.is_step_failure]
    version = registry.get_model_version("credit_approval", candidate)
    assert "champion" in version.aliases and candidate != champion
    assert version.tags[VERSION_VERDICT_TAG] == PROMOTED
    gate_run = instance.get_run_by_id(gate.run_id)
    assert gate_run is not None and gate_run.tags[VERDICT_TAG] == "promoted"
    assert len(instance.get_runs(filters=dg.RunsFilter(job_name="credit_approval_retrain"))) == 1
    # The new champion serves; the drift episode goes on (the inputs still differ from most of
    # what it was trained on), so the sensor asks for no second retrain.
    after = run_journey(journey, h)
    assert after.exit_code == 0 and after.model["version"] == candidate, render_table(after)
    data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert not data.run_requests

    # A retrain that learned nothing: refused, the run red, the champion where it was.
    constant = load(tmp_path / "constant", h, {**SETTINGS, **CONSTANT_RETRAIN})
    refused, gate = retrain_then_gate(build_journey_definitions(constant, home=h), instance)
    assert not gate.success
    (failure,) = [e for e in gate.all_events if e.is_step_failure]
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert metadata["verdict"].value == "refused" and metadata["reasons"].value
    assert str(registry.get_model_version_by_alias("credit_approval", "champion").version) == candidate
    rejected = registry.get_model_version("credit_approval", refused)
    assert rejected.tags[VERSION_VERDICT_TAG] == REJECTED
    assert "quality" in rejected.tags[FAILED_CHECKS_TAG], rejected.tags[FAILED_CHECKS_TAG]
