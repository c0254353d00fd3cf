"""Each journey run's results in MLflow, where the model lives: a validation run in the
experiment ``e2e-assets/<journey>/validation``, linked to the model version it judged.

* **tags**: ``e2e.journey``, ``e2e.model_name``, ``e2e.model_version``, ``e2e.model_alias``,
  ``e2e.dagster_run_id``, ``e2e.verdict`` (passed/failed/error), ``e2e.drill`` on drills;
* **metrics**: ``checks_passed``, ``checks_failed``, ``checks_not_evaluated``,
  ``blocking_failures``, ``drift_share`` (the largest of the run's drift checks),
  ``wall_time_s`` and ``stage_wall_s.<stage>``;
* **artifacts**: the run's JSON and HTML reports under ``report/``.

The model version gets the tag ``e2e.last_validation_run`` (the validation run's id), so the
model's page in MLflow leads to its latest evidence. Pure core: MLflow's client only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from e2e_assets.model_registry import client_for
from e2e_assets.results import JourneyRun

LAST_VALIDATION_TAG = "e2e.last_validation_run"


@dataclass(frozen=True)
class ValidationRun:
    run_id: str
    experiment_id: str


def validation_metrics(run: JourneyRun) -> dict[str, float]:
    evaluated = [c for c in run.checks if c.evaluated]
    drift = [float(v) for c in evaluated for k, v in c.metadata.items()
             if k == "drift_share" and isinstance(v, (int, float))]
    metrics = {"checks_passed": float(sum(c.passed for c in evaluated)),
               "checks_failed": float(sum(not c.passed for c in evaluated)),
               "checks_not_evaluated": float(len(run.checks) - len(evaluated)),
               "blocking_failures": float(len(run.blocking_failures)),
               "wall_time_s": round(run.wall_time_s, 3)}
    if drift:
        metrics["drift_share"] = max(drift)
    metrics.update({f"stage_wall_s.{s.stage}": round(s.wall_time_s, 4) for s in run.stages
                    if s.wall_time_s is not None})
    return metrics


def log_validation_run(tracking_uri: str, run: JourneyRun, reports: Sequence[Path]
                       ) -> ValidationRun | None:
    """Log ``run`` to MLflow; None for a run that judged no model (it stopped before one was
    resolved, or the journey serves none)."""
    name, version = run.model.get("name"), run.model.get("version")
    if not name or not version:
        return None
    client = client_for(tracking_uri)
    experiment = f"e2e-assets/{run.journey}/validation"
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    tags = {"mlflow.runName": f"{run.journey} {run.status} ({run.run_id or 'no run'})",
            "e2e.journey": run.journey, "e2e.model_name": name, "e2e.model_version": version,
            "e2e.model_alias": run.model.get("alias", ""),
            "e2e.dagster_run_id": run.run_id or "", "e2e.verdict": run.status}
    if run.drill:
        tags["e2e.drill"] = ", ".join(run.drill)
    created = client.create_run(experiment_id, tags=tags)
    run_id = created.info.run_id
    try:
        for key, value in validation_metrics(run).items():
            client.log_metric(run_id, key, value)
        for path in reports:
            client.log_artifact(run_id, str(path), artifact_path="report")
        client.set_model_version_tag(name, version, LAST_VALIDATION_TAG, run_id)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return ValidationRun(run_id, experiment_id)
