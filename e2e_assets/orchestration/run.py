"""Headless journey runs: check and dry-run everything first, then execute the journey job on the
home's real Dagster instance, one Dagster run per stage (see :func:`_run_stage_by_stage`), then
summarize from their event logs.

Every configuration error (spec, source, sink, registry, a check naming a column the data lacks)
is found before the Dagster run starts and ends the run with exit 2; the run then never appears
in Dagster. The instance is the home's, so every headless run shows up in ``dagster dev``.
"""

import json
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from time import perf_counter
from typing import Any

import dagster as dg

from e2e_assets.dryrun import DEFAULT_SAMPLE_ROWS, preflight
from e2e_assets.errors import (
    EXIT_CHECK_FAILED,
    DryRunError,
    E2EAssetsError,
    InfrastructureError,
    exit_code_for,
)
from e2e_assets.home import Home
from e2e_assets.identity import definition_tags, served_tags
from e2e_assets.orchestration.checks import NOT_EVALUATED, is_setting, journey_partitions_def
from e2e_assets.orchestration.executors import reconstructable_journey_job, runs_on_workers
from e2e_assets.orchestration.factory import build_journey_definitions, journey_job_name
from e2e_assets.orchestration.instance import instance_for, process_tags
from e2e_assets.orchestration.resources import (
    ALIAS_TAG,
    BASELINE_TAG_PREFIX,
    DRILL_TAG,
    JOURNEY_RUN_TAG,
    SHADOW_TAG,
    pin_tags,
    unblessed_tag,
)
from e2e_assets.results import CheckOutcome, JourneyRun, StageResult
from e2e_assets.serving import NO_BASELINE, ServedModels
from e2e_assets.spec import Journey

# Headless runs report through the summary table; the event log keeps the full detail.
_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def run_journey(journey: Journey, home: Home, *, alias: str | None = None,
                instance: dg.DagsterInstance | None = None,
                sample_rows: int = DEFAULT_SAMPLE_ROWS, allow_unblessed: bool = False,
                served: ServedModels | None = None, shadow: bool = False,
                tags: Mapping[str, str] | None = None, partition: str | None = None
                ) -> JourneyRun:
    """Run every stage and check of ``journey``; never raises for a failed run, only reports.

    ``allow_unblessed`` serves unblessed versions (a drill; the run's tags record it).
    ``served`` gives the models already configured (the gate: the candidate pinned, the
    champion as baseline); ``shadow`` delivers to the shadow sink and never publishes.
    A journey with injected faults is a drill: always shadow, tagged ``e2e/drill``.
    A partitioned journey runs one ``partition`` (a day), which it must be given.
    """
    started = perf_counter()
    drill, validation = journey.injected, shadow  # validation: the gate's run
    shadow = shadow or bool(drill)
    if served is None and allow_unblessed:
        served = ServedModels(journey, home.tracking_uri, alias, allow_unblessed=True)
    try:
        check_partition(journey, partition)
        served = preflight(journey, home, alias, sample_rows=sample_rows, served=served)
        defs = build_journey_definitions(journey, home=home)
        instance = instance or instance_for(home)
    except E2EAssetsError as exc:
        problems = exc.problems if isinstance(exc, DryRunError) else ()
        return JourneyRun(journey=journey.name, run_id=None, stages=(), error=str(exc),
                          error_exit_code=exc.exit_code, problems=problems,
                          wall_time_s=perf_counter() - started, drill=drill)
    job = defs.resolve_job_def(journey_job_name(journey))
    tags = {**definition_tags(journey), **served_tags(served.summary()), **process_tags(),
            **pin_tags(served.pinned()),
            **pin_tags(_baseline_pins(served), BASELINE_TAG_PREFIX),
            **unblessed_tag(served.allow_unblessed),
            **({SHADOW_TAG: "true"} if shadow else {}),
            **({DRILL_TAG: ", ".join(drill)} if drill else {}),
            **({ALIAS_TAG: alias} if alias else {}), **(tags or {})}
    if runs_on_workers(journey, home):
        results = _run_on_workers(journey, home, instance, tags, partition)
    else:
        results = _run_stage_by_stage(journey, job, instance, tags, partition)
    run = summarize(journey, results, served.summary(), perf_counter() - started)
    return replace(run, unblessed_allowed=bool(served.allow_unblessed) and not validation,
                   drill=drill)


