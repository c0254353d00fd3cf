"""Check results, the context a check sees, and the registry of check kinds.

A check kind is one pure function ``evaluate(ctx, options) -> CheckResult`` plus a pydantic model
of its options, registered with :func:`register`. The Dagster layer only maps results to
``AssetCheckResult``; everything here runs in a notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from e2e_assets.errors import UnknownNameError
from e2e_assets.model_registry import ResolvedModel

if TYPE_CHECKING:  # the spec imports the checks (to parse their options), never the reverse
    from e2e_assets.fallback import FallbackOutcome
    from e2e_assets.serving import ServedModels
    from e2e_assets.spec.loader import Journey
    from e2e_assets.spec.model import CheckSpec, JourneySpec

MASK = "***"


class Options(BaseModel):
    """Base of every check kind's options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sample_size: int = 5

    @property
    def tests_hypotheses(self) -> bool:
        """Whether the check decides by a significance test at ``alpha``: its alpha is then
        drawn from the journey's false-alarm budget (``e2e_assets.spec.alarm_budget``)."""
        return "alpha" in type(self).model_fields


class Markdown(str):
    """Metadata text meant to be rendered as markdown (a histogram, a small table)."""

    __slots__ = ()


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    summary: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    samples: tuple[Mapping[str, Any], ...] = ()
    # "warn": only what the check itself ranks as a warning failed (a GX expectation of
    # severity 'warning'): reported as a failed warn check, never blocking.
    severity: Literal["warn"] | None = None


@dataclass(frozen=True)
class StageCheckContext:
    """What a check may look at. ``output`` is None for checks that run before the stage.

    ``model``/``resolved_model`` are the stage's own model, if it serves one; ``record_model``
    is the journey's model of record (its golden set and training data); ``models`` maps every
    model-serving stage to its loaded model, for checks that replay earlier stages.
    ``read_stage`` reads another stage's output from this run's lineage; ``sink_ids`` reads back
    which request ids the sink holds (after the write); ``served`` is the run's models.
    """

    journey: Journey
    stage: str
    input: pd.DataFrame | None
    output: pd.DataFrame | None = None
    model: Any = None
    resolved_model: ResolvedModel | None = None
    record_model: ResolvedModel | None = None
    models: Mapping[str, Any] = field(default_factory=dict)
    tracking_uri: str | None = None
    served_versions: Mapping[str, str] = field(default_factory=dict)  # stage -> "name:version"
    read_stage: Callable[[str], pd.DataFrame] | None = None
    sink_ids: Callable[[Sequence[Any]], Sequence[Any]] | None = None
    # {id: canonical row digest} of the sink rows with these ids, read back after the write
    sink_digests: Callable[[Sequence[Any]], Mapping[Any, str]] | None = None
    # The run's models: every stage's served version, and the baseline a challenger is
    # compared with (the gate's champion), for checks that replay stages with either.
    served: ServedModels | None = None
    # The table this run delivers to: the shadow table in a validation run or a drill.
    sink_table: str | None = None
    # The Dagster run a monitor check is evaluated in: if it delivered to the sink last, the
    # sink audit is the one its delivery committed (not a second read of the whole sink).
    dagster_run_id: str | None = None
    # The stage function's wall time (s) on this batch, for output-phase checks (latency).
    stage_wall_s: float | None = None
    # How a stage with a declared fallback served its batch (retries, the fallback's share).
    fallback: FallbackOutcome | None = None
    # The run's requests (the first stage's input; at most ``limit`` of them), for checks that
    # replay requests through every stage (end-to-end latency).
    read_requests: Callable[[int | None], pd.DataFrame] | None = None

    def frame(self, which: Literal["input", "output"]) -> pd.DataFrame:
        """The input or output frame; a check evaluated in the wrong phase is a bug, said so."""
        value = self.input if which == "input" else self.output
        if value is None:
            raise RuntimeError(f"check on stage '{self.stage}' needs the stage {which}, which "
                               f"is not available in this phase")
        return value

    @property
    def request_id(self) -> str:
        return self.journey.spec.request_id

    def samples(self, df: pd.DataFrame, columns: Sequence[str] = (), n: int = 5
                ) -> tuple[dict[str, Any], ...]:
        """Up to ``n`` rows (request id + ``columns``), sensitive columns masked."""
        cols = [self.request_id, *[c for c in columns if c in df.columns and
                                   c != self.request_id]]
        cols = [c for c in cols if c in df.columns]
        sensitive = set(self.journey.spec.sensitive)
        rows = []
        for rec in df[cols].head(n).to_dict("records"):
            rows.append({k: (MASK if k in sensitive and not _isnull(v) else _plain(v))
                         for k, v in rec.items()})
        return tuple(rows)


