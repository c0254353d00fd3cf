"""Run identity tags: the commit of the journey's folder (clean, dirty, outside git) and the
tags known before a run and once its model is resolved."""

from __future__ import annotations

import subprocess
from pathlib import Path

from e2e_assets.identity import definition_tags, git_commit, served_tags
from e2e_assets.spec import load_journey
from tests.unit.test_spec import REPO, VARS


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_git_commit_of_a_clean_and_a_dirty_work_tree_and_outside_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pipelines").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "pipelines" / "stages.py").write_text("x = 1\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = _git(repo, "rev-parse", "HEAD")
    assert git_commit(repo / "pipelines") == head[:12]
    (repo / "pipelines" / "stages.py").write_text("x = 2\n")
    git_commit.cache_clear()
    assert git_commit(repo / "pipelines") == head[:12] + "+dirty"
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git_commit(outside) == "unknown"
    assert git_commit(tmp_path / "does-not-exist") == "unknown"


def test_definition_and_served_tags() -> None:
    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables=VARS)
    tags = definition_tags(journey)
    assert tags["e2e/journey"] == "credit_approval" and tags["e2e/model"] == "credit_approval"
    assert tags["e2e/alias"] == "champion" and "e2e/git_commit" in tags
    assert served_tags({"name": "m", "version": "7", "alias": "challenger", "run_id": "r"}) == {
        "e2e/model": "m", "e2e/model_version": "7", "e2e/alias": "challenger"}
    assert served_tags({}) == {}


def test_column_descriptions_come_from_the_declared_contract() -> None:
    """deliver's contract declares its columns: the materialization's column schema says so,
    with the nullable constraint; a column the contract does not name has no description."""
    from e2e_assets.checks.contract import ColumnContract
    from e2e_assets.orchestration.factory import _column, column_description

    p = ColumnContract(type="float", min=0, max=1)
    assert column_description(p) == "declared: float, not null, in [0, 1]"
    decision = ColumnContract(type="string", allowed=["approve", "decline"], nullable=True)
    assert column_description(decision) == \
        "declared: string, nullable, one of ['approve', 'decline']"
    column = _column("p_default", "float64", p)
    assert column.description == "declared: float, not null, in [0, 1]"
    assert column.constraints.nullable is False
    assert _column("extra", "object", None).description is None