def check_partition(journey: Journey, partition: str | None) -> None:
    """A partitioned journey runs one of its partitions; any other journey none."""
    spec, partitions = journey.spec.partitions, journey_partitions_def(journey)
    if spec is None or partitions is None:
        if partition is not None:
            raise InfrastructureError(f"journey '{journey.name}' is not partitioned (no "
                                      f"'partitions:' in {journey.path}); got partition "
                                      f"{partition!r}")
        return
    last = partitions.get_last_partition_key()
    if partition is None:
        raise InfrastructureError(f"journey '{journey.name}' is partitioned by day: name the "
                                  f"day to run (--partition YYYY-MM-DD); its last complete "
                                  f"day is {last}")
    if not partitions.has_partition_key(partition):
        daily = spec.daily
        raise InfrastructureError(f"journey '{journey.name}' has no partition {partition!r}: "
                                  f"expected a complete day YYYY-MM-DD from {daily.start} "
                                  f"(partitions.daily.start)"
                                  + (f" before {daily.end}" if daily.end else "")
                                  + f"; the last complete day is {last}")


def _partition_tags(partition: str | None) -> dict[str, str]:
    return {} if partition is None else {"dagster/partition": partition}


def _run_on_workers(journey: Journey, home: Home, instance: dg.DagsterInstance,
                    tags: Mapping[str, str], partition: str | None) -> list[Any]:
    """:func:`_run_stage_by_stage` on the celery workers: ``dg.execute_job`` on a job the
    workers rebuild from a pointer (``execute_in_process`` cannot leave this process). It
    cannot choose the first run's id, so the first run keys the hand-off by its own id (as any
    run without the tag does) and gets the tag when it is done."""
    job = reconstructable_journey_job(journey, home)
    journey_run: str | None = None
    results: list[Any] = []
    for stage in journey.stages:
        run_tags = {**tags, **_partition_tags(partition),
                    **({JOURNEY_RUN_TAG: journey_run} if journey_run else {})}
        with warnings.catch_warnings():
            # dagster-celery defines its task again for every step it sends, and celery warns
            # that the name is taken (by the same function): noise on every step
            warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already "
                                                      "registered")
            # events are read off the result; opening it (for outputs) would rebuild resources
            result = dg.execute_job(job, instance=instance, tags=run_tags,
                                    raise_on_error=False, run_config=_QUIET,
                                    asset_selection=[dg.AssetKey([journey.name, stage])])
        results.append(result)
        if journey_run is None:
            journey_run = result.run_id
            instance.add_run_tags(journey_run, {JOURNEY_RUN_TAG: journey_run})
        if not result.success:
            break
    return results


def _run_stage_by_stage(journey: Journey, job: dg.JobDefinition, instance: dg.DagsterInstance,
                        tags: Mapping[str, str], partition: str | None = None) -> list[Any]:
    """One Dagster run per stage, in order, stopping after the first that does not succeed.

    Why not one run: Dagster plans every check of a run when it creates it, and shows each
    planned check that never reported as "execution failed" once the run fails. A blocked score
    would then paint every check of decide and deliver red although none ran. Run by run, the
    blocked stage's run fails (alerting sees it), and the stages after it are never planned:
    their checks keep their last real result. The runs share ``e2e/journey_run`` (the first
    run's id), which keys the hand-off, so each stage reads what the one before it wrote."""
    journey_run = str(uuid.uuid4())  # Dagster's run ids are uuid4 strings too
    results: list[Any] = []
    for stage in journey.stages:
        result = job.execute_in_process(
            instance=instance, tags={**tags, JOURNEY_RUN_TAG: journey_run},
            raise_on_error=False, run_config=_QUIET,
            asset_selection=[dg.AssetKey([journey.name, stage])],
            run_id=journey_run if not results else None, partition_key=partition)
        results.append(result)
        if not result.success:
            break
    return results


def _baseline_pins(served: ServedModels) -> dict[str, str]:
    """Every model stage -> its baseline version when the run started (or 'none')."""
    out = {}
    for stage in served.journey.spec.model_stages:
        baseline = served.baseline(stage)
        out[stage] = baseline.version if baseline is not None else NO_BASELINE
    return out


def summarize(journey: Journey, results: Sequence[Any], model: dict[str, str],
              wall: float) -> JourneyRun:
    """One journey run from its Dagster runs' results (one per stage, or one for all)."""
    by_stage: dict[str, dict[str, Any]] = {}
    for event in (e for r in results for e in r.get_asset_materialization_events()):
        mat = event.materialization
        by_stage[mat.asset_key.path[-1]] = {k: getattr(v, "value", v)
                                            for k, v in mat.metadata.items()}
    failures = [e for r in results for e in r.get_step_failure_events()]
    failed_steps = {e.step_key for e in failures}
    checks = tuple(_outcome(e) for r in results for e in r.get_asset_check_evaluations())
    blocked = {c.stage for c in checks if c.failed and c.blocking}
    stages = []
    for stage in journey.stages:
        meta = by_stage.get(stage)
        if meta is not None:
            stages.append(StageResult(stage, "materialized", meta.get("rows_in"),
                                      meta.get("rows_out"), meta.get("wall_time_s"),
                                      meta.get("data_digest")))
        else:
            failed = any(k.endswith(f"__{stage}") for k in failed_steps)
            status = "blocked" if stage in blocked else "failed" if failed else "skipped"
            stages.append(StageResult(stage, status))
    error, code = _first_error(failures)
    return JourneyRun(journey=journey.name, run_id=results[0].run_id, stages=tuple(stages),
                      checks=checks + _never_ran(journey, checks, stages), error=error,
                      error_exit_code=code, model=model, wall_time_s=wall,
                      dagster_run_ids=tuple(r.run_id for r in results))


