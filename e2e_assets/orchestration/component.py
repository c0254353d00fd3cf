"""A journey as a Dagster Component: ``type: e2e_assets.JourneyComponent`` in a ``defs.yaml``.

The component's attributes are the fields of journey.yaml, with the same schema (the spec's own
pydantic models), and ``build_defs`` hands them to the one loader and the one factory that
journey.yaml and Python use, so all three give the same assets, checks and jobs. Relative module
names (``module: .stages``) resolve against the component's own folder, as a package of the
project. ``dg scaffold defs e2e_assets.JourneyComponent <path>`` writes a working journey there.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import dagster as dg
from pydantic import Field

from e2e_assets.home import Home
from e2e_assets.orchestration.factory import build_journey_definitions
from e2e_assets.scaffold import defs_yaml_text, write_journey_files
from e2e_assets.spec.loader import (
    COMPONENT_TYPE,
    component_attribute_lines,
    journey_from_mapping,
)
from e2e_assets.spec.model import (
    BootstrapSpec,
    CheckSpec,
    GeneratorSource,
    JourneySpec,
    LabelSpec,
    ModelSpec,
    ParquetSource,
    PartitionsSpec,
    ReleaseSpec,
    SinkSpec,
    SqlSource,
    StageSpec,
)


def _as_declared(_: dg.ResolutionContext, value: Any) -> Any:
    """Keep the spec model Dagster validated against the journey schema."""
    return value


def _spec_field(model_type: Any) -> Any:
    """The journey spec's own type as the YAML schema (its models carry constraints, which
    Dagster's implicit resolution refuses, so they are declared as the field's model type)."""
    return dg.Resolver(_as_declared, model_field_type=model_type)


class JourneyScaffolder(dg.Scaffolder):
    """``dg scaffold defs e2e_assets.JourneyComponent <path>``: defs.yaml, stages.py (the five
    stage functions), train.py (bootstrap and retraining) and the stages' expectation suites,
    named after the folder."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        if request.scaffold_format != "yaml":
            raise ValueError(f"JourneyComponent scaffolds a defs.yaml only; got format "
                             f"{request.scaffold_format!r}, expected 'yaml'")
        name = _journey_name(request.target_path)
        write_journey_files(request.target_path, name, journey_file=None)
        # the public name, whatever path the scaffold was asked under
        (request.target_path / "defs.yaml").write_text(defs_yaml_text(name, COMPONENT_TYPE),
                                                       encoding="utf-8")


def _journey_name(folder: Path) -> str:
    """The folder's name as a journey name (lower-case identifier)."""
    cleaned = "".join(c if c.isalnum() else "_" for c in folder.name.lower()).strip("_")
    return cleaned if cleaned[:1].isalpha() else f"journey_{cleaned}"


with warnings.catch_warnings():
    # The journey field `model:` shadows Resolvable.model(), a classmethod Dagster calls on the
    # class, never on an instance; the field must keep journey.yaml's name.
    warnings.filterwarnings("ignore", message='Field name "model"', category=UserWarning)

    @dg.scaffold_with(JourneyScaffolder)
    class JourneyComponent(dg.Component, dg.Model, dg.Resolvable):
        """A business flow tested where it runs: one asset per stage, each stage's checks as
        asset checks (GX suites, MLflow signature contracts, business rules, drift, golden sets,
        quality, latency, fairness, reconciliation, challenger comparison), a job for the
        journey, a drift schedule, and the release loop's sensors and promotion gate.

        The attributes are journey.yaml's fields (see the e2e-assets README). ``module: .stages``
        names the stages.py beside this defs.yaml. ``${VAR}`` in a value reads the environment,
        as in journey.yaml. The resources (MLflow registry, stage store) come from the
        e2e-assets home: ``E2E_ASSETS_HOME``, ``MLFLOW_TRACKING_URI``, ``E2E_DATABASE_URL``.
        """

        journey: str = Field(description="The journey's name: the asset group and key prefix.")
        description: str = Field(default="", description="What the business flow does.")
        module: str = Field(description="The module holding the stage functions; '.stages' is "
                                        "the stages.py beside this file.")
        request_id: str = Field(default="request_id",
                                description="The column identifying one request.")
        seed: int = Field(default=0, description="Seed for sampling and training.")
        source: Annotated[Any, _spec_field(
            Annotated[SqlSource | ParquetSource | GeneratorSource,
                      Field(discriminator="kind")])] = Field(
            description="Where requests come from: sql, parquet or generator.")
        model: Annotated[Any, _spec_field(ModelSpec | None)] = Field(
            default=None, description="models:/<name>@<alias>, served to the score stage.")
        stages: Annotated[Any, _spec_field(dict[str, StageSpec | None])] = Field(
            description="The stages in order: name -> function and params.")
        sink: Annotated[Any, _spec_field(SinkSpec)] = Field(
            description="Where the last stage's rows are delivered.")
        checks: Annotated[Any, _spec_field(dict[str, list[CheckSpec]])] = Field(
            default_factory=dict, description="Each stage's checks: kind, name, severity, "
                                              "blocking, options.")
        bootstrap: Annotated[Any, _spec_field(BootstrapSpec | None)] = Field(
            default=None, description="The function that creates the source and first model.")
        labels: Annotated[Any, _spec_field(LabelSpec | None)] = Field(
            default=None, description="The outcome column kept with the golden set.")
        release: Annotated[Any, _spec_field(ReleaseSpec | None)] = Field(
            default=None, description="Retraining hook, drift ticks and aliases.")
        partitions: Annotated[Any, _spec_field(PartitionsSpec | None)] = Field(
            default=None, description="Daily partitions: each run reads and checks one day "
                                      "of the source ({daily: {start, column, end}}).")
        false_alarm_rate: float = Field(
            default=0.01, description="The chance a clean run is blocked by a statistical "
                                      "check, shared by the blocking ones.")
        owners: list[str] = Field(default_factory=list, description="Asset owners.")
        sensitive: list[str] = Field(default_factory=list,
                                     description="Columns never shown in check metadata.")

        def journey_mapping(self) -> dict[str, Any]:
            """The attributes as journey.yaml would hold them (unset fields left out)."""
            out: dict[str, Any] = {}
            for name in JourneySpec.model_fields:
                if name not in self.model_fields_set:
                    continue
                value = getattr(self, name)
                out[name] = _plain(value)
            return out

        def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
            home = Home.from_env()
            file = context.path / "defs.yaml" if context.path.is_dir() else context.path
            journey = journey_from_mapping(
                self.journey_mapping(), file=file, lines=component_attribute_lines(file),
                variables=home.variables(),
                package=context.defs_relative_module_name(context.path))
            return build_journey_definitions(journey, home=home)


def _plain(value: Any) -> Any:
    """Spec models back to plain YAML values."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
