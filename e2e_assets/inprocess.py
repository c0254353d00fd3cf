"""A whole journey run in this process, through the stage protocol, without Dagster.

For measurements that need many runs cheaply (the false-alarm rate, the fault matrix): every
stage runs exactly as in a Dagster run (``run_stage_protocol``: input checks, the stage, output
checks, the hand-off, the sink write), then its monitoring checks (drift) as the journey job
runs them after the stage, blocking as they block there. A failed blocking check stops the run
where Dagster would stop it.

These runs deliver to the shadow table (``<sink>__shadow``) and never publish a stage's output
as the journey's latest: a measurement must not change what the journey serves. Their hand-off
folder is removed when they end (``keep_handoffs=True`` keeps it).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass

from e2e_assets.checks.runner import EvaluatedCheck, evaluate_one
from e2e_assets.handoff import RunStore
from e2e_assets.home import Home
from e2e_assets.protocol import RunContext, monitor_context, run_stage_protocol
from e2e_assets.serving import ServedModels
from e2e_assets.sinks import shadow_table
from e2e_assets.spec.loader import Journey


@dataclass(frozen=True)
class InProcessRun:
    journey: str
    run_id: str
    checks: tuple[EvaluatedCheck, ...]
    blocked_at: str | None  # the stage whose blocking check failed, or None

    @property
    def failed(self) -> tuple[EvaluatedCheck, ...]:
        return tuple(c for c in self.checks if not c.result.passed)

    @property
    def blocking_failures(self) -> tuple[EvaluatedCheck, ...]:
        return tuple(c for c in self.checks if c.blocks)


def run_in_process(journey: Journey, home: Home, *, served: ServedModels | None = None,
                   run_id: str | None = None, keep_handoffs: bool = False) -> InProcessRun:
    """Run ``journey`` once in this process; raises as a Dagster run's step would (StageError
    for a broken stage, InfrastructureError for unreachable parts)."""
    run_id = run_id or f"inprocess-{uuid.uuid4().hex[:12]}"
    store = RunStore(home.storage, journey.name, run_id, journey.stages)
    try:
        return _run(journey, home, served or ServedModels(journey, home.tracking_uri), store)
    finally:
        if not keep_handoffs:
            shutil.rmtree(store.run_dir(), ignore_errors=True)


def _run(journey: Journey, home: Home, served: ServedModels, store: RunStore) -> InProcessRun:
    run_id = store.run_id
    run = RunContext(run_id=run_id, models=served, store=store,
                     tracking_uri=home.tracking_uri, publish=False, shadow=True)
    sink_table = shadow_table(journey.spec.sink.table)
    checks: list[EvaluatedCheck] = []
    for stage in journey.stages:
        outcome = run_stage_protocol(journey, stage, run)
        checks += outcome.checks
        if outcome.status == "blocked" or outcome.output is None:
            return InProcessRun(journey.name, run_id, tuple(checks), blocked_at=stage)
        ctx = monitor_context(journey, stage, outcome.output, served, home.tracking_uri,
                              sink_table=sink_table)
        monitors = [evaluate_one(ctx, c) for c in journey.checks_for(stage, "monitor")]
        checks += monitors
        if any(c.blocks for c in monitors):
            return InProcessRun(journey.name, run_id, tuple(checks), blocked_at=stage)
    return InProcessRun(journey.name, run_id, tuple(checks), blocked_at=None)
