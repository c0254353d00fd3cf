"""The stage protocol: one function runs a stage the same way for Dagster, the CLI and the gate.

::

    upstream output (this run) ──► input checks ──► stage function ──► output checks
          or the source               │ block              │ raise        │ block
                                      ▼                    ▼              ▼
                                   blocked            StageError       blocked
                                                                          │ pass
    provenance ◄── sink checks ◄── sink write (sink stage) ◄── hand-off ◄─┘

A failed blocking check stops the hand-off: nothing reaches the next stage or the sink. The
input is read from the same run (verified against the digest its writer recorded), and the
outcome is a frozen value; the caller decides how to show it.

A model stage that declares ``fallback:`` loads and calls its model through
:func:`e2e_assets.fallback.serve_with_fallback`: failures are retried with backoff, then the
fallback decides; the outcome (share, attempts, reason) joins the stage's facts and the
``fallback`` check's context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from time import perf_counter
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from e2e_assets import progress
from e2e_assets.checks.base import StageCheckContext
from e2e_assets.checks.runner import EvaluatedCheck, evaluate_one, evaluate_phase
from e2e_assets.checks.sink_audit import SINK_AUDIT
from e2e_assets.errors import E2EAssetsError
from e2e_assets.fallback import serve_with_fallback
from e2e_assets.frames import frame_digest
from e2e_assets.handoff import HandoffRef, RunStore
from e2e_assets.identity import model_identity
from e2e_assets.model_registry import GOLDEN_DIGEST_TAG
from e2e_assets.provenance import Provenance, build_provenance
from e2e_assets.serving import ServedModels
from e2e_assets.sinks import shadow_table, write_sink
from e2e_assets.sources import describe_source, read_source
from e2e_assets.stages import run_stage

if TYPE_CHECKING:
    from e2e_assets.spec.loader import Journey


@dataclass(frozen=True)
class RunContext:
    """What every stage of one run shares."""

    run_id: str
    models: ServedModels
    store: RunStore
    tracking_uri: str
    planned: frozenset[str] | None = None  # the stages this run produces (None: all of them)
    publish: bool = True  # make a stage's lineage the journey's latest once it passes
    # A validation run (the gate's): the sink stage writes to the shadow table, not the sink.
    shadow: bool = False
    partition: str | None = None  # a partitioned journey's run reads this day of the source


@dataclass(frozen=True, eq=False)
class StageOutcome:
    journey: str
    stage: str
    status: Literal["materialized", "blocked"]
    checks: tuple[EvaluatedCheck, ...]
    facts: Mapping[str, Any]  # source, model URI and load time, sink table and rows, faults
    summary: Mapping[str, Any]  # short provenance attached to every check result
    provenance: Provenance | None = None
    output: pd.DataFrame | None = None
    handoff: HandoffRef | None = None
    not_evaluated: tuple[str, ...] = field(default=())

    @property
    def blocked_by(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if c.blocks)


def run_stage_protocol(journey: Journey, stage: str, run: RunContext) -> StageOutcome:
    """Run ``stage`` of ``journey`` once, in ``run``. Raises E2EAssetsError subclasses for a
    broken stage (StageError), an unreadable input (HandoffError) or unreachable parts.
    Reports the stage's start and outcome to the watching progress reporter, if any."""
    progress.stage_started(journey.name, stage)
    started = perf_counter()
    try:
        outcome = _run_stage(journey, stage, run)
    except Exception:
        progress.stage_finished(journey.name, stage, "failed", perf_counter() - started, 0, 0)
        raise
    passed = sum(c.result.passed for c in outcome.checks)
    progress.stage_finished(journey.name, stage, outcome.status, perf_counter() - started,
                            passed, len(outcome.checks) - passed)
    return outcome


