"""Drift speed and memory: the plain ``drift.compare(reference_df, current_df)`` against naive
per-column scipy, tuned numpy and Evidently, in one run.

    .venv/bin/python benchmarks/drift_vs_peers.py                     # N = 100k, 1M, 5M
    .venv/bin/python benchmarks/drift_vs_peers.py --sizes 1000000 --repeats 3

Data: N rows x (20 numeric + 5 categorical columns of 10 levels); 3 numeric columns shifted by
0.25 std and 1 categorical re-weighted in the current frame. Every configuration runs in its own
process (so peak RSS is its own): the data is generated there from the same seed, then the
comparison is timed ``--repeats`` times (median reported).

- e2e new reference:  ``drift.compare(ref, cur)`` with the cache emptied before every repeat
                      (content digest + prepare + compare)
- e2e same reference: ``drift.compare(ref, cur)`` once untimed, then ``drift.compare(ref2, cur)``
                      timed, ``ref2`` an equal copy made beforehand (digest + compare)
- e2e exact:          ``drift.compare(ref, cur, exact=True)`` (not run by default: ~20 s at 1M)
- scipy naive:        ks_2samp per numeric column, chi2_contingency per categorical column
- numpy tuned:        per numeric column np.sort of both sides + searchsorted for the KS D
                      (scipy.stats.kstwo for its p-value), per categorical column value_counts
                      + the chi-square sum; columns on a thread each, like e2e-assets
- Evidently:          DataDriftPreset() defaults, and forced num_method=ks / cat_method=chisquare

After each size it prints the ratios to naive scipy and whether the targets of issue 16 are met:
new reference <= 0.34x scipy, same reference <= 0.15x scipy, both ahead of tuned numpy.

Evidently 0.7 needs pandas < 3, so it runs from benchmarks/.venv-evidently, which this script
creates on first use (``pip install evidently==0.7.* 'pandas<3'``), or from the interpreter
``--evidently-python`` names; it is never a dependency of e2e-assets. ``--evidently-max-n``
skips Evidently above a size (it takes minutes at 1M).
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
TOOLS = ("e2e-new-ref", "e2e-same-ref", "scipy", "numpy-tuned", "evidently-default",
         "evidently-ks")
TARGETS = {"e2e-new-ref": 0.34, "e2e-same-ref": 0.15}  # at most this many times naive scipy
TARGET_N = 1_000_000  # the targets are set at 1M rows x 25 columns
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
    """One timed comparison; returns the drifted columns it reports. ``e2e-cold`` and
    ``e2e-warm`` (used by drift_quality.py) prepare the reference explicitly under ``key``."""
    if tool.startswith("e2e"):
        from e2e_assets import drift

        if tool in ("e2e-cold", "e2e-warm"):
            from e2e_assets.drift.prepared import _CACHE

            if tool == "e2e-cold":
                _CACHE.clear()
            reference = drift.prepare(ref, key=key)  # type: ignore[arg-type]
            return drift.compare(reference, cur).drifted_columns  # type: ignore[arg-type]
        report = drift.compare(ref, cur, exact=tool == "e2e-exact")  # type: ignore[arg-type]
        return report.drifted_columns
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
    if tool == "numpy-tuned":
        return numpy_tuned(ref, cur)
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


def numpy_tuned(ref: object, cur: object) -> list[str]:
    """KS per numeric column from the two sorted samples (D at the last value of each run of
    ties, where both CDFs are attained), chi-square per categorical column from value counts;
    p < 0.05 flags, no FDR (as naive scipy). Columns on a thread each."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pandas as pd
    from scipy import special, stats

    def ks_d(a: np.ndarray, b: np.ndarray) -> float:
        last = np.r_[a[1:] != a[:-1], True]  # F_a is attained at the last of equal values
        f_a = (np.flatnonzero(last) + 1) / len(a)
        f_b = np.searchsorted(b, a[last], side="right") / len(b)
        return float(np.abs(f_a - f_b).max())

    def one(col: str) -> bool:
        r, c = ref[col], cur[col]  # type: ignore[index]
        if r.dtype.kind == "f":
            a, b = np.sort(r.to_numpy()), np.sort(c.to_numpy())
            a, b = a[: np.searchsorted(a, np.nan)], b[: np.searchsorted(b, np.nan)]  # nulls last
            d = max(ks_d(a, b), ks_d(b, a))
            en = len(a) * len(b) / (len(a) + len(b))
            return bool(stats.kstwo.sf(d, np.round(en)) < 0.05)
        table = pd.concat([r.value_counts(), c.value_counts()], axis=1).fillna(0).to_numpy().T
        expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
        chi2 = float(((table - expected) ** 2 / expected).sum())
        return bool(special.chdtrc(table.shape[1] - 1, chi2) < 0.05)

    cols = [str(c) for c in ref.columns]  # type: ignore[attr-defined]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        flags = list(pool.map(one, cols))
    return [c for c, flagged in zip(cols, flags, strict=True) if flagged]


