"""Turn a journey into Dagster definitions: one asset ``[journey, stage]`` per stage, one group.

Assets are thin adapters over the core's stage protocol
(:func:`e2e_assets.protocol.run_stage_protocol`): build the run's context from the resources,
call the protocol, and show its outcome as a materialization plus check results. Stages hand
frames to each other through the per-run stage store, never through another run's.
"""

import functools
import inspect
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from e2e_assets.checks.contract import ColumnContract, ContractOptions
from e2e_assets.db import url_backend
from e2e_assets.discovery import load_all
from e2e_assets.errors import E2EAssetsError
from e2e_assets.home import Home
from e2e_assets.identity import JOURNEY_TAG, MODEL_VERSION_TAG, definition_tags, served_tags
from e2e_assets.orchestration.checks import (
    build_stage_check_specs,
    journey_partitions_def,
    metadata_value,
    not_evaluated_result,
    to_check_result,
)
from e2e_assets.orchestration.executors import journey_executor
from e2e_assets.orchestration.monitor_checks import (
    build_drift_job_and_schedule,
    build_monitor_checks,
)
from e2e_assets.orchestration.release import ReleaseResource, build_release_definitions
from e2e_assets.orchestration.resources import (
    JOURNEY_RUN_TAG,
    SHADOW_TAG,
    MlflowResource,
    StageStore,
    handoff_run_id,
)
from e2e_assets.protocol import RunContext, StageOutcome, run_stage_protocol
from e2e_assets.spec import Journey
from e2e_assets.spec.model import SqlSource

_DEFAULT_DESCRIPTIONS = {
    "ingest": "Requests read from the journey's source.",
    "deliver": "Decisions handed to the downstream consumer.",
}


# What a blocked stage's check results say, since Dagster links them to the asset's previous
# materialization (the newest there is) although they evaluated this run's output.
NOTHING_MATERIALIZED = ("none: the stage was blocked, so this run materialized nothing; the "
                        "check evaluated this run's output, not the previous materialization")


def journey_job_name(journey: Journey | str) -> str:
    return f"{journey if isinstance(journey, str) else journey.name}_journey"


def _description(journey: Journey, stage: str) -> str:
    stage_spec = journey.spec.stage(stage)
    if stage_spec is not None and stage_spec.description:
        return stage_spec.description
    fn = journey.functions.get(stage) if stage_spec is not None else None
    doc = inspect.getdoc(fn) if fn is not None else None
    # the docstring's first paragraph: its first line alone can stop mid-sentence
    return " ".join(doc.split("\n\n")[0].split()) if doc else _DEFAULT_DESCRIPTIONS.get(
        stage, stage)


def asset_owners(owners: Sequence[str]) -> list[str]:
    """The spec's owners as Dagster takes them: an email as is, a team as ``team:<name>``."""
    return [o if "@" in o or o.startswith("team:") else f"team:{o}" for o in owners]


def _database_kind(url: str) -> str:
    backend = url_backend(url)
    return {"postgresql": "postgres"}.get(backend, backend)


def _sql_source_read_by(journey: Journey, stage: str) -> SqlSource | None:
    """The journey's SQL source, if ``stage`` is the first stage and the source is SQL."""
    source = journey.spec.source
    return source if journey.upstream_of(stage) is None and isinstance(source, SqlSource) \
        else None


def _kinds(journey: Journey, stage: str) -> set[str]:
    """What the stage runs on, as the UI's kind badges: pandas; MLflow and scikit-learn for a
    model stage; the database of a SQL source (first stage) or of the sink (sink stage)."""
    kinds = {"pandas"}
    if journey.spec.model_for(stage) is not None:
        kinds |= {"mlflow", "sklearn"}
    if (source := _sql_source_read_by(journey, stage)) is not None:
        kinds.add(_database_kind(source.url))
    if stage == journey.spec.sink_stage:
        kinds.add(_database_kind(journey.spec.sink.url))
    return kinds


def _table_name(journey: Journey, stage: str) -> dict[str, str]:
    """``dagster/table_name``: the sink table on the sink stage, a SQL source's table on the
    first stage."""
    if stage == journey.spec.sink_stage:
        return {"dagster/table_name": journey.spec.sink.table}
    source = _sql_source_read_by(journey, stage)
    return {"dagster/table_name": source.table} if source is not None and source.table else {}


