"""A journey run logged to MLflow as a validation run of its model version: tags, metrics,
the reports as artifacts, and the version's link to it; on a real MLflow (SQLite in a temp
dir)."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from e2e_assets.results import CheckOutcome, JourneyRun, StageResult
from e2e_assets.validation_run import LAST_VALIDATION_TAG, log_validation_run, validation_metrics


def _run(**kw: object) -> JourneyRun:
    base: dict[str, object] = {
        "journey": "credit_approval", "run_id": "dagster-1", "wall_time_s": 4.0,
        "stages": (StageResult("score", "materialized", 10, 10, 0.25),
                   StageResult("decide", "blocked")),
        "checks": (CheckOutcome("score", "score_drift", True, "error", True, "",
                                metadata={"drift_share": 0.0}),
                   CheckOutcome("score", "feature_drift", False, "warn", False, "",
                                metadata={"drift_share": 0.25}),
                   CheckOutcome("decide", "credit_policy", False, "error", True, "3 violations"),
                   CheckOutcome("deliver", "reconcile", False, "error", True, "",
                                evaluated=False)),
        "model": {"name": "credit_approval", "version": "1", "alias": "champion"},
        "drill": ("policy_violation@decide[decision]",)}
    base.update(kw)
    return JourneyRun(**base)  # type: ignore[arg-type]


def test_metrics_count_checks_drift_and_stage_times() -> None:
    assert validation_metrics(_run()) == {
        "checks_passed": 1.0, "checks_failed": 2.0, "checks_not_evaluated": 1.0,
        "blocking_failures": 1.0, "wall_time_s": 4.0, "drift_share": 0.25,
        "stage_wall_s.score": 0.25}


def test_logged_with_reports_and_linked_from_the_model_version(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("credit_approval")
    client.create_model_version("credit_approval", source=str(tmp_path))
    report, html = tmp_path / "r.json", tmp_path / "r.html"
    report.write_text("{}")
    html.write_text("<html></html>")

    logged = log_validation_run(uri, _run(), [report, html])
    assert logged is not None
    got = client.get_run(logged.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.tags["e2e.verdict"] == "failed"
    assert got.data.tags["e2e.model_version"] == "1"
    assert got.data.tags["e2e.drill"] == "policy_violation@decide[decision]"
    assert got.data.metrics["checks_failed"] == 2.0 and got.data.metrics["drift_share"] == 0.25
    assert sorted(a.path for a in client.list_artifacts(logged.run_id, "report")) == [
        "report/r.html", "report/r.json"]
    version = client.get_model_version("credit_approval", "1")
    assert version.tags[LAST_VALIDATION_TAG] == logged.run_id
    experiment = client.get_experiment(logged.experiment_id)
    assert experiment.name == "e2e-assets/credit_approval/validation"
    # a run that stopped before resolving a model logs nothing
    assert log_validation_run(uri, _run(model={}), [report]) is None
