"""Drift checks as standalone Dagster asset checks, a checks-only job and a drift schedule.

Unlike the gating checks (evaluated inside the stage), these read the stage's stored output, so
``<journey>_drift_checks`` and ``<journey>_drift_schedule`` re-evaluate drift without
re-materializing any stage. In the journey job they run after their stage and, when blocking,
stop the stages downstream.
"""

from typing import Any

import dagster as dg

from e2e_assets.checks.base import StageCheckContext, get_kind
from e2e_assets.checks.runner import evaluate_one
from e2e_assets.orchestration.checks import check_description, to_check_result
from e2e_assets.orchestration.resources import ALIAS_TAG, MlflowResource, StageStore
from e2e_assets.spec import Journey

DEFAULT_CRON = "0 * * * *"


def build_drift_checks(journey: Journey) -> list[dg.AssetChecksDefinition]:
    """One asset check per ``kind: drift`` entry of the journey's spec."""
    out = []
    for stage, checks in journey.spec.checks.items():
        for index, check in enumerate(checks):
            if get_kind(check.kind).phase_for(stage, journey.check_options(stage, index)) \
                    == "monitor":
                out.append(_drift_check(journey, stage, index))
    return out


def _drift_check(journey: Journey, stage: str, index: int) -> dg.AssetChecksDefinition:
    check = journey.spec.checks[stage][index]  # type: ignore[index]

    @dg.asset_check(asset=dg.AssetKey([journey.name, stage]), name=check.check_name,
                    blocking=check.blocking,
                    description=check_description(get_kind(check.kind).description, check),
                    metadata={"kind": check.kind, "severity": check.severity})
    def _check(context: dg.AssetCheckExecutionContext, mlflow: MlflowResource,
               e2e_store: StageStore) -> dg.AssetCheckResult:
        resolved = mlflow.resolve(journey.spec.model.uri, context.run.tags.get(ALIAS_TAG))
        needs_model = stage in ("score", "decide", "deliver")  # the reference goes through score
        ctx = StageCheckContext(journey=journey, stage=stage, input=None,
                                output=e2e_store.read(journey.name, stage),
                                model=mlflow.load(resolved) if needs_model else None,
                                resolved_model=resolved, tracking_uri=mlflow.tracking_uri)
        evaluated = evaluate_one(ctx, index, check)
        provenance: dict[str, Any] = {"journey": journey.name,
                                      "dagster_run_id": context.run.run_id,
                                      "config_digest": journey.config_digest,
                                      "model_version": resolved.version}
        return to_check_result(journey, evaluated, provenance)

    return _check


def drift_checks_job_name(journey: Journey) -> str:
    return f"{journey.name}_drift_checks"


def build_drift_job_and_schedule(journey: Journey, checks: list[dg.AssetChecksDefinition],
                                 cron: str = DEFAULT_CRON
                                 ) -> tuple[list[Any],
                                            list[dg.ScheduleDefinition]]:
    if not checks:
        return [], []
    keys = [key for c in checks for key in c.check_keys]
    job = dg.define_asset_job(drift_checks_job_name(journey),
                              selection=dg.AssetSelection.checks(*keys),
                              description=f"Re-evaluate {journey.name}'s drift checks on the "
                                          f"stored stage outputs (no stage re-runs).")
    schedule = dg.ScheduleDefinition(name=f"{journey.name}_drift_schedule", job=job,
                                     cron_schedule=cron,
                                     default_status=dg.DefaultScheduleStatus.STOPPED)
    return [job], [schedule]
