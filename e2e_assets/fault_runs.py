"""Run the fault matrix: a journey's clean runs and drills, in process.

Each run is :func:`e2e_assets.inprocess.run_in_process`: the stages through the core stage
protocol with every check as a run evaluates it, then each stage's monitor checks; a failed
blocking check stops the run where Dagster would. It delivers to the shadow table, never
publishes, and its hand-off folder is removed when it ends. Checks keep their configured
severity and blocking, in clean runs too (production's, not the gate's validation run's). A
stage that raises (a journey without a fallback, its model down) fails closed: its stage is
the catcher. Extra clean runs feed the first stage a resample of the source rows; that stage's
input checks still see the whole source.

A drill's column comes from the journey's own frames (its stage functions on the source, in
memory, no checks: :func:`drill_column`), so a journey needs no extra configuration: an input
fault takes the first numeric column without nulls that the model reads, an output fault the
journey's prediction column (else the last float column), ``policy_violation`` the first
column the stage adds, broken on a share of the rows (:func:`_violation`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from time import perf_counter
from typing import Any

import pandas as pd

from e2e_assets.checks.runner import EvaluatedCheck
from e2e_assets.dryrun import preflight
from e2e_assets.errors import SpecError, StageError
from e2e_assets.fault_matrix import (
    STAGE_FAILED,
    FailedCheck,
    FaultMatrix,
    MatrixRow,
    RunOutcome,
    matrix_row,
    out_of_run_faults,
)
from e2e_assets.faults import INJECTABLE, REGISTRY, Fault, with_faults
from e2e_assets.home import Home
from e2e_assets.inprocess import run_in_process
from e2e_assets.serving import ServedModels
from e2e_assets.sources import read_source
from e2e_assets.spec.loader import Journey
from e2e_assets.stages import run_through

RESAMPLE_SHARE = 0.75  # of the source rows, per extra clean run
_INPUT_FAULTS = frozenset({"schema_rename", "unit_change", "null_burst", "covariate_drift"})
_OUTPUT_FAULTS = frozenset({"output_drift", "precision_change", "nondeterminism",
                            "contract_break"})

Progress = Callable[[str], None]


def run_matrix(journey: Journey, home: Home, *, clean_runs: int = 1,
               only: Collection[str] | None = None, progress: Progress | None = None
               ) -> FaultMatrix:
    """The fault matrix of ``journey``: ``clean_runs`` clean runs (the first on the whole
    source, the others on resamples), then one drill per injectable fault (``only``: those).
    Raises E2EAssetsError (exit 2) for a configuration problem, found before any run."""
    unknown = sorted(set(only or ()) - set(INJECTABLE))
    if unknown:
        raise SpecError(f"unknown or not injectable fault(s) {unknown}; expected some of "
                        f"{list(INJECTABLE)}", field="--only")
    if clean_runs < 1:
        raise SpecError(f"expected at least 1 clean run, got {clean_runs}", field="--clean-runs")
    say = progress or (lambda _: None)
    started = perf_counter()
    say(f"fault matrix: {clean_runs} clean run(s), then one drill per injectable fault"
        + (f" of {', '.join(only)}" if only else "") + " (delivered to the shadow sink) ...")
    served = preflight(journey, home)  # every configuration error first (exit 2)
    drills = planned_drills(journey, served, [f for f in INJECTABLE if not only or f in only])
    cleans = []
    for i in range(clean_runs):
        outcome = run_once(journey if i == 0 else resampled(journey, seed=i), home, served)
        cleans.append(outcome)
        say(f"clean run {i + 1}/{clean_runs}"
            + (f" ({RESAMPLE_SHARE:.0%} resample, seed {i})" if i else "")
            + f": {len(outcome.failed)} failed check(s)"
            + "".join(f", {c.describe()}" + (" (blocking)" if c.blocking else "")
                      for c in outcome.failed) + f" in {outcome.wall_s:.1f} s")
    rows: list[MatrixRow] = []
    for fault in drills:
        outcome = run_once(with_faults(journey, [fault]), home, served)
        rows.append(matrix_row(fault.id, fault.stage, outcome, column=fault.column))
        say(f"drill {len(rows)}/{len(drills)}: {fault.describe()} -> "
            + (", ".join(c.describe() for c in outcome.failed) or "not caught")
            + f" ({outcome.wall_s:.1f} s)")
    return FaultMatrix(journey=journey.name, rows=tuple(rows), clean_runs=tuple(cleans),
                       out_of_run=out_of_run_faults(), wall_s=perf_counter() - started)


def planned_drills(journey: Journey, served: ServedModels, ids: Sequence[str]
                   ) -> list[Fault]:
    """One drill per fault of ``ids`` at its default stage; SpecError naming every fault that
    cannot be drilled in this journey (no such stage, no model there, no column to alter)."""
    frames = run_through(journey, read_source(journey), models=served.all_loaded())
    drills, problems = [], []
    for fid in ids:
        try:
            fault = drill_fault(journey, fid, str(REGISTRY[fid].stage), frames)
            with_faults(journey, [fault])  # refuses a stage the journey lacks, or no model
            drills.append(fault)
        except SpecError as exc:
            problems.append(exc.detail)
    if problems:
        raise SpecError("cannot drill: " + "; ".join(problems) + " (--only drills the others)",
                        file=str(journey.path))
    return drills


def run_once(journey: Journey, home: Home, served: ServedModels) -> RunOutcome:
    """Run ``journey`` once in process (:func:`e2e_assets.inprocess.run_in_process`): its
    failed checks in stage order, or the stage that raised; its hand-offs are removed."""
    started = perf_counter()
    try:
        run = run_in_process(journey, home, served=served,
                             run_id=f"fault-matrix-{uuid.uuid4().hex[:12]}")
        failed, blocked_at = tuple(_failed(c) for c in run.failed), run.blocked_at
    except StageError as exc:  # fails closed in a run too (exit 1, the stage named)
        failed, blocked_at = (_stage_failed(journey, exc),), exc.stage
    return RunOutcome(failed=failed, blocked_at=blocked_at, wall_s=perf_counter() - started)


def _failed(check: EvaluatedCheck) -> FailedCheck:
    return FailedCheck(check=check.name, stage=check.stage, kind=check.kind,
                       severity="warn" if check.severity == "warn" else "error",
                       blocking=check.blocks,
                       summary=check.result.summary[:300])


def _stage_failed(journey: Journey, exc: StageError) -> FailedCheck:
    """A stage that raised: the catcher of last resort. An injection that cannot apply is no
    catch: it is raised, naming the drill."""
    if isinstance(exc.__cause__, SpecError):
        raise SpecError(f"a drill on stage '{exc.stage}' of journey '{journey.name}' cannot be "
                        f"injected: {exc.__cause__.detail}") from None
    return FailedCheck(check=STAGE_FAILED, stage=exc.stage, kind="stage", severity="error",
                       blocking=True, summary=str(exc)[:300])


def resampled(journey: Journey, *, seed: int, share: float = RESAMPLE_SHARE) -> Journey:
    """The journey whose first stage reads a ``share`` resample of the source rows (drawn
    without replacement with ``seed``); the input checks of that stage still see the source."""
    first = journey.stages[0]
    fn = journey.functions[first]

    def on_resample(frame: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        return fn(frame.sample(frac=share, random_state=seed), *args, **kwargs)

    return dataclasses.replace(journey, functions={**journey.functions, first: on_resample},
                               base=journey.pristine)


def drill_fault(journey: Journey, fid: str, stage: str, frames: Mapping[str, pd.DataFrame]
                ) -> Fault:
    """The drill of fault ``fid`` at ``stage`` with its default parameters, on a column of
    ``frames[stage]``, that stage's output on the source (:func:`drill_column`)."""
    column, params = drill_column(journey, fid, stage, frames)
    return Fault(id=fid, stage=stage, column=column, params=params)


