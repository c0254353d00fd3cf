"""Retraining: the journey's training hook on recent data, registered as the challenger.

A retrain never serves: it registers a new version under the challenger alias
(``release.challenger_alias``, default ``challenger``) and prints it; only the promotion gate
moves the champion. The hook is ``release.retrain.function`` in the spec,
``fn(ctx: RetrainContext, **params)``; it calls ``ctx.recent_requests()`` for the newest source
rows and ``ctx.register_model(...)`` exactly as a bootstrap does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from e2e_assets.bootstrap import BootstrapContext
from e2e_assets.errors import E2EAssetsError, SpecError
from e2e_assets.home import Home
from e2e_assets.sources import read_source

if TYPE_CHECKING:
    from e2e_assets.spec.loader import Journey


@dataclass(frozen=True)
class RetrainContext(BootstrapContext):
    """A bootstrap context that registers as the challenger and never writes the source."""

    def recent_requests(self, rows: int | None = None) -> pd.DataFrame:
        """The newest ``rows`` source requests (all of them by default), in source order."""
        frame = read_source(self.journey)
        return frame if rows is None else frame.tail(rows)

    @property
    def needs_source(self) -> bool:
        return False

    def evaluation_ids(self) -> set[object]:
        """Request ids of the champion's golden set: the gate judges on them, so a retrain
        must not train on them (empty when there is no champion)."""
        from e2e_assets.golden import load_golden
        from e2e_assets.model_registry import resolve_model

        primary = self.journey.spec.primary_model
        if primary is None:
            return set()
        try:
            champion = resolve_model(self.home.tracking_uri, primary.uri)
        except E2EAssetsError:
            return set()
        golden = load_golden(self.home.tracking_uri, champion)
        return set(golden.frames["requests"][self.journey.spec.request_id])


@dataclass(frozen=True)
class RetrainResult:
    journey: str
    model: str
    version: str
    alias: str
    stage: str


def retrain_journey(journey: Journey, home: Home) -> RetrainResult:
    """Run the journey's retrain hook; returns the challenger version it registered."""
    release = journey.spec.release
    if release.retrain is None or "retrain" not in journey.functions:
        raise SpecError("the journey has no retrain hook: add release.retrain.function (the "
                        "training function, fn(ctx, **params))", file=str(journey.path),
                        field="release.retrain")
    ctx = RetrainContext(journey=journey, home=home, seed=journey.spec.seed,
                         register_as=release.challenger_alias)
    journey.functions["retrain"](ctx, **release.retrain.params)
    stage = journey.spec.record_stage
    if not ctx.registered or stage is None:
        raise SpecError("the retrain hook registered no model (it must call "
                        "ctx.register_model)", file=str(journey.path),
                        field="release.retrain.function")
    stage = stage if stage in ctx.registered else next(iter(ctx.registered))
    model_spec = journey.spec.model_for(stage)
    return RetrainResult(journey=journey.name, model=model_spec.name if model_spec else "?",
                         version=ctx.registered[stage], alias=release.challenger_alias,
                         stage=stage)
