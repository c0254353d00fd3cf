"""Drift speed and memory: e2e-assets against Evidently and naive per-column scipy, in one run.

    .venv/bin/python benchmarks/drift_vs_peers.py                     # N = 100k, 1M, 5M
    .venv/bin/python benchmarks/drift_vs_peers.py --sizes 100000 --repeats 1

Data: N rows x (20 numeric + 5 categorical columns of 10 levels); 3 numeric columns shifted by
0.25 std and 1 categorical re-weighted in the current frame. Every configuration runs in its own
process (so peak RSS is its own): the data is generated there from the same seed, then the
comparison is timed ``--repeats`` times (median reported).

- e2e-assets cold:  prepare the reference (cache cleared) + compare, every repeat
- e2e-assets warm:  the reference prepared once beforehand (a scheduled check), compare only
- scipy naive:      ks_2samp per numeric column, chi2_contingency per categorical column
- Evidently:        DataDriftPreset() defaults, and forced num_method=ks / cat_method=chisquare

Evidently 0.7 needs pandas < 3, so it runs from benchmarks/.venv-evidently, which this script
creates on first use (``pip install evidently==0.7.* 'pandas<3'``); it is never a dependency of
e2e-assets. ``--evidently-max-n`` skips Evidently above a size (it takes minutes at 1M).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".venv-evidently"
TOOLS = ("e2e-cold", "e2e-warm", "scipy", "evidently-default", "evidently-ks")
NUMERIC, CATEGORICAL, LEVELS = 20, 5, 10
DRIFTED = ["n0", "n1", "n2", "c0"]
EVIDENTLY_P_VALUE_TESTS = {"ks", "chisquare", "z", "fisher_exact", "mannw", "t_test", "anderson",
                           "cramer_von_mises", "g_test", "epps_singleton", "empirical_mmd"}


def make_frames(n: int, seed: int = 0) -> tuple[object, object]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    levels = np.array([f"L{k}" for k in range(LEVELS)])

    def frame(current: bool) -> object:
        cols = {}
        for i in range(NUMERIC):
            shift = 0.25 if current and i < 3 else 0.0
            cols[f"n{i}"] = rng.normal(shift, 1.0, n) if i % 2 == 0 else \
                rng.gamma(2.0, 1.0, n) + shift * np.sqrt(2.0)
        for j in range(CATEGORICAL):
            p = np.full(LEVELS, 1 / LEVELS)
            if current and j == 0:
                p = np.r_[0.25, np.full(LEVELS - 1, 0.75 / (LEVELS - 1))]
            cols[f"c{j}"] = levels[rng.choice(LEVELS, n, p=p)]
        return pd.DataFrame(cols)

    return frame(False), frame(True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_tool(tool: str, ref: object, cur: object, key: str = "bench-ref") -> list[str]:
    """One timed comparison; returns the drifted columns it reports. ``key`` names the
    reference for e2e-assets' cache (a scheduled check knows its reference's digest)."""
    if tool in ("e2e-cold", "e2e-warm"):
        from e2e_assets import drift
        from e2e_assets.drift.prepared import _CACHE

        if tool == "e2e-cold":
            _CACHE.clear()
        reference = drift.prepare(ref, key=key)  # type: ignore[arg-type]
        return drift.compare(reference, cur).drifted_columns  # type: ignore[arg-type]
    if tool == "scipy":
        import pandas as pd
        from scipy import stats

        out = []
        for col in ref.columns:  # type: ignore[attr-defined]
            if ref[col].dtype.kind == "f":  # type: ignore[index]
                p = stats.ks_2samp(ref[col], cur[col]).pvalue  # type: ignore[index]
            else:
                table = pd.concat([ref[col].value_counts(), cur[col].value_counts()],  # type: ignore[index]
                                  axis=1).fillna(0).to_numpy().T
                p = stats.chi2_contingency(table).pvalue
            if p < 0.05:
                out.append(col)
        return [str(c) for c in out]
    from evidently import Report
    from evidently.presets import DataDriftPreset

    preset = DataDriftPreset() if tool == "evidently-default" else \
        DataDriftPreset(num_method="ks", cat_method="chisquare")
    result = Report([preset]).run(cur, ref).dict()
    drifted = []
    for metric in result.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold = float(metric["value"]), float(config.get("threshold", 0.05))
            method = str(config.get("method", ""))
            is_p_value = "p_value" in method or method in EVIDENTLY_P_VALUE_TESTS
            if (value < threshold) if is_p_value else (value >= threshold):
                drifted.append(str(config["column"]))
    return drifted


def worker(tool: str, n: int, repeats: int) -> None:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    ref, cur = make_frames(n)
    data_mb = (ref.memory_usage(deep=True).sum() + cur.memory_usage(deep=True).sum()) / 2**20  # type: ignore[attr-defined]
    base = rss_mb()
    if tool.startswith("e2e"):  # imports are not what is measured
        import e2e_assets.drift  # noqa: F401
    elif tool.startswith("evidently"):
        import evidently.presets  # noqa: F401
    import scipy.stats  # noqa: F401
    if tool == "e2e-warm":
        from e2e_assets import drift

        drift.prepare(ref, key="bench-ref")  # type: ignore[arg-type]
    times, drifted = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        drifted = run_tool(tool, ref, cur)
        times.append(time.perf_counter() - start)
    print(json.dumps({"tool": tool, "n": n, "times": times, "peak_rss_mb": rss_mb(),
                      "rss_after_data_mb": base, "data_mb": data_mb,
                      "drifted": sorted(drifted)}))


def ensure_peer_venv() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEER_VENV} with evidently 0.7 and pandas<3 (one time) ...",
              file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "evidently>=0.7,<0.8",
                        "pandas<3", "scipy"], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--evidently-max-n", type=int, default=1_000_000)
    parser.add_argument("--evidently-repeats", type=int, default=None,
                        help="repeats for Evidently (default: --repeats)")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n, args.repeats)
        return
    env = {**os.environ, "DO_NOT_TRACK": "1", "PYTHONPATH": str(HERE.parent)}
    rows = []
    print(f"{'N':>9}  {'tool':<18} {'median s':>9} {'min s':>7} {'peak RSS MB':>11} "
          f"{'data MB':>8}  drifted (truth: {', '.join(DRIFTED)})", flush=True)
    for n in [int(s) for s in args.sizes.split(",")]:
        for tool in args.tools.split(","):
            peer = tool.startswith("evidently")
            if peer and n > args.evidently_max_n:
                print(f"{n:>9}  {tool:<18} {'skipped (> --evidently-max-n)':>30}", flush=True)
                continue
            python = ensure_peer_venv() if peer else Path(sys.executable)
            repeats = (args.evidently_repeats or args.repeats) if peer else args.repeats
            proc = subprocess.run([str(python), __file__, "--worker", tool, "--n", str(n),
                                   "--repeats", str(repeats)], capture_output=True, text=True,
                                  env=env)
            if proc.returncode != 0:
                print(f"{n:>9}  {tool:<18} FAILED: {proc.stderr.strip().splitlines()[-1:]}",
                      flush=True)
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(res)
            print(f"{n:>9}  {tool:<18} {statistics.median(res['times']):>9.2f} "
                  f"{min(res['times']):>7.2f} {res['peak_rss_mb']:>11.0f} {res['data_mb']:>8.0f}"
                  f"  {','.join(res['drifted'])}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