def _run_stage(journey: Journey, stage: str, run: RunContext) -> StageOutcome:
    facts: dict[str, Any] = {}
    if run.store.run_id != run.run_id:  # one Dagster run of a stage-by-stage journey run
        facts["journey_run_id"] = run.store.run_id
    if journey.injected:  # a drill, and the record says so
        facts["injected_faults"] = ", ".join(journey.injected)
    frame_in, read_ref = _read_input(journey, stage, run, facts)
    resolved, model, record = _models(journey, stage, run, facts)
    summary: dict[str, Any] = {
        "journey": journey.name, "dagster_run_id": run.run_id,
        "config_digest": journey.config_digest,
        "input_digest": read_ref.data_digest if read_ref else frame_digest(frame_in),
        **model_identity(resolved or record)}
    lineage = run.store.lineage(read_ref) if read_ref else {}
    served = _served_versions(journey, run)
    if served:
        facts["served_models"] = ", ".join(f"{s}: {v}" for s, v in served.items())
    if record is not None:
        facts["golden_set_of"] = f"{record.name}:{record.version}"
    ctx = StageCheckContext(journey=journey, stage=stage, input=frame_in, model=model,
                            resolved_model=resolved, record_model=record,
                            tracking_uri=run.tracking_uri, served_versions=served,
                            read_stage=lambda s: run.store.read(lineage[s]), served=run.models,
                            read_requests=_requests_reader(journey, stage, frame_in,
                                                           run.partition))
    checks = evaluate_phase(ctx, "input")
    if any(c.blocks for c in checks):  # fail closed before the stage runs
        return _blocked(journey, stage, checks, facts, summary, ("output",))
    started = perf_counter()
    fallback = None
    if _has_fallback(journey, stage):  # retried, then its fallback: never raises for the model
        out, fallback, model = serve_with_fallback(
            journey, stage, frame_in, lambda: _load(run, stage, facts))
        facts.update(fallback.facts())
    else:
        out = run_stage(journey, stage, frame_in, model=model)
    # the stage's own time: loading its model (inside serve_with_fallback) is not the stage's
    wall = perf_counter() - started - (facts.get("model_load_s", 0.0) if fallback else 0.0)
    ctx = replace(ctx, output=out, stage_wall_s=wall, model=model, fallback=fallback)
    summary["data_digest"] = frame_digest(out)
    checks += evaluate_phase(ctx, "output")
    if any(c.blocks for c in checks):  # no hand-off: nothing downstream, nothing in the sink
        return _blocked(journey, stage, checks, facts, summary, ())
    ref = run.store.write(stage, out, read_ref, digest=summary["data_digest"])
    lineage = {**lineage, stage: ref}
    if stage == journey.spec.sink_stage:
        checks = _deliver(journey, ctx, checks, facts, run_id=run.run_id, shadow=run.shadow)
    provenance = build_provenance(
        journey=journey.name, stage=stage, run_id=run.run_id, folder=journey.folder,
        config_digest=journey.config_digest, seed=journey.spec.seed,
        data_digest=ref.data_digest, input_digest=summary["input_digest"],
        rows_in=len(frame_in), rows_out=len(out), wall_time_s=wall,
        model=resolved or record,
        golden_digest=record.tag(GOLDEN_DIGEST_TAG) if record is not None else None)
    if run.publish and not any(c.blocks for c in checks):
        run.store.publish(ref)
    return StageOutcome(journey=journey.name, stage=stage, status="materialized",
                        checks=tuple(checks), facts=facts, summary=summary,
                        provenance=provenance, output=out, handoff=ref)


def monitor_context(journey: Journey, stage: str, output: pd.DataFrame, served: ServedModels,
                    tracking_uri: str, *, sink_table: str | None = None,
                    dagster_run_id: str | None = None) -> StageCheckContext:
    """What a monitoring check (drift) sees: a stage's stored output and the run's models."""
    return StageCheckContext(journey=journey, stage=stage, input=None, output=output,
                             model=served.model(stage), resolved_model=served.resolved(stage),
                             record_model=served.record(), models=served.all_loaded(until=stage),
                             tracking_uri=tracking_uri, served=served, sink_table=sink_table,
                             dagster_run_id=dagster_run_id)


def _requests_reader(journey: Journey, stage: str, frame_in: pd.DataFrame,
                     partition: str | None = None) -> Callable[[int | None], pd.DataFrame]:
    """The run's requests: the first stage's input, or read again from the source (the run's
    partition of it)."""
    if journey.upstream_of(stage) is None:
        return lambda limit: frame_in if limit is None else frame_in.head(limit)
    return lambda limit: read_source(journey, limit=limit, partition=partition)


