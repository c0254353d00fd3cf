"""The real Dagster webserver over the workspace: the UI lists the journeys and headless runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cli
from tests.ui_server import dagster_ui, graphql

pytestmark = pytest.mark.slow

QUERY = """{
  assetNodes { assetKey { path } groupName }
  runsOrError { ... on Runs { results { runId jobName status } } }
}"""


def test_ui_shows_journey_assets_and_headless_runs(home: Path) -> None:
    run = cli("run", "credit_approval", home=home)
    assert run.returncode == 0, run.stdout + run.stderr
    with dagster_ui(home, dev=False) as port:
        data = graphql(port, QUERY)
    nodes = {("/".join(n["assetKey"]["path"]), n["groupName"]) for n in data["assetNodes"]}
    assert ("credit_approval/score", "credit_approval") in nodes
    assert ("loan_pricing/deliver", "loan_pricing") in nodes
    runs = data["runsOrError"]["results"]
    assert any(r["jobName"] == "credit_approval_journey" and r["status"] == "SUCCESS"
               for r in runs), runs
