"""Monitoring checks (drift) as standalone Dagster asset checks, a checks-only job and a schedule.

Unlike the gating checks (evaluated inside the stage), these read the stage's stored output:
in the journey job, the output of the same run; from ``<journey>_drift_checks`` and
``<journey>_drift_schedule``, the journey's latest output, without re-materializing any stage.
In the journey job they run after their stage and, when blocking, stop the stages downstream.
"""

from dataclasses import replace
from typing import Any

import dagster as dg

from e2e_assets.checks.base import CheckResult, ConfiguredCheck
from e2e_assets.checks.runner import EvaluatedCheck, evaluate_one
from e2e_assets.errors import E2EAssetsError
from e2e_assets.identity import model_identity
from e2e_assets.orchestration.checks import (
    DESCRIPTION_LIMIT,
    check_description,
    check_spec_metadata,
    journey_partitions_def,
    partitioned_checks,
    to_check_result,
)
from e2e_assets.orchestration.resources import (
    DRILL_TAG,
    SHADOW_TAG,
    MlflowResource,
    StageStore,
    handoff_run_id,
)
from e2e_assets.protocol import monitor_context
from e2e_assets.sinks import shadow_table
from e2e_assets.spec import Journey

DEFAULT_CRON = "0 * * * *"


def build_monitor_checks(journey: Journey) -> list[dg.AssetChecksDefinition]:
    """One asset check per monitoring check (``kind: drift``) of the journey's spec."""
    return [_monitor_check(journey, check) for stage in journey.stages
            for check in journey.checks_for(stage, "monitor")]


def _monitor_check(journey: Journey, check: ConfiguredCheck) -> dg.AssetChecksDefinition:
    stage = check.stage

    def _check(context: dg.AssetCheckExecutionContext, mlflow: MlflowResource,
               e2e_store: StageStore) -> dg.AssetCheckResult:
        partition = context.partition_key if context.has_partition_key else None
        result = _evaluate(context, mlflow, e2e_store, partition)
        return result if partition is None else _of_partition(result, partition)

    def _evaluate(context: dg.AssetCheckExecutionContext, mlflow: MlflowResource,
                  e2e_store: StageStore, partition: str | None) -> dg.AssetCheckResult:
        served = mlflow.served(journey, context.run.tags)
        store = e2e_store.for_run(journey, handoff_run_id(context.run), partition)
        mine = store.record(store.run_id, stage)
        try:  # the output this run wrote, else the journey's latest, digest verified
            output = store.read(mine.ref) if mine is not None else store.read_latest(stage)
        except E2EAssetsError as exc:  # always a result: a check with none lets all pass
            failed = CheckResult(False, f"check could not be evaluated: {exc}",
                                 {"error": f"{type(exc).__name__}: {exc}"})
            return to_check_result(journey, EvaluatedCheck(
                stage=stage, name=check.name, kind=check.kind.name, severity=check.severity,
                blocking=check.blocking, result=failed), {"journey": journey.name,
                                                          "dagster_run_id": context.run.run_id})
        record = served.record()
        ctx = monitor_context(journey, stage, output, served, mlflow.tracking_uri,
                              sink_table=shadow_table(journey.spec.sink.table)
                              if context.run.tags.get(SHADOW_TAG) == "true" else None,
                              dagster_run_id=context.run.run_id)
        provenance: dict[str, Any] = {"journey": journey.name,
                                      "dagster_run_id": context.run.run_id,
                                      "config_digest": journey.config_digest,
                                      **model_identity(record),
                                      "output_from_run": mine.ref.run_id if mine else
                                      store.latest().get(stage, "")}
        evaluated = evaluate_one(ctx, check)
        if (context.run.tags.get(SHADOW_TAG) == "true" and DRILL_TAG not in context.run.tags
                and not evaluated.result.passed):  # a drill shows drift as production would
            evaluated = _reported_not_blocking(evaluated)
        return to_check_result(journey, evaluated, provenance)

    with partitioned_checks():
        return dg.asset_check(asset=dg.AssetKey([journey.name, stage]), name=check.name,
                              blocking=check.blocking, description=check_description(check),
                              metadata=check_spec_metadata(check),
                              partitions_def=journey_partitions_def(journey))(_check)


def _of_partition(result: dg.AssetCheckResult, partition: str) -> dg.AssetCheckResult:
    """A partitioned journey's check evaluated one day's rows (drift: that day's against the
    reference); its result says which, first in its description and in its metadata."""
    return dg.AssetCheckResult(asset_key=result.asset_key, check_name=result.check_name,
                               passed=result.passed, severity=result.severity,
                               metadata={**result.metadata, "partition": partition},
                               description=f"partition {partition}: "
                                           f"{result.description or ''}"[:DESCRIPTION_LIMIT])


def _reported_not_blocking(evaluated: EvaluatedCheck) -> EvaluatedCheck:
    """In the promotion gate's validation run, drift is reported as a warning: the data
    drifted (that is why the candidate exists), the candidate did not. The candidate is judged
    by quality, challenger, golden, contract and rules checks; drift keeps its say in the
    journey's own runs and in the retraining sensor."""
    note = " (gate validation run: drift is reported, not blocking)"
    result = replace(evaluated.result, summary=evaluated.result.summary + note,
                     metadata={**evaluated.result.metadata, "gate_run": True})
    return replace(evaluated, severity="warn", blocking=False, result=result)


def drift_checks_job_name(journey: Journey) -> str:
    return f"{journey.name}_drift_checks"


def build_drift_job_and_schedule(journey: Journey, checks: list[dg.AssetChecksDefinition],
                                 cron: str = DEFAULT_CRON
                                 ) -> tuple[list[Any], list[dg.ScheduleDefinition]]:
    if not checks:
        return [], []
    keys = [key for c in checks for key in c.check_keys]
    job = dg.define_asset_job(drift_checks_job_name(journey),
                              selection=dg.AssetSelection.checks(*keys),
                              description=f"Re-evaluate {journey.name}'s drift checks on the "
                                          f"stored stage outputs (no stage re-runs).",
                              # one process for the run: a process per check step would import
                              # the code location again for each (seconds each, for no gain)
                              executor_def=dg.in_process_executor)
    schedule = dg.ScheduleDefinition(name=f"{journey.name}_drift_schedule", job=job,
                                     cron_schedule=cron,
                                     default_status=dg.DefaultScheduleStatus.STOPPED)
    return [job], [schedule]
