"""The release loop in Dagster: sustained drift starts a retrain, a retrain starts the gate.

- ``<journey>_retraining_sensor`` reads the drift checks' evaluations from the instance. Drift
  that fails ``release.drift_ticks`` consecutive evaluations is a drift episode; each episode
  requests one ``<journey>_retrain`` run (its run key names the episode).
- ``<journey>_retrain`` calls the core retrain, which registers a challenger; the new version goes
  into the run's tags, and ``<journey>_gate_after_retrain`` requests ``<journey>_gate`` for that
  version when the retrain run succeeds.
- ``<journey>_gate`` and ``<journey>_rollback`` (in :mod:`.release_jobs`) call the core gate;
  the decision is the op's metadata and the run's tags, and a refusal fails the run (red).
- ``<journey>_new_data_sensor`` (a SQL table source with ``release.new_data_column``) requests a
  journey run when rows with a larger value than the last one seen arrive.
"""

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa

from e2e_assets.db import engine_for, masked, reason
from e2e_assets.errors import InfrastructureError, SpecError
from e2e_assets.identity import JOURNEY_TAG
from e2e_assets.orchestration.checks import NOT_EVALUATED
from e2e_assets.orchestration.release_jobs import (
    CANDIDATE_TAG,
    VERDICT_TAG,
    ReleaseResource,
    gate_after_retrain,
    gate_job,
    retrain_job,
    rollback_job,
)
from e2e_assets.orchestration.resources import ALIAS_TAG, SHADOW_TAG, handoff_run_id
from e2e_assets.spec import Journey
from e2e_assets.spec.model import SqlSource

EPISODE_TAG = "e2e/drift_episode"
NEW_DATA_TAG = "e2e/new_data_max"
# Drift evaluations read per check and sensor tick; an episode longer than this continues the
# episode already open (the sensor's cursor) rather than starting a new one.
DRIFT_WINDOW = 200


# --- drift episodes (pure) ----------------------------------------------------------------------

@dataclass(frozen=True)
class DriftTick:
    """One evaluation of a journey's drift checks: the run that made it, and whether any of the
    checks it evaluated failed."""

    run_id: str
    drifted: bool


def drift_streak(ticks: Sequence[DriftTick]) -> int:
    """How many of the newest ``ticks`` (newest first) drifted in a row."""
    return sum(1 for _ in itertools.takewhile(lambda t: t.drifted, ticks))


def drift_episode(ticks: Sequence[DriftTick], k: int, *, complete: bool = True,
                  open_episode: str | None = None) -> str | None:
    """The drift episode the newest evaluation belongs to once it has lasted ``k`` evaluations,
    else None. ``ticks`` are newest first.

    An episode is a streak of drifted evaluations; its id is the run id of the first one, so every
    later evaluation of the same streak names the same episode. When the streak reaches past the
    oldest tick and older ones were not read (``complete`` False), its start is unknown: the
    episode already open (``open_episode``) goes on, else the oldest tick read starts it.
    """
    streak = drift_streak(ticks)
    if streak < k:
        return None
    if streak == len(ticks) and not complete and open_episode is not None:
        return open_episode
    return ticks[streak - 1].run_id


# --- reading the evaluations from the instance --------------------------------------------------

def drift_check_keys(journey: Journey) -> list[dg.AssetCheckKey]:
    return [dg.AssetCheckKey(dg.AssetKey([journey.name, c.stage]), c.name)
            for stage in journey.stages for c in journey.checks_for(stage, "monitor")]


def _is_evidence(evaluation: dg.AssetCheckEvaluation) -> bool:
    """A check that could not be evaluated (no stored output, an error) says nothing of drift."""
    return NOT_EVALUATED not in evaluation.metadata and "error" not in evaluation.metadata


def _is_monitoring_run(journey: Journey, tags: Mapping[str, str]) -> bool:
    """Production evaluations only: not the gate's validation runs, nor a run of another alias."""
    if tags.get(SHADOW_TAG) == "true":
        return False
    model = journey.spec.primary_model
    alias = tags.get(ALIAS_TAG)
    return alias is None or model is None or alias == model.alias


def read_drift_ticks(instance: dg.DagsterInstance, journey: Journey,
                     window: int = DRIFT_WINDOW) -> tuple[list[DriftTick], bool]:
    """The journey's drift evaluations, one tick per journey run (its Dagster runs, one per stage,
    share ``e2e/journey_run``; a drift-checks job run is one tick of its own), newest first; and
    whether that is the whole history (False when some check had more than ``window``
    evaluations)."""
    evidence: list[tuple[str, int, bool]] = []  # (Dagster run id, record id, drifted)
    complete = True
    for key in drift_check_keys(journey):
        records = instance.event_log_storage.get_asset_check_execution_history(key, limit=window)
        complete = complete and len(records) < window
        for record in records:
            evaluation = record.evaluation  # the planned event while the check has not run
            if isinstance(evaluation, dg.AssetCheckEvaluation) and _is_evidence(evaluation):
                evidence.append((record.run_id, record.id, not evaluation.passed))
    if not evidence:
        return [], complete
    runs = instance.get_runs(filters=dg.RunsFilter(run_ids=list({e[0] for e in evidence})))
    tick_of = {run.run_id: handoff_run_id(run) for run in runs
               if _is_monitoring_run(journey, run.tags)}
    newest: dict[str, int] = {}
    drifted: dict[str, bool] = {}
    for run_id, record_id, drift in evidence:
        if run_id in tick_of:
            tick = tick_of[run_id]
            newest[tick] = max(newest.get(tick, 0), record_id)
            drifted[tick] = drifted.get(tick, False) or drift
    order = sorted(newest, key=newest.__getitem__, reverse=True)
    return [DriftTick(tick, drifted[tick]) for tick in order], complete


