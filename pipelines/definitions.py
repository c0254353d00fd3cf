"""Every journey under pipelines/ as one Dagster code location (``dagster dev -w workspace.yaml``)."""

from pathlib import Path

from e2e_assets.orchestration import build_project_definitions

defs = build_project_definitions(Path(__file__).parent)
