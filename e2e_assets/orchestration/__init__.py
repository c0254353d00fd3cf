"""The Dagster layer: the only part of e2e_assets that imports dagster."""

from e2e_assets.orchestration.component import JourneyComponent
from e2e_assets.orchestration.factory import (
    build_definitions,
    build_journey_assets,
    build_journey_definitions,
    build_project_definitions,
    journey_job_name,
)
from e2e_assets.orchestration.monitor_checks import build_monitor_checks
from e2e_assets.orchestration.resources import MlflowResource, StageStore

__all__ = ["JourneyComponent", "MlflowResource", "StageStore", "build_definitions",
           "build_journey_assets", "build_journey_definitions", "build_monitor_checks",
           "build_project_definitions", "journey_job_name"]
