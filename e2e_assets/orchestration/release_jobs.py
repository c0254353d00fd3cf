"""The promotion gate, the rollback and the retrain as Dagster jobs over the core release loop.

A gate or rollback run is red when the gate refuses: the decision record is the failure's
metadata (and the op's output metadata when it promotes), and the run carries its verdict tag.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from e2e_assets.home import Home
from e2e_assets.identity import JOURNEY_TAG
from e2e_assets.release.gate import (
    GateDecision,
    gate_candidates,
    previous_champion,
    resolve_candidate,
)
from e2e_assets.release.retrain import retrain_journey
from e2e_assets.spec import Journey

CANDIDATE_TAG = "e2e/candidate_version"
CANDIDATE_STAGE_TAG = "e2e/candidate_stage"  # the stage whose model the retrain registered
VERDICT_TAG = "e2e/gate/verdict"  # on the gate job's run, as on the gate's validation run
RETRAIN_RUN_TAG = "e2e/retrain_run"


class ReleaseResource(dg.ConfigurableResource):
    """The home the gate and the retrain work in (registry, sources, hand-offs)."""

    root: str
    tracking_uri: str
    database_url: str

    @classmethod
    def for_home(cls, home: Home) -> "ReleaseResource":
        return cls(root=str(home.root), tracking_uri=home.tracking_uri,
                   database_url=home.database_url)

    def home(self) -> Home:
        return Home(root=Path(self.root), tracking_uri=self.tracking_uri,
                    database_url=self.database_url)


class GateConfig(dg.Config):
    """Which registered version the gate judges."""

    candidate: str | None = Field(default=None, description="A version number or an alias; "
                                                            "default: the challenger.")
    stage: str | None = Field(default=None, description="The stage whose model is judged; "
                                                        "default: the model of record's.")


def gate_op_name(journey: Journey) -> str:
    return f"{journey.name}_gate_decision"


def gate_run_config(journey: Journey, candidate: str, stage: str | None = None
                    ) -> dg.RunConfig:
    return dg.RunConfig(ops={gate_op_name(journey): GateConfig(candidate=candidate,
                                                               stage=stage)})


def _metadata(record: Mapping[str, Any]) -> dict[str, Any]:
    """A gate record (JSON-like) as Dagster metadata: scalars as they are, the rest as JSON."""
    return {k: v if isinstance(v, (str, int, float, bool)) else
            "none" if v is None else dg.MetadataValue.json(v) for k, v in record.items()}


def _decision_tags(decision: GateDecision) -> dict[str, str]:
    return {JOURNEY_TAG: decision.journey, VERDICT_TAG: decision.verdict,
            CANDIDATE_TAG: decision.candidate_version}


def _shown(context: dg.OpExecutionContext, decision: GateDecision) -> Iterator[dg.Output[None]]:
    """The decision as run tags and metadata; a refusal fails the step."""
    context.instance.add_run_tags(context.run_id, _decision_tags(decision))
    metadata = _metadata(decision.as_record())
    if decision.verdict != "promoted":
        raise dg.Failure(description=decision.describe(), metadata=metadata,
                         allow_retries=False)
    yield dg.Output(None, metadata=metadata)


def _single_op_job(journey: Journey, name: str, op: Any, description: str) -> dg.JobDefinition:
    @dg.job(name=f"{journey.name}_{name}", tags={JOURNEY_TAG: journey.name},
            description=description)
    def _job() -> None:
        op()

    return _job


def gate_job(journey: Journey) -> dg.JobDefinition:
    @dg.op(name=gate_op_name(journey), out=dg.Out(dg.Nothing),
           description=f"Validate a candidate of {journey.name} and move the champion only if "
                       f"every blocking check passes; a refusal fails this step.")
    def _gate(context: dg.OpExecutionContext, config: GateConfig,
              e2e_release: ReleaseResource) -> Iterator[dg.Output[None]]:
        home = e2e_release.home()
        candidates = resolve_candidate(journey, home, config.candidate, config.stage)
        yield from _shown(context, gate_candidates(journey, home, candidates,
                                                   instance=context.instance))

    return _single_op_job(journey, "gate", _gate,
                          f"The promotion gate of {journey.name}: the whole journey validated "
                          f"against the candidate; the decision recorded in MLflow and here.")


def rollback_job(journey: Journey) -> dg.JobDefinition:
    @dg.op(name=f"{journey.name}_rollback_decision", out=dg.Out(dg.Nothing),
           description=f"Re-validate {journey.name}'s previous champion through the gate; move "
                       f"the alias back only if it passes.")
    def _rollback(context: dg.OpExecutionContext,
                  e2e_release: ReleaseResource) -> Iterator[dg.Output[None]]:
        home = e2e_release.home()
        yield from _shown(context, gate_candidates(journey, home,
                                                   previous_champion(journey, home),
                                                   action="rollback",
                                                   instance=context.instance))

    return _single_op_job(journey, "rollback", _rollback,
                          f"Roll {journey.name}'s champion back to the previous one, if it still "
                          f"passes the whole journey.")


def retrain_job(journey: Journey) -> dg.JobDefinition:
    @dg.op(name=f"{journey.name}_retrain_model", out=dg.Out(dg.Nothing),
           description=f"Retrain {journey.name}'s model and register it as the challenger.")
    def _retrain(context: dg.OpExecutionContext,
                 e2e_release: ReleaseResource) -> Iterator[dg.Output[None]]:
        result = retrain_journey(journey, e2e_release.home())
        context.instance.add_run_tags(context.run_id, {CANDIDATE_TAG: result.version,
                                                       CANDIDATE_STAGE_TAG: result.stage})
        yield dg.Output(None, metadata={"model": result.model, "version": result.version,
                                        "alias": result.alias, "stage": result.stage})

    return _single_op_job(journey, "retrain", _retrain,
                          f"Retrain {journey.name}'s model; a success starts its gate.")


def gate_after_retrain(journey: Journey, retrain_job: dg.JobDefinition,
                       gate_job: dg.JobDefinition) -> dg.RunStatusSensorDefinition:
    # Running by default: a retrain whose candidate nobody judges would be a loop left open.
    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS,
                          name=f"{journey.name}_gate_after_retrain",
                          monitored_jobs=[retrain_job], request_job=gate_job,
                          default_status=dg.DefaultSensorStatus.RUNNING,
                          description=f"Requests {gate_job.name} for the version each successful "
                                      f"{retrain_job.name} run registered.")
    def _sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        run = context.dagster_run
        version = run.tags.get(CANDIDATE_TAG)
        if not version:
            return dg.SkipReason(f"retrain run {run.run_id} recorded no candidate version "
                                 f"(tag {CANDIDATE_TAG})")
        stage = run.tags.get(CANDIDATE_STAGE_TAG)
        return dg.RunRequest(run_key=run.run_id,
                             run_config=gate_run_config(journey, version, stage),
                             tags={JOURNEY_TAG: journey.name, CANDIDATE_TAG: version,
                                   RETRAIN_RUN_TAG: run.run_id})

    return _sensor


