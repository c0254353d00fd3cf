"""The models a journey serves: which stage serves which ``models:/<name>@<alias>``, resolved to
an exact version and loaded once per run.

``alias`` (``run --alias challenger``) replaces the alias of the journey's model of record (the
top-level ``model:``, else the last stage's model); other stages keep the alias in their spec.
A headless run resolves every alias once, before it starts, and pins those versions for all its
stages: an alias moved mid-run cannot give one run two versions.

Only blessed versions serve (:mod:`e2e_assets.release.blessing`): every resolution checks the
version's gate record, unless the stage is allowed unblessed (the gate's candidate, or a drill's
``--allow-unblessed``). The *baseline* of a stage is the version a challenger is compared with:
the version pinned as baseline for the run (the gate's), else what the spec's alias serves now.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from e2e_assets.errors import ModelResolutionError
from e2e_assets.model_registry import ResolvedModel, load_model, resolve_model
from e2e_assets.release.blessing import require_blessed

NO_BASELINE = "none"  # a pinned baseline meaning "no champion to compare with"

if TYPE_CHECKING:
    from e2e_assets.spec.loader import Journey


@lru_cache(maxsize=16)
def _load_cached(tracking_uri: str, resolved: ResolvedModel) -> Any:
    # A model version is immutable, so one load per process serves the dry run and every stage.
    return load_model(tracking_uri, resolved)


class ServedModels:
    """Resolve (and load) each model-serving stage's model, caching per instance."""

    def __init__(self, journey: Journey, tracking_uri: str, alias: str | None = None, *,
                 pins: Mapping[str, str] | None = None,
                 baselines: Mapping[str, str] | None = None,
                 allow_unblessed: bool | Collection[str] = False,
                 loader: Callable[[str, ResolvedModel], Any] = _load_cached) -> None:
        self.journey, self.tracking_uri, self.alias = journey, tracking_uri, alias
        self.pins = dict(pins or {})  # stage -> version resolved when the run started
        self.baselines = dict(baselines or {})  # stage -> baseline version (or NO_BASELINE)
        self.allow_unblessed = allow_unblessed
        self._loader = loader
        self._resolved: dict[str, ResolvedModel] = {}
        self._baseline: dict[str, ResolvedModel | None] = {}
        self._per_run: dict[tuple[Any, ...], Any] = {}

    def unblessed_allowed(self, stage: str) -> bool:
        allowed = self.allow_unblessed
        return allowed if isinstance(allowed, bool) else stage in allowed

    def _alias_for(self, stage: str) -> str | None:
        spec = self.journey.spec
        return self.alias if spec.model_for(stage) == spec.primary_model else None

    def resolved(self, stage: str) -> ResolvedModel | None:
        """The exact version ``stage`` serves, or None if it serves no model."""
        model_spec = self.journey.spec.model_for(stage)
        if model_spec is None:
            return None
        if stage not in self._resolved:
            resolved = resolve_model(self.tracking_uri, model_spec.uri, self._alias_for(stage),
                                     version=self.pins.get(stage))
            if not self.unblessed_allowed(stage):
                # Under the gated alias (the spec's), the alias must point where the gate put
                # it; a pinned version was checked so when the run started. Under another
                # alias (--alias), the version itself must have passed the gate.
                gated = model_spec.alias == resolved.alias and stage not in self.pins
                require_blessed(resolved, self.journey.name, check_alias=gated)
            self._resolved[stage] = resolved
        return self._resolved[stage]

    def model(self, stage: str) -> Any:
        resolved = self.resolved(stage)
        return None if resolved is None else self._loader(self.tracking_uri, resolved)

    def load(self, resolved: ResolvedModel) -> Any:
        """Load any exact version (a baseline, for comparisons)."""
        return self._loader(self.tracking_uri, resolved)

    def per_run(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """``build()`` once per run (per instance) under ``key``: what checks read again and
        again and what cannot change within a run, such as a model version's golden set (verified
        when first read) or its logged training data."""
        if key not in self._per_run:
            self._per_run[key] = build()
        return self._per_run[key]

    def baseline(self, stage: str) -> ResolvedModel | None:
        """The version ``stage``'s served model is compared with: the run's pinned baseline,
        else what the spec's alias serves now; None when there is none (a first model)."""
        model_spec = self.journey.spec.model_for(stage)
        if model_spec is None:
            return None
        if stage not in self._baseline:
            pinned = self.baselines.get(stage)
            if pinned == NO_BASELINE:
                self._baseline[stage] = None
            else:
                try:
                    self._baseline[stage] = resolve_model(self.tracking_uri, model_spec.uri,
                                                          version=pinned)
                except ModelResolutionError:
                    if pinned is not None:
                        raise
                    self._baseline[stage] = None  # the alias does not exist yet
        return self._baseline[stage]

    def record(self) -> ResolvedModel | None:
        """The journey's model of record (golden set, training data, provenance)."""
        primary = self.journey.spec.primary_model
        if primary is None:
            return None
        for stage in self.journey.spec.model_stages:
            if self.journey.spec.model_for(stage) == primary:
                return self.resolved(stage)
        return None

    def all_loaded(self, until: str | None = None) -> dict[str, Any]:
        """Every model-serving stage (up to ``until``) -> its loaded model."""
        stages = self.journey.stages
        last = stages.index(until) if until is not None else len(stages) - 1
        return {s: self.model(s) for s in stages[: last + 1]
                if self.journey.spec.model_for(s) is not None}

    def pinned(self) -> dict[str, str]:
        """Every model-serving stage -> the version it resolves to now, to pin for a run."""
        return {s: resolved.version for s in self.journey.spec.model_stages
                if (resolved := self.resolved(s)) is not None}

    def summary(self) -> dict[str, str]:
        """name/version/alias/run_id of the model of record, for reports."""
        record = self.record()
        if record is None:
            return {}
        return {"name": record.name, "version": record.version, "alias": record.alias,
                "run_id": record.run_id or ""}
