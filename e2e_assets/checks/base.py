"""Check results, the context a check sees, and the registry of check kinds.

A check kind is one pure function ``evaluate(ctx, options) -> CheckResult`` plus a pydantic model
of its options, registered with :func:`register`. The Dagster layer only maps results to
``AssetCheckResult``; everything here runs in a notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from e2e_assets.errors import UnknownNameError
from e2e_assets.model_registry import ResolvedModel
from e2e_assets.spec import Journey

MASK = "***"


class Options(BaseModel):
    """Base of every check kind's options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sample_size: int = 5


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    summary: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    samples: tuple[Mapping[str, Any], ...] = ()


@dataclass
class StageCheckContext:
    """What a check may look at. ``output`` is None for checks that run before the stage."""

    journey: Journey
    stage: str
    input: pd.DataFrame | None
    output: pd.DataFrame | None = None
    model: Any = None
    resolved_model: ResolvedModel | None = None
    tracking_uri: str | None = None
    read_stage: Callable[[str], pd.DataFrame] | None = None
    sink_ids: Callable[[Sequence[Any]], Sequence[Any]] | None = None

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


@dataclass(frozen=True)
class CheckKind:
    name: str
    phase: Phase | Callable[[str, Any], Phase]
    options: type[Options]
    evaluate: Callable[[StageCheckContext, Any], CheckResult]
    stages: tuple[str, ...]
    description: str
    uses_sink: bool = False

    def phase_for(self, stage: str, options: Any) -> Phase:
        """'input': evaluated before the stage function runs; 'output': after, before hand-off."""
        return self.phase(stage, options) if callable(self.phase) else self.phase


REGISTRY: dict[str, CheckKind] = {}


def register(name: str, *, options: type[Options],
             phase: Phase | Callable[[str, Any], Phase] = "output",
             stages: tuple[str, ...] = ("ingest", "features", "score", "decide", "deliver"),
             uses_sink: bool = False) -> Callable[[Callable[..., CheckResult]],
                                                  Callable[..., CheckResult]]:
    """Register ``fn(ctx, options) -> CheckResult`` as check kind ``name``."""

    def deco(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        doc = (fn.__doc__ or name).strip().splitlines()[0]
        REGISTRY[name] = CheckKind(name=name, phase=phase, options=options, evaluate=fn,
                                   stages=stages, description=doc, uses_sink=uses_sink)
        return fn

    return deco


def get_kind(name: str) -> CheckKind:
    from e2e_assets.checks import catalog  # noqa: F401  (registers the built-in kinds)

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
