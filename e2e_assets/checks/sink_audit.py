"""Sink audit: rows deleted, altered or foreign in the sink since the journey delivered them.

A monitor check (a standalone Dagster asset check on the sink stage, re-evaluable by the
checks-only job without a run). Its truth is the ledger each audited delivery records beside
the sink table (see :mod:`e2e_assets.sinks`). It reports two audits:

* *since the last delivery*: the sink now against the ledger. In the run that delivered, this
  is the audit its delivery committed (the whole-sink audit its transaction ran before writing,
  less the rows it wrote: equal to reading the whole sink again at commit, without doing so);
  the checks-only job, and any run after, read the whole sink. The metadata's ``audited`` says
  which;
* *before the last delivery*: what the delivering run found just before it overwrote the sink,
  so a re-upsert that repairs tampered rows still reports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from e2e_assets.checks.base import MASK, CheckResult, Options, StageCheckContext, register
from e2e_assets.sinks import SinkAudit, audit_sink

SINK_AUDIT = "sink_audit"
_KINDS = ("deleted", "altered", "foreign")


class SinkAuditOptions(Options):
    pass


def audit_result(now: SinkAudit, before: SinkAudit | None, *, mask_ids: bool = False,
                 sample_size: int = 5) -> CheckResult:
    """Pass only if neither audit found a deleted, altered or foreign row; ids in samples."""

    def ids(values: Sequence[Any]) -> list[Any]:
        return [MASK if mask_ids else v for v in values[:sample_size]]

    metadata: dict[str, Any] = {"table": now.table, "ledger_rows": now.recorded,
                                "last_delivery_run": now.run_id or ""}
    problems = []
    for label, audit in (("since the last delivery", now),
                         ("before the last delivery overwrote the sink", before)):
        prefix = "since" if audit is now else "before"
        for kind in _KINDS:
            found = getattr(audit, kind) if audit is not None else ()
            metadata[f"{prefix}_{kind}"] = len(found)
            metadata[f"{prefix}_{kind}_sample"] = ids(found)
        if audit is not None and not audit.clean:
            found_ids = ", ".join(f"{len(getattr(audit, k))} {k} {ids(getattr(audit, k))[:3]}"
                                  for k in _KINDS if getattr(audit, k))
            problems.append(f"{label}: {found_ids}")
    if problems:
        return CheckResult(False, f"sink table '{now.table}' was changed outside the journey: "
                           + "; ".join(problems), metadata)
    return CheckResult(True, f"sink table '{now.table}' holds the {now.recorded} rows "
                       f"delivered to it, unchanged, and nothing else", metadata)


def _validate(spec: Any, stage: str, options: SinkAuditOptions) -> tuple[str, str] | None:
    if stage != spec.sink_stage:
        return "stage", (f"sink_audit audits the sink, so it goes on the sink stage "
                         f"'{spec.sink_stage}', not on '{stage}'")
    return None


@register(SINK_AUDIT, options=SinkAuditOptions, phase="monitor", validate_spec=_validate)
def check_sink_audit(ctx: StageCheckContext, options: SinkAuditOptions) -> CheckResult:
    """The sink holds exactly the rows delivered to it: none deleted, altered or foreign."""
    sink = ctx.journey.spec.sink
    now, before = audit_sink(sink.url, ctx.sink_table or sink.table, ctx.journey.spec.sink_key,
                             delivered_by=ctx.dagster_run_id)
    result = audit_result(now, before, mask_ids=ctx.request_id in ctx.journey.spec.sensitive,
                          sample_size=options.sample_size)
    # what "since the last delivery" was read from, so a reader knows when it was taken
    audited = "as this run's delivery committed it" if now.as_committed else "the whole sink, now"
    return replace(result, metadata={**result.metadata, "audited": audited})
