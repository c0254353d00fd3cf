"""The fault matrix's judgement on hand-built outcomes: caught, at the right stage, false alarms."""

from __future__ import annotations

import json
from typing import Literal

import pandas as pd
import pytest

from e2e_assets.fault_matrix import (
    STAGE_FAILED,
    FailedCheck,
    FaultMatrix,
    RunOutcome,
    matrix_row,
    out_of_run_faults,
    render_matrix,
)
from e2e_assets.fault_runs import drill_column
from e2e_assets.faults import INJECTABLE, REGISTRY
from e2e_assets.spec import load_journey
from tests.helpers import REPO


def failed(check: str, stage: str, severity: Literal["error", "warn"] = "error",
           blocking: bool = True) -> FailedCheck:
    return FailedCheck(check=check, stage=stage, kind=check, severity=severity,
                       blocking=blocking)


def outcome(*checks: FailedCheck) -> RunOutcome:
    blocked = next((c.stage for c in checks if c.blocking), None)
    return RunOutcome(failed=checks, blocked_at=blocked, wall_s=1.0)


def test_caught_at_the_registry_stage() -> None:
    row = matrix_row("precision_change", "score", outcome(failed("golden", "score")))
    assert (row.caught, row.right_stage, row.expected_stage, row.severity) == (
        True, True, "score", "blocking error")


def test_caught_at_the_wrong_stage_is_not_right() -> None:
    """A golden failure at deliver for a fault the registry says score must catch: caught, but
    not where the stage at fault is named."""
    row = matrix_row("precision_change", "score", outcome(failed("golden", "deliver")))
    assert row.caught and not row.right_stage and row.severity == "-"
    matrix = FaultMatrix("j", (row,), (outcome(),), (), 1.0)
    assert not matrix.passed and matrix.missed == (row,)
    assert "NO (expected score)" in render_matrix(matrix)


def test_not_caught() -> None:
    row = matrix_row("lost_records", "deliver", outcome())
    assert not row.caught and not row.right_stage
    assert "NOT CAUGHT" in render_matrix(FaultMatrix("j", (row,), (), (), 1.0))


def test_expected_stage_comes_from_the_registry_not_the_injection() -> None:
    """covariate_drift is injected at ingest and caught by drift on features."""
    assert REGISTRY["covariate_drift"].stage == "ingest"
    at_features = outcome(failed("expectations", "ingest", "warn", False),
                          failed("feature_drift", "features", "warn", False))
    row = matrix_row("covariate_drift", "ingest", at_features)
    assert row.expected_stage == "features" and row.right_stage and row.severity == "warn"
    only_ingest = matrix_row("covariate_drift", "ingest",
                             outcome(failed("expectations", "ingest", "warn", False)))
    assert only_ingest.caught and not only_ingest.right_stage


def test_a_stage_that_raised_catches_at_its_stage() -> None:
    row = matrix_row("model_unavailable", "score", outcome(failed(STAGE_FAILED, "score")))
    assert row.right_stage and row.severity == "blocking error"


def test_false_alarms_count_clean_failures_and_only_blocking_ones_fail() -> None:
    caught = matrix_row("precision_change", "score", outcome(failed("golden", "score")))
    warn_alarm = outcome(failed("feature_drift", "features", "warn", False))
    matrix = FaultMatrix("j", (caught,), (outcome(), warn_alarm), (), 1.0)
    assert (matrix.false_alarms, matrix.blocking_false_alarms, matrix.passed) == (1, 0, True)
    assert "false alarms: 1 failed check(s) in 2 clean run(s) (feature_drift@features)" in \
        render_matrix(matrix)
    blocked = FaultMatrix("j", (caught,), (outcome(failed("latency", "score")),), (), 1.0)
    assert (blocked.false_alarms, blocked.blocking_false_alarms, blocked.passed) == (1, 1, False)
    assert "1 blocking check(s) failed a clean run" in render_matrix(blocked)


def test_json_is_plain_and_lists_out_of_run_faults() -> None:
    row = matrix_row("precision_change", "score", outcome(failed("golden", "score")))
    data = json.loads(json.dumps(FaultMatrix("j", (row,), (outcome(),), out_of_run_faults(),
                                             1.0).to_dict()))
    assert data["rows"][0]["right_stage"] and data["rows"][0]["caught_by"][0]["check"] == "golden"
    listed = {f["fault"]: f["tested_in"] for f in data["out_of_run"]}
    assert set(listed) == set(REGISTRY) - set(INJECTABLE)
    assert "tests/integration/test_golden_tamper.py" in listed["golden_tamper"]


def test_every_injectable_fault_names_a_stage_of_the_reference_journeys() -> None:
    stages = {"ingest", "features", "score", "decide", "deliver"}
    for fid in INJECTABLE:
        assert REGISTRY[fid].stage in stages and REGISTRY[fid].catch_stage in stages, fid


@pytest.mark.parametrize(("fid", "stage", "expected"), [
    ("unit_change", "features", ("income", {})),  # numeric, no nulls, read by the model
    ("precision_change", "score", ("p_default", {})),  # the journey's prediction column
    ("policy_violation", "decide", ("decision", {"value": "approve"})),  # added, its mode
    ("policy_violation", "deliver", ("rate", {"value": "+2.12"})),  # a number: + 3 std
    ("lost_records", "deliver", (None, {})),
])
def test_drill_columns_come_from_the_frames(fid: str, stage: str, expected: object) -> None:
    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables={"E2E_DATABASE_URL": "sqlite:///:memory:"})
    features = pd.DataFrame({"request_id": ["a", "b"], "home": ["rent", "own"],
                             "seniority": [1.0, None], "income": [10.0, 20.0]})
    frames = {"ingest": features, "features": features,
              "score": features.assign(p_default=[0.1, 0.9]),
              "decide": features.assign(p_default=[0.1, 0.9], decision=["approve"] * 2),
              "deliver": features.assign(rate=[1.0, 2.0])}
    assert drill_column(journey, fid, stage, frames) == expected
