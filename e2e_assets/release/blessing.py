"""Blessings: only a version that passed the promotion gate may serve under a gated alias.

The gate leaves two records (see :mod:`e2e_assets.release.gate`):

* on the **version**: ``e2e.gate.verdict`` (``promoted``/``rejected``) and ``e2e.gate.record``,
  the decision as JSON, bound to that version and its registering run;
* on the **registered model**: ``e2e.alias.<alias>``, which version the last gate decision put
  on the alias, when, and in which Dagster run.

A served version is blessed when both agree: it carries a ``promoted`` record made for it, and
the alias points where the last decision put it. An alias moved by hand, to a version never
gated or back to an older one, fails the second test; both fail with
:class:`UnblessedModelError` (exit 1), naming who can bless it: ``e2e-assets gate``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from e2e_assets.errors import UnblessedModelError
from e2e_assets.model_registry import ResolvedModel

VERDICT_TAG = "e2e.gate.verdict"
RECORD_TAG = "e2e.gate.record"
FAILED_CHECKS_TAG = "e2e.gate.failed_checks"
RUN_TAG = "e2e.gate.dagster_run_id"
TIME_TAG = "e2e.gate.decided_at"
COMMIT_TAG = "e2e.gate.git_commit"
PROMOTED, REJECTED = "promoted", "rejected"


def alias_tag(alias: str) -> str:
    """The registered-model tag that says which version the gate last put on ``alias``."""
    return f"e2e.alias.{alias}"


@dataclass(frozen=True)
class Blessing:
    """Whether a resolved version may serve under its alias, and why not."""

    blessed: bool
    reason: str
    record: dict[str, Any]


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def blessing_of(model: ResolvedModel, *, check_alias: bool = True) -> Blessing:
    """Judge ``model`` (resolved through its alias). ``check_alias`` False skips the alias
    record: a run that pinned this version when it started keeps it if the gate moves the
    alias meanwhile."""
    record = _json(model.tag(RECORD_TAG))
    verdict = model.tag(VERDICT_TAG)
    who = f"{model.name}@{model.alias} -> v{model.version}"
    if verdict == REJECTED:
        failed = record.get("failed_checks") or model.tag(FAILED_CHECKS_TAG) or "?"
        return Blessing(False, f"{who} was refused by the gate at {record.get('decided_at', '?')}"
                               f" (failed: {failed})", record)
    if verdict != PROMOTED or not record:
        return Blessing(False, f"{who} carries no passing gate record (registered without the "
                               f"gate, or its alias was moved by hand)", record)
    if (str(record.get("version")) != model.version or record.get("model") != model.name
            or (model.run_id and record.get("source_run_id") != model.run_id)):
        return Blessing(False, f"{who} carries a gate record made for "
                               f"{record.get('model')} v{record.get('version')} (run "
                               f"{record.get('source_run_id')}), not for this version: it was "
                               f"copied", record)
    if check_alias:
        last = _json(model.model_tag(alias_tag(model.alias)))
        if str(last.get("version")) != model.version:
            put = (f"the last gate decision put v{last['version']} there at "
                   f"{last.get('decided_at', '?')}" if last.get("version") else
                   "no gate decision ever moved it")
            return Blessing(False, f"{who}, but {put}: the alias was moved by hand", record)
    return Blessing(True, f"{who} blessed by the gate at {record.get('decided_at', '?')} "
                          f"(Dagster run {record.get('dagster_run_id', '?')})", record)


def require_blessed(model: ResolvedModel, journey: str, *, check_alias: bool = True) -> None:
    """Raise UnblessedModelError (exit 1) unless ``model`` may serve; the message says how to
    bless it."""
    blessing = blessing_of(model, check_alias=check_alias)
    if blessing.blessed:
        return
    raise UnblessedModelError(
        f"refusing to serve an unblessed model: {blessing.reason}. Validate it through the "
        f"promotion gate: `e2e-assets gate {journey} --candidate {model.version}` (or "
        f"`e2e-assets rollback {journey}` for the previous champion); for a drill, "
        f"`--allow-unblessed` serves it anyway and the run records that it did")
