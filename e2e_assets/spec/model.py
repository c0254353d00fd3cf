"""Typed journey spec (pydantic). Every model forbids unknown keys so a typo fails loudly."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

STAGES: tuple[str, ...] = ("ingest", "features", "score", "decide", "deliver")
StageName = Literal["ingest", "features", "score", "decide", "deliver"]

_IDENT = r"^[a-z][a-z0-9_]*$"
MODEL_URI = re.compile(r"^models:/(?P<name>[^@/\s]+)@(?P<alias>[A-Za-z0-9_-]+)$")


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


class StageSpec(_Strict):
    """One stage: a function of a DataFrame (``score`` also gets the model) plus keyword params."""

    function: str
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class StagesSpec(_Strict):
    ingest: StageSpec | None = None
    features: StageSpec
    score: StageSpec
    decide: StageSpec
    deliver: StageSpec | None = None

    def get(self, stage: str) -> StageSpec | None:
        return getattr(self, stage)  # type: ignore[no-any-return]


class ModelSpec(_Strict):
    """The model a journey serves, as ``models:/<name>@<alias>`` in the MLflow registry."""

    uri: str
    # Third-party types the model file needs trusted to load (skops); named one by one.
    trusted_types: tuple[str, ...] = ()

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


class JourneySpec(_Strict):
    """One business flow: source -> ingest -> features -> score -> decide -> deliver -> sink."""

    journey: str = Field(pattern=_IDENT)
    description: str = ""
    module: str
    request_id: str = "request_id"
    seed: int = 0
    source: Source
    model: ModelSpec
    stages: StagesSpec
    sink: SinkSpec
    checks: dict[StageName, list[CheckSpec]] = Field(default_factory=dict)
    bootstrap: BootstrapSpec | None = None
    owners: tuple[str, ...] = ()
    # Columns whose values never appear in check metadata (samples show '***').
    sensitive: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unique_check_names(self) -> JourneySpec:
        for stage, checks in self.checks.items():
            names = [c.check_name for c in checks]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"checks on stage '{stage}' must have unique names; "
                                 f"repeated: {dupes} (set 'name:' to tell them apart)")
        return self

    @property
    def sink_key(self) -> str:
        return self.sink.key or self.request_id
