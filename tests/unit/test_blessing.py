"""Blessings judged from a version's tags and its registered model's alias record (pure)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from e2e_assets.errors import GoldenError, UnblessedModelError
from e2e_assets.golden import MIN_GOLDEN_ROWS, REQUESTS, write_golden
from e2e_assets.model_registry import ResolvedModel
from e2e_assets.release.blessing import (
    PROMOTED,
    RECORD_TAG,
    REJECTED,
    VERDICT_TAG,
    alias_tag,
    blessing_of,
    require_blessed,
)


def version(v: str = "3", *, verdict: str | None = PROMOTED, record: dict | None = None,
            alias_at: str | None = "3", run_id: str = "run-3") -> ResolvedModel:
    tags = {}
    if verdict is not None:
        tags[VERDICT_TAG] = verdict
        tags[RECORD_TAG] = json.dumps(record if record is not None else {
            "model": "credit", "version": v, "source_run_id": run_id,
            "decided_at": "2026-11-24T10:00:00+00:00", "dagster_run_id": "d-1",
            "failed_checks": ""})
    model_tags = {alias_tag("champion"): json.dumps({"version": alias_at})} if alias_at else {}
    return ResolvedModel(name="credit", alias="champion", version=v, run_id=run_id,
                         source="x", tags=tuple(tags.items()),
                         model_tags=tuple(model_tags.items()))


def test_a_gated_version_where_the_gate_put_it_is_blessed() -> None:
    assert blessing_of(version()).blessed
    require_blessed(version(), "credit_approval")  # does not raise


@pytest.mark.parametrize(("model", "reason"), [
    (version(verdict=None), "carries no passing gate record"),
    (version(verdict=REJECTED, record={"failed_checks": "score.quality: roc_auc 0.500",
                                       "decided_at": "t"}), "was refused by the gate"),
    (version(alias_at="2"), "the last gate decision put v2 there"),  # an older one moved back
    (version(alias_at=None), "no gate decision ever moved it"),
    # a record copied from another version (tags set by hand)
    (version(record={"model": "credit", "version": "2", "source_run_id": "run-2"}),
     "it was copied"),
    (version(run_id="run-9", record={"model": "credit", "version": "3",
                                     "source_run_id": "run-3"}), "it was copied"),
])
def test_an_unblessed_version_is_refused_naming_why_and_who_blesses(
        model: ResolvedModel, reason: str) -> None:
    assert not blessing_of(model).blessed
    with pytest.raises(UnblessedModelError, match=reason) as caught:
        require_blessed(model, "credit_approval")
    assert caught.value.exit_code == 1
    assert "e2e-assets gate credit_approval --candidate 3" in str(caught.value)
    assert "--allow-unblessed" in str(caught.value)


def test_a_pinned_run_keeps_its_version_when_the_gate_moves_the_alias() -> None:
    moved_on = version(alias_at="4")  # the gate promoted v4 while this run served v3
    assert not blessing_of(moved_on).blessed
    assert blessing_of(moved_on, check_alias=False).blessed


@pytest.mark.parametrize("rows", [0, 1, MIN_GOLDEN_ROWS - 1])
def test_golden_sets_below_the_minimum_are_refused(tmp_path, rows: int) -> None:
    frame = pd.DataFrame({"request_id": [f"r{i}" for i in range(rows)], "x": range(rows)})
    with pytest.raises(GoldenError, match=f"has {rows} request.*at least {MIN_GOLDEN_ROWS}"):
        write_golden({REQUESTS: frame, "score": frame}, tmp_path / "golden")
    assert not (tmp_path / "golden").exists()  # nothing half-written


def test_a_golden_set_of_the_minimum_size_is_written(tmp_path) -> None:
    frame = pd.DataFrame({"request_id": [f"r{i}" for i in range(MIN_GOLDEN_ROWS)]})
    assert write_golden({REQUESTS: frame}, tmp_path / "golden").startswith("sha256:")
