"""Evaluate a stage's configured checks, failing closed on a check that cannot run."""

from __future__ import annotations

from dataclasses import dataclass

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


def evaluate_one(ctx: StageCheckContext, check: ConfiguredCheck) -> EvaluatedCheck:
    try:
        result = check.kind.evaluate(ctx, check.options)
    except Exception as exc:  # a check that cannot run fails: never a silent pass
        result = CheckResult(False, f"check could not be evaluated: {type(exc).__name__}: "
                             f"{exc}", {"error": f"{type(exc).__name__}: {exc}"})
    downgraded = result.severity == "warn" and not result.passed
    return EvaluatedCheck(stage=ctx.stage, name=check.name, kind=check.kind.name,
                          severity="warn" if downgraded else check.severity,
                          blocking=check.blocking and not downgraded, result=result)


def evaluate_phase(ctx: StageCheckContext, phase: Phase) -> list[EvaluatedCheck]:
    return [evaluate_one(ctx, c) for c in ctx.journey.checks_for(ctx.stage, phase)]