def worker(tool: str, n: int, repeats: int) -> None:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    ref, cur = make_frames(n)
    data_mb = (ref.memory_usage(deep=True).sum() + cur.memory_usage(deep=True).sum()) / 2**20  # type: ignore[attr-defined]
    base = rss_mb()
    if tool.startswith("e2e"):  # imports are not what is measured
        import e2e_assets.drift  # noqa: F401
        from e2e_assets.drift.prepared import _CACHE
    elif tool.startswith("evidently"):
        import evidently.presets  # noqa: F401
    import scipy.stats  # noqa: F401
    reference = ref
    if tool in ("e2e-same-ref", "e2e-warm"):  # the reference seen once beforehand ...
        run_tool(tool, ref, cur)
    if tool == "e2e-same-ref":  # ... then passed again as an equal copy
        reference = ref.copy(deep=True)  # type: ignore[attr-defined]
    times, drifted = [], []
    for _ in range(repeats):
        if tool == "e2e-new-ref":
            _CACHE.clear()
        start = time.perf_counter()
        drifted = run_tool(tool, reference, cur)
        times.append(time.perf_counter() - start)
    print(json.dumps({"tool": tool, "n": n, "times": times, "peak_rss_mb": rss_mb(),
                      "rss_after_data_mb": base, "data_mb": data_mb,
                      "drifted": sorted(drifted)}))


def print_targets(n: int, medians: dict[str, float]) -> None:
    """The ratios to naive scipy measured in this run, and whether issue 16's targets (set at
    1M rows, judged from 1M up) hold."""
    scipy_s, numpy_s = medians.get("scipy"), medians.get("numpy-tuned")

    def verdict(ok: bool) -> str:
        return ("met" if ok else "NOT met") if n >= TARGET_N else "judged from 1M"

    for tool, bound in TARGETS.items():
        if tool not in medians or not scipy_s:
            continue
        ratio = medians[tool] / scipy_s
        line = (f"{n:>9}  {tool:<18} {ratio:.3f}x naive scipy (target <= {bound}x: "
                f"{verdict(ratio <= bound)})")
        if numpy_s:
            line += (f"; {medians[tool] / numpy_s:.2f}x tuned numpy (target < 1x: "
                     f"{verdict(medians[tool] < numpy_s)})")
        print(line, flush=True)
    if numpy_s and scipy_s:
        print(f"{n:>9}  {'numpy-tuned':<18} {numpy_s / scipy_s:.3f}x naive scipy", flush=True)


def ensure_peer_venv(python: Path | None = None) -> Path:
    if python is not None:
        return python
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
    parser.add_argument("--evidently-python", type=Path, default=None,
                        help="an interpreter that has evidently 0.7 (default: "
                             "benchmarks/.venv-evidently, created on first use)")
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
        medians: dict[str, float] = {}
        for tool in args.tools.split(","):
            peer = tool.startswith("evidently")
            if peer and n > args.evidently_max_n:
                print(f"{n:>9}  {tool:<18} {'skipped (> --evidently-max-n)':>30}", flush=True)
                continue
            python = ensure_peer_venv(args.evidently_python) if peer else Path(sys.executable)
            repeats = (args.evidently_repeats or args.repeats) if peer else args.repeats
            proc = subprocess.run([str(python), __file__, "--worker", tool, "--n", str(n),
                                   "--repeats", str(repeats)], check=False, capture_output=True,
                                  text=True, env=env)
            if proc.returncode != 0:
                print(f"{n:>9}  {tool:<18} FAILED: {proc.stderr.strip().splitlines()[-1:]}",
                      flush=True)
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(res)
            medians[tool] = statistics.median(res["times"])
            print(f"{n:>9}  {tool:<18} {statistics.median(res['times']):>9.2f} "
                  f"{min(res['times']):>7.2f} {res['peak_rss_mb']:>11.0f} {res['data_mb']:>8.0f}"
                  f"  {','.join(res['drifted'])}", flush=True)
        print_targets(n, medians)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
