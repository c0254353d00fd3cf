"""Evaluate a stage's configured checks for one phase, failing closed on broken checks."""

from __future__ import annotations

from dataclasses import dataclass

from e2e_assets.checks.base import CheckResult, Phase, StageCheckContext, get_kind
from e2e_assets.spec import CheckSpec, Journey


@dataclass(frozen=True)
class EvaluatedCheck:
    stage: str
    name: str
    kind: str
    severity: str
    blocking: bool
    result: CheckResult
    index: int = 0  # position in the stage's checks: list

    @property
    def blocks(self) -> bool:
        """A failed blocking check of severity error stops everything downstream."""
        return self.blocking and self.severity == "error" and not self.result.passed


def configured(journey: Journey, stage: str, phase: Phase | None = None
               ) -> list[tuple[int, CheckSpec]]:
    """The stage's checks (index, spec), optionally only those evaluated in ``phase``."""
    out = []
    for i, check in enumerate(journey.spec.checks.get(stage, [])):  # type: ignore[call-overload]
        kind = get_kind(check.kind)
        if phase is None or kind.phase_for(stage, journey.check_options(stage, i)) == phase:
            out.append((i, check))
    return out


def evaluate_one(ctx: StageCheckContext, index: int, check: CheckSpec) -> EvaluatedCheck:
    kind = get_kind(check.kind)
    options = ctx.journey.check_options(ctx.stage, index)
    try:
        result = kind.evaluate(ctx, options)
    except Exception as exc:  # a check that cannot run fails: never a silent pass
        result = CheckResult(False, f"check could not be evaluated: {type(exc).__name__}: "
                             f"{exc}", {"error": f"{type(exc).__name__}: {exc}"})
    return EvaluatedCheck(stage=ctx.stage, name=check.check_name, kind=check.kind,
                          severity=check.severity, blocking=check.blocking, result=result,
                          index=index)


def evaluate_phase(ctx: StageCheckContext, phase: Phase) -> list[EvaluatedCheck]:
    return [evaluate_one(ctx, i, c) for i, c in configured(ctx.journey, ctx.stage, phase)]