# input: before the stage function; output: after it, before the hand-off (both inside the
# stage); monitor: separately, on the stored output (re-evaluable without re-materializing).
Phase = Literal["input", "output", "monitor"]


# A spec-level problem found at load: (option field, message), or None.
SpecProblem = tuple[str, str] | None
# A problem found by the dry run on a sample: {"column": ..., "message": ...}.
DryRunProblem = dict[str, Any]


@dataclass(frozen=True)
class CheckKind:
    """A registered check kind. ``stages`` None: attaches to any stage. ``validate_spec`` runs
    at load; ``dry_run`` runs on a small sample before the real run and names every column or
    table that the check refers to and the data lacks."""

    name: str
    phase: Phase | Callable[[str, Any], Phase]
    options: type[Options]
    evaluate: Callable[[StageCheckContext, Any], CheckResult]
    stages: tuple[str, ...] | None
    description: str
    uses_sink: bool = False
    validate_spec: Callable[[JourneySpec, str, Any], SpecProblem] | None = None
    dry_run: Callable[[StageCheckContext, Any], list[DryRunProblem]] | None = None

    def phase_for(self, stage: str, options: Any) -> Phase:
        """'input': evaluated before the stage function runs; 'output': after, before hand-off."""
        return self.phase(stage, options) if callable(self.phase) else self.phase


@dataclass(frozen=True)
class ConfiguredCheck:
    """A check as configured on one stage: its spec, its kind and its options, parsed once."""

    stage: str
    spec: CheckSpec
    kind: CheckKind
    options: Any
    position: int = 0  # in the stage's ``checks:`` list, for messages that give the YAML line

    @property
    def name(self) -> str:
        return self.spec.check_name

    @property
    def severity(self) -> str:
        return self.spec.severity

    @property
    def blocking(self) -> bool:
        """Whether a failure stops the stages downstream: only ``error`` checks ever block."""
        return self.spec.blocking and self.spec.severity == "error"

    @property
    def phase(self) -> Phase:
        return self.kind.phase_for(self.stage, self.options)


REGISTRY: dict[str, CheckKind] = {}


def register(name: str, *, options: type[Options],
             phase: Phase | Callable[[str, Any], Phase] = "output",
             stages: tuple[str, ...] | None = None, uses_sink: bool = False,
             validate_spec: Callable[[JourneySpec, str, Any], SpecProblem] | None = None,
             dry_run: Callable[[StageCheckContext, Any], list[DryRunProblem]] | None = None,
             ) -> Callable[[Callable[..., CheckResult]], Callable[..., CheckResult]]:
    """Register ``fn(ctx, options) -> CheckResult`` as check kind ``name``."""

    def deco(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        doc = (fn.__doc__ or name).strip().splitlines()[0]
        REGISTRY[name] = CheckKind(name=name, phase=phase, options=options, evaluate=fn,
                                   stages=stages, description=doc, uses_sink=uses_sink,
                                   validate_spec=validate_spec, dry_run=dry_run)
        return fn

    return deco


def missing_columns(ctx: StageCheckContext, which: Literal["input", "output"],
                    columns: Sequence[str], what: str) -> list[DryRunProblem]:
    """One dry-run problem per column of ``columns`` that the stage's frame lacks."""
    have = set(map(str, ctx.frame(which).columns))
    return [{"column": c, "message": f"{what} names column '{c}', which the stage's {which} "
             f"does not have (it has: {sorted(have)[:25]})"}
            for c in dict.fromkeys(columns) if c not in have]


def get_kind(name: str) -> CheckKind:
    from e2e_assets.checks import catalog

    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownNameError(f"unknown check kind {name!r}; registered: "
                               f"{sorted(REGISTRY)}") from None


def _isnull(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    return v
