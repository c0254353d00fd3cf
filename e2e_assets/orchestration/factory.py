"""Turn a journey into Dagster definitions: five assets ``[journey, stage]`` in one group.

Assets are thin: read the input frame, call the journey's pure stage function
(:func:`e2e_assets.stages.run_stage`), return the frame with provenance metadata. Frames are
handed between stages as parquet by :class:`ParquetIOManager`.
"""


import inspect
from collections.abc import Iterator, Sequence
from time import perf_counter
from typing import Any

import dagster as dg
import pandas as pd

from e2e_assets.checks.base import StageCheckContext, get_kind
from e2e_assets.checks.runner import evaluate_one, evaluate_phase
from e2e_assets.errors import E2EAssetsError
from e2e_assets.frames import frame_digest
from e2e_assets.home import Home
from e2e_assets.model_registry import ResolvedModel
from e2e_assets.orchestration.checks import build_stage_check_specs, to_check_result
from e2e_assets.orchestration.monitor_checks import build_drift_checks, build_drift_job_and_schedule
from e2e_assets.orchestration.resources import (
    ALIAS_TAG,
    IO_MANAGER_KEY,
    MlflowResource,
    ParquetIOManager,
    StageStore,
)
from e2e_assets.provenance import build_provenance
from e2e_assets.sinks import sink_ids, write_sink
from e2e_assets.sources import describe_source, read_source
from e2e_assets.spec import STAGES, Journey
from e2e_assets.stages import run_stage

_DEFAULT_DESCRIPTIONS = {
    "ingest": "Requests read from the journey's source.",
    "deliver": "Decisions handed to the downstream consumer.",
}


def journey_job_name(journey: Journey | str) -> str:
    return f"{journey if isinstance(journey, str) else journey.name}_journey"


def _description(journey: Journey, stage: str) -> str:
    stage_spec = journey.spec.stages.get(stage)
    if stage_spec is not None and stage_spec.description:
        return stage_spec.description
    fn = journey.functions.get(stage)
    doc = inspect.getdoc(fn) if fn is not None else None
    return doc.splitlines()[0] if doc else _DEFAULT_DESCRIPTIONS.get(stage, stage)


def _materialize(context: dg.AssetExecutionContext, journey: Journey, stage: str,
                 upstream: pd.DataFrame | None, mlflow: MlflowResource,
                 store: StageStore) -> Iterator[Any]:
    spec = journey.spec
    alias = context.run.tags.get(ALIAS_TAG)
    extra: dict[str, Any] = {}
    if journey.faults:  # a drill, and the record says so
        extra["injected_faults"] = ", ".join(f.describe() for f in journey.faults)
    if stage == "ingest":
        frame_in = read_source(journey)
        extra["source"] = describe_source(journey)
    else:
        assert upstream is not None  # every stage but ingest has one input
        frame_in = upstream
    model_obj = None
    if stage == "score":
        resolved: ResolvedModel | None = mlflow.resolve(spec.model.uri, alias)
        started = perf_counter()
        model_obj = mlflow.load(resolved)
        extra["model_load_s"] = round(perf_counter() - started, 4)
        extra["model_uri"] = resolved.version_uri if resolved else ""
    else:  # provenance only: a registry hiccup must not fail a stage that needs no model
        try:
            resolved = mlflow.resolve(spec.model.uri, alias)
        except E2EAssetsError as exc:
            resolved = None
            extra["model_resolution"] = f"unavailable: {exc}"
    ctx = StageCheckContext(journey=journey, stage=stage, input=frame_in, model=model_obj,
                            resolved_model=resolved, tracking_uri=mlflow.tracking_uri,
                            read_stage=lambda s: store.read(journey.name, s))
    short = {"journey": journey.name, "dagster_run_id": context.run.run_id,
             "config_digest": journey.config_digest, "input_digest": frame_digest(frame_in),
             "model_version": resolved.version if resolved else "none"}
    evaluated = evaluate_phase(ctx, "input")
    if any(e.blocks for e in evaluated):  # fail closed before the stage runs
        yield from (to_check_result(journey, e, short) for e in evaluated)
        return
    started = perf_counter()
    out = run_stage(journey, stage, frame_in, model=model_obj)
    wall = perf_counter() - started
    ctx.output = out
    short["data_digest"] = frame_digest(out)
    evaluated += evaluate_phase(ctx, "output")
    if any(e.blocks for e in evaluated):  # no hand-off: nothing downstream, nothing in the sink
        yield from (to_check_result(journey, e, short) for e in evaluated)
        return
    if stage == "deliver":
        written = write_sink(out, spec.sink.url, spec.sink.table, spec.sink_key)
        extra.update(sink_table=written.table, sink_url=written.url,
                     sink_rows_written=written.rows_written,
                     sink_rows_replaced=written.rows_replaced)
        ctx.sink_ids = lambda ids: sink_ids(spec.sink.url, spec.sink.table, spec.sink_key, ids)
        checks = spec.checks.get(stage, [])  # type: ignore[call-overload]
        evaluated = [evaluate_one(ctx, e.index, checks[e.index])
                     if get_kind(e.kind).uses_sink else e for e in evaluated]
    provenance = build_provenance(
        journey=journey.name, stage=stage, run_id=context.run.run_id, folder=journey.folder,
        config_digest=journey.config_digest, seed=spec.seed, data_digest=short["data_digest"],
        input_digest=short["input_digest"], rows_in=len(frame_in), rows_out=len(out),
        wall_time_s=wall, model=resolved)
    schema = dg.TableSchema(columns=[dg.TableColumn(str(c), str(t)) for c, t in out.dtypes.items()])
    metadata = {**provenance.as_dict(), **extra, "dagster/row_count": len(out),
                "dagster/column_schema": schema,
                "checks_passed": sum(e.result.passed for e in evaluated),
                "checks_failed": sum(not e.result.passed for e in evaluated),
                "preview": dg.MetadataValue.md(out.head(5).to_markdown(index=False))}
    yield dg.Output(out, metadata=metadata)
    yield from (to_check_result(journey, e, short) for e in evaluated)


