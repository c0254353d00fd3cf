"""Reproducibility: the same input through the same stage twice gives the same output.

A batch larger than ``sample_rows`` is re-run on a seeded random sample of its rows, not whole:
re-running a million-row score stage costs as much as the stage. A sample of m rows finds
nondeterminism that touches a share p of the rows with probability 1 - (1 - p)^m, so the result
states the smallest share found with 99% probability (m = 20,000: 0.023% of the rows). When the
sample differs, the whole batch is re-run before the check fails: a stage whose rows depend on
the rest of the batch (ranks, batch statistics) differs on a sample without being
nondeterministic, and the verdict is then the whole batch's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from pydantic import Field

from e2e_assets.checks.base import CheckResult, Options, StageCheckContext, register
from e2e_assets.checks.frame_diff import compare_frames
from e2e_assets.checks.sampling import SAMPLE_SEED, sample_of
from e2e_assets.stages import run_stage

DETECTION_PROBABILITY = 0.99


class ReproducibilityOptions(Options):
    abs_tolerance: float = 0.0
    rel_tolerance: float = 0.0
    sample_rows: int | None = Field(default=20_000, ge=1)  # None: always the whole batch


def smallest_share_found(sample_rows: int, probability: float = DETECTION_PROBABILITY) -> float:
    """The smallest share of nondeterministic rows a sample of ``sample_rows`` rows contains
    at least once with ``probability``: solves 1 - (1 - p)^m = probability for p."""
    return float(1.0 - (1.0 - probability) ** (1.0 / sample_rows))


def rerun_matches(source: pd.DataFrame, output: pd.DataFrame, rerun: Callable[[pd.DataFrame],
                  pd.DataFrame], *, key: str, abs_tolerance: float, rel_tolerance: float,
                  sample_rows: int | None, sample_size: int) -> CheckResult:
    """``rerun(source)`` against ``output``, on a seeded sample of ``source`` when it has more
    than ``sample_rows`` rows (and the key to match rows by), confirmed whole when it differs."""
    def compare(expected: pd.DataFrame, again: pd.DataFrame) -> CheckResult:
        return compare_frames(expected, again, key=key, default_abs=abs_tolerance,
                              default_rel=rel_tolerance, sample_size=sample_size)

    sampling: dict[str, Any] = {"sampled": False, "batch_rows": len(source)}
    if (sample_rows and len(source) > sample_rows and key in source.columns
            and key in output.columns):
        part = sample_of(source, sample_rows)
        expected = output[output[key].isin(part[key])]
        result = compare(expected, rerun(part))
        sampling = {"sampled": True, "batch_rows": len(source), "sample_rows": sample_rows,
                    "seed": SAMPLE_SEED, "finds_share": smallest_share_found(sample_rows),
                    "with_probability": DETECTION_PROBABILITY}
        if result.passed:
            return CheckResult(True, f"{result.summary} on a seeded sample of {sample_rows:,} "
                               f"of {len(source):,} rows (finds nondeterminism in "
                               f"{sampling['finds_share']:.3%} of rows or more with "
                               f"{DETECTION_PROBABILITY:.0%} probability)",
                               {**result.metadata, "sampling": sampling})
        sampling["sample_differed"] = True  # confirmed, or not, on the whole batch below
    result = compare(output, rerun(source))
    return CheckResult(result.passed, result.summary, {**result.metadata, "sampling": sampling},
                       result.samples)


@register("reproducibility", options=ReproducibilityOptions)
def check_reproducibility(ctx: StageCheckContext, options: ReproducibilityOptions) -> CheckResult:
    """Re-running the stage on its own input reproduces its output (within tolerance)."""
    result = rerun_matches(
        ctx.frame("input"), ctx.frame("output"),
        lambda frame: run_stage(ctx.journey, ctx.stage, frame, model=ctx.model),
        key=ctx.request_id, abs_tolerance=options.abs_tolerance,
        rel_tolerance=options.rel_tolerance, sample_rows=options.sample_rows,
        sample_size=options.sample_size)
    if result.passed:
        return CheckResult(True, f"stage '{ctx.stage}' is reproducible: {result.summary}",
                           result.metadata)
    return CheckResult(False, f"stage '{ctx.stage}' is nondeterministic: two runs on the same "
                       f"input differ; {result.summary}", result.metadata, result.samples)
