"""The promotion gate: a candidate version serves only after the whole journey passed with it.

::

    candidate vN ──► journey run (candidate pinned, champion vM as baseline, shadow sink)
                        every check, plus quality (labelled golden set) and challenger vs vM
                 ──► all blocking checks passed?
                        no  ──► refused: vN tagged rejected with the failing checks (exit 1)
                        yes ──► under the alias lock: champion still vM?
                                  no  ──► refused: the alias moved during the gate
                                  yes ──► champion := vN, vN tagged promoted (exit 0)

Every decision is a record: tags on the version (verdict, failed checks, Dagster run id, time,
git commit), an MLflow run in ``e2e-assets/<journey>/gate`` with the quality metrics, an
observation on the model stage's asset in Dagster, and ``<home>/reports/<journey>-gate.json``.
A first model (no champion yet) is judged on absolute thresholds only. A rollback re-validates
the previous champion the same way, on absolute thresholds (its successor is no baseline).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from e2e_assets.errors import EXIT_CONFIG, InfrastructureError, ModelResolutionError, SpecError
from e2e_assets.home import Home
from e2e_assets.model_registry import ResolvedModel, client_for, resolve_model, tracking
from e2e_assets.release.alias_lock import alias_lock
from e2e_assets.release.blessing import (
    COMMIT_TAG,
    FAILED_CHECKS_TAG,
    PROMOTED,
    RECORD_TAG,
    REJECTED,
    RUN_TAG,
    TIME_TAG,
    VERDICT_TAG,
    alias_tag,
)
from e2e_assets.results import JourneyRun, write_json_atomic
from e2e_assets.serving import NO_BASELINE, ServedModels

if TYPE_CHECKING:
    from e2e_assets.spec.loader import Journey
    from e2e_assets.spec.model import ModelSpec

GATE_TAG = "e2e/gate"  # on the validation run: the action and the candidate versions
REQUIRED_KINDS = ("quality", "challenger")  # what the gate needs on the model of record
MAX_TAG_CHARS = 4900  # MLflow keeps 5,000 characters of a model version tag
HISTORY = 20  # previous champions kept on the alias record, for rollback
# What the version's record tag keeps (the whole record is the gate run's gate_record.json).
_TAG_RECORD_FIELDS = ("journey", "alias", "action", "verdict", "candidates", "baselines",
                      "dagster_run_id", "decided_at", "git_commit", "quality", "mlflow_run_id")

Action = Literal["promote", "rollback", "bootstrap"]
# Runs the journey with the given served models and tags; the CLI and the Dagster gate job
# pass the headless runner (orchestration.run.run_journey).
Execute = Callable[[ServedModels, Mapping[str, str]], JourneyRun]


@dataclass(frozen=True)
class GateDecision:
    journey: str
    model: str
    alias: str
    candidates: Mapping[str, str]  # stage -> candidate version
    baselines: Mapping[str, str | None]  # stage -> the alias's version when the gate started
    action: Action
    verdict: Literal["promoted", "refused"]
    reasons: tuple[str, ...]
    dagster_run_id: str | None
    decided_at: str
    git_commit: str | None
    quality: Mapping[str, Any] = field(default_factory=dict)
    comparisons: tuple[str, ...] = ()  # the challenger check's verdicts
    mlflow_run_id: str | None = None
    report: str | None = None

    @property
    def candidate_version(self) -> str:
        return next(iter(self.candidates.values()))

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "promoted" else 1

    def as_record(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Mapping) else list(v) if isinstance(v, tuple)
                    else v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        versions = ", ".join(f"{s}: v{v}" for s, v in self.candidates.items())
        was = ", ".join(f"v{v}" if v else "none" for v in self.baselines.values())
        head = (f"gate {self.action} {self.model} ({versions}) against {self.alias} {was}: "
                f"{self.verdict.upper()}")
        lines = [head, *(f"  - {r}" for r in self.reasons),
                 *(f"  {c}" for c in self.comparisons if c not in self.reasons)]
        return "\n".join(lines)


def record_stage_of(journey: Journey) -> str:
    stage = journey.spec.record_stage
    if stage is None:
        raise SpecError("the journey serves no model: there is nothing to gate",
                        file=str(journey.path), field="model")
    return stage


def resolve_candidate(journey: Journey, home: Home, candidate: str | None,
                      stage: str | None = None) -> dict[str, str]:
    """``{stage: version}`` for a version number or an alias (default: the challenger alias)."""
    stage = stage or record_stage_of(journey)
    model_spec = _model_spec(journey, stage)
    text = candidate or journey.spec.release.challenger_alias
    if text.lstrip("v").isdigit():
        resolved = resolve_model(home.tracking_uri, model_spec.uri, version=text.lstrip("v"))
    else:
        resolved = resolve_model(home.tracking_uri, model_spec.uri, alias=text)
    return {stage: resolved.version}


def _model_spec(journey: Journey, stage: str) -> ModelSpec:
    model_spec = journey.spec.model_for(stage)
    if model_spec is None:
        raise SpecError(f"stage '{stage}' serves no model; model stages: "
                        f"{list(journey.spec.model_stages)}", file=str(journey.path),
                        field="--stage")
    return model_spec


def _current(home: Home, journey: Journey, stage: str) -> ResolvedModel | None:
    model_spec = _model_spec(journey, stage)
    try:
        return resolve_model(home.tracking_uri, model_spec.uri)
    except ModelResolutionError:
        return None


def require_gate_checks(journey: Journey) -> None:
    """The gate judges the model of record on labelled data and against the champion."""
    kinds = {c.kind.name for checks in journey.checks.values() for c in checks}
    missing = [k for k in REQUIRED_KINDS if k not in kinds]
    if journey.spec.labels is None or missing:
        what = (["labels:"] if journey.spec.labels is None else []) + \
            [f"a '{k}' check" for k in missing]
        raise SpecError(f"the promotion gate judges the model on labelled data and against "
                        f"the champion; the journey lacks {', '.join(what)} (see the README, "
                        f"'The release loop')", file=str(journey.path), field="checks")


def gate_candidates(journey: Journey, home: Home, candidates: Mapping[str, str], *,
                    action: Action = "promote", execute: Execute | None = None,
                    instance: Any = None) -> GateDecision:
    """Run the journey with ``candidates`` (stage -> version) and promote them only if every
    blocking check passed and the alias did not move meanwhile."""
    record_stage = record_stage_of(journey)
    if record_stage in candidates:
        require_gate_checks(journey)
    at_start = {s: _current(home, journey, s) for s in candidates}
    baselines = {s: (NO_BASELINE if action == "rollback" or cur is None
                     or cur.version == candidates[s] else cur.version)
                 for s, cur in at_start.items()}
    served = ServedModels(journey, home.tracking_uri, pins=candidates, baselines=baselines,
                          allow_unblessed=frozenset(candidates))
    tags = {GATE_TAG: f"{action} " + ",".join(f"{s}=v{v}" for s, v in candidates.items())}
    run = (execute or _headless(home, instance))(served, tags)
    if run.run_id is None and run.error_exit_code == EXIT_CONFIG:
        raise InfrastructureError(f"the gate could not run the journey, so it decided nothing "
                                  f"(the alias and the candidate are untouched): {run.error}")
    reasons = _reasons(journey, run)
    decided_at = datetime.now(UTC).isoformat(timespec="seconds")
    model_spec = _model_spec(journey, next(iter(candidates)))
    decision = GateDecision(
        journey=journey.name, model=model_spec.name, alias=model_spec.alias,
        candidates=dict(candidates),
        baselines={s: (c.version if c else None) for s, c in at_start.items()},
        action=action, verdict="refused" if reasons else "promoted", reasons=tuple(reasons),
        dagster_run_id=run.run_id, decided_at=decided_at, git_commit=_git_commit(journey),
        quality=_quality(run), comparisons=_comparisons(run))
    with alias_lock(home.tracking_uri, model_spec.name, home.root):
        moved = _moved_meanwhile(home, journey, at_start)
        if moved and decision.verdict == "promoted":
            decision = _refused(decision, moved)
        decision = _log_gate_run(home, journey, decision)
        _tag_versions(home, journey, decision, at_start)
    path = write_json_atomic({"gate": decision.as_record(), "run": run.to_dict()},
                             home.reports / f"{journey.name}-gate.json")
    decision = _with(decision, report=str(path))
    if execute is None:  # the decision in Dagster too, next to the run it rests on
        from e2e_assets.orchestration.run import record_gate_decision

        record_gate_decision(home, instance, journey, record_stage, decision.as_record())
    return decision


def _headless(home: Home, instance: Any) -> Execute:
    """The journey run on the home's Dagster instance (or ``instance``: the gate job's)."""

    def execute(served: ServedModels, tags: Mapping[str, str]) -> JourneyRun:
        from e2e_assets.orchestration.run import run_journey  # Dagster, only when running

        return run_journey(served.journey, home, served=served, shadow=True, tags=tags,
                           instance=instance)

    return execute


def _with(decision: GateDecision, **changes: Any) -> GateDecision:
    return replace(decision, **changes)


def _refused(decision: GateDecision, reason: str) -> GateDecision:
    return _with(decision, verdict="refused", reasons=(*decision.reasons, reason))


def _reasons(journey: Journey, run: JourneyRun) -> list[str]:
    """Why the candidate may not serve (empty: it may)."""
    reasons = [f"the journey run did not complete: {run.error}"] if run.error else []
    reasons += [f"{c.stage}.{c.name}: {c.description}" for c in run.blocking_failures]
    evaluated = {(c.stage, c.name) for c in run.checks if c.evaluated}
    for stage, checks in journey.checks.items():
        for check in checks:
            if check.kind.name in REQUIRED_KINDS and (stage, check.name) not in evaluated:
                reasons.append(f"{stage}.{check.name} was not evaluated (the journey stopped "
                               f"before it)")
    return reasons


def _quality(run: JourneyRun) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in run.checks:
        if c.kind == "quality":
            out.update({k: v for k, v in c.metadata.items() if isinstance(v, (int, float))
                        and not isinstance(v, bool)})
    return out


def _comparisons(run: JourneyRun) -> tuple[str, ...]:
    return tuple(f"{c.stage}.{c.name}: {c.description}" for c in run.checks
                 if c.kind == "challenger" and c.evaluated)


def _moved_meanwhile(home: Home, journey: Journey,
                     at_start: Mapping[str, ResolvedModel | None]) -> str | None:
    for stage, was in at_start.items():
        now = _current(home, journey, stage)
        if (now.version if now else None) != (was.version if was else None):
            alias = _model_spec(journey, stage).alias
            return (f"{alias} moved during the gate (v{was.version if was else '-'} when it "
                    f"started, v{now.version if now else '-'} now): compare-and-set refused; "
                    f"re-run the gate against the new {alias}")
    return None


def _tag_versions(home: Home, journey: Journey, decision: GateDecision,
                  at_start: Mapping[str, ResolvedModel | None]) -> None:
    """The record on every candidate version; on promotion, the alias and its record too.
    Called under the alias lock."""
    client = client_for(home.tracking_uri)
    record = decision.as_record()
    failed = "; ".join(decision.reasons)
    for stage, version in decision.candidates.items():
        model_spec = _model_spec(journey, stage)
        mv = client.get_model_version(model_spec.name, version)
        bound = {**{k: record[k] for k in _TAG_RECORD_FIELDS}, "model": model_spec.name,
                 "version": version, "stage": stage, "source_run_id": mv.run_id,
                 "failed_checks": failed[:1500], "reasons": [r[:300] for r in decision.reasons]}
        text = json.dumps(bound, sort_keys=True, default=str)
        while len(text) > MAX_TAG_CHARS and bound["reasons"]:  # always whole, valid JSON
            bound["reasons"] = bound["reasons"][:-1]
            text = json.dumps(bound, sort_keys=True, default=str)
        tags = {VERDICT_TAG: PROMOTED if decision.verdict == "promoted" else REJECTED,
                RECORD_TAG: text,
                FAILED_CHECKS_TAG: failed[:MAX_TAG_CHARS] or "none",
                RUN_TAG: decision.dagster_run_id or "none", TIME_TAG: decision.decided_at,
                COMMIT_TAG: decision.git_commit or "unknown"}
        for key, value in tags.items():
            client.set_model_version_tag(model_spec.name, version, key, value)
        if decision.verdict != "promoted":
            continue
        previous = json.loads(dict(client.get_registered_model(model_spec.name).tags or {})
                              .get(alias_tag(model_spec.alias), "{}"))
        history = [str(v) for v in previous.get("history", [])]
        was = at_start.get(stage)
        if decision.action == "rollback":
            history = history[1:]  # the rolled-back-to version leaves the stack
        elif was is not None and was.version != version:
            history = [was.version, *history][:HISTORY]
        client.set_registered_model_alias(model_spec.name, model_spec.alias, version)
        client.set_registered_model_tag(model_spec.name, alias_tag(model_spec.alias), json.dumps(
            {"version": version, "decided_at": decision.decided_at, "action": decision.action,
             "dagster_run_id": decision.dagster_run_id, "history": history}))


def previous_champion(journey: Journey, home: Home) -> dict[str, str]:
    """``{stage: version}`` of the champion before the current one (what rollback restores)."""
    stage = record_stage_of(journey)
    model_spec = _model_spec(journey, stage)
    client = client_for(home.tracking_uri)
    try:
        tags = dict(client.get_registered_model(model_spec.name).tags or {})
    except Exception as exc:
        raise ModelResolutionError(f"model '{model_spec.name}' is not registered") from exc
    history = json.loads(tags.get(alias_tag(model_spec.alias), "{}")).get("history", [])
    if not history:
        raise ModelResolutionError(f"no previous blessed {model_spec.alias} of "
                                   f"'{model_spec.name}' to roll back to: the gate recorded "
                                   f"none before the current one")
    return {stage: str(history[0])}


def _log_gate_run(home: Home, journey: Journey, decision: GateDecision) -> GateDecision:
    """An MLflow run holding the decision and the quality metrics it rests on."""
    import mlflow

    from e2e_assets.bootstrap import experiment_for  # the same experiments

    with tracking(home.tracking_uri):
        experiment = experiment_for(home, f"e2e-assets/{journey.name}/gate")
        versions = "-".join(f"v{v}" for v in decision.candidates.values())
        with mlflow.start_run(experiment_id=experiment,
                              run_name=f"gate-{decision.model}-{versions}") as active:
            mlflow.set_tags({"e2e.gate.verdict": decision.verdict,
                             "e2e.gate.action": decision.action,
                             "e2e.gate.model": decision.model,
                             "e2e.gate.candidates": json.dumps(dict(decision.candidates)),
                             "e2e.gate.dagster_run_id": decision.dagster_run_id or "none"})
            metrics = {k.replace("/", "_"): float(v) for k, v in decision.quality.items()}
            if metrics:
                mlflow.log_metrics(metrics)
            decision = _with(decision, mlflow_run_id=active.info.run_id)
            mlflow.log_dict(decision.as_record(), "gate_record.json")
    return decision


def _git_commit(journey: Journey) -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=journey.project_root,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None