def _retraining_sensor(journey: Journey, retrain_job: dg.JobDefinition) -> dg.SensorDefinition:
    k = journey.spec.release.drift_ticks

    # By name: a sensor holding the job object trips a beta warning in Dagster's resource binding.
    @dg.sensor(name=f"{journey.name}_retraining_sensor", job_name=retrain_job.name,
               minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
               description=f"Requests one {retrain_job.name} run per drift episode: {k} "
                           f"consecutive failed evaluations of {journey.name}'s drift checks.")
    def _sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        ticks, complete = read_drift_ticks(context.instance, journey)
        open_episode = context.cursor or None
        episode = drift_episode(ticks, k, complete=complete, open_episode=open_episode)
        streak = drift_streak(ticks)
        if episode is None:
            if open_episode is not None:
                context.update_cursor(None)  # the episode is over
            return dg.SkipReason(f"{streak} of {k} consecutive drifted evaluations "
                                 f"({len(ticks)} read)")
        if episode == open_episode:
            return dg.SkipReason(f"drift episode {episode} ({streak} evaluations) already "
                                 f"requested its retrain")
        context.update_cursor(episode)
        return dg.RunRequest(run_key=f"drift_episode:{episode}",
                             tags={JOURNEY_TAG: journey.name, EPISODE_TAG: episode,
                                   "e2e/drift_ticks": str(streak)})

    return _sensor


# --- new rows in a SQL source -------------------------------------------------------------------

def _parse(value: str, column: sa.Column[Any]) -> Any:
    """A cursor (the string of a value this column held) as the column's Python type."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if kind in (datetime, date):
        return kind.fromisoformat(value)
    return kind(value)


def new_rows(url: str, table: str, column: str, after: str | None) -> tuple[str | None, int]:
    """The largest value of ``column`` in ``table`` (as a string, None when the table holds
    none) and how many rows hold a value larger than ``after`` (every row when None)."""
    try:
        with engine_for(url).connect() as conn:
            if not sa.inspect(conn).has_table(table):
                raise InfrastructureError(f"new-data sensor: source table '{table}' does not "
                                          f"exist at {masked(url)}")
            reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
            if column not in reflected.c:
                raise SpecError(f"release.new_data_column: table '{table}' has no column "
                                f"'{column}'; its columns: {list(reflected.c.keys())}")
            col = reflected.c[column]
            newest = conn.execute(sa.select(sa.func.max(col))).scalar()
            count = sa.select(sa.func.count()).select_from(reflected).where(col.is_not(None))
            if after is not None:
                count = count.where(col > _parse(after, col))
            rows = conn.execute(count).scalar() or 0
    except sa.exc.SQLAlchemyError as exc:
        raise InfrastructureError(f"new-data sensor: cannot read '{table}' at {masked(url)}: "
                                  f"{reason(exc)}") from exc
    return (None if newest is None else str(newest)), int(rows)


def _new_data_sensor(journey: Journey, journey_job: str) -> dg.SensorDefinition | None:
    column = journey.spec.release.new_data_column
    if column is None:
        return None
    source = journey.spec.source
    if not isinstance(source, SqlSource) or source.table is None:
        raise dg.DagsterInvalidDefinitionError(
            f"journey '{journey.name}': release.new_data_column needs a SQL source with a "
            f"'table'; the source is {source.kind}" + (" with a query" if
                                                      isinstance(source, SqlSource) else ""))
    url, table = source.url, source.table

    @dg.sensor(name=f"{journey.name}_new_data_sensor", job_name=journey_job,
               minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
               description=f"Requests a {journey_job} run when rows with a larger "
                           f"'{column}' than the last seen arrive in '{table}'.")
    def _sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        newest, rows = new_rows(url, table, column, context.cursor or None)
        if newest is None or rows == 0:
            return dg.SkipReason(f"no rows in '{table}' with {column} > {context.cursor}"
                                 if context.cursor else f"'{table}' has no rows yet")
        context.update_cursor(newest)
        return dg.RunRequest(run_key=f"new_data:{newest}",
                             tags={JOURNEY_TAG: journey.name, NEW_DATA_TAG: newest,
                                   "e2e/new_rows": str(rows)})

    return _sensor


def build_release_definitions(journey: Journey, journey_job: str) -> dg.Definitions:
    """The parts of the release loop ``journey``'s spec supports: the gate when it serves a model;
    the retrain, its sensors and the gate after it when it has a retrain hook; the new-data
    sensor when it names a new-data column. ``journey_job`` is the job new data requests."""
    jobs: list[dg.JobDefinition] = []
    sensors: list[dg.SensorDefinition] = []
    if journey.spec.record_stage is not None:
        jobs += [gate := gate_job(journey), rollback_job(journey)]
        if journey.spec.release.retrain is not None:
            jobs.append(retrain := retrain_job(journey))
            sensors.append(gate_after_retrain(journey, retrain, gate))
            if drift_check_keys(journey):
                sensors.append(_retraining_sensor(journey, retrain))
    new_data = _new_data_sensor(journey, journey_job)
    if new_data is not None:
        sensors.append(new_data)
    return dg.Definitions(jobs=jobs, sensors=sensors)


__all__ = ["CANDIDATE_TAG", "VERDICT_TAG", "DriftTick", "ReleaseResource",
           "build_release_definitions", "drift_episode", "drift_streak", "new_rows",
           "read_drift_ticks"]
