"""End-to-end latency: p50/p95/p99 per request batch, through every stage and per stage.

The ``latency`` check times a stage on the run's whole batch. Production serves requests in
small batches, and what a caller waits for is every stage, one after the other. So this check,
on the journey's last stage, replays the run's requests in request batches of
``request_batch_rows`` (default 100) through the whole chain, the stage functions and models
exactly as the run served them (a stage whose model cannot be loaded is timed with its
fallback), and times each stage on each batch:

* **end to end**, per request batch: the sum of the stages' times on it;
* **per stage**, per request batch.

The first ``request_batch_rows * max_request_batches`` requests are timed (the run's own, read
again from the source), and timing stops after ``max_timing_s`` once at least one batch is timed (a stage that sleeps a second
per call is caught by its first batches). Timings run with native thread pools at one thread,
as the ``latency`` check's controlled timing does. Percentiles interpolate linearly between
order statistics (Hyndman & Fan type 7, numpy's default): with n timed batches, p99 is near
the largest.

Budgets, all in ms per request batch:

* **absolute**: end-to-end ``p50_ms``/``p95_ms``/``p99_ms`` (p99 default 5 s, the others
  off) and per stage under ``stages: {<stage>: {p95_ms: ...}}``;
* **regression** against the champion's recorded baseline: end-to-end p50 and p95 against the
  median of the last ``history`` passing runs timed while the champion (the version the run is
  compared with; in a gate, the one the challenger would replace) served, scaled by the
  machine's slowdown since: ``max(factor * expected, expected + floor_ms)``.

A breach is confirmed by timing the same batches again (``retries``, default 1) and judging
each batch's fastest time. A passing run that is not a drill records its percentiles, with the
versions that served, in the journey's latency baseline (``latency_baseline``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from e2e_assets.checks.base import CheckResult, Options, StageCheckContext, register
from e2e_assets.checks.latency import LatencyVerdict, champion_of
from e2e_assets.checks.latency_baseline import (
    END_TO_END,
    Baseline,
    baseline_file,
    calibration_ms,
    champion_baseline,
    record_entry,
    regression_breach,
    regression_budget,
    slowdown_now,
)
from e2e_assets.errors import E2EAssetsError
from e2e_assets.fallback import fallback_key
from e2e_assets.stages import check_stage_output, run_stage

END_TO_END_LATENCY = "end_to_end_latency"
QUANTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
REGRESSED = ("p50_ms", "p95_ms")  # p99 of a few dozen batches is one batch: too noisy to trend


class PercentileBudget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    p50_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)


class EndToEndLatencyOptions(Options):
    request_batch_rows: int = Field(default=100, ge=1)
    max_request_batches: int = Field(default=20, ge=1, le=10_000)
    max_timing_s: float = Field(default=5.0, gt=0)
    p50_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=5_000.0, gt=0)
    stages: dict[str, PercentileBudget] = Field(default_factory=dict)
    factor: float = Field(default=3.0, gt=1)
    floor_ms: float = Field(default=50.0, ge=0)
    history: int = Field(default=5, ge=1, le=100)
    retries: int = Field(default=1, ge=0, le=10)

    @property
    def end_to_end(self) -> PercentileBudget:
        return PercentileBudget(p50_ms=self.p50_ms, p95_ms=self.p95_ms, p99_ms=self.p99_ms)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, interpolated linearly between order
    statistics: position (n - 1) * q in the sorted values (Hyndman & Fan type 7)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def percentiles(values: Sequence[float]) -> dict[str, float]:
    return {name: percentile(values, q) for name, q in QUANTILES.items()}


def request_batches(rows: int, batch_rows: int, max_batches: int) -> list[tuple[int, int]]:
    """(start, stop) row positions of the request batches to time: consecutive batches of
    ``batch_rows``, at most ``max_batches`` of them, evenly spaced over the rows."""
    count = math.ceil(rows / batch_rows)
    if count <= max_batches:
        chosen = list(range(count))
    else:
        chosen = sorted({round(i * (count - 1) / (max_batches - 1)) for i in range(max_batches)}
                        if max_batches > 1 else {0})
    return [(i * batch_rows, min((i + 1) * batch_rows, rows)) for i in chosen]


@dataclass(frozen=True)
class BatchTimings:
    """ms per request batch: ``stages[stage][i]`` and ``end_to_end[i]`` for batch i."""

    stages: Mapping[str, tuple[float, ...]]
    end_to_end: tuple[float, ...]

    def fastest(self, other: BatchTimings) -> BatchTimings:
        """Each batch's fastest of two timings of the same batches (a confirmation)."""
        n = min(len(self.end_to_end), len(other.end_to_end))
        return BatchTimings(
            {s: tuple(min(a, b) for a, b in zip(v[:n], other.stages[s][:n], strict=True))
             for s, v in self.stages.items()},
            tuple(min(a, b) for a, b in zip(self.end_to_end[:n], other.end_to_end[:n],
                                            strict=True)))


