"""Golden regression: the golden requests through the current journey, compared stage by stage.

At stage S the golden input of S (what S received when the golden set was made) goes through
the current stage function (and, at ``score``, the served model); the result is compared with
the golden output of S. A diverging stage is therefore named precisely: a changed feature
function fails at ``features``, a different model at ``score``, a policy change at ``decide``.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from e2e_assets.checks.base import CheckResult, Options, StageCheckContext, register
from e2e_assets.checks.frame_diff import compare_frames, compare_statistically
from e2e_assets.errors import GoldenError, GoldenTamperedError
from e2e_assets.golden import golden_of
from e2e_assets.model_registry import GOLDEN_MODELS_TAG, ResolvedModel
from e2e_assets.stages import run_stage


class Tolerance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    abs: float = Field(default=0.0, ge=0)
    rel: float = Field(default=0.0, ge=0)


class GoldenOptions(Options):
    # exact: every value equal; tolerance: floats within abs + rel*|expected|, others exact;
    # statistical: agreement rate / distribution test, for stochastic outputs.
    mode: Literal["exact", "tolerance", "statistical"] = "tolerance"
    abs_tolerance: float = Field(default=1e-9, ge=0)
    rel_tolerance: float = Field(default=1e-9, ge=0)
    columns: dict[str, Tolerance] = {}
    ignore: list[str] = []
    statistical_columns: list[str] = []
    min_agreement: float = Field(default=0.99, ge=0, le=1)
    alpha: float = Field(default=0.01, gt=0, lt=1)

    @property
    def tests_hypotheses(self) -> bool:  # only the statistical mode tests at alpha
        return self.mode == "statistical"


def _other_models_changed(ctx: StageCheckContext, record: ResolvedModel) -> str:
    """Name the other model stages whose version differs from the golden set's making."""
    made_with = json.loads(record.tag(GOLDEN_MODELS_TAG) or "{}")
    changed = [f"'{stage}' now serves {ctx.served_versions[stage]}, the golden set was made "
               f"with {was}" for stage, was in made_with.items()
               if stage in ctx.served_versions and ctx.served_versions[stage] != was]
    if not changed:
        return ""
    return (f" (note: {'; '.join(changed)}; re-register {record.name} with "
            f"`e2e-assets bootstrap --force` to make its golden set with them)")


@register("golden", options=GoldenOptions)
def check_golden(ctx: StageCheckContext, options: GoldenOptions) -> CheckResult:
    """The golden requests still produce the golden outputs at this stage."""
    record = ctx.record_model
    if record is None or ctx.tracking_uri is None:
        return CheckResult(False, "no model version resolved: cannot pick its golden set")
    try:
        golden = golden_of(ctx.served, ctx.tracking_uri, record)
        golden_input = golden.input_for(ctx.stage)
    except GoldenTamperedError as exc:  # tampering, never a regression
        return CheckResult(False, str(exc), {"model_version": record.version,
                                                       "tampered": True})
    except GoldenError as exc:
        return CheckResult(False, str(exc), {"model_version": record.version})
    actual = run_stage(ctx.journey, ctx.stage, golden_input, model=ctx.model)
    expected = golden.frames[ctx.stage]
    columns = [c for c in expected.columns if c not in options.ignore]
    meta = {"golden_digest": golden.digest, "golden_rows": len(expected), "mode": options.mode,
            "model_version": golden.model_version}
    if options.mode == "statistical":
        result = compare_statistically(expected, actual, key=ctx.request_id,
                                       columns=options.statistical_columns or
                                       [c for c in columns if c != ctx.request_id],
                                       min_agreement=options.min_agreement, alpha=options.alpha)
    else:
        exact = options.mode == "exact"
        result = compare_frames(
            expected, actual, key=ctx.request_id, columns=columns,
            default_abs=0.0 if exact else options.abs_tolerance,
            default_rel=0.0 if exact else options.rel_tolerance,
            tolerances={} if exact else {c: (t.abs, t.rel) for c, t in options.columns.items()},
            sample_size=options.sample_size)
    summary = (f"golden set ({len(expected)} requests) at '{ctx.stage}': {result.summary}")
    if not result.passed:
        summary += _other_models_changed(ctx, record)
    return CheckResult(result.passed, summary, {**meta, **result.metadata}, result.samples)
