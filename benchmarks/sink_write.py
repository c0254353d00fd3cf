"""A million-row audited delivery: ``write_sink`` with its ledger, and the row digests it takes,
for this checkout and (``--against REV``) an earlier commit, side by side in one run.

    .venv/bin/python benchmarks/sink_write.py [--rows 1000000] [--repeat 2] [--against 8a85dd7]

The frame is a credit decision batch (request id, decision, reason code, probability, policy
version; shuffled ids of the journey's ``<id>-<k>`` form). Each measurement runs in its own
process (``PYTHONPATH`` set to the checkout: this repository, or a temporary git worktree of
``REV``) on a fresh SQLite file that already holds a first audited delivery of 1,337 rows, as a
bootstrapped home does. Prints the median seconds of ``--repeat`` runs (last output:
benchmarks/results_sink_write.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs inside the measured checkout: prints {"write_sink": s, "column_digests": s}.
_MEASURE = r"""
import json, sys, tempfile, time
import numpy as np, pandas as pd
from e2e_assets.row_digests import column_digests
from e2e_assets.sinks import write_sink

n = int(sys.argv[1])
rng = np.random.default_rng(0)
ids = np.array([f"{i % 1337}-{i}" for i in range(n)], dtype=object)
rng.shuffle(ids)
df = pd.DataFrame({
    "request_id": pd.Series(ids).astype("str"),
    "decision": pd.Series(rng.choice(["approve", "decline", "review"], n)).astype("str"),
    "reason_code": pd.Series(rng.choice(["ok", "income", "debt"], n)).astype("str"),
    "p_default": rng.random(n),
    "policy_version": pd.Series(["v1"] * n).astype("str")})
names = [str(c) for c in df.columns]
started = time.perf_counter()
column_digests({c: df[c] for c in names}, names, n)
digests = time.perf_counter() - started
url = f"sqlite:///{tempfile.mkdtemp()}/sink.db"
write_sink(df.head(1337).copy(), url, "decisions", "request_id", ledger_run="bootstrap")
started = time.perf_counter()
write_sink(df, url, "decisions", "request_id", ledger_run="run")
print(json.dumps({"write_sink": time.perf_counter() - started, "column_digests": digests}))
"""


def measure(checkout: Path, rows: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(rows)], cwd=checkout, env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"measuring {checkout} failed:\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--against", help="an earlier commit to measure beside this checkout")
    args = parser.parse_args()
    checkouts = {"this checkout": REPO}
    with tempfile.TemporaryDirectory() as tmp:
        if args.against:
            tree = Path(tmp) / "against"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach",
                            str(tree), args.against], check=True)
            checkouts = {args.against: tree, **checkouts}
        try:
            results: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
            for _ in range(args.repeat):  # interleaved, so drift in the machine hits both
                for name, path in checkouts.items():
                    results[name].append(measure(path, args.rows))
                    print(f"{name}: {results[name][-1]}", file=sys.stderr)
        finally:
            if args.against:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                                str(Path(tmp) / "against")], check=False)
    print(f"{'checkout':16} {'rows':>9} {'write_sink s':>13} {'column_digests s':>17}")
    for name, runs in results.items():
        print(f"{name:16} {args.rows:>9} "
              f"{statistics.median(r['write_sink'] for r in runs):>13.2f} "
              f"{statistics.median(r['column_digests'] for r in runs):>17.2f}")
    print(f"median of {args.repeat}; machine: {os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