def _planned(context: dg.AssetExecutionContext, journey: Journey) -> frozenset[str] | None:
    """The journey's stages this run materializes (None: the whole journey)."""
    selection = context.run.asset_selection
    if selection is None:
        return None
    return frozenset(k.path[-1] for k in selection
                     if len(k.path) == 2 and k.path[0] == journey.name)


def _run_context(context: dg.AssetExecutionContext, journey: Journey, mlflow: MlflowResource,
                 store: StageStore) -> RunContext:
    run_id = context.run.run_id
    shadow = context.run.tags.get(SHADOW_TAG) == "true"
    # One stage of a stage-by-stage journey run: its upstream is that journey run's, not latest.
    stage_by_stage = JOURNEY_RUN_TAG in context.run.tags
    partition = context.partition_key if context.has_partition_key else None
    return RunContext(run_id=run_id, models=mlflow.served(journey, context.run.tags),
                      store=store.for_run(journey, handoff_run_id(context.run), partition),
                      tracking_uri=mlflow.tracking_uri,
                      planned=None if stage_by_stage else _planned(context, journey),
                      publish=not shadow, shadow=shadow, partition=partition)


def _to_dagster(journey: Journey, outcome: StageOutcome) -> Iterator[Any]:
    results = [to_check_result(journey, c, outcome.summary) for c in outcome.checks]
    if outcome.status == "blocked" or outcome.output is None or outcome.provenance is None:
        # Every planned check gets a result, the unevaluated ones said so; no materialization,
        # so Dagster skips the stages downstream.
        results += [not_evaluated_result(journey, outcome.stage, name, outcome.blocked_by)
                    for name in outcome.not_evaluated]
        yield from (r.with_metadata({**r.metadata, "materialization": NOTHING_MATERIALIZED})
                    for r in results)
        return
    out = outcome.output
    declared = declared_columns(journey, outcome.stage)
    schema = dg.TableSchema(columns=[_column(str(c), str(t), declared.get(str(c)))
                                     for c, t in out.dtypes.items()])
    described = {**outcome.provenance.as_dict(), **outcome.facts}
    metadata = {**{k: metadata_value(v, k) for k, v in described.items()},
                "dagster/row_count": len(out), "dagster/column_schema": schema,
                "checks_passed": sum(c.result.passed for c in outcome.checks),
                "checks_failed": sum(not c.result.passed for c in outcome.checks),
                "preview": dg.MetadataValue.md(out.head(5).to_markdown(index=False))}
    yield dg.MaterializeResult(metadata=metadata, check_results=results)


def declared_columns(journey: Journey, stage: str) -> dict[str, ColumnContract]:
    """What the stage's ``contract`` checks (against declared columns) say of its columns."""
    out: dict[str, ColumnContract] = {}
    for check in journey.checks_for(stage):
        options = check.options
        if isinstance(options, ContractOptions) and options.against == "columns":
            out.update(options.columns)
    return out


def column_description(contract: ColumnContract) -> str:
    """'float, not null, in [0, 1]': the declared contract of one column, in words."""
    parts = [contract.type, "nullable" if contract.nullable else "not null"]
    if contract.allowed is not None:
        parts.append(f"one of {contract.allowed}")
    if contract.min is not None or contract.max is not None:
        parts.append(f"in [{'-inf' if contract.min is None else f'{contract.min:g}'}, "
                     f"{'inf' if contract.max is None else f'{contract.max:g}'}]")
    return "declared: " + ", ".join(parts)


def _column(name: str, dtype: str, contract: ColumnContract | None) -> dg.TableColumn:
    if contract is None:
        return dg.TableColumn(name, dtype)
    return dg.TableColumn(name, dtype, description=column_description(contract),
                          constraints=dg.TableColumnConstraints(nullable=contract.nullable))


def build_journey_assets(journey: Journey) -> list[dg.AssetsDefinition]:
    """One asset per stage of ``journey``, keyed ``[journey, stage]``, grouped by journey."""
    return [_stage_asset(journey, stage) for stage in journey.stages]


