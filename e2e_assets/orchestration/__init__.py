"""The Dagster layer: the only part of e2e_assets that imports dagster."""

from e2e_assets.orchestration.factory import (
    build_definitions,
    build_journey_assets,
    build_journey_definitions,
    journey_job_name,
)
from e2e_assets.orchestration.resources import MlflowResource, ParquetIOManager

__all__ = ["MlflowResource", "ParquetIOManager", "build_definitions", "build_journey_assets",
           "build_journey_definitions", "journey_job_name"]
