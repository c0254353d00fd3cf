"""End-to-end latency per request batch: percentiles checked against hand-computed order
statistics, the batches chosen, the budgets and the regression against the champion."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from e2e_assets.checks.base import get_kind
from e2e_assets.checks.latency_baseline import Baseline
from e2e_assets.checks.request_latency import (
    BatchTimings,
    EndToEndLatencyOptions,
    end_to_end_verdict,
    percentile,
    percentiles,
    request_batches,
    time_request_batches,
)
from e2e_assets.errors import SpecError
from e2e_assets.spec import load_journey
from tests.unit.test_spec import MINIMAL, VARS

DEFAULTS = EndToEndLatencyOptions()


def test_percentiles_interpolate_between_order_statistics() -> None:
    # 1..100: position (n-1)q = 49.5 -> 50.5; 94.05 -> 95.05; 98.01 -> 99.01
    one_to_100 = [float(v) for v in range(100, 0, -1)]
    assert percentiles(one_to_100) == pytest.approx(
        {"p50_ms": 50.5, "p95_ms": 95.05, "p99_ms": 99.01})
    # 10, 20, 30, 40: p95 at position 2.85 = 30 + 0.85 * 10
    assert percentile([40.0, 10.0, 30.0, 20.0], 0.95) == pytest.approx(38.5)
    assert percentile([40.0, 10.0, 30.0, 20.0], 0.5) == pytest.approx(25.0)
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_request_batches_are_consecutive_and_evenly_spaced_when_capped() -> None:
    assert request_batches(250, 100, 50) == [(0, 100), (100, 200), (200, 250)]
    # 10 batches, 4 timed: batch indices round(i * 9 / 3) = 0, 3, 6, 9
    assert request_batches(1000, 100, 4) == [(0, 100), (300, 400), (600, 700), (900, 1000)]
    assert request_batches(1000, 100, 1) == [(0, 100)]
    assert request_batches(0, 100, 5) == []


def test_stages_are_timed_per_batch_and_summed_end_to_end() -> None:
    seen: list[int] = []

    def slow(df: pd.DataFrame) -> pd.DataFrame:
        seen.append(len(df))
        time.sleep(0.02)
        return df

    requests = pd.DataFrame({"request_id": [str(i) for i in range(250)]})
    timings = time_request_batches({"a": lambda df: df, "b": slow}, requests,
                                   request_batches(250, 100, 50), max_timing_s=10)
    assert seen == [100, 100, 50]  # each batch through every stage, in order
    assert len(timings.end_to_end) == 3 and all(t >= 20 for t in timings.stages["b"])
    for i in range(3):
        assert timings.end_to_end[i] == pytest.approx(
            timings.stages["a"][i] + timings.stages["b"][i])


def test_timing_stops_after_max_timing_s_with_at_least_one_batch() -> None:
    requests = pd.DataFrame({"request_id": [str(i) for i in range(1000)]})
    timings = time_request_batches({"s": lambda df: (time.sleep(0.05), df)[1]}, requests,
                                   request_batches(1000, 100, 50), max_timing_s=0.01)
    assert len(timings.end_to_end) == 1


def _timings(end_to_end: list[float], **stages: list[float]) -> BatchTimings:
    return BatchTimings({k: tuple(v) for k, v in stages.items()}, tuple(end_to_end))


def test_absolute_budgets_end_to_end_and_per_stage_name_what_breached() -> None:
    timings = _timings([10.0, 20.0, 30.0, 40.0], score=[5.0, 15.0, 25.0, 35.0])
    ok = end_to_end_verdict(timings, EndToEndLatencyOptions(p50_ms=25.0, p99_ms=40.0))
    assert ok.passed and ok.metadata["end_to_end_p50_ms"] == 25.0
    assert ok.metadata["score_p95_ms"] == pytest.approx(33.5)
    assert ok.metadata["per_request_batch"] == [  # the table reports and the UI show
        {"stage": "score", "p50_ms": 20.0, "p95_ms": 33.5, "p99_ms": 34.7},
        {"stage": "end to end", "p50_ms": 25.0, "p95_ms": 38.5, "p99_ms": 39.7}]
    bad = end_to_end_verdict(timings, EndToEndLatencyOptions(
        p95_ms=38.0, stages={"score": {"p50_ms": 19.0}}))
    assert not bad.passed
    assert bad.problems == (
        "end to end: p95 38.5 ms per request batch over 4 batches, over the budget p95_ms=38",
        ("stage 'score': p50 20.0 ms per request batch over 4 batches, over the budget "
         "p50_ms=19"))


def test_regression_against_the_champion_uses_factor_or_floor() -> None:
    # champion's p50 median 10 ms -> budget max(3 * 10, 10 + 50) = 60 ms; p95 median 20 ms ->
    # max(60, 70) = 70 ms.
    baselines = {"p50_ms": Baseline((9.0, 10.0, 11.0), "champion m:2"),
                 "p95_ms": Baseline((20.0,), "champion m:2")}
    clean = end_to_end_verdict(_timings([55.0] * 20), DEFAULTS, baselines)
    assert clean.passed and clean.metadata["regression_budget_p50_ms"] == 60.0
    assert clean.metadata["regression_budget_p95_ms"] == 70.0
    slow = end_to_end_verdict(_timings([61.0] * 20), DEFAULTS, baselines)
    assert not slow.passed and len(slow.problems) == 1
    assert slow.problems[0].startswith("end-to-end p50 per request batch 61.0 ms, over its "
                                       "regression budget of 60.0 ms: 10.0 ms expected")
    assert "(champion m:2)" in slow.problems[0]
    # the machine twice as busy: expected 20 ms, budget max(60, 70) = 70 ms
    assert end_to_end_verdict(_timings([61.0] * 20), DEFAULTS, baselines, slowdown=2.0).passed


def test_a_batch_slept_a_second_is_over_any_reasonable_budget() -> None:
    # the latency_regression drill sleeps 1 s per call: one slow batch in 5 is p95/p99 only;
    # every batch slow moves p50 (the regression's) far over 3x a 15 ms baseline + 50 ms.
    baselines = {"p50_ms": Baseline((15.0,), "champion m:1")}
    assert not end_to_end_verdict(_timings([1015.0] * 5), DEFAULTS, baselines).passed


def test_fastest_of_two_timings_is_per_batch() -> None:
    first = _timings([10.0, 90.0], s=[10.0, 90.0])
    second = _timings([50.0, 20.0], s=[50.0, 20.0])
    assert first.fastest(second) == _timings([10.0, 20.0], s=[10.0, 20.0])


def test_registered_on_the_output_with_validated_options() -> None:
    kind = get_kind("end_to_end_latency")
    assert kind.phase_for("deliver", DEFAULTS) == "output"
    assert DEFAULTS.p99_ms == 5000.0 and DEFAULTS.request_batch_rows == 100
    with pytest.raises(ValidationError, match="p95_ms"):
        EndToEndLatencyOptions(stages={"score": {"p95_ms": -1}})
    with pytest.raises(ValidationError, match="p90_ms"):
        EndToEndLatencyOptions(stages={"score": {"p90_ms": 1}})


@pytest.mark.parametrize(("checks", "expected"), [
    ("  score:\n    - kind: end_to_end_latency\n",
     r"journey\.yaml:\d+ at 'checks\.score\.0\..*goes on the last stage 'deliver', not on 'score'"),
    (("  deliver:\n    - kind: end_to_end_latency\n      options:\n"
      "        stages: {scroe: {p95_ms: 10}}\n"),
     r"checks\.deliver\.0\.options\.stages.*unknown stages \['scroe'\]"),
])
def test_misplaced_or_misspelt_end_to_end_budgets_are_refused_at_load(
        tmp_path: Path, checks: str, expected: str) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(MINIMAL + "checks:\n" + checks)
    with pytest.raises(SpecError, match=expected) as err:
        load_journey(path, variables=VARS)
    assert err.value.exit_code == 2
