"""Reproducibility: the same input through the same stage twice gives the same output."""

from __future__ import annotations

from e2e_assets.checks.base import CheckResult, Options, StageCheckContext, register
from e2e_assets.checks.frame_diff import compare_frames
from e2e_assets.stages import run_stage


class ReproducibilityOptions(Options):
    abs_tolerance: float = 0.0
    rel_tolerance: float = 0.0


@register("reproducibility", options=ReproducibilityOptions)
def check_reproducibility(ctx: StageCheckContext, options: ReproducibilityOptions) -> CheckResult:
    """Re-running the stage on its own input reproduces its output (within tolerance)."""
    again = run_stage(ctx.journey, ctx.stage, ctx.frame("input"), model=ctx.model)
    result = compare_frames(ctx.frame("output"), again, key=ctx.request_id,
                            default_abs=options.abs_tolerance, default_rel=options.rel_tolerance,
                            sample_size=options.sample_size)
    if result.passed:
        return CheckResult(True, f"stage '{ctx.stage}' is reproducible: {result.summary}",
                           result.metadata)
    return CheckResult(False, f"stage '{ctx.stage}' is nondeterministic: two runs on the same "
                       f"input differ; {result.summary}", result.metadata, result.samples)
