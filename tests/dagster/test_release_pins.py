"""An alias moved while a run is under way does not change the version that run serves."""

from __future__ import annotations

from pathlib import Path

from e2e_assets.home import Home
from e2e_assets.model_registry import client_for
from e2e_assets.orchestration.instance import instance_for
from e2e_assets.orchestration.run import run_journey
from e2e_assets.release.retrain import retrain_journey
from e2e_assets.spec import load_journey
from tests.conftest import REPO
from tests.helpers import journey_variant, own_experiments


def test_an_alias_moved_mid_run_does_not_change_the_runs_version(home: Path,
                                                                  tmp_path: Path) -> None:
    import dagster as dg

    own_experiments(home)
    h = Home.from_env()
    reference = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                             variables=h.variables())
    challenger = retrain_journey(reference, h).version
    moving = journey_variant(tmp_path, replace={"  features:\n    function: build_features\n": (
        "  features:\n    function: 'tests.journeys.slow_stages:features_then_move_alias'\n"
        f"    params: {{to_version: '{challenger}'}}\n")})
    journey = load_journey(moving, variables=h.variables())

    run = run_journey(journey, h)
    client = client_for(h.tracking_uri)
    assert client.get_model_version_by_alias("credit_approval", "champion").version == int(
        challenger)  # moved while the run was between ingest and score
    assert run.exit_code == 0, (run.error, [c for c in run.checks if c.failed])
    assert run.model["version"] == "1"
    instance = instance_for(h)
    for stage in ("score", "decide", "deliver"):
        record = instance.fetch_materializations(dg.AssetKey(["credit_approval", stage]),
                                                 limit=1).records[0]
        meta = record.asset_materialization.metadata
        assert record.run_id in run.dagster_run_ids and meta["model_version"].value == "1", stage

    # The next run resolves the alias again: a version the gate never put there is refused.
    after = run_journey(reference, h)
    assert after.exit_code == 1 and after.run_id is None
    assert f"-> v{challenger} carries no passing gate record" in (after.error or "")
