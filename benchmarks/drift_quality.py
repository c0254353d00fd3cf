"""Drift detection quality on data with known truth, e2e-assets next to Evidently.

    .venv/bin/python benchmarks/drift_quality.py                       # N = 1k, 10k, 100k, 1M
    .venv/bin/python benchmarks/drift_quality.py --sizes 1000,10000 --reps 5

Every repetition draws a fresh reference and current frame with 29 columns whose truth is known:

- identical (10 numeric + 5 categorical): same distribution on both sides;
- negligible (5 numeric shifted by 0.02 std + 2 categorical with 1% of the mass moved):
  real but too small to matter, below the default effect floors;
- material (5 numeric shifted by 0.3 std + 2 categorical with 15% of the mass moved).

Reported per tool and N: the share of identical and of negligible columns flagged (false
flags), and the share of material columns flagged (detection). Evidently runs from
benchmarks/.venv-evidently (made by drift_vs_peers.py or here), up to ``--evidently-max-n``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from drift_vs_peers import ensure_peer_venv, run_tool  # noqa: E402

GROUPS = {"identical": [f"i{k}" for k in range(10)] + [f"ic{k}" for k in range(5)],
          "negligible": [f"g{k}" for k in range(5)] + [f"gc{k}" for k in range(2)],
          "material": [f"m{k}" for k in range(5)] + [f"mc{k}" for k in range(2)]}
LEVELS = 8


def make(n: int, seed: int) -> tuple[object, object]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    levels = np.array([f"L{k}" for k in range(LEVELS)])
    base = np.full(LEVELS, 1 / LEVELS)

    def moved(share: float) -> np.ndarray:
        p = base.copy()
        p[0] += share
        p[1:] -= share / (LEVELS - 1)
        return p

    def frame(current: bool) -> object:
        cols: dict[str, object] = {}
        for prefix, shift, cat_share in (("i", 0.0, 0.0), ("g", 0.02, 0.01), ("m", 0.3, 0.15)):
            count = {"i": 10, "g": 5, "m": 5}[prefix]
            for k in range(count):
                cols[f"{prefix}{k}"] = rng.normal(shift if current else 0.0, 1.0, n)
            for k in range({"i": 5, "g": 2, "m": 2}[prefix]):
                p = moved(cat_share) if current else base
                cols[f"{prefix}c{k}"] = levels[rng.choice(LEVELS, n, p=p)]
        return pd.DataFrame(cols)

    return frame(False), frame(True)


def worker(tool: str, n: int, reps: int) -> None:
    flagged = []
    for rep in range(reps):
        ref, cur = make(n, seed=1000 + rep)
        flagged.append(run_tool(tool, ref, cur, key=f"quality-{n}-{rep}"))
    print(json.dumps({"tool": tool, "n": n, "flagged": flagged}))


def rates(flagged: list[list[str]]) -> dict[str, float]:
    out = {}
    for group, cols in GROUPS.items():
        hits = sum(len(set(f) & set(cols)) for f in flagged)
        out[group] = hits / (len(cols) * len(flagged))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--tools", default="e2e-warm,evidently-default,evidently-ks")
    parser.add_argument("--evidently-max-n", type=int, default=100_000)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n, args.reps)
        return
    print(f"{'N':>8}  {'tool':<18} {'identical flagged':>17} {'negligible flagged':>18} "
          f"{'material detected':>17}   ({args.reps} repetitions)", flush=True)
    env = {"PYTHONPATH": str(HERE.parent), "DO_NOT_TRACK": "1", "PATH": "/usr/bin:/bin"}
    for n in [int(s) for s in args.sizes.split(",")]:
        for tool in args.tools.split(","):
            peer = tool.startswith("evidently")
            if peer and n > args.evidently_max_n:
                print(f"{n:>8}  {tool:<18} skipped (> --evidently-max-n)", flush=True)
                continue
            python = ensure_peer_venv() if peer else Path(sys.executable)
            proc = subprocess.run([str(python), __file__, "--worker", tool, "--n", str(n),
                                   "--reps", str(args.reps)], capture_output=True, text=True,
                                  env=env)
            if proc.returncode != 0:
                print(f"{n:>8}  {tool:<18} FAILED: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = rates(json.loads(proc.stdout.strip().splitlines()[-1])["flagged"])
            print(f"{n:>8}  {tool:<18} {r['identical']:>17.1%} {r['negligible']:>18.1%} "
                  f"{r['material']:>17.1%}", flush=True)


if __name__ == "__main__":
    main()
