"""Reconciliation: every ingested request is delivered exactly once, and lands in the sink as
delivered (each sink row's canonical digest equals the delivered row's, see ``sinks.row_digest``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from e2e_assets.checks.base import MASK, CheckResult, Options, StageCheckContext, register
from e2e_assets.checks.frame_diff import sorted_as_text
from e2e_assets.sinks import row_digests


class ReconcileOptions(Options):
    against: str | None = None  # the stage whose request ids are the truth (default: the first)


def reconcile_ids(expected: Sequence[Any], delivered: Sequence[Any],
                  in_sink: Sequence[Any] | None = None, sample_size: int = 5,
                  differ_in_sink: Sequence[Any] = (), mask_ids: bool = False) -> CheckResult:
    """Counts of lost, duplicated and unexpected ids (and missing from the sink, or there with
    other content than delivered), with samples."""
    # Python sets: one hash pass per list (pandas' object-dtype unique/isin hashed a
    # million ids again for every comparison)
    exp = set(expected)
    got = list(delivered)
    delivered_once = set(got)
    lost = sorted_as_text(list(exp - delivered_once))
    duplicated = sorted_as_text(_repeated(got)) if len(delivered_once) < len(got) else []
    unexpected = sorted_as_text(list(delivered_once - exp))
    not_in_sink = (sorted_as_text(list(delivered_once - set(in_sink)))
                   if in_sink is not None else [])
    differ = sorted_as_text(list(set(differ_in_sink)))
    if mask_ids:
        lost, duplicated, unexpected, not_in_sink, differ = (
            [MASK] * len(ids) for ids in (lost, duplicated, unexpected, not_in_sink, differ))
    metadata = {"expected": len(exp), "delivered": len(got),
                "lost": len(lost), "duplicated": len(duplicated),
                "unexpected": len(unexpected), "missing_in_sink": len(not_in_sink),
                "lost_sample": lost[:sample_size], "duplicated_sample": duplicated[:sample_size],
                "unexpected_sample": unexpected[:sample_size],
                "missing_in_sink_sample": not_in_sink[:sample_size],
                "differ_in_sink": len(differ), "differ_in_sink_sample": differ[:sample_size]}
    problems = [f"{n} {what}" for n, what in ((len(lost), "lost"),
                                              (len(duplicated), "duplicated"),
                                              (len(unexpected), "unexpected"),
                                              (len(not_in_sink), "missing in the sink"),
                                              (len(differ), "different in the sink")) if n]
    passed = not problems
    summary = (f"{len(exp)} requests, each delivered exactly once" if passed else
               f"{', '.join(problems)} of {len(exp)} requests (e.g. "
               f"{(lost or duplicated or unexpected or not_in_sink or differ)[:3]})")
    return CheckResult(passed=passed, summary=summary, metadata=metadata)


def _repeated(ids: list[Any]) -> list[Any]:
    """The ids that appear more than once, each once."""
    seen: set[Any] = set()
    repeated: set[Any] = set()
    for i in ids:
        (repeated if i in seen else seen).add(i)
    return list(repeated)


def _validate(spec: Any, stage: str, options: ReconcileOptions) -> tuple[str, str] | None:
    earlier = list(spec.stage_names)[:list(spec.stage_names).index(stage)]
    if not earlier:
        return "against", (f"reconcile compares a stage with an earlier one, and '{stage}' is "
                           f"the first stage")
    if options.against is not None and options.against not in earlier:
        return "against", (f"reconcile on stage '{stage}' compares with an earlier stage; "
                           f"'{options.against}' is not one (earlier stages: {earlier})")
    return None


@register("reconcile", options=ReconcileOptions, uses_sink=True, validate_spec=_validate)
def check_reconcile(ctx: StageCheckContext, options: ReconcileOptions) -> CheckResult:
    """Every ingested request id appears exactly once here (and in the sink after deliver)."""
    against = options.against or ctx.journey.stages[0]
    if ctx.read_stage is None:
        return CheckResult(False, f"no stored output of '{against}' to reconcile with")
    expected = ctx.read_stage(against)[ctx.request_id].tolist()
    delivered = ctx.frame("output")[ctx.request_id].tolist()
    in_sink = ctx.sink_ids(delivered) if ctx.sink_ids is not None else None
    differ = (content_differs(row_digests(ctx.frame("output"), ctx.request_id),
                              ctx.sink_digests(delivered))
              if ctx.sink_digests is not None else [])
    return reconcile_ids(expected, delivered, in_sink, options.sample_size, differ,
                         mask_ids=ctx.request_id in ctx.journey.spec.sensitive)


def content_differs(delivered: Mapping[Any, str], in_sink: Mapping[Any, str]) -> list[Any]:
    """Ids the sink holds with another row digest than was delivered (absent ids are counted
    as missing, not here)."""
    return [i for i, digest in delivered.items() if in_sink.get(i, digest) != digest]
