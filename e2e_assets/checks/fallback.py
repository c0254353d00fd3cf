"""Fallback: the share of requests a model stage's declared fallback decided stays bounded.

Added to every stage that declares ``fallback:`` (declare it under ``checks:`` only to change
its name, severity or blocking). It always reports the share, every model attempt (retries
with their backoff) and the reason the model failed; it fails when the share is above the
stage's ``max_fallback_share``. The fallback's own decisions are judged by the stage's other
checks and by the rules downstream, like the model's.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from e2e_assets.checks.base import (
    CheckResult,
    DryRunProblem,
    Options,
    StageCheckContext,
    register,
)
from e2e_assets.fallback import fallback_key

FALLBACK = "fallback"


def _dry_run(ctx: StageCheckContext, options: Any) -> list[DryRunProblem]:
    """The fallback, run on the sample, returns the columns the model's stage returns: when the
    model goes down is no time to find out it does not."""
    stage_spec = ctx.journey.spec.stage(ctx.stage)
    fn = ctx.journey.functions.get(fallback_key(ctx.stage))
    if stage_spec is None or stage_spec.fallback is None or fn is None:
        return []
    name = stage_spec.fallback.function
    out = fn(ctx.frame("input"), **stage_spec.fallback.params)
    if not isinstance(out, pd.DataFrame):
        return [{"message": f"fallback {name} returned {type(out).__name__} on the sample, "
                 f"expected a pandas DataFrame"}]
    model, fallback = set(map(str, ctx.frame("output").columns)), set(map(str, out.columns))
    if model == fallback:
        return []
    return [{"message": f"fallback {name} returns other columns than stage '{ctx.stage}' "
             f"with its model: missing {sorted(model - fallback)}, extra "
             f"{sorted(fallback - model)}; a fallback must return the stage's columns"}]


@register(FALLBACK, options=Options, dry_run=_dry_run)
def check_fallback(ctx: StageCheckContext, options: Options) -> CheckResult:
    """The share of requests decided by the stage's fallback is within max_fallback_share."""
    outcome = ctx.fallback
    if outcome is None:
        raise RuntimeError(f"stage '{ctx.stage}' declares a fallback, and the stage protocol "
                           f"recorded no fallback outcome for it")
    metadata: dict[str, Any] = {**outcome.facts(), "attempts": outcome.attempt_records()}
    retried = (f"; {outcome.retries} retr{'y' if outcome.retries == 1 else 'ies'}"
               if outcome.retries else "")
    if not outcome.fallback_rows:
        return CheckResult(True, f"the model decided all {outcome.rows} requests (fallback "
                           f"share 0{retried})", metadata)
    share = (f"the fallback decided {outcome.fallback_rows} of {outcome.rows} requests "
             f"(share {outcome.share:.3f}, max_fallback_share {outcome.max_share:g}) after "
             f"{len(outcome.failures)} failed model attempts{retried}; the model raised "
             f"{outcome.reason}")
    if outcome.within_bound:
        return CheckResult(True, share, metadata)
    return CheckResult(False, share, metadata)
