"""Evaluate a stage's configured checks, failing closed on a check that cannot run."""

from __future__ import annotations

from dataclasses import dataclass, replace
from time import perf_counter

from e2e_assets.checks.base import CheckResult, ConfiguredCheck, Phase, StageCheckContext


@dataclass(frozen=True)
class EvaluatedCheck:
    """A check's result with what it was: stage, name, kind, severity, whether it blocks."""

    stage: str
    name: str
    kind: str
    severity: str
    blocking: bool
    result: CheckResult

    @property
    def blocks(self) -> bool:
        """A failed blocking check (blocking implies severity error) stops everything downstream."""
        return self.blocking and not self.result.passed


DURATION_KEY = "duration_s"  # metadata: how long the check took, in seconds


def evaluate_one(ctx: StageCheckContext, check: ConfiguredCheck) -> EvaluatedCheck:
    """One check's result, with the seconds it took in its metadata (``duration_s``)."""
    started = perf_counter()
    try:
        result = check.kind.evaluate(ctx, check.options)
    except Exception as exc:  # noqa: BLE001 - a check that cannot run fails: never a silent pass
        result = CheckResult(False, f"check could not be evaluated: {type(exc).__name__}: "
                             f"{exc}", {"error": f"{type(exc).__name__}: {exc}"})
    result = replace(result, metadata={**result.metadata,
                                       DURATION_KEY: round(perf_counter() - started, 4)})
    downgraded = result.severity == "warn" and not result.passed
    return EvaluatedCheck(stage=ctx.stage, name=check.name, kind=check.kind.name,
                          severity="warn" if downgraded else check.severity,
                          blocking=check.blocking and not downgraded, result=result)


def evaluate_phase(ctx: StageCheckContext, phase: Phase) -> list[EvaluatedCheck]:
    return [evaluate_one(ctx, c) for c in ctx.journey.checks_for(ctx.stage, phase)]
