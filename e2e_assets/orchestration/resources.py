"""Dagster resources: the MLflow registry and the per-run stage store."""

import dagster as dg

from e2e_assets.handoff import RunStore
from e2e_assets.serving import ServedModels
from e2e_assets.spec import Journey

ALIAS_TAG = "e2e/model_alias"


class MlflowResource(dg.ConfigurableResource):
    """The MLflow registry (a thin ``MlflowClient`` wrap): aliases resolved to exact versions."""

    tracking_uri: str

    def served(self, journey: Journey, alias: str | None = None) -> ServedModels:
        """The models ``journey`` serves in one run (``alias`` replaces the model of record's)."""
        return ServedModels(journey, self.tracking_uri, alias)


class StageStore(dg.ConfigurableResource):
    """Where stages hand their outputs to each other: per run, plus each journey's latest."""

    base_dir: str

    def for_run(self, journey: Journey, run_id: str) -> RunStore:
        return RunStore(self.base_dir, journey.name, run_id, journey.stages)
