"""False alarms of the reference journeys: clean runs blocked, measured on many clean runs.

    .venv/bin/python benchmarks/false_alarms.py [--seeds S ...] [--runs-per-seed 17]

For each reference journey and each seed (its own, then 1 to 5), in a fresh home of its own:

1. the real CLI bootstraps a copy of the journey with ``seed:`` set (another train/serve split,
   another model fitted and gated) and runs it once, end to end in Dagster (exit code kept);
2. then ``--runs-per-seed`` clean runs go through the core stage protocol in this process
   (``e2e_assets.inprocess``: every check as in a run, monitors included), each on a random
   75% subsample of that seed's served requests, written as the journey's source.

A false alarm is a clean run that a check blocks. The journey declares its tolerated rate
(``false_alarm_rate``, default 1%); its blocking statistical checks share it (see
``e2e_assets/spec/alarm_budget.py``). Every check counts here, statistical or not (suites,
rules, golden, latency, fairness). Prints one table per journey and writes it to
``benchmarks/results_false_alarms.txt``.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
EXE = str(Path(sys.executable).with_name("e2e-assets"))
JOURNEYS = ("credit_approval", "loan_pricing")
# One native thread, as the test suite runs: on a small shared machine oversubscribed OpenMP
# models make each run 10x slower (the latency check times its regressions on one thread).
os.environ.update({"DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
                   "MLFLOW_ENABLE_TELEMETRY": "false", "OMP_NUM_THREADS": "1"})


def seeded_copy(name: str, seed: int, folder: Path) -> Path:
    """The reference journey's spec with ``seed:`` set, in ``folder``."""
    text = (REPO / "pipelines" / name / "journey.yaml").read_text()
    seeded, n = re.subn(r"(?m)^seed: \d+$", f"seed: {seed}", text)
    assert n == 1, f"{name}/journey.yaml has no top-level 'seed:' line"
    path = folder / name / "journey.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(seeded)
    return path


def reference_seed(name: str) -> int:
    found = re.search(r"(?m)^seed: (\d+)$", (REPO / "pipelines" / name / "journey.yaml").read_text())
    assert found, f"{name}/journey.yaml has no top-level 'seed:' line"
    return int(found.group(1))


def cli(args: list[str], home: Path) -> int:
    env = {**os.environ, "E2E_ASSETS_HOME": str(home)}
    for var in ("DAGSTER_HOME", "E2E_DATABASE_URL", "MLFLOW_TRACKING_URI"):
        env.pop(var, None)
    done = subprocess.run([EXE, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    return done.returncode


@dataclass(frozen=True)
class SeedResult:
    seed: int
    bootstrap_exit: int
    cli_run_exit: int
    runs: int
    blocked: int  # runs a blocking check stopped
    warned: int  # runs with a failed warning check
    blocked_by: collections.Counter[str]
    warned_by: collections.Counter[str]
    seconds: float


def one_seed(name: str, seed: int, runs: int, root: Path) -> SeedResult:
    import numpy as np

    from e2e_assets.bootstrap import BootstrapContext
    from e2e_assets.home import Home
    from e2e_assets.inprocess import run_in_process
    from e2e_assets.sources import read_source
    from e2e_assets.spec import load_journey

    path = seeded_copy(name, seed, root / f"spec-{seed}")
    home_dir = root / f"home-{name}-{seed}"
    started = time.perf_counter()
    boot = cli(["bootstrap", str(path)], home_dir)
    first = cli(["run", str(path)], home_dir) if boot == 0 else boot
    if boot != 0:  # nothing serves: every run of this seed would fail; counted, not run
        print(f"  {name} seed {seed}: bootstrap exited {boot}", flush=True)
        return SeedResult(seed, boot, first, 0, 0, 0, collections.Counter(),
                          collections.Counter(), time.perf_counter() - started)
    home = Home.from_env(str(home_dir))
    journey = load_journey(path, variables=home.variables())
    served = read_source(journey)
    writer = BootstrapContext(journey=journey, home=home, seed=seed, force=True)
    rng = np.random.default_rng(seed)
    blocked: collections.Counter[str] = collections.Counter()
    warned: collections.Counter[str] = collections.Counter()
    n_blocked = n_warned = 0
    for i in range(runs):
        keep = np.sort(rng.choice(len(served), size=int(0.75 * len(served)), replace=False))
        writer.write_source(served.iloc[keep].reset_index(drop=True))
        run_started = time.perf_counter()
        run = run_in_process(journey, home)
        blocks = {f"{c.name}@{c.stage}" for c in run.blocking_failures}
        warns = {f"{c.name}@{c.stage}" for c in run.failed if not c.blocks}
        blocked.update(blocks)
        warned.update(warns)
        n_blocked += bool(blocks)
        n_warned += bool(warns)
        print(f"  {name} seed {seed} run {i + 1}/{runs} "
              f"({time.perf_counter() - run_started:.1f} s): "
              + (f"BLOCKED by {sorted(blocks)}" if blocks else "clean")
              + (f"; warnings {sorted(warns)}" if warns else ""), flush=True)
    writer.write_source(served)
    return SeedResult(seed, boot, first, runs, n_blocked, n_warned, blocked, warned,
                      time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="default: the journey's own seed, then 1 to 5")
    parser.add_argument("--runs-per-seed", type=int, default=17)
    parser.add_argument("--journeys", nargs="+", default=list(JOURNEYS))
    args = parser.parse_args()
    from e2e_assets.release.stats import wilson_interval

    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.journeys:
            seeds = args.seeds or [reference_seed(name), 1, 2, 3, 4, 5]
            rows = [one_seed(name, s, args.runs_per_seed, Path(tmp)) for s in seeds]
            total = sum(r.runs for r in rows)
            blocked = sum(r.blocked for r in rows)
            warned = sum(r.warned for r in rows)
            by = sum((r.blocked_by for r in rows), collections.Counter[str]())
            wby = sum((r.warned_by for r in rows), collections.Counter[str]())
            lo, hi = wilson_interval(blocked, total)
            start = len(lines)
            lines += [f"## {name}", "",
                      "| seed | bootstrap exit | CLI run exit | clean runs | blocked | warned "
                      "| seconds |", "|---|---|---|---|---|---|---|"]
            lines += [f"| {r.seed} | {r.bootstrap_exit} | {r.cli_run_exit} | {r.runs} | "
                      f"{r.blocked} | {r.warned} | {r.seconds:.0f} |" for r in rows]
            lines += ["", f"false alarms: {blocked} of {total} clean runs "
                      f"({blocked / total:.1%}; 95% Wilson interval {lo:.1%} to {hi:.1%}); "
                      f"runs with a warning: {warned}",
                      f"blocking checks that failed: {dict(by) or 'none'}",
                      f"warning checks that failed: {dict(wby) or 'none'}", ""]
            print("\n".join(lines[start:]), flush=True)
    text = "\n".join(lines)
    print("\n" + text)
    out = REPO / "benchmarks" / "results_false_alarms.txt"
    out.write_text(text + "\n" if set(args.journeys) >= set(JOURNEYS) else
                   (out.read_text() if out.exists() else "") + text + "\n")


if __name__ == "__main__":
    main()
