"""The merged definitions: ten assets keyed [journey, stage], one group and one job per journey."""

from __future__ import annotations

import importlib

import dagster as dg
import pytest

from e2e_assets.discovery import load_all
from e2e_assets.errors import SpecError
from e2e_assets.home import Home
from e2e_assets.orchestration import build_definitions
from e2e_assets.orchestration.factory import asset_owners
from e2e_assets.spec import load_journey
from tests.helpers import REPO, journey_variant

STAGES = ["ingest", "features", "score", "decide", "deliver"]
JOURNEYS = ["credit_approval", "loan_pricing"]


def test_pipelines_definitions_module_has_the_ten_assets() -> None:
    defs = importlib.import_module("pipelines.definitions").defs
    keys = {k.path[0] + "/" + k.path[1] for k in defs.resolve_all_asset_keys()}
    assert keys == {f"{j}/{s}" for j in JOURNEYS for s in STAGES}


def test_groups_dependencies_and_jobs(tmp_path: object) -> None:
    home = Home.from_env(str(tmp_path))
    defs = build_definitions(load_all(home, REPO / "pipelines"), home)
    graph = defs.resolve_asset_graph()
    for journey in JOURNEYS:
        for prev, stage in zip(STAGES, STAGES[1:], strict=False):
            node = graph.get(dg.AssetKey([journey, stage]))
            assert node.group_name == journey
            assert node.parent_keys == {dg.AssetKey([journey, prev])}
        assert defs.resolve_job_def(f"{journey}_journey") is not None
        for release_job in ("gate", "rollback", "retrain"):  # the release loop, per journey
            assert defs.resolve_job_def(f"{journey}_{release_job}") is not None
        for sensor in ("retraining_sensor", "gate_after_retrain"):
            assert defs.resolve_sensor_def(f"{journey}_{sensor}") is not None
    assert defs.resolve_sensor_def("credit_approval_new_data_sensor") is not None  # a SQL source
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    decide = specs[dg.AssetKey(["credit_approval", "decide"])]
    assert decide.description.startswith("Approve / review / decline")  # stage docstring
    assert decide.metadata["stage"] == "decide"


def test_stage_assets_declare_their_checks(tmp_path: object) -> None:
    home = Home.from_env(str(tmp_path))
    defs = build_definitions(load_all(home, REPO / "pipelines"), home)
    keys = {(k.asset_key.to_user_string(), k.name) for k in
            defs.resolve_asset_graph().asset_check_keys}
    assert ("credit_approval/score", "signature_contract") in keys
    assert ("credit_approval/deliver", "reconcile") in keys
    assert ("loan_pricing/decide", "pricing_policy") in keys
    node = defs.resolve_assets_def(dg.AssetKey(["credit_approval", "score"]))
    specs = {s.name: s for s in node.check_specs}
    assert specs["signature_contract"].blocking is True
    assert specs["score_sanity"].blocking is False


def test_unknown_check_kind_fails_before_definitions(tmp_path: object) -> None:
    path = journey_variant(tmp_path, append="    - {kind: fairnes}\n")  # onto deliver
    with pytest.raises(SpecError) as err:
        load_journey(path, variables={"E2E_DATABASE_URL": "sqlite://"})
    assert "unknown check kind 'fairnes'" in str(err.value)


def test_owners_kinds_and_table_names_come_from_the_spec(tmp_path: object) -> None:
    home = Home.from_env(str(tmp_path))
    defs = build_definitions(load_all(home, REPO / "pipelines"), home)
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}

    def spec(stage: str, journey: str = "credit_approval") -> dg.AssetSpec:
        return specs[dg.AssetKey([journey, stage])]

    assert spec("score").owners == ["team:risk-ml-platform"]  # `owners: [risk-ml-platform]`
    assert spec("score").kinds == {"pandas", "mlflow", "sklearn"}
    assert spec("features").kinds == {"pandas"}
    assert spec("ingest").kinds == {"pandas", "sqlite"}  # the SQL source's database
    assert spec("deliver").kinds == {"pandas", "sqlite"}  # the sink's
    assert spec("ingest").metadata["dagster/table_name"] == "credit_applications"
    assert spec("deliver").metadata["dagster/table_name"] == "credit_decisions"
    assert spec("deliver", "loan_pricing").metadata["dagster/table_name"] == "loan_offers"
    assert "dagster/table_name" not in spec("ingest", "loan_pricing").metadata  # parquet
    # the job carries the run tags known before a run starts
    job_tags = defs.resolve_job_def("credit_approval_journey").tags
    assert job_tags["e2e/model"] == "credit_approval" and job_tags["e2e/alias"] == "champion"


def test_asset_owners_keep_emails_and_team_prefixes() -> None:
    assert asset_owners(["ml@corp.example", "team:risk", "platform"]) == [
        "ml@corp.example", "team:risk", "team:platform"]


def test_the_home_instance_dequeues_ui_runs_every_second(tmp_path: Path) -> None:
    """`dagster dev` queues UI-launched runs; the daemon's default 5 s poll was half of a
    checks-only job's time. The home's dagster.yaml makes it 1 s, and the instance loads it."""
    from e2e_assets.orchestration.instance import instance_for

    instance = instance_for(Home.from_env(str(tmp_path)))
    try:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, dg.QueuedRunCoordinator)
        assert coordinator.dequeue_interval_seconds == 1
    finally:
        instance.dispose()
