"""The fault-detection matrix of both reference journeys, side by side, in a fresh home.

    .venv/bin/python benchmarks/fault_matrix.py [--clean-runs 5] [--out benchmarks/results_fault_matrix.md]

Bootstraps a temporary home, then runs `e2e-assets faults <journey> --clean-runs N --json ...`
(the real console script, one process per journey, timed from start to exit; its progress goes
to stderr) for credit_approval and loan_pricing. Prints one markdown table (each injectable
fault: where it is injected, where it must be caught, what caught it in each journey) with the
false alarms of the clean runs and the timings, and writes the same text to ``--out``; the
README's "Fault detection matrix" quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("e2e-assets"))
JOURNEYS = ("credit_approval", "loan_pricing")


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, exit code) of one CLI process; its stderr passes through."""
    started = time.perf_counter()
    proc = subprocess.run([EXE, *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          check=False)
    return time.perf_counter() - started, proc.returncode


def cell(row: dict[str, Any]) -> str:
    """The checks that caught one drill at the expected stage and how they act, then any
    caught elsewhere (check@stage)."""
    there = [c["check"] for c in row["caught_by"] if c["stage"] == row["expected_stage"]]
    elsewhere = [f"{c['check']}@{c['stage']}" for c in row["caught_by"]
                 if c["stage"] != row["expected_stage"]]
    text = (f"{', '.join(there)} ({row['severity']})" if there
            else f"**not caught at {row['expected_stage']}**")
    return text + (f"; also {', '.join(elsewhere)}" if elsewhere else "")


def render(matrices: dict[str, dict[str, Any]], walls: dict[str, float], clean_runs: int
           ) -> str:
    names = list(matrices)
    lines = ["| fault | injected at | must be caught at | "
             + " | ".join(f"`{n}`: caught by" for n in names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    by_fault = {n: {r["fault"]: r for r in m["rows"]} for n, m in matrices.items()}
    for fid, first in by_fault[names[0]].items():
        lines.append(f"| `{fid}` | {first['injected_at']} | {first['expected_stage']} | "
                     + " | ".join(cell(by_fault[n][fid]) for n in names) + " |")
    lines.append("")
    for n, m in matrices.items():
        drills = [r["wall_s"] for r in m["rows"]]
        right = sum(r["right_stage"] for r in m["rows"])
        lines.append(f"- `{n}`: {right}/{len(m['rows'])} caught at the expected stage; "
                     f"false alarms {m['false_alarms']} failed check(s) in {clean_runs} clean "
                     f"runs ({m['blocking_false_alarms']} blocking); "
                     f"{'PASSED' if m['passed'] else 'FAILED'}; matrix {m['wall_s']:.0f} s "
                     f"(drill median {statistics.median(drills):.1f} s, max {max(drills):.1f} s), "
                     f"process {walls[n]:.0f} s")
    out_of_run = matrices[names[0]]["out_of_run"]
    lines.append("- tested outside a run (see docs/faults.md): "
                 + ", ".join(f"`{f['fault']}`" for f in out_of_run))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean-runs", type=int, default=5,
                        help="clean runs per journey (the first on the whole source, the "
                             "others on 75%% resamples)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results_fault_matrix.md"))
    args = parser.parse_args()
    matrices, walls = {}, {}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "E2E_ASSETS_HOME": home, "DO_NOT_TRACK": "1",
               "GX_ANALYTICS_ENABLED": "false", "MLFLOW_ENABLE_TELEMETRY": "false"}
        env.pop("DAGSTER_HOME", None)
        wall, code = run_cli(["bootstrap", *JOURNEYS], env)
        if code:
            sys.exit(f"bootstrap failed (exit {code})")
        print(f"bootstrap: {wall:.0f} s", file=sys.stderr)
        for name in JOURNEYS:
            report = Path(home) / f"{name}-matrix.json"
            walls[name], code = run_cli(["faults", name, "--clean-runs", str(args.clean_runs),
                                         "--json", str(report)], env)
            if not report.is_file():
                sys.exit(f"e2e-assets faults {name} wrote no matrix (exit {code})")
            matrices[name] = json.loads(report.read_text())
    text = render(matrices, walls, args.clean_runs)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