def drill_column(journey: Journey, fid: str, stage: str, frames: Mapping[str, pd.DataFrame]
                 ) -> tuple[str | None, dict[str, Any]]:
    """(column, extra parameters) for fault ``fid`` on ``stage``'s output (None: the fault
    takes no column). SpecError when the frame has no fitting column."""
    if fid not in _INPUT_FAULTS | _OUTPUT_FAULTS | {"policy_violation"}:
        return None, {}
    frame = frames.get(stage)
    if frame is None:
        raise SpecError(f"fault '{fid}' targets stage '{stage}', which journey "
                        f"'{journey.name}' does not have; its stages: {list(journey.stages)}")
    rid = journey.spec.request_id
    if fid in _INPUT_FAULTS:
        read = _model_inputs(journey, frames)
        found = [c for c in frame.columns if c != rid and c in read
                 and frame[c].dtype.kind in "fiu" and frame[c].notna().all()]
    elif fid in _OUTPUT_FAULTS:
        floats = [c for c in frame.columns if frame[c].dtype.kind == "f"]
        labels = journey.spec.labels
        found = [labels.prediction] if labels and labels.prediction in floats else floats[::-1]
    else:
        upstream = journey.upstream_of(stage)
        before = set(frames[upstream].columns) if upstream is not None else set()
        found = [c for c in frame.columns if c not in before and c != rid]
        if found:
            return found[0], {"value": _violation(frame[found[0]])}
    if not found:
        raise SpecError(f"fault '{fid}' at '{stage}' of journey '{journey.name}' found no "
                        f"column to inject into; columns: {list(frame.columns)}")
    return found[0], {}


def _violation(values: pd.Series) -> str | None:
    """What ``policy_violation`` sets on a share of the rows: a number raised by three of its
    standard deviations (a rate above its cap), a text set to its most frequent value (an
    approval where the policy declines), a boolean flipped (None)."""
    if values.dtype.kind == "b":
        return None
    if values.dtype.kind in "fiu":
        return f"+{3 * float(values.std()):.3g}"
    return str(values.mode().iloc[0])


def _model_inputs(journey: Journey, frames: Mapping[str, pd.DataFrame]) -> set[str]:
    """The columns the first model-serving stage reads (every column when none serves)."""
    for stage in journey.spec.model_stages:
        upstream = journey.upstream_of(stage)
        if upstream is not None:
            return set(frames[upstream].columns)
    return {c for frame in frames.values() for c in frame.columns}