StageRunner = Callable[[pd.DataFrame], pd.DataFrame]


def time_request_batches(stages: Mapping[str, StageRunner], requests: pd.DataFrame,
                         batches: Sequence[tuple[int, int]], max_timing_s: float
                         ) -> BatchTimings:
    """Each batch through every stage in order, timed per stage (ms), native thread pools at
    one thread; stops after ``max_timing_s`` once a batch is timed."""
    from threadpoolctl import threadpool_limits

    per_stage: dict[str, list[float]] = {s: [] for s in stages}
    totals: list[float] = []
    started = perf_counter()
    with threadpool_limits(limits=1):
        for start, stop in batches:
            frame = requests.iloc[start:stop]
            total = 0.0
            for stage, run in stages.items():
                t0 = perf_counter()
                frame = run(frame)
                elapsed = (perf_counter() - t0) * 1000
                per_stage[stage].append(elapsed)
                total += elapsed
            totals.append(total)
            if perf_counter() - started > max_timing_s:
                break
    return BatchTimings({s: tuple(v) for s, v in per_stage.items()}, tuple(totals))


def end_to_end_verdict(timings: BatchTimings, options: EndToEndLatencyOptions,
                       baselines: Mapping[str, Baseline] | None = None,
                       slowdown: float = 1.0) -> LatencyVerdict:
    """Judge the timed batches against the absolute budgets (end to end and per stage) and
    end-to-end p50/p95 against ``baselines`` ({"p50_ms": ..., "p95_ms": ...}) scaled by the
    machine's ``slowdown`` (>= 1)."""
    total = percentiles(timings.end_to_end)
    n = len(timings.end_to_end)
    metadata: dict[str, Any] = {"request_batches_timed": n,
                                "request_batch_rows": options.request_batch_rows,
                                **{f"end_to_end_{k}": round(v, 3) for k, v in total.items()}}
    problems = _over_budget("end to end", total, options.end_to_end, n)
    table = []
    for stage, values in timings.stages.items():
        own = percentiles(values)
        metadata.update({f"{stage}_{k}": round(v, 3) for k, v in own.items()})
        table.append({"stage": stage, **{k: round(v, 3) for k, v in own.items()}})
        if stage in options.stages:
            problems += _over_budget(f"stage '{stage}'", own, options.stages[stage], n)
    metadata["per_request_batch"] = [*table, {"stage": "end to end", **{
        k: round(v, 3) for k, v in total.items()}}]
    for measure in REGRESSED:
        baseline = (baselines or {}).get(measure)
        if baseline is None or baseline.median is None:
            continue
        expected = baseline.median * max(slowdown, 1.0)
        budget = regression_budget(expected, options.factor, options.floor_ms)
        metadata.update({f"baseline_{measure}": round(baseline.median, 3),
                         f"regression_budget_{measure}": round(budget, 3),
                         "baseline_runs": len(baseline.values), "baseline_of": baseline.of,
                         "machine_slowdown": round(slowdown, 3)})
        if total[measure] > budget:
            problems.append(regression_breach(
                f"end-to-end {measure[:3]} per request batch", total[measure], budget,
                expected, len(baseline.values), baseline.of, slowdown, options.factor,
                options.floor_ms))
    return LatencyVerdict(not problems, tuple(problems), metadata)


def _over_budget(what: str, measured: Mapping[str, float], budget: PercentileBudget,
                 batches: int) -> list[str]:
    return [f"{what}: {name[:3]} {measured[name]:.1f} ms per request batch over {batches} "
            f"batches, over the budget {name}={limit:g}"
            for name in QUANTILES if (limit := getattr(budget, name)) is not None
            and measured[name] > limit]


def _validate(spec: Any, stage: str, options: EndToEndLatencyOptions
              ) -> tuple[str, str] | None:
    last = spec.stage_names[-1]
    if stage != last:
        return "stage", (f"{END_TO_END_LATENCY} times requests through every stage, so it goes "
                         f"on the last stage '{last}', not on '{stage}'")
    unknown = sorted(set(options.stages) - set(spec.stage_names))
    if unknown:
        return "stages", (f"budgets for unknown stages {unknown}; the journey's stages are "
                          f"{list(spec.stage_names)}")
    return None