def build_journey_assets(journey: Journey) -> list[dg.AssetsDefinition]:
    """The five stage assets of ``journey``, keyed ``[journey, stage]``, grouped by journey."""
    assets: list[dg.AssetsDefinition] = []
    for index, stage in enumerate(STAGES):
        common: dict[str, Any] = dict(
            key=[journey.name, stage], group_name=journey.name, io_manager_key=IO_MANAGER_KEY,
            check_specs=build_stage_check_specs(journey, stage), output_required=False,
            description=_description(journey, stage), kinds={"pandas"},
            metadata={"journey": journey.name, "stage": stage,
                      "journey_file": dg.MetadataValue.path(str(journey.path))},
            tags={"e2e/journey": journey.name, "e2e/stage": stage})
        if index == 0:
            assets.append(_source_asset(journey, stage, common))
        else:
            assets.append(_stage_asset(journey, stage, STAGES[index - 1], common))
    return assets


def _source_asset(journey: Journey, stage: str, common: dict[str, Any]) -> dg.AssetsDefinition:
    @dg.asset(**common)
    def _asset(context: dg.AssetExecutionContext, mlflow: MlflowResource,
               e2e_store: StageStore) -> Iterator[Any]:
        yield from _materialize(context, journey, stage, None, mlflow, e2e_store)

    return _asset


def _stage_asset(journey: Journey, stage: str, previous: str,
                 common: dict[str, Any]) -> dg.AssetsDefinition:
    @dg.asset(ins={"upstream": dg.AssetIn(key=[journey.name, previous])}, **common)
    def _asset(context: dg.AssetExecutionContext, mlflow: MlflowResource,
               e2e_store: StageStore, upstream: pd.DataFrame) -> Iterator[Any]:
        yield from _materialize(context, journey, stage, upstream, mlflow, e2e_store)

    return _asset


def default_resources(home: Home) -> dict[str, Any]:
    return {"mlflow": MlflowResource(tracking_uri=home.tracking_uri),
            "e2e_store": StageStore(base_dir=str(home.storage)),
            IO_MANAGER_KEY: ParquetIOManager(base_dir=str(home.storage))}


def build_journey_definitions(journey: Journey, *, home: Home | None = None) -> dg.Definitions:
    """Assets, checks and a job for one journey; resources too when ``home`` is given."""
    job = dg.define_asset_job(journey_job_name(journey),
                              selection=dg.AssetSelection.groups(journey.name),
                              description=journey.spec.description or None)
    drift_checks = build_drift_checks(journey)
    drift_jobs, schedules = build_drift_job_and_schedule(journey, drift_checks)
    return dg.Definitions(assets=build_journey_assets(journey), asset_checks=drift_checks,
                          jobs=[job, *drift_jobs], schedules=schedules,
                          resources=default_resources(home) if home else None)


def build_definitions(journeys: Sequence[Journey], home: Home) -> dg.Definitions:
    """Merge several journeys into one code location with shared resources."""
    return dg.Definitions.merge(*(build_journey_definitions(j) for j in journeys),
                                dg.Definitions(resources=default_resources(home)))
