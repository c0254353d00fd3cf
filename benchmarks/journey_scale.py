"""A reference journey at 10k, 100k and 1M requests: the full run against its bare stage
functions, side by side in one run.

    .venv/bin/python benchmarks/journey_scale.py [--journeys credit_approval loan_pricing]
                                                  [--sizes 10000 100000 1000000]

Both journeys are bootstrapped once into a temporary home. For each size the served requests
(1,337 credit applications, 3,000 loan applications) are replicated to that many rows (each one
``size // served`` times, plus a random remainder; see :func:`resampled`), each given a new
request id (``<id>-<k>``), and written over the journey's source in a copy of the home (the models, golden sets and references stay those of the bootstrap). The
journey runs as a variant whose checks all run but none blocks, so that every stage runs at
every size and the time is the whole journey's; the checks that failed are listed (at scale a
replicated batch is more evidence of the same gaps: e.g. a cohort of a few applicants, copied,
makes a fairness gap that was not significant at 3,000 rows significant). Then:

* **bare**: the stage functions alone, in this process, on that frame (models loaded first; one
  OpenMP thread, as the CLI runs them unless ``OMP_NUM_THREADS`` says otherwise);
* **full**: ``e2e-assets run <journey>`` in its own process, start to exit: the dry run, every
  stage and check in Dagster, the sink, the reports. Peak RSS is that process's own (wait4).

Targets (issue 16): at 1M requests the full run <= 2x the bare stage functions, peak RSS
<= 2 GB. Prints the side-by-side table with each target met or not, then the seconds each check
kind took in the full run (summed over its checks, from each check's ``duration_s``), and the
stage functions' own seconds inside the run (last output: benchmarks/results_journey_scale.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.journey_times import Checkout, timed  # one CLI timer for both benchmarks


def resampled(frame: pd.DataFrame, rows: int, id_column: str, seed: int) -> pd.DataFrame:
    """``rows`` requests: every served request ``rows // len(frame)`` times, then a random
    remainder without replacement, shuffled. Each cohort keeps its share of the served batch
    (plain resampling with replacement would change small cohorts' make-up, e.g. a state's
    three applicants drawn as one of them ten times, and the fairness checks rightly flag it)."""
    rng = np.random.default_rng(seed)
    whole, remainder = divmod(rows, len(frame))
    picks = np.concatenate([np.tile(np.arange(len(frame)), whole),
                            rng.choice(len(frame), remainder, replace=False)])
    out = frame.iloc[rng.permutation(picks)].reset_index(drop=True)
    out[id_column] = [f"{rid}-{k}" for k, rid in enumerate(out[id_column].astype(str))]
    return out


def write_source(journey: object, frame: pd.DataFrame) -> None:
    from e2e_assets.db import engine_for
    from e2e_assets.frames import write_parquet_atomic
    from e2e_assets.sources import parquet_path
    from e2e_assets.spec.model import ParquetSource, SqlSource

    src = journey.spec.source  # type: ignore[attr-defined]
    if isinstance(src, SqlSource):
        with engine_for(src.url).begin() as conn:
            frame.to_sql(src.table, conn, if_exists="replace", index=False, chunksize=20000)
    elif isinstance(src, ParquetSource):
        write_parquet_atomic(frame, parquet_path(journey, src))  # type: ignore[arg-type]
    else:
        raise SystemExit(f"cannot resample a {src.kind} source")


def non_blocking_variant(name: str, folder: Path) -> Path:
    """The journey's spec with every check ``blocking: false``, in ``folder`` (its stage
    modules and suites still found from the repository, the working directory)."""
    import yaml

    spec = yaml.safe_load((REPO / "pipelines" / name / "journey.yaml").read_text())
    for checks in spec.get("checks", {}).values():
        for check in checks:
            check["blocking"] = False
    path = folder / name / "journey.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def bare_stages(journey: object, frame: pd.DataFrame, tracking_uri: str) -> float:
    from threadpoolctl import threadpool_limits

    from e2e_assets.serving import ServedModels
    from e2e_assets.stages import run_through

    models = ServedModels(journey, tracking_uri).all_loaded()  # type: ignore[arg-type]
    with threadpool_limits(limits=1):  # as the CLI runs them (OMP_NUM_THREADS=1 by default)
        started = time.perf_counter()
        run_through(journey, frame, models=models)  # type: ignore[arg-type]
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", nargs="+", default=["credit_approval", "loan_pricing"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    os.environ.update({"DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
                       "MLFLOW_ENABLE_TELEMETRY": "false"})
    os.environ.pop("DAGSTER_HOME", None)
    rows_out = []
    kinds: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        wall, _, _, code = timed(["bootstrap", *args.journeys],
                                 Checkout("scale", REPO, str(base)))
        if code:
            raise SystemExit(f"bootstrap failed (exit {code})")
        print(f"bootstrapped {', '.join(args.journeys)} in {wall:.0f} s", file=sys.stderr)
        for name in args.journeys:
            for size in args.sizes:
                home = Path(tmp) / f"{name}-{size}"
                shutil.copytree(base, home, ignore=shutil.ignore_patterns(
                    "dagster", "storage", "reports"))
                os.environ["E2E_ASSETS_HOME"] = str(home)
                from e2e_assets.home import Home
                from e2e_assets.sources import read_source
                from e2e_assets.spec import load_journey

                h = Home.from_env()
                os.chdir(REPO)
                variant = non_blocking_variant(name, Path(tmp) / "variants")
                journey = load_journey(variant, variables=h.variables())
                served = read_source(journey)
                frame = resampled(served, size, journey.spec.request_id, seed=size)
                write_source(journey, frame)
                bare = bare_stages(journey, frame, h.tracking_uri)
                full, _, rss, code = timed(["run", str(variant), "--quiet"],
                                           Checkout("scale", REPO, str(home)))
                report = json.loads((home / "reports" / f"{name}.json").read_text())
                (run,) = report["runs"]
                failed = sorted({c["name"] for c in run["checks"]
                                 if c["evaluated"] and not c["passed"]})
                stages_run = sum(s["status"] == "materialized" for s in run["stages"])
                rows_out.append((name, len(served), size, bare, full, full / bare, rss,
                                 report["exit_code"], stages_run, failed))
                kinds[(name, size)] = times = seconds_per_kind(run)
                times["(everything else: start-up, Dagster, hand-offs, sink write)"] = (
                    full - sum(times.values()))
                print(f"{name} {size}: bare {bare:.2f} s, full {full:.1f} s, exit {code}",
                      file=sys.stderr)
                shutil.rmtree(home, ignore_errors=True)
    print(f"{'journey':16} {'served':>6} {'requests':>9} {'x served':>8} {'bare s':>7} "
          f"{'full s':>7} {'full/bare':>9} {'peak MB':>8} {'stages':>6} {'exit':>4}  "
          f"failed checks (none blocks here)")
    for name, served_n, size, bare, full, ratio, rss, code, stages_run, failed in rows_out:
        print(f"{name:16} {served_n:>6} {size:>9} {size / served_n:>8.0f} {bare:>7.2f} "
              f"{full:>7.1f} {ratio:>9.1f} {rss:>8.0f} {stages_run:>6} {code:>4}  "
              f"{', '.join(failed) or '-'}")
    for name, _, size, _, _, ratio, rss, *_ in rows_out:
        if size >= TARGET_SIZE:
            print(f"target at {size:,} ({name}): full/bare {ratio:.1f} <= {TARGET_RATIO:g}: "
                  f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}; peak {rss:.0f} MB <= "
                  f"{TARGET_MB}: {'met' if rss <= TARGET_MB else 'NOT met'}")
    print_kinds(kinds)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


TARGET_SIZE, TARGET_RATIO, TARGET_MB = 1_000_000, 2.0, 2048


def seconds_per_kind(run: dict[str, Any]) -> dict[str, float]:
    """Seconds per check kind in one run (its checks' ``duration_s`` summed), and the stage
    functions' own seconds as ``(stages)``."""
    out: dict[str, float] = {"(stages)": sum(s.get("wall_time_s") or 0.0 for s in run["stages"])}
    for check in run["checks"]:
        seconds = (check.get("metadata") or {}).get("duration_s")
        if isinstance(seconds, (int, float)):
            out[check["kind"]] = out.get(check["kind"], 0.0) + float(seconds)
    return out


def print_kinds(kinds: dict[tuple[str, int], dict[str, float]]) -> None:
    """One row per check kind, one column per journey and size: seconds in the full run."""
    runs = list(kinds)
    names = sorted({k for times in kinds.values() for k in times},
                   key=lambda k: -max(t.get(k, 0.0) for t in kinds.values()))
    print()
    print("seconds per check kind in the full run " + " ".join(
        f"{j[:6]}@{n // 1000}k".rjust(13) for j, n in runs))
    for kind in names:
        print(f"{kind:38} " + " ".join(
            f"{kinds[r].get(kind, 0.0):>13.2f}" for r in runs))


if __name__ == "__main__":
    main()