@register(END_TO_END_LATENCY, options=EndToEndLatencyOptions, validate_spec=_validate)
def check_end_to_end_latency(ctx: StageCheckContext, options: EndToEndLatencyOptions
                             ) -> CheckResult:
    """Request batches through every stage within their p50/p95/p99 budgets and not
    regressed against the champion's."""
    if ctx.read_requests is None:
        raise RuntimeError(f"check on stage '{ctx.stage}' needs the run's requests, which the "
                           f"protocol gives only to a stage's output checks")
    requests = ctx.read_requests(options.request_batch_rows * options.max_request_batches)
    batches = request_batches(len(requests), options.request_batch_rows,
                              options.max_request_batches)
    if not batches:
        return CheckResult(True, "no requests in this run: nothing to time",
                           {"request_batches_timed": 0})
    runners = _stage_runners(ctx)
    timings = time_request_batches(runners, requests, batches, options.max_timing_s)
    path = baseline_file(ctx.journey.name)
    key = f"{END_TO_END}:{options.request_batch_rows}"
    champion = _versions(ctx, champion_of)
    baselines = {m: champion_baseline(path, key, m, champion, options.history)
                 for m in REGRESSED}
    verdict = end_to_end_verdict(timings, options, baselines)
    calibration = None
    for _ in range(options.retries):
        if verdict.passed:
            break
        calibration, slowdown = slowdown_now(path)
        timings = timings.fastest(time_request_batches(runners, requests, batches,
                                                       options.max_timing_s))
        verdict = end_to_end_verdict(timings, options, baselines, slowdown)
    metadata = {**verdict.metadata, "baseline_file": str(path)}
    if not verdict.passed:
        return CheckResult(False, "; ".join(verdict.problems), metadata)
    if not ctx.journey.injected:
        measured = {m: metadata[f"end_to_end_{m}"] for m in REGRESSED}
        record_entry(path, key, {"version": _versions(ctx, _served), **measured},
                     options.history, calibration if calibration is not None
                     else calibration_ms())
    m = metadata
    return CheckResult(True, (
        f"{m['request_batches_timed']} request batches of {options.request_batch_rows} "
        f"through {len(runners)} stages: end-to-end p50 {m['end_to_end_p50_ms']:.1f} ms, "
        f"p95 {m['end_to_end_p95_ms']:.1f} ms, p99 {m['end_to_end_p99_ms']:.1f} ms, within "
        f"budget" + (f" and the regression budget ({m['baseline_of']})"
                     if "baseline_of" in m else "; no baseline yet (this run starts it)")),
        metadata)


def _served(ctx: StageCheckContext, stage: str) -> str | None:
    return ctx.served_versions.get(stage)


def _versions(ctx: StageCheckContext, of: Callable[[StageCheckContext, str], str | None]
              ) -> str | None:
    """'stage=name:version,...' over the model stages, None for a journey without models."""
    stages = ctx.journey.spec.model_stages
    return ",".join(f"{s}={of(ctx, s)}" for s in stages) if stages else None


def _stage_runners(ctx: StageCheckContext) -> dict[str, StageRunner]:
    journey = ctx.journey
    runners: dict[str, StageRunner] = {}
    for stage in journey.stages:
        model = None
        if journey.spec.model_for(stage) is not None:
            try:
                model = ctx.model if stage == ctx.stage else (
                    ctx.served.model(stage) if ctx.served is not None else None)
            except E2EAssetsError:
                if fallback_key(stage) not in journey.functions:
                    raise
                runners[stage] = _fallback_runner(ctx, stage)
                continue
        runners[stage] = _model_runner(journey, stage, model)
    return runners


def _model_runner(journey: Any, stage: str, model: Any) -> StageRunner:
    return lambda df: run_stage(journey, stage, df, model=model)


def _fallback_runner(ctx: StageCheckContext, stage: str) -> StageRunner:
    """The stage's declared fallback, which serves its requests while its model is down."""
    journey = ctx.journey
    spec = journey.spec.stage(stage)
    fn = journey.functions[fallback_key(stage)]
    params = spec.fallback.params if spec is not None and spec.fallback is not None else {}
    return lambda df: check_stage_output(journey, stage, fn(df, **params))
