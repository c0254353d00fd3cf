"""The Dagster layer: the only part of e2e_assets that imports dagster."""

from e2e_assets.orchestration.factory import (
    build_definitions,
    build_journey_assets,
    build_journey_definitions,
    journey_job_name,
)
from e2e_assets.orchestration.monitor_checks import build_monitor_checks
from e2e_assets.orchestration.resources import MlflowResource, StageStore

__all__ = ["MlflowResource", "StageStore", "build_definitions", "build_journey_assets",
           "build_journey_definitions", "build_monitor_checks", "journey_job_name"]
