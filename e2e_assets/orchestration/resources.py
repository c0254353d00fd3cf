"""Dagster resources: the MLflow registry and the per-run stage store."""

from collections.abc import Mapping

import dagster as dg

from e2e_assets.handoff import RunStore
from e2e_assets.serving import ServedModels
from e2e_assets.spec import Journey

ALIAS_TAG = "e2e/model_alias"
PIN_TAG_PREFIX = "e2e/model_version/"  # + stage: the version pinned when the run started


def pin_tags(pins: Mapping[str, str]) -> dict[str, str]:
    return {f"{PIN_TAG_PREFIX}{stage}": version for stage, version in pins.items()}


def pins_from(tags: Mapping[str, str]) -> dict[str, str]:
    return {k.removeprefix(PIN_TAG_PREFIX): v for k, v in tags.items()
            if k.startswith(PIN_TAG_PREFIX)}


class MlflowResource(dg.ConfigurableResource):
    """The MLflow registry (a thin ``MlflowClient`` wrap): aliases resolved to exact versions."""

    tracking_uri: str

    def served(self, journey: Journey, tags: Mapping[str, str]) -> ServedModels:
        """The models ``journey`` serves in the run with these tags: the alias it asked for
        (replacing the model of record's), and the versions pinned when it started."""
        return ServedModels(journey, self.tracking_uri, tags.get(ALIAS_TAG), pins=pins_from(tags))


class StageStore(dg.ConfigurableResource):
    """Where stages hand their outputs to each other: per run, plus each journey's latest."""

    base_dir: str

    def for_run(self, journey: Journey, run_id: str) -> RunStore:
        return RunStore(self.base_dir, journey.name, run_id, journey.stages)
