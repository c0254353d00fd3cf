"""Wall time and peak memory of the commands a user runs, in a fresh home, side by side.

    .venv/bin/python benchmarks/journey_times.py [--repeat 3]

Each command is the real console script in its own process (as `make demo` runs it), timed from
process start to exit; peak RSS is the process's own (os.wait4). Prints one table; the README's
"Measured" section quotes it (last output: benchmarks/results_journey_times.txt).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("e2e-assets"))


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one CLI process."""
    started = time.perf_counter()
    proc = subprocess.Popen([EXE, *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per warm command")
    repeat = parser.parse_args().repeat
    rows = []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "E2E_ASSETS_HOME": home, "DO_NOT_TRACK": "1",
               "GX_ANALYTICS_ENABLED": "false", "MLFLOW_ENABLE_TELEMETRY": "false"}
        env.pop("DAGSTER_HOME", None)
        plan = [("demo, empty home (bootstrap both + run both)", ["demo"], 1),
                ("demo again (everything bootstrapped)", ["demo"], repeat),
                ("run credit_approval", ["run", "credit_approval"], repeat),
                ("run loan_pricing", ["run", "loan_pricing"], repeat),
                ("validate credit_approval (dry run on 50 rows)",
                 ["validate", "credit_approval"], repeat),
                ("retrain credit_approval (registers challenger)",
                 ["retrain", "credit_approval"], repeat),
                ("gate credit_approval --candidate challenger",
                 ["gate", "credit_approval", "--candidate", "challenger"], repeat),
                ("rollback credit_approval", ["rollback", "credit_approval"], 1)]
        for label, args, n in plan:
            results = [timed(args, env) for _ in range(n)]
            codes = {code for _, _, code in results}
            walls = [w for w, _, _ in results]
            rows.append((label, n, statistics.median(walls), min(walls), max(walls),
                         max(r for _, r, _ in results), codes))
    print(f"{'command':48} {'n':>2} {'median s':>9} {'min s':>7} {'max s':>7} "
          f"{'peak RSS MB':>12} exit")
    for label, n, med, lo, hi, rss, codes in rows:
        print(f"{label:48} {n:>2} {med:>9.1f} {lo:>7.1f} {hi:>7.1f} {rss:>12.0f} "
              f"{','.join(map(str, sorted(codes)))}")


if __name__ == "__main__":
    main()