def _stage_asset(journey: Journey, stage: str) -> dg.AssetsDefinition:
    upstream = journey.upstream_of(stage)

    @dg.asset(key=[journey.name, stage], group_name=journey.name,
              deps=[dg.AssetKey([journey.name, upstream])] if upstream else None,
              check_specs=build_stage_check_specs(journey, stage), output_required=False,
              partitions_def=journey_partitions_def(journey),
              description=_description(journey, stage), kinds=_kinds(journey, stage),
              owners=asset_owners(journey.spec.owners),
              metadata={"journey": journey.name, "stage": stage,
                        "journey_file": dg.MetadataValue.path(str(journey.path)),
                        **_table_name(journey, stage)},
              tags={JOURNEY_TAG: journey.name, "e2e/stage": stage})
    def _asset(context: dg.AssetExecutionContext, mlflow: MlflowResource,
               e2e_store: StageStore) -> Iterator[Any]:
        run = _run_context(context, journey, mlflow, e2e_store)
        if MODEL_VERSION_TAG not in context.run.tags:  # launched from the UI or a schedule
            _tag_served_version(context, run)
        outcome = run_stage_protocol(journey, stage, run)
        _log_failed_checks(context, outcome)
        yield from _to_dagster(journey, outcome)

    return _asset


def _log_failed_checks(context: dg.AssetExecutionContext, outcome: StageOutcome) -> None:
    """Each failed check's reason as a line of the run log, where Dagster would otherwise fold
    it into the check's event; what a blocked stage stops, said once."""
    for check in outcome.checks:
        if check.result.passed:
            continue
        line = (f"check '{check.name}' on stage '{outcome.stage}' FAILED "
                f"({check.severity}{', blocking' if check.blocks else ''}): "
                f"{check.result.summary}")
        (context.log.error if check.blocks else context.log.warning)(line)
    if outcome.status == "blocked":
        context.log.error(f"stage '{outcome.stage}' blocked by {', '.join(outcome.blocked_by)}: "
                          f"nothing handed on, the stages after it will not run")


def _tag_served_version(context: dg.AssetExecutionContext, run: RunContext) -> None:
    """The model version the run serves, as a run tag, for runs not started by run_journey."""
    try:
        tags = served_tags(run.models.summary())
    except E2EAssetsError:  # the stage that serves it fails loudly; the tag is a label only
        return
    if tags:
        context.instance.add_run_tags(context.run.run_id, tags)


@functools.lru_cache(maxsize=8)
def default_resources(home: Home) -> dict[str, Any]:
    """The home's resources: one set per home, so that several journeys (components) merged
    into one code location share them, as Dagster requires of equal keys."""
    return {"mlflow": MlflowResource(tracking_uri=home.tracking_uri),
            "e2e_store": StageStore(base_dir=str(home.storage)),
            "e2e_release": ReleaseResource.for_home(home)}


def build_journey_definitions(journey: Journey, *, home: Home | None = None,
                              executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
    """Assets, checks and a job for one journey; resources too when ``home`` is given. The job
    runs on ``executor``, else on the home's (see ``executors.py``), else in process."""
    job = dg.define_asset_job(journey_job_name(journey),
                              selection=dg.AssetSelection.groups(journey.name),
                              description=journey.spec.description or None,
                              tags=definition_tags(journey),
                              executor_def=executor or journey_executor(home))
    monitor_checks = build_monitor_checks(journey)
    drift_jobs, schedules = build_drift_job_and_schedule(journey, monitor_checks)
    return dg.Definitions.merge(
        dg.Definitions(assets=build_journey_assets(journey), asset_checks=monitor_checks,
                       jobs=[job, *drift_jobs], schedules=schedules,
                       resources=default_resources(home) if home else None),
        build_release_definitions(journey, journey_job=job.name))


def build_definitions(journeys: Sequence[Journey], home: Home) -> dg.Definitions:
    """Merge several journeys into one code location with shared resources."""
    executor = journey_executor(home)
    return dg.Definitions.merge(*(build_journey_definitions(j, executor=executor)
                                  for j in journeys),
                                dg.Definitions(resources=default_resources(home)))


def build_project_definitions(folder: str | Path | None = None) -> dg.Definitions:
    """Every journey under ``folder`` (``<folder>/<name>/journey.yaml``; default: the
    pipelines folder, see :func:`e2e_assets.discovery.pipelines_dir`) as one code location,
    with the resources of the home the environment names."""
    home = Home.from_env()
    return build_definitions(load_all(home, Path(folder) if folder else None), home)
