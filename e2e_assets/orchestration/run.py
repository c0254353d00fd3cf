"""Headless journey runs: preflight, execute the journey job on a real Dagster instance, summarize.

The instance lives in the home's ``dagster/`` folder (or ``$DAGSTER_HOME``), so every headless run
shows up in ``dagster dev`` afterwards.
"""

import os
from time import perf_counter
from typing import Any

import dagster as dg

from e2e_assets.db import check_reachable
from e2e_assets.errors import E2EAssetsError
from e2e_assets.home import Home
from e2e_assets.model_registry import resolve_model
from e2e_assets.orchestration.factory import build_journey_definitions, journey_job_name
from e2e_assets.orchestration.resources import ALIAS_TAG
from e2e_assets.results import CheckOutcome, JourneyRun, StageResult
from e2e_assets.sources import read_source
from e2e_assets.spec import STAGES, Journey
from e2e_assets.spec.model import SqlSource

_OUR_ERRORS = {"StageError": "stage", "SpecError": "config", "InfrastructureError": "config",
               "ModelResolutionError": "config"}

# Headless runs report through the summary table; the event log keeps the full detail.
_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def preflight(journey: Journey, home: Home, alias: str | None = None) -> dict[str, str]:
    """Fail fast (E2EAssetsError) if the source, the sink or the model is not there."""
    spec = journey.spec
    if isinstance(spec.source, SqlSource):
        check_reachable(spec.source.url, f"the source of journey '{journey.name}'")
    else:
        read_source(journey).head(0)
    check_reachable(spec.sink.url, f"the sink of journey '{journey.name}'")
    model = resolve_model(home.tracking_uri, spec.model.uri, alias)
    return {"name": model.name, "version": model.version, "alias": model.alias,
            "run_id": model.run_id or ""}

def instance_for(home: Home) -> dg.DagsterInstance:
    home.ensure()
    os.environ.setdefault("DAGSTER_HOME", str(home.dagster_home))
    return dg.DagsterInstance.get()

def run_journey(journey: Journey, home: Home, *, alias: str | None = None,
                instance: dg.DagsterInstance | None = None) -> JourneyRun:
    """Run every stage and check of ``journey``; never raises for a failed run, only reports."""
    started = perf_counter()
    try:
        model = preflight(journey, home, alias)
        defs = build_journey_definitions(journey, home=home)
    except E2EAssetsError as exc:
        return JourneyRun(journey=journey.name, run_id=None, stages=(), error=str(exc),
                          error_kind="config", wall_time_s=perf_counter() - started)
    job = defs.resolve_job_def(journey_job_name(journey))
    tags = {ALIAS_TAG: alias} if alias else {}
    result = job.execute_in_process(instance=instance or instance_for(home), tags=tags,
                                    raise_on_error=False, run_config=_QUIET)
    return summarize(journey, result, model, perf_counter() - started)

def summarize(journey: Journey, result: Any, model: dict[str, str], wall: float) -> JourneyRun:
    by_stage: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        by_stage[mat.asset_key.path[-1]] = meta
    failed_steps = {e.step_key for e in result.get_step_failure_events()}
    checks = tuple(_outcome(e) for e in result.get_asset_check_evaluations())
    blocked = {c.stage for c in checks if not c.passed and c.blocking and c.severity == "error"}
    stages = []
    for stage in STAGES:
        meta = by_stage.get(stage)
        if meta is not None:
            stages.append(StageResult(stage, "materialized", meta.get("rows_in"),
                                      meta.get("rows_out"), meta.get("wall_time_s"),
                                      meta.get("data_digest")))
        else:
            failed = any(k.endswith(f"__{stage}") for k in failed_steps)
            status = "blocked" if stage in blocked else "failed" if failed else "skipped"
            stages.append(StageResult(stage, status))
    error, kind = _first_error(result)
    return JourneyRun(journey=journey.name, run_id=result.run_id, stages=tuple(stages),
                      checks=checks, error=error, error_kind=kind, model=model,
                      wall_time_s=wall)

def _outcome(evaluation: Any) -> CheckOutcome:
    meta = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
    severity = "warn" if evaluation.severity == dg.AssetCheckSeverity.WARN else "error"
    return CheckOutcome(stage=evaluation.asset_key.path[-1], name=evaluation.check_name,
                        passed=bool(evaluation.passed), severity=severity,
                        blocking=bool(evaluation.blocking),
                        description=str(meta.get("summary", evaluation.description or "")))

def _first_error(result: Any) -> tuple[str | None, str | None]:
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        chain = []
        while error is not None:
            chain.append(error)
            error = error.cause
        if any(e.cls_name == "DagsterAssetCheckFailedError" for e in chain):
            continue  # a blocking check stopped the step: reported as a check, not an error
        ours = [e for e in chain if e.cls_name in _OUR_ERRORS]
        root = ours[-1] if ours else chain[-1]
        kind = _OUR_ERRORS.get(root.cls_name, "stage")
        message = root.message.strip().splitlines()[0] if root.message else root.cls_name
        if not ours:  # an error from outside our code (e.g. I/O): say where it happened
            message = f"step {event.step_key} failed: {message}"
        return message.removeprefix(f"{root.cls_name}: ").strip(), kind
    return None, None