def _never_ran(journey: Journey, checks: tuple[CheckOutcome, ...],
               stages: list[StageResult]) -> tuple[CheckOutcome, ...]:
    """Every configured check with no evaluation in the run, as not evaluated (never as
    failed): its stage was blocked, failed or skipped before the check's phase."""
    ran = {(c.stage, c.name) for c in checks}
    status = {s.stage: s.status for s in stages}
    stopped = next((s.stage for s in stages if s.status in ("blocked", "failed")), None)
    out = []
    for stage in journey.stages:
        why = (f"stage '{stage}' was {status[stage]} before this check's phase"
               if status.get(stage) in ("blocked", "failed") or stopped is None
               else f"stage '{stage}' did not run: stage '{stopped}' upstream was "
                    f"{status[stopped]}")
        out += [CheckOutcome(stage=stage, name=c.name, passed=False, severity=c.severity,
                             blocking=c.blocking, description=f"not evaluated: {why}",
                             evaluated=False, kind=c.kind.name)
                for c in journey.checks_for(stage) if (stage, c.name) not in ran]
    return tuple(out)


def _outcome(evaluation: Any) -> CheckOutcome:
    meta = {k: _number_again(k, getattr(v, "value", v)) for k, v in evaluation.metadata.items()}
    severity = "warn" if evaluation.severity == dg.AssetCheckSeverity.WARN else "error"
    return CheckOutcome(stage=evaluation.asset_key.path[-1], name=evaluation.check_name,
                        passed=bool(evaluation.passed), severity=severity,
                        blocking=bool(evaluation.blocking) and severity == "error",
                        description=str(meta.get("summary", evaluation.description or "")),
                        evaluated=not meta.get(NOT_EVALUATED, False),
                        kind=str(meta.get("kind", "")),
                        metadata={k: v for k, v in meta.items()
                                  if isinstance(v, (bool, int, float, str)) and k != "summary"
                                  and not k.startswith("provenance/")},
                        tables={k: [dict(r.data) for r in v.records] for k, v in meta.items()
                                if isinstance(v, dg.TableMetadataValue)})


def _number_again(key: str, value: Any) -> Any:
    """A setting Dagster was given as text (kept out of its plots) as the number it is."""
    if isinstance(value, str) and is_setting(key):
        try:
            return int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            return value
    return value


def _first_error(failures: Sequence[Any]) -> tuple[str | None, int | None]:
    """The first step failure that is not a blocking check, with the exit code its class
    carries (1 for an error from outside e2e-assets: the journey under test broke)."""
    for event in failures:
        error = event.step_failure_data.error
        chain = []
        while error is not None:
            chain.append(error)
            error = error.cause
        if any(e.cls_name == "DagsterAssetCheckFailedError" for e in chain):
            continue  # a blocking check stopped the step: reported as a check, not an error
        ours = [e for e in chain if exit_code_for(e.cls_name) is not None]
        root = ours[-1] if ours else chain[-1]
        message = root.message.strip().splitlines()[0] if root.message else root.cls_name
        for prefix in (f"{root.cls_name}: ", f"e2e_assets.errors.{root.cls_name}: "):
            message = message.removeprefix(prefix)  # Dagster may record the qualified name
        message = message.strip()
        if not ours:  # from outside our code: say where it happened
            message = f"stage step {event.step_key} failed: {root.cls_name}: {message}"
        return message, exit_code_for(root.cls_name) or EXIT_CHECK_FAILED
    return None, None


def record_gate_decision(home: Home, instance: dg.DagsterInstance | None, journey: Journey,
                         stage: str, record: Mapping[str, Any]) -> None:
    """The gate's decision in Dagster: tags on the validation run, and an observation on the
    model stage's asset (its metadata is the record)."""
    instance = instance or instance_for(home)
    run_id = record.get("dagster_run_id")
    if run_id:
        instance.add_run_tags(str(run_id), {"e2e/gate/verdict": str(record["verdict"])})
    metadata = {k: (v if isinstance(v, (str, int, float, bool)) else
                    dg.MetadataValue.json(json.loads(json.dumps(v, default=str))))
                for k, v in record.items() if v is not None}
    instance.report_runless_asset_event(dg.AssetObservation(
        asset_key=dg.AssetKey([journey.name, stage]), metadata=metadata,
        description=f"promotion gate: {record['verdict']}"))
