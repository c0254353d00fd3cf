"""The latency check's pure decision: absolute budgets, regression against the recorded baseline
(median, factor or floor), and the baseline file it keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from e2e_assets.checks.base import get_kind
from e2e_assets.checks.latency import LatencyOptions, latency_verdict, per_1k
from e2e_assets.checks.latency_baseline import (
    calibration_ms,
    champion_baseline,
    machine_slowdown,
    read_baseline,
    read_calibrations,
    record_timing,
)

DEFAULTS = LatencyOptions()


def test_registered_as_an_output_check_with_generous_defaults() -> None:
    kind = get_kind("latency")
    assert kind.phase_for("score", DEFAULTS) == "output"
    assert (DEFAULTS.factor, DEFAULTS.floor_ms) == (3.0, 400.0)


def test_per_request_cost_is_ms_per_thousand_requests() -> None:
    assert per_1k(50.0, 2000) == 25.0
    assert per_1k(50.0, 0) is None


def test_first_run_without_baseline_is_judged_by_the_absolute_budget_only() -> None:
    v = latency_verdict("score", 30.0, 10, DEFAULTS)  # slow, but under 60 s; no per-1k default
    assert v.passed and v.metadata["baseline_runs"] == 0
    assert "regression_budget_ms" not in v.metadata


def test_absolute_budgets_name_stage_time_and_budget() -> None:
    v = latency_verdict("score", 0.5, 10, LatencyOptions(max_batch_ms=400, max_ms_per_1k=1000))
    assert not v.passed and len(v.problems) == 2
    assert "stage 'score' took 500.0 ms" in v.problems[0]
    assert "max_batch_ms=400" in v.problems[0]
    assert "50000.0 ms per 1,000 requests" in v.problems[1]
    assert "max_ms_per_1k=1000" in v.problems[1]


def test_floor_sets_the_budget_on_a_fast_stage() -> None:
    # median(40, 45, 50, 60, 1000) = 50 ms/1k; 1,337 rows -> 66.85 ms expected;
    # max(3 * 66.85, 66.85 + 400) = 466.85 ms: a 1000 ms outlier does not move it.
    baseline = [40.0, 1000.0, 50.0, 60.0, 45.0]
    ok = latency_verdict("score", 0.466, 1337, DEFAULTS, baseline)
    assert ok.passed and ok.metadata["regression_budget_ms"] == pytest.approx(466.85)
    slow = latency_verdict("score", 0.468, 1337, DEFAULTS, baseline)
    assert not slow.passed
    assert "stage 'score' took 468.0 ms, over its regression budget of 466.9 ms" in \
        slow.problems[0]


def test_factor_sets_the_budget_on_a_slow_stage() -> None:
    # 200 ms/1k at 1,000 rows -> 200 ms expected; max(600, 600) = 600 ms.
    assert latency_verdict("decide", 0.599, 1000, DEFAULTS, [200.0]).passed
    v = latency_verdict("decide", 0.601, 1000, DEFAULTS, [200.0])
    assert not v.passed and v.metadata["regression_budget_ms"] == pytest.approx(600.0)


def test_the_default_fault_on_a_reference_sized_score_is_caught() -> None:
    # 0.5 s more on credit's score (measured ~9.5 ms per 1k on 1,337 rows, 12.7 ms): budget
    # 412.7 ms; a clean run may be 400 ms slower than usual (the drill's default is 1 s).
    assert not latency_verdict("score", 0.0127 + 0.5, 1337, DEFAULTS, [9.5]).passed
    assert latency_verdict("score", 0.0127 + 0.399, 1337, DEFAULTS, [9.5]).passed


def test_a_busy_machine_scales_the_budget_and_a_sleep_is_still_caught() -> None:
    # Finding: a loan gate on a loaded 2-core machine saw 1798 ms for a stage whose baseline
    # was 595 ms (budget 1785 ms) and refused a clean model. The calibration then ran 3x slow:
    # expected 595 * 3 = 1785 ms, budget max(3 * 1785, 1785 + 400) = 5355 ms.
    assert not latency_verdict("score", 1.798, 3000, DEFAULTS, [198.4]).passed
    busy = latency_verdict("score", 1.798, 3000, DEFAULTS, [198.4], slowdown=3.0)
    assert busy.passed and busy.metadata["regression_budget_ms"] == pytest.approx(5356.8)
    assert busy.metadata["machine_slowdown"] == 3.0
    # credit's score, 9.5 ms per 1k on 1,337 rows = 12.7 ms; twice as busy: 25.4 ms expected,
    # budget 425.4 ms; a 0.5 s sleep is still over it.
    slept = latency_verdict("score", 2 * 0.0127 + 0.5, 1337, DEFAULTS, [9.5], slowdown=2.0)
    assert not slept.passed and "times the machine's slowdown 2.00" in slept.problems[0]
    # a faster machine never tightens the budget
    assert latency_verdict("score", 0.41, 1337, DEFAULTS, [9.5], slowdown=0.5).passed


def test_machine_slowdown_is_now_over_the_recorded_median_never_below_one(
        tmp_path: Path) -> None:
    assert machine_slowdown([], 50.0) == 1.0  # nothing recorded: no scaling
    assert machine_slowdown([4.0, 5.0, 100.0], 15.0) == 3.0  # median 5
    assert machine_slowdown([4.0, 5.0, 6.0], 2.0) == 1.0
    path = tmp_path / "latency.json"
    record_timing(path, "score", 9.5, keep=5, calibration=5.0)
    record_timing(path, "score", 9.7, keep=5)  # a timing without calibration adds none
    assert read_calibrations(path) == [5.0] and read_baseline(path, "score") == [9.5, 9.7]
    first, second = calibration_ms(), calibration_ms()
    assert 0 < first < 1000 and 0 < second < 1000


def test_options_refuse_a_factor_that_cannot_regress() -> None:
    with pytest.raises(ValidationError, match="factor"):
        LatencyOptions(factor=1.0)


def test_baseline_file_keeps_the_newest_timings_per_stage(tmp_path: Path) -> None:
    path = tmp_path / "j" / "latency.json"
    assert read_baseline(path, "score") == []
    for cost in (1.0, 2.0, 3.0, 4.0):
        record_timing(path, "score", cost, keep=3)
    record_timing(path, "decide", 9.0, keep=3)
    assert read_baseline(path, "score") == [2.0, 3.0, 4.0]
    assert read_baseline(path, "decide") == [9.0]


def test_a_corrupt_baseline_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latency.json"
    path.write_text(json.dumps(["not", "a", "mapping"]))
    with pytest.raises(ValueError, match=r"latency baseline .*latency\.json is not a JSON"):
        read_baseline(path, "score")


def test_the_baseline_is_the_champions_timings(tmp_path: Path) -> None:
    # A challenger in a gate is held to what the champion it would replace was timed at, not
    # to its own history nor to an older champion's.
    path = tmp_path / "latency.json"
    for cost, version in ((50.0, "m:1"), (52.0, "m:1"), (10.0, "m:2"), (11.0, "m:2"),
                          (400.0, "m:3")):
        record_timing(path, "score", cost, keep=5, version=version)
    champion = champion_baseline(path, "score", "ms_per_1k", "m:2", history=5)
    assert champion.values == (10.0, 11.0) and champion.of == "champion m:2"
    assert champion.median == 10.5
    # a champion never timed: every version's timings, and the check says so
    unseen = champion_baseline(path, "score", "ms_per_1k", "m:9", history=3)
    assert unseen.values == (10.0, 11.0, 400.0)
    assert unseen.of == "any version (none recorded yet for champion m:9)"


def test_a_baseline_written_before_versions_reads_as_unknown_version(tmp_path: Path) -> None:
    path = tmp_path / "latency.json"
    path.write_text(json.dumps({"score": [9.5, 9.7], "__calibration_ms": [4.0]}))
    assert read_baseline(path, "score") == [9.5, 9.7]
    assert champion_baseline(path, "score", "ms_per_1k", "m:1", 5).values == (9.5, 9.7)
    assert read_calibrations(path) == [4.0]


def test_the_budgets_table_holds_each_limit_and_what_was_observed() -> None:
    """Evidence as a table: 1,200 ms against max_batch_ms 1,000 is breached; 3 s per 1,000
    requests (1,200 ms over 400 rows) against max_ms_per_1k 5,000 is not; a baseline of
    100 ms per 1,000 gives 40 ms expected, and the regression budget max(3 x 40, 40 + 400)."""
    from e2e_assets.checks.latency import LatencyOptions, latency_verdict
    from e2e_assets.evidence import evidence_table

    options = LatencyOptions(max_batch_ms=1000, max_ms_per_1k=5000)
    verdict = latency_verdict("score", 1.2, 400, options, baseline_per_1k=[100.0])
    rows = {r["budget"].split(" ")[0]: r for r in verdict.metadata["budgets"]}
    assert rows["max_batch_ms"]["observed_ms"] == 1200 and rows["max_batch_ms"]["breached"]
    assert rows["max_ms_per_1k"]["observed_ms"] == 3000 and not rows["max_ms_per_1k"]["breached"]
    assert rows["regression"]["limit_ms"] == 440 and rows["regression"]["breached"]
    table = evidence_table(verdict.metadata["budgets"])
    assert [r["breached"] for r in table.rows] == [True, True, False]  # breached rows first


def test_a_large_batch_is_timed_on_a_seeded_sample_scaled_to_the_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 requests are timed on 20,000 of them (1 us each here), judged as the batch."""
    from types import SimpleNamespace

    import pandas as pd

    from e2e_assets.checks import latency
    from e2e_assets.checks.base import StageCheckContext

    monkeypatch.setenv("E2E_ASSETS_HOME", str(tmp_path))
    timed: list[int] = []

    def fake_timing(ctx: object, frame: pd.DataFrame) -> float:
        timed.append(len(frame))
        return len(frame) * 1e-6

    monkeypatch.setattr(latency, "_controlled_timing", fake_timing)
    journey = SimpleNamespace(name="scale", injected=False)
    batch = pd.DataFrame({"request_id": range(100_000)})
    ctx = StageCheckContext(journey=journey, stage="score", input=batch,  # type: ignore[arg-type]
                            output=batch, stage_wall_s=0.1)
    result = latency.check_latency(ctx, latency.LatencyOptions())
    assert timed == [20_000] and result.passed
    assert result.metadata["timed_rows"] == 20_000 and result.metadata["timed_sample"]
    assert result.metadata["controlled_timings_ms"] == [pytest.approx(100.0)]  # 0.02 s x 5
    assert "seeded sample of 20,000 of 100,000 requests, scaled" in result.summary
    small = batch.iloc[:5_000]
    whole = latency.check_latency(StageCheckContext(
        journey=journey, stage="score", input=small, output=small,  # type: ignore[arg-type]
        stage_wall_s=0.1), latency.LatencyOptions())
    assert timed[-1] == 5_000 and not whole.metadata["timed_sample"]


def test_a_regression_on_a_sampled_batch_is_caught(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The fault latency exists for (a slower stage) is caught when the batch is timed on a
    sample: 1 us a request recorded as the baseline, then 100 us a request."""
    from types import SimpleNamespace

    import pandas as pd

    from e2e_assets.checks import latency
    from e2e_assets.checks.base import StageCheckContext

    monkeypatch.setenv("E2E_ASSETS_HOME", str(tmp_path))
    per_request = [1e-6]
    monkeypatch.setattr(latency, "_controlled_timing",
                        lambda ctx, frame: len(frame) * per_request[0])
    batch = pd.DataFrame({"request_id": range(100_000)})
    ctx = StageCheckContext(journey=SimpleNamespace(name="slow", injected=False),  # type: ignore[arg-type]
                            stage="score", input=batch, output=batch, stage_wall_s=0.1)
    assert latency.check_latency(ctx, latency.LatencyOptions()).passed  # records the baseline
    per_request[0] = 1e-4
    slow = latency.check_latency(ctx, latency.LatencyOptions())
    assert not slow.passed
    assert "seeded sample of 20,000 of 100,000 requests, scaled" in slow.summary
