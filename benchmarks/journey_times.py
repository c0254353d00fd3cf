"""Wall time and peak memory of the commands a user runs, in a fresh home, side by side.

    .venv/bin/python benchmarks/journey_times.py [--repeat 3] [--targets-only]
                                                 [--compare DIR [--compare-label NAME]]

Each command is the real CLI in its own process (``python -m e2e_assets``, as `make demo` runs
it), timed from process start to exit, with the CPU time (user + system) of it and of the
processes it waited for (os.wait4: the demo's per-journey workers too): on a loaded machine the
wall time is mostly waiting for a core, the CPU time much less so. Peak RSS is the largest of
one process. The rows with a target (issue 16: a run of
credit_approval at the reference size, 1,337 requests, in a new process; the demo from an
empty home) say whether it is met.

``--compare DIR`` times the same commands with another checkout (e.g. ``git worktree add
/tmp/base main``, or ``git archive <rev> | tar -x -C DIR``) in the same interpreter, each in a
fresh home of its own, alternating command by command with this checkout, so that both see the
same machine load; the table then has both medians. Prints one table; the README's "Measured"
section quotes it (last output: benchmarks/results_journey_times.txt).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_EMPTY = "demo, empty home (bootstrap both + run both)"
RUN_CREDIT = "run credit_approval (new process, bootstrapped)"
TARGETS = {DEMO_EMPTY: 25.0, RUN_CREDIT: 8.0}  # seconds, wall (issue 16)


@dataclass
class Checkout:
    """A source tree run with this interpreter, in a home of its own."""

    label: str
    root: Path
    home: str
    walls: dict[str, list[float]] = field(default_factory=dict)
    cpus: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    codes: dict[str, set[int]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {**os.environ, "E2E_ASSETS_HOME": self.home, "DO_NOT_TRACK": "1",
               "GX_ANALYTICS_ENABLED": "false", "MLFLOW_ENABLE_TELEMETRY": "false",
               "PYTHONPATH": str(self.root)}
        env.pop("DAGSTER_HOME", None)
        env.pop("OMP_NUM_THREADS", None)  # each checkout with its own default, as a user has
        return env


def timed(args: list[str], checkout: Checkout) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code) of one CLI process."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "e2e_assets", *args], cwd=checkout.root,
                            env=checkout.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return (time.perf_counter() - started, usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))


def plan(targets_only: bool) -> list[tuple[str, list[str], bool]]:
    """(label, CLI arguments, repeated) in order: the first row bootstraps the home."""
    rows = [(DEMO_EMPTY, ["demo"], False),
            ("demo again (everything bootstrapped)", ["demo"], True),
            (RUN_CREDIT, ["run", "credit_approval", "--quiet"], True),
            ("run loan_pricing", ["run", "loan_pricing", "--quiet"], True),
            ("validate credit_approval (dry run on 50 rows)", ["validate", "credit_approval"],
             True),
            ("retrain credit_approval (registers challenger)", ["retrain", "credit_approval"],
             True),
            ("gate credit_approval --candidate challenger",
             ["gate", "credit_approval", "--candidate", "challenger"], True),
            ("rollback credit_approval", ["rollback", "credit_approval"], False)]
    return [r for r in rows if r[0] in TARGETS] if targets_only else rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per warm command")
    parser.add_argument("--targets-only", action="store_true",
                        help="only the rows with a target (demo from empty, run credit_approval)")
    parser.add_argument("--compare", metavar="DIR", help="another checkout, timed alternately")
    parser.add_argument("--compare-label", default="compared", metavar="NAME")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        checkouts = [Checkout("this", REPO, f"{tmp}/this")]
        if args.compare:
            checkouts.append(Checkout(args.compare_label, Path(args.compare).resolve(),
                                      f"{tmp}/compared"))
        rows = plan(args.targets_only)
        for label, cli_args, repeated in rows:
            for _ in range(args.repeat if repeated else 1):
                for checkout in checkouts:  # alternately: both see the same load
                    wall, cpu, rss, code = timed(cli_args, checkout)
                    checkout.walls.setdefault(label, []).append(wall)
                    checkout.cpus.setdefault(label, []).append(cpu)
                    checkout.rss[label] = max(rss, checkout.rss.get(label, 0.0))
                    checkout.codes.setdefault(label, set()).add(code)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    head = f"{'command':48} {'n':>2}"
    for checkout in checkouts:
        head += (f" {checkout.label + ' median s':>17} {'min s':>6} {'max s':>6} "
                 f"{'cpu s':>6} {'RSS MB':>6} exit")
    print(head + f" {'target s':>8}  met")
    for label, _, _ in rows:
        line = f"{label:48} {len(checkouts[0].walls[label]):>2}"
        for checkout in checkouts:
            walls = checkout.walls[label]
            line += (f" {statistics.median(walls):>17.1f} {min(walls):>6.1f} {max(walls):>6.1f}"
                     f" {statistics.median(checkout.cpus[label]):>6.1f}"
                     f" {checkout.rss[label]:>6.0f} "
                     f"{','.join(map(str, sorted(checkout.codes[label]))):>4}")
        target = TARGETS.get(label)
        if target is not None:
            met = statistics.median(checkouts[0].walls[label]) <= target
            line += f" {target:>8.0f}  {'met' if met else 'NOT met'}"
        print(line)


if __name__ == "__main__":
    main()
