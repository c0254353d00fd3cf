"""Dagster resources: the MLflow registry and the per-run stage store."""

from collections.abc import Collection, Mapping

import dagster as dg

from e2e_assets.handoff import RunStore
from e2e_assets.serving import ServedModels
from e2e_assets.spec import Journey

ALIAS_TAG = "e2e/model_alias"
PIN_TAG_PREFIX = "e2e/model_version/"  # + stage: the version pinned when the run started
BASELINE_TAG_PREFIX = "e2e/baseline_version/"  # + stage: the version a challenger is compared to
# Stages (comma-separated, or "all") allowed to serve an unblessed version: the gate's candidate,
# or a drill's --allow-unblessed. The tag is the record that the run did.
UNBLESSED_TAG = "e2e/allow_unblessed"
# A validation run (the gate's): decisions go to the shadow sink, never the journey's latest.
SHADOW_TAG = "e2e/shadow"
# A drill (faults injected on purpose): shadow sink like a validation run, checks as in production.
DRILL_TAG = "e2e/drill"
# A headless journey run is one Dagster run per stage, in order, sharing this tag: its value (the
# first stage run's id) keys the stages' hand-off, so each stage reads what the one before wrote.
JOURNEY_RUN_TAG = "e2e/journey_run"


def handoff_run_id(run: dg.DagsterRun) -> str:
    """The id that keys ``run``'s stage hand-offs: its journey run's, else its own."""
    return run.tags.get(JOURNEY_RUN_TAG, run.run_id)


def pin_tags(pins: Mapping[str, str], prefix: str = PIN_TAG_PREFIX) -> dict[str, str]:
    return {f"{prefix}{stage}": version for stage, version in pins.items()}


def pins_from(tags: Mapping[str, str], prefix: str = PIN_TAG_PREFIX) -> dict[str, str]:
    return {k.removeprefix(prefix): v for k, v in tags.items() if k.startswith(prefix)}


def unblessed_tag(allowed: bool | Collection[str]) -> dict[str, str]:
    if allowed is True:
        return {UNBLESSED_TAG: "all"}
    return {UNBLESSED_TAG: ",".join(sorted(allowed))} if allowed else {}


def unblessed_from(tags: Mapping[str, str]) -> bool | frozenset[str]:
    value = tags.get(UNBLESSED_TAG, "")
    return True if value == "all" else frozenset(s for s in value.split(",") if s)


class MlflowResource(dg.ConfigurableResource):
    """The MLflow registry (a thin ``MlflowClient`` wrap): aliases resolved to exact versions."""

    tracking_uri: str

    def served(self, journey: Journey, tags: Mapping[str, str]) -> ServedModels:
        """The models ``journey`` serves in the run with these tags: the alias it asked for
        (replacing the model of record's), and the versions pinned when it started."""
        return ServedModels(journey, self.tracking_uri, tags.get(ALIAS_TAG), pins=pins_from(tags),
                            baselines=pins_from(tags, BASELINE_TAG_PREFIX),
                            allow_unblessed=unblessed_from(tags))


class StageStore(dg.ConfigurableResource):
    """Where stages hand their outputs to each other: per run, plus each journey's latest."""

    base_dir: str

    def for_run(self, journey: Journey, run_id: str, partition: str | None = None) -> RunStore:
        """``run_id``'s view; a partitioned journey's run reads and publishes the ``latest``
        of its own partition."""
        return RunStore(self.base_dir, journey.name, run_id, journey.stages, partition)
