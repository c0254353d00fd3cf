"""Typed journey spec (pydantic). Every model forbids unknown keys so a typo fails loudly."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from e2e_assets.model_registry import MODEL_URI

# The reference shape. A journey may name any stages, in order; these names keep their meaning
# when present: ``ingest`` reads the source, ``score`` serves the top-level model, ``deliver``
# writes the sink.
STAGES: tuple[str, ...] = ("ingest", "features", "score", "decide", "deliver")
SOURCE_STAGE, MODEL_STAGE, SINK_STAGE = "ingest", "score", "deliver"
# Names that mean something else in the CLI, the golden set or the stage store.
RESERVED_STAGE_NAMES = frozenset({"source", "requests", "runs", "latest", "sink", "bootstrap"})
MAX_STAGES = 32

_IDENT = r"^[a-z][a-z0-9_]*$"
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlSource(_Strict):
    """Requests read from a SQL table or query (SQLAlchemy URL)."""

    kind: Literal["sql"]
    url: str
    table: str | None = None
    query: str | None = None

    @model_validator(mode="after")
    def _one_of_table_or_query(self) -> SqlSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self


class ParquetSource(_Strict):
    """Requests read from a parquet file (relative paths are relative to the journey file)."""

    kind: Literal["parquet"]
    path: str


class GeneratorSource(_Strict):
    """Requests produced by a function ``fn(seed, **params) -> DataFrame``."""

    kind: Literal["generator"]
    function: str
    params: dict[str, Any] = Field(default_factory=dict)


Source = Annotated[SqlSource | ParquetSource | GeneratorSource, Field(discriminator="kind")]


class DailyPartitionsSpec(_Strict):
    """One partition per calendar day from ``start`` (up to ``end``, exclusive, if given): the
    run of a day reads only the source rows whose ``column`` (a date or timestamp) falls on it."""

    start: date
    column: str = Field(min_length=1)
    end: date | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> DailyPartitionsSpec:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"'end' ({self.end}) must be after 'start' ({self.start}): the "
                             f"partitions are the days start <= day < end")
        return self


class PartitionsSpec(_Strict):
    """How the journey's runs split the source: ``daily`` is the one kind."""

    daily: DailyPartitionsSpec


class ModelSpec(_Strict):
    """The model a journey serves, as ``models:/<name>@<alias>`` in the MLflow registry."""

    uri: str
    # Third-party types the model file needs trusted to load (skops); named one by one.
    trusted_types: list[str] = Field(default_factory=list)

    @field_validator("uri")
    @classmethod
    def _alias_uri(cls, value: str) -> str:
        if not MODEL_URI.match(value):
            raise ValueError(f"expected 'models:/<name>@<alias>' (aliases, not stages), "
                             f"got {value!r}")
        return value

    @property
    def name(self) -> str:
        return MODEL_URI.match(self.uri).group("name")  # type: ignore[union-attr]

    @property
    def alias(self) -> str:
        return MODEL_URI.match(self.uri).group("alias")  # type: ignore[union-attr]


class FallbackSpec(_Strict):
    """What a model stage does when its model cannot be loaded or raises (see
    :mod:`e2e_assets.fallback`): ``retries`` more tries with exponential backoff (``backoff_s``,
    doubled each time), then ``function`` (``fn(df, **params) -> DataFrame``, in the journey's
    module or ``module:function``) decides those requests. The ``fallback`` check fails when
    the share of requests it decided is above ``max_fallback_share``."""

    function: str
    params: dict[str, Any] = Field(default_factory=dict)
    max_fallback_share: float = Field(default=0.0, ge=0.0, le=1.0)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=0.2, ge=0.0, le=60.0)
    # Chunks tried one by one (a failure costs only its chunk); none: the batch is one try.
    batch_rows: int | None = Field(default=None, ge=1)


class StageSpec(_Strict):
    """One stage: a function of a DataFrame plus keyword params. A stage that serves a model
    (``model:`` here, or ``score`` with the journey's top-level ``model:``) gets it as the
    second argument: ``fn(df, model, **params)``."""

    function: str
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    model: ModelSpec | None = None
    fallback: FallbackSpec | None = None  # only on a stage that serves a model


class SinkSpec(_Strict):
    """Where ``deliver`` hands decisions over: a SQL table keyed by request id (upserted)."""

    kind: Literal["sql"] = "sql"
    url: str
    table: str
    key: str | None = None  # defaults to the journey's request_id column


class CheckSpec(_Strict):
    """A check attached to a stage. Kind-specific settings live under ``options``, validated
    against the kind's own options model (see ``e2e_assets.checks``) when the spec loads."""

    kind: str
    name: str | None = Field(default=None, pattern=_IDENT)
    severity: Literal["warn", "error"] = "error"
    blocking: bool = True
    description: str = ""
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def check_name(self) -> str:
        return self.name or self.kind


class BootstrapSpec(_Strict):
    """How ``e2e-assets demo`` makes what a journey needs: ``fn(ctx) -> None``."""

    function: str
    params: dict[str, Any] = Field(default_factory=dict)


class LabelSpec(_Strict):
    """The outcome a journey's model predicts, kept with the golden set (never in the source).

    ``positive`` makes it a classifier (the label equals ``positive`` -> 1); without it the
    label is a regression target. ``prediction`` is the column the model's stage writes: the
    probability of ``positive``, or the predicted value.
    """

    column: str
    prediction: str
    positive: str | int | bool | None = None

    @property
    def model_type(self) -> Literal["classifier", "regressor"]:
        return "regressor" if self.positive is None else "classifier"


