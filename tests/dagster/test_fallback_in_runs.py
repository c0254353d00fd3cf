"""model_unavailable used to exit 2 with no fallback path. Both reference journeys declare a
fallback at score: a clean run shows a fallback share of 0 and passes; a transient outage is
retried, passes, and its retries are in the report; a model that stays down is decided by the
fallback (every request kept), which the blocking ``fallback`` check at score refuses above
max_fallback_share: exit 1, nothing delivered to the real sink or the drill's shadow table."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e_assets.faults import Fault, with_faults
from e2e_assets.home import Home
from e2e_assets.orchestration.run import run_journey
from e2e_assets.results import render_table
from e2e_assets.sinks import count_rows, shadow_table
from e2e_assets.spec import load_journey
from tests.helpers import REPO, empty_shadow

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["credit_approval", "loan_pricing"])
def test_fallback_at_score_clean_transient_and_down(home: Path, name: str) -> None:
    h = Home.from_env()
    journey = load_journey(REPO / "pipelines" / name / "journey.yaml", variables=h.variables())
    sink = journey.spec.sink.table

    clean = run_journey(journey, h)
    check = next(c for c in clean.checks if c.name == "fallback")
    assert clean.exit_code == 0 and check.stage == "score" and check.passed, render_table(clean)
    assert check.metadata["fallback_share"] == 0 and check.metadata["model_retries"] == 0
    delivered = count_rows(h.database_url, sink)
    assert delivered > 0

    # A transient outage: the first call raises, the first retry serves. (The shadow table is
    # kept: its ledger audits it, and a drill that delivers upserts every request there.)
    transient = run_journey(with_faults(journey, [Fault("model_unavailable", "score",
                                                        params={"failures": 1})]), h)
    check = next(c for c in transient.checks if c.name == "fallback")
    assert transient.exit_code == 0 and check.passed, render_table(transient)
    assert check.metadata["model_retries"] == 1 and check.metadata["fallback_share"] == 0
    assert "model server unavailable" in str(check.metadata["attempt_log"])
    reported = next(c for c in transient.to_dict()["checks"]  # type: ignore[attr-defined]
                    if c["name"] == "fallback")
    assert reported["metadata"]["model_retries"] == 1, reported
    assert count_rows(h.database_url, shadow_table(sink)) == delivered  # the drill's table

    # The model stays down: the fallback decides every request; over the bound: blocked.
    shadow = empty_shadow(h.database_url, sink)
    down = run_journey(with_faults(journey, [Fault("model_unavailable", "score")]), h)
    check = next(c for c in down.checks if c.name == "fallback")
    assert down.exit_code == 1 and check.stage == "score", render_table(down)
    assert not check.passed and check.blocking
    assert check.metadata["fallback_share"] == 1.0 and check.metadata["model_retries"] == 2
    assert check.metadata["fallback_rows"] == check.metadata["rows"] > 0  # no request lost
    assert "max_fallback_share 0.05" in check.description
    assert "model server unavailable" in check.description
    assert {s.stage: s.status for s in down.stages}["score"] == "blocked"
    assert count_rows(h.database_url, shadow) == 0
    assert count_rows(h.database_url, sink) == delivered  # the real sink untouched
