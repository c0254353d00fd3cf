"""Turn a journey into Dagster definitions: five assets ``[journey, stage]`` in one group.

Assets are thin: read the input frame, call the journey's pure stage function
(:func:`e2e_assets.stages.run_stage`), return the frame with provenance metadata. Frames are
handed between stages as parquet by :class:`ParquetIOManager`.
"""


import inspect
from collections.abc import Sequence
from time import perf_counter
from typing import Any

import dagster as dg
import pandas as pd

from e2e_assets.errors import E2EAssetsError
from e2e_assets.frames import frame_digest
from e2e_assets.home import Home
from e2e_assets.orchestration.checks import build_stage_checks
from e2e_assets.orchestration.resources import (
    ALIAS_TAG,
    IO_MANAGER_KEY,
    MlflowResource,
    ParquetIOManager,
)
from e2e_assets.provenance import build_provenance
from e2e_assets.registry import ResolvedModel
from e2e_assets.sinks import write_sink
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
                 upstream: pd.DataFrame | None, mlflow: MlflowResource) -> dg.Output[Any]:
    spec = journey.spec
    alias = context.run.tags.get(ALIAS_TAG)
    extra: dict[str, Any] = {}
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
    started = perf_counter()
    out = run_stage(journey, stage, frame_in, model=model_obj)
    wall = perf_counter() - started
    if stage == "deliver":
        written = write_sink(out, spec.sink.url, spec.sink.table, spec.sink_key)
        extra.update(sink_table=written.table, sink_url=written.url,
                     sink_rows_written=written.rows_written,
                     sink_rows_replaced=written.rows_replaced)
    provenance = build_provenance(
        journey=journey.name, stage=stage, run_id=context.run.run_id, folder=journey.folder,
        config_digest=journey.config_digest, seed=spec.seed, data_digest=frame_digest(out),
        input_digest=frame_digest(frame_in), rows_in=len(frame_in), rows_out=len(out),
        wall_time_s=wall, model=resolved)
    schema = dg.TableSchema(columns=[dg.TableColumn(str(c), str(t)) for c, t in out.dtypes.items()])
    metadata = {**provenance.as_dict(), **extra, "dagster/row_count": len(out),
                "dagster/column_schema": schema,
                "preview": dg.MetadataValue.md(out.head(5).to_markdown(index=False))}
    return dg.Output(out, metadata=metadata)


def build_journey_assets(journey: Journey) -> list[dg.AssetsDefinition]:
    """The five stage assets of ``journey``, keyed ``[journey, stage]``, grouped by journey."""
    assets: list[dg.AssetsDefinition] = []
    for index, stage in enumerate(STAGES):
        common: dict[str, Any] = dict(
            key=[journey.name, stage], group_name=journey.name, io_manager_key=IO_MANAGER_KEY,
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
    def _asset(context: dg.AssetExecutionContext, mlflow: MlflowResource) -> dg.Output[Any]:
        return _materialize(context, journey, stage, None, mlflow)

    return _asset


def _stage_asset(journey: Journey, stage: str, previous: str,
                 common: dict[str, Any]) -> dg.AssetsDefinition:
    @dg.asset(ins={"upstream": dg.AssetIn(key=[journey.name, previous])}, **common)
    def _asset(context: dg.AssetExecutionContext, mlflow: MlflowResource,
               upstream: pd.DataFrame) -> dg.Output[Any]:
        return _materialize(context, journey, stage, upstream, mlflow)

    return _asset


def default_resources(home: Home) -> dict[str, Any]:
    return {"mlflow": MlflowResource(tracking_uri=home.tracking_uri),
            IO_MANAGER_KEY: ParquetIOManager(base_dir=str(home.storage))}


def build_journey_definitions(journey: Journey, *, home: Home | None = None) -> dg.Definitions:
    """Assets, checks and a job for one journey; resources too when ``home`` is given."""
    job = dg.define_asset_job(journey_job_name(journey),
                              selection=dg.AssetSelection.groups(journey.name),
                              description=journey.spec.description or None)
    return dg.Definitions(assets=build_journey_assets(journey),
                          asset_checks=build_stage_checks(journey), jobs=[job],
                          resources=default_resources(home) if home else None)


def build_definitions(journeys: Sequence[Journey], home: Home) -> dg.Definitions:
    """Merge several journeys into one code location with shared resources."""
    return dg.Definitions.merge(*(build_journey_definitions(j) for j in journeys),
                                dg.Definitions(resources=default_resources(home)))