class ReleaseSpec(_Strict):
    """The release loop: what retrains the model, and when drift starts a retrain."""

    retrain: BootstrapSpec | None = None  # fn(ctx, **params); registers a challenger
    # Consecutive failed drift evaluations that make a drift episode (one retrain per episode).
    drift_ticks: int = Field(default=3, ge=1, le=100)
    # A SQL source column that only increases (an id or a timestamp): the new-data sensor's cursor.
    new_data_column: str | None = None
    # The alias the gate moves, and the one retraining registers to.
    champion_alias: str = Field(default="champion", pattern=r"^[A-Za-z0-9_-]+$")
    challenger_alias: str = Field(default="challenger", pattern=r"^[A-Za-z0-9_-]+$")


class JourneySpec(_Strict):
    """One business flow: source -> stages, in order -> sink.

    ``stages`` is an ordered mapping of free stage names. If every name is one of the reference
    five (``ingest features score decide deliver``), a missing ``ingest``/``deliver`` is the
    identity, as in the two-field form. The first stage reads the source; the sink receives the
    output of ``deliver`` (else of the last stage).
    """

    journey: str = Field(pattern=_IDENT)
    description: str = ""
    module: str
    request_id: str = "request_id"
    seed: int = 0
    source: Source
    model: ModelSpec | None = None
    stages: dict[str, StageSpec | None] = Field(min_length=1)
    sink: SinkSpec
    checks: dict[str, list[CheckSpec]] = Field(default_factory=dict)
    bootstrap: BootstrapSpec | None = None
    labels: LabelSpec | None = None
    release: ReleaseSpec = Field(default_factory=ReleaseSpec)
    # A partitioned journey: each run reads and checks one partition of the source (one day).
    partitions: PartitionsSpec | None = None
    # The chance the journey tolerates that a clean run is blocked by a statistical check:
    # shared by its blocking statistical checks (e2e_assets/spec/alarm_budget.py).
    false_alarm_rate: float = Field(default=0.01, gt=0, le=0.2)
    owners: list[str] = Field(default_factory=list)
    # Columns whose values never appear in check metadata (samples show '***').
    sensitive: list[str] = Field(default_factory=list)

    @field_validator("stages")
    @classmethod
    def _stage_names(cls, stages: dict[str, StageSpec | None]) -> dict[str, StageSpec | None]:
        if len(stages) > MAX_STAGES:
            raise ValueError(f"at most {MAX_STAGES} stages; got {len(stages)}")
        for name in stages:
            if not isinstance(name, str) or not _STAGE_NAME.match(name):
                raise ValueError(f"stage name {name!r} is not an identifier: expected lower-case "
                                 f"letters, digits and '_', starting with a letter, at most 63 "
                                 f"characters")
            if name in RESERVED_STAGE_NAMES:
                raise ValueError(f"stage name {name!r} is reserved; reserved names: "
                                 f"{sorted(RESERVED_STAGE_NAMES)}")
        return stages

    @model_validator(mode="after")
    def _consistent(self) -> JourneySpec:
        names = self.stage_names
        for stage, spec in self.stages.items():
            if spec is None and stage not in (SOURCE_STAGE, SINK_STAGE):
                raise ValueError(f"stage '{stage}' needs a 'function:'")
        if SOURCE_STAGE in names and names[0] != SOURCE_STAGE:
            raise ValueError(f"stage '{SOURCE_STAGE}' reads the source, so it must come first; "
                             f"the order is {list(names)}")
        if SINK_STAGE in names and names[-1] != SINK_STAGE:
            raise ValueError(f"stage '{SINK_STAGE}' writes the sink, so it must come last; "
                             f"the order is {list(names)}")
        if self.model is not None and MODEL_STAGE not in names:
            raise ValueError(f"the top-level 'model:' is served by stage '{MODEL_STAGE}', and "
                             f"this journey has no such stage (stages: {list(names)}); declare "
                             f"'model:' on the stage that serves it instead")
        return self  # checks are placed by the loader, which knows their lines

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The stages in order, with the identity ``ingest``/``deliver`` of the reference form."""
        named = tuple(self.stages)
        if not set(named) <= set(STAGES):
            return named
        return (*(() if SOURCE_STAGE in named else (SOURCE_STAGE,)), *named,
                *(() if SINK_STAGE in named else (SINK_STAGE,)))

    def stage(self, name: str) -> StageSpec | None:
        """The stage's spec, None for an identity stage."""
        return self.stages.get(name)

    @property
    def sink_stage(self) -> str:
        names = self.stage_names
        return SINK_STAGE if SINK_STAGE in names else names[-1]

    def model_for(self, stage: str) -> ModelSpec | None:
        """The model ``stage`` serves: its own ``model:``, or the top-level one for ``score``."""
        spec = self.stages.get(stage)
        if spec is not None and spec.model is not None:
            return spec.model
        return self.model if stage == MODEL_STAGE else None

    @property
    def model_stages(self) -> tuple[str, ...]:
        return tuple(s for s in self.stage_names if self.model_for(s) is not None)

    @property
    def primary_model(self) -> ModelSpec | None:
        """The journey's model of record (golden set, ``--alias``): the top-level ``model:``,
        else the last stage's model."""
        if self.model is not None:
            return self.model
        stages = self.model_stages
        return self.model_for(stages[-1]) if stages else None

    @property
    def record_stage(self) -> str | None:
        """The stage that serves the model of record (None: the journey serves no model)."""
        primary = self.primary_model
        return next((s for s in self.model_stages if self.model_for(s) == primary), None)

    @property
    def sink_key(self) -> str:
        return self.sink.key or self.request_id