def _read_input(journey: Journey, stage: str, run: RunContext, facts: dict[str, Any]
                ) -> tuple[pd.DataFrame, HandoffRef | None]:
    upstream = journey.upstream_of(stage)
    if upstream is None:
        facts["source"] = describe_source(journey)
        if run.partition is not None:
            facts["partition"] = run.partition
        return read_source(journey, partition=run.partition), None
    planned = run.planned is None or upstream in run.planned
    ref = run.store.upstream_ref(stage, planned=planned)
    if ref.run_id != run.store.run_id:
        facts["input_from_run"] = ref.run_id
    return run.store.read(ref), ref


def _models(journey: Journey, stage: str, run: RunContext, facts: dict[str, Any]
            ) -> tuple[Any, Any, Any]:
    """(the stage's resolved model, the loaded model, the model of record)."""
    resolved = run.models.resolved(stage)  # a stage that serves a model needs it: errors raise
    model = None
    if resolved is not None:
        facts["model_uri"] = resolved.version_uri
        if not _has_fallback(journey, stage):  # else loaded, and retried, as the stage runs
            model = _load(run, stage, facts)
    try:
        record = run.models.record()
    except E2EAssetsError as exc:  # provenance only: a registry hiccup must not fail the stage
        record = None
        facts["model_resolution"] = f"unavailable: {exc}"
    return resolved, model, record


def _has_fallback(journey: Journey, stage: str) -> bool:
    stage_spec = journey.spec.stage(stage)
    return stage_spec is not None and stage_spec.fallback is not None


def _load(run: RunContext, stage: str, facts: dict[str, Any]) -> Any:
    started = perf_counter()
    model = run.models.model(stage)
    facts["model_load_s"] = round(perf_counter() - started, 4)
    return model


def _served_versions(journey: Journey, run: RunContext) -> dict[str, str]:
    """Every model-serving stage -> "name:version" this run serves (provenance only)."""
    out = {}
    for stage in journey.spec.model_stages:
        try:
            resolved = run.models.resolved(stage)
        except E2EAssetsError:
            continue  # the stage that serves it will fail loudly; here it is provenance only
        if resolved is not None:
            out[stage] = f"{resolved.name}:{resolved.version}"
    return out


def _deliver(journey: Journey, ctx: StageCheckContext, checks: list[EvaluatedCheck],
             facts: dict[str, Any], *, run_id: str, shadow: bool = False
             ) -> list[EvaluatedCheck]:
    """Write the sink (a validation run: its shadow table) in one transaction, then re-evaluate
    the checks that read it back. A journey with a ``sink_audit`` check has the sink audited
    against the last deliveries' row digests inside that transaction, before the write
    overwrites the evidence; the ``sink_audit`` monitor check reports what it found."""
    sink = journey.spec.sink
    key = journey.spec.sink_key
    table = shadow_table(sink.table) if shadow else sink.table
    # A shadow table keeps its own ledger, so drills that deliver there are audited too.
    audited = any(c.kind.name == SINK_AUDIT for c in journey.checks_for(ctx.stage))
    written = write_sink(ctx.frame("output"), sink.url, table, key,
                         ledger_run=run_id if audited else None)
    facts.update(sink_table=written.table, sink_url=written.url,
                 sink_rows_written=written.rows_written, sink_rows_replaced=written.rows_replaced)
    if written.audit is not None:
        facts.update(sink_audit_before_write=written.audit.describe())
    # Both read back in the write's own transaction: the rows as the sink holds them
    ctx = replace(ctx, sink_ids=lambda ids: [i for i in ids if i in written.digests],
                  sink_digests=lambda ids: {i: written.digests[i] for i in ids
                                            if i in written.digests})
    uses_sink = {c.name: c for c in journey.checks_for(ctx.stage) if c.kind.uses_sink}
    return [evaluate_one(ctx, uses_sink[e.name]) if e.name in uses_sink else e for e in checks]


def _blocked(journey: Journey, stage: str, checks: list[EvaluatedCheck], facts: dict[str, Any],
             summary: dict[str, Any], skipped_phases: tuple[str, ...]) -> StageOutcome:
    skipped = tuple(c.name for c in journey.checks_for(stage) if c.phase in skipped_phases)
    return StageOutcome(journey=journey.name, stage=stage, status="blocked",
                        checks=tuple(checks), facts=facts, summary=summary,
                        not_evaluated=skipped)
