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
