"""Every journey under pipelines/ as one Dagster code location (``dagster dev -w workspace.yaml``)."""

from pathlib import Path

from e2e_assets.discovery import load_all
from e2e_assets.home import Home
from e2e_assets.orchestration import build_definitions

home = Home.from_env()
defs = build_definitions(load_all(home, Path(__file__).parent), home)
