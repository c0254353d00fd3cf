"""Finding of issue 13: latency_regression exited 0 and wrote the sink. The latency check at
score passes a clean run (and records its timing), then fails the drill at score, naming the
stage, the measured time and the budget, so nothing is delivered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2e_assets.checks.latency import baseline_file
from e2e_assets.faults import Fault, with_faults
from e2e_assets.home import Home
from e2e_assets.inprocess import run_in_process
from e2e_assets.orchestration.run import run_journey
from e2e_assets.results import render_table
from e2e_assets.sinks import count_rows
from e2e_assets.spec import load_journey
from tests.helpers import REPO, empty_shadow

pytestmark = pytest.mark.slow


def test_latency_regression_fails_the_latency_check_at_score(home: Path) -> None:
    h = Home.from_env()
    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables=h.variables())
    clean = run_journey(journey, h)
    latency = {c.stage: c for c in clean.checks if c.name == "latency"}
    assert clean.exit_code == 0 and latency["score"].passed, render_table(clean)
    path = baseline_file("credit_approval")
    assert json.loads(path.read_text())["score"]  # the clean run's timing is recorded

    # The baseline a quiet machine records (score: ~9.5 ms per 1,000 requests), so the
    # budget is ~413 ms whatever load this clean run met; 1 s of sleep is over it every time.
    path.write_text(json.dumps({"score": [9.5] * 5}))
    shadow = empty_shadow(h.database_url, "credit_decisions")
    fault = Fault("latency_regression", "score", params={"seconds": 1.0})
    drill = run_journey(with_faults(journey, [fault]), h)
    check = next(c for c in drill.checks if c.name == "latency")
    assert drill.exit_code == 1 and check.stage == "score" and not check.passed, \
        (check.description, render_table(drill))
    assert "stage 'score' took" in check.description
    assert "over its regression budget of 4" in check.description  # 412.7 ms
    assert {s.stage: s.status for s in drill.stages}["score"] == "blocked"
    assert count_rows(h.database_url, shadow) == 0
    # the drill's timing never joins the baseline
    assert json.loads(path.read_text())["score"] == [9.5] * 5


def test_a_stage_without_its_own_latency_check_is_caught_end_to_end(home: Path) -> None:
    """decide has no latency check of its own: its regression is caught by the journey's
    end-to-end budget at deliver, per request batch, against the champion's baseline."""
    h = Home.from_env()
    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables=h.variables())
    assert "latency" not in {c.kind for c in journey.spec.checks.get("decide", [])}
    clean = run_in_process(journey, h)
    e2e = next(c for c in clean.checks if c.name == "end_to_end_latency")
    m = e2e.result.metadata
    assert clean.blocked_at is None and e2e.result.passed, e2e.result.summary
    assert m["request_batches_timed"] >= 10 and m["request_batch_rows"] == 100
    assert m["end_to_end_p50_ms"] <= m["end_to_end_p95_ms"] <= m["end_to_end_p99_ms"]
    for stage in journey.stages:  # every stage is timed per batch
        assert 0 < m[f"{stage}_p50_ms"] <= m["end_to_end_p50_ms"]
    path = baseline_file("credit_approval")
    recorded = json.loads(path.read_text())["__end_to_end:100"]
    assert recorded[-1]["version"] == "score=credit_approval:1"  # the champion's timing

    fault = Fault("latency_regression", "decide", params={"seconds": 0.5})
    drill = run_in_process(with_faults(journey, [fault]), h)
    failed = {(c.stage, c.name): c.result.summary for c in drill.failed}
    assert drill.blocked_at == "deliver" and list(failed) == [("deliver", "end_to_end_latency")]
    assert "end-to-end p50" in failed[("deliver", "end_to_end_latency")]
    assert "(champion score=credit_approval:1)" in failed[("deliver", "end_to_end_latency")]
    assert json.loads(path.read_text())["__end_to_end:100"] == recorded  # drills never record
