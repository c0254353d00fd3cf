"""Drift as a stage check: the stage's stored output against a reference from MLflow.

The reference is data logged with the served model version at registration, run through the
journey up to this stage with the version's model: its training data (``data/training.parquet``,
for inputs), its held-out requests (``data/holdout.parquet``: the model's out-of-sample outputs,
for a model stage's outputs: training-set outputs are over-confident), or its golden set. It is prepared once
per (config, model version, stage) and cached, so a scheduled re-evaluation pays only for the
current batch. Drift checks are *monitoring* checks: Dagster runs them as separate asset checks,
after the stage materializes, and again from the checks-only job and the drift schedule without
re-materializing anything.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal, cast

import pandas as pd
from pydantic import Field

from e2e_assets.checks.base import (
    CheckResult,
    DryRunProblem,
    Markdown,
    Options,
    StageCheckContext,
    missing_columns,
    register,
)
from e2e_assets.drift import compare
from e2e_assets.drift.prepared import needs_sample, prepare_lazily
from e2e_assets.errors import E2EAssetsError
from e2e_assets.evidence import HISTOGRAM_BINS
from e2e_assets.frames import frame_digest
from e2e_assets.model_registry import (
    HOLDOUT_DIGEST_TAG,
    TRAINING_DIGEST_TAG,
    ResolvedModel,
    tracking,
)
from e2e_assets.stages import run_through

SPARK = " ▁▂▃▄▅▆▇█"


class DriftOptions(Options):
    reference: Literal["training", "holdout", "golden"] = "training"
    columns: list[str] | None = None
    methods: dict[str, str] = {}
    alpha: float = Field(default=0.05, gt=0, lt=1)
    fdr: bool = True
    effect_floor: dict[str, float] = {}
    max_drift_share: float = Field(default=0.0, ge=0, le=1)  # fail above this share


def logged_frame(tracking_uri: str, model: ResolvedModel,
                 which: Literal["training", "holdout"] = "training") -> pd.DataFrame:
    """The training data or held-out requests logged with ``model`` at registration, verified
    against the digest its version was tagged with (an artifact edited since fails here)."""
    if not model.run_id:
        raise E2EAssetsError(f"{model.version_uri} has no run: no {which} data to compare to")
    expected = model.tag(TRAINING_DIGEST_TAG if which == "training" else HOLDOUT_DIGEST_TAG)
    if which == "holdout" and expected is None:
        raise E2EAssetsError(
            f"{model.version_uri} logged no held-out requests (data/holdout.parquet), so drift "
            f"cannot use 'reference: holdout'; register it with ctx.register_model(..., "
            f"holdout=<requests it was not trained on>), or use 'reference: golden'")
    import mlflow

    with tempfile.TemporaryDirectory() as tmp, tracking(tracking_uri):
        path = mlflow.artifacts.download_artifacts(run_id=model.run_id,
                                                   artifact_path=f"data/{which}.parquet",
                                                   dst_path=tmp)
        frame = pd.read_parquet(Path(path))
    if expected is not None and frame_digest(frame) != expected:
        raise E2EAssetsError(
            f"the {which} data of {model.version_uri} (data/{which}.parquet of run "
            f"{model.run_id}) changed since it was registered: digest {frame_digest(frame)[:19]}"
            f", its version's tag says {expected[:19]}; drift has no trustworthy reference "
            f"(re-register the model)")
    return frame


def reference_frame(ctx: StageCheckContext, options: DriftOptions) -> pd.DataFrame:
    record = ctx.record_model
    if record is None or ctx.tracking_uri is None:
        raise E2EAssetsError("no model version resolved: no reference to compare with")
    if options.reference == "golden":
        from e2e_assets.golden import golden_of

        golden = golden_of(ctx.served, ctx.tracking_uri, record)
        golden.input_for(ctx.stage)  # names the stage if the golden set lacks it
        return golden.frames[ctx.stage]
    tracking_uri, reference = ctx.tracking_uri, options.reference

    def build() -> pd.DataFrame:
        raw = logged_frame(tracking_uri, record, reference)
        # What the journey made of the logged data: never with injected faults.
        return run_through(ctx.journey.pristine, raw, models=ctx.models,
                           until=ctx.stage)[ctx.stage]

    if ctx.served is None:
        return build()
    return cast(pd.DataFrame, ctx.served.per_run(  # several drift checks share a reference
        ("drift_reference", record.name, record.version, reference, ctx.stage), build))


def reference_key(ctx: StageCheckContext, record: ResolvedModel, reference: str,
                  columns: list[str], keep_sample: bool) -> str:
    """The prepared reference's cache key: everything that changes what is prepared (the
    journey's config, the model version, the reference, the columns, whether samples are kept),
    so two drift checks on one stage never share a reference they did not ask for."""
    import hashlib

    cols = hashlib.sha256("\x1f".join(columns).encode()).hexdigest()[:12]
    return (f"{ctx.journey.name}:{ctx.stage}:{ctx.journey.config_digest[:12]}:"
            f"{record.name}:v{record.version}:{reference}:cols-{cols}"
            + (":sample" if keep_sample else ""))


def sparkline(values: pd.Series, edges: Any) -> str:
    import numpy as np

    counts = np.histogram(values.dropna().to_numpy(dtype=float), edges)[0]
    top = counts.max() or 1
    return "".join(SPARK[int(round(c / top * (len(SPARK) - 1)))] for c in counts)


HISTOGRAM_BIN_COUNT = 20
HISTOGRAM_COLUMNS = 8  # the drifted columns drawn (the first, in the report's order)


def _edges(ref: pd.Series, cur: pd.Series) -> Any:
    """Shared bin edges over the 1st..99th percentile of both samples."""
    import numpy as np

    both = pd.concat([ref, cur]).dropna().to_numpy(dtype=float)
    lo, hi = np.quantile(both, [0.01, 0.99]) if len(both) else (0.0, 1.0)
    return np.linspace(lo, hi if hi > lo else lo + 1, HISTOGRAM_BIN_COUNT + 1)


def _histograms(ref: pd.DataFrame, cur: pd.DataFrame, columns: list[str]) -> Markdown:
    """Reference vs current per drifted column, as a markdown table of sparklines (numeric)
    or category shares."""
    lines = ["| column | reference | current |", "|---|---|---|"]
    for col in columns[:HISTOGRAM_COLUMNS]:
        if ref[col].dtype.kind in "fiu":
            edges = _edges(ref[col], cur[col])
            lines.append(f"| {col} | `{sparkline(ref[col], edges)}` | "
                         f"`{sparkline(cur[col], edges)}` |")
        else:
            r = ref[col].value_counts(normalize=True).head(8)
            c = cur[col].value_counts(normalize=True).reindex(r.index, fill_value=0)
            lines.append(f"| {col} | {', '.join(f'{k} {v:.0%}' for k, v in r.items())} | "
                         f"{', '.join(f'{k} {v:.0%}' for k, v in c.items())} |")
    return Markdown("\n".join(lines))


def histogram_bins(ref: pd.DataFrame, cur: pd.DataFrame, columns: list[str]
                   ) -> list[dict[str, Any]]:
    """The same histograms as records, one per column and bin, for reports to draw: the bin
    (numeric: its range; categorical: the category, the 8 commonest in the reference) and
    the share of reference and current rows in it."""
    import numpy as np

    out: list[dict[str, Any]] = []
    for col in columns[:HISTOGRAM_COLUMNS]:
        if ref[col].dtype.kind in "fiu":
            edges = _edges(ref[col], cur[col])
            shares = []
            for frame in (ref, cur):
                values = frame[col].dropna().to_numpy(dtype=float)
                counts = np.histogram(np.clip(values, edges[0], edges[-1]), edges)[0]
                shares.append(counts / max(len(values), 1))
            out += [{"column": col, "bin": f"{edges[i]:.4g}..{edges[i + 1]:.4g}",
                     "reference_share": round(float(shares[0][i]), 6),
                     "current_share": round(float(shares[1][i]), 6)}
                    for i in range(HISTOGRAM_BIN_COUNT)]
        else:
            r = ref[col].value_counts(normalize=True).head(8)
            c = cur[col].value_counts(normalize=True).reindex(r.index, fill_value=0)
            out += [{"column": col, "bin": str(k), "reference_share": round(float(r[k]), 6),
                     "current_share": round(float(c[k]), 6)} for k in r.index]
    return out


def _validate(spec: Any, stage: str, options: DriftOptions) -> tuple[str, str] | None:
    from e2e_assets.drift import METHODS

    unknown = {col: m for col, m in options.methods.items() if m not in METHODS}
    if unknown:
        col = min(unknown)
        return f"methods.{col}", (f"unknown drift methods {unknown} (column: method); "
                                  f"registered: {sorted(METHODS)}")
    if options.columns is not None:
        stray = sorted(set(options.methods) - set(options.columns))
        if stray:
            return "methods", (f"methods name columns {stray} that are not in 'columns: "
                               f"{options.columns}'")
    from e2e_assets.drift.compare import DEFAULT_FLOORS

    kinds = sorted(set(options.effect_floor) - set(DEFAULT_FLOORS))
    if kinds:
        return "effect_floor", (f"effect floors are per column kind; unknown kinds {kinds}, "
                                f"expected some of {sorted(DEFAULT_FLOORS)}")
    if spec.primary_model is None:
        return "reference", "drift compares with the model version's data; the journey has no model"
    return None


def _dry_run(ctx: StageCheckContext, options: DriftOptions) -> list[DryRunProblem]:
    named = [*(options.columns or []), *options.methods]
    problems = missing_columns(ctx, "output", named, "drift settings")
    from e2e_assets.drift import METHODS

    frame = ctx.frame("output")
    for col, method in options.methods.items():
        # Only the dtype is certain on a sample: text is never numeric. Whether numbers are
        # numeric, categorical or binary depends on how many values the reference has.
        if (col in frame.columns and frame[col].dtype.kind not in "fiub"
                and METHODS[method].kinds == {"numeric"}):
            problems.append({"column": col, "message": f"drift method '{method}' accepts numeric "
                             f"columns only; column '{col}' holds {frame[col].dtype} values"})
    return problems


@register("drift", options=DriftOptions, phase="monitor", validate_spec=_validate,
          dry_run=_dry_run)
def check_drift(ctx: StageCheckContext, options: DriftOptions) -> CheckResult:
    """The stage's data is distributed as in the reference (per-column tests, FDR, floors)."""
    current = ctx.frame("output")
    record = ctx.record_model
    if record is None:
        return CheckResult(False, "no model version resolved: no reference to compare with")
    columns = options.columns or [c for c in current.columns if c != ctx.request_id]
    keep_sample = needs_sample(options.methods.values())
    key = reference_key(ctx, record, options.reference, columns, keep_sample)
    reference_holder: dict[str, pd.DataFrame] = {}

    def build() -> pd.DataFrame:
        reference_holder["frame"] = reference_frame(ctx, options)[columns]
        return reference_holder["frame"]

    prepared = prepare_lazily(key, build, columns, keep_sample=keep_sample)
    report = compare(prepared, current, columns=columns, methods=options.methods,
                     alpha=options.alpha, fdr=options.fdr,
                     effect_floor=options.effect_floor or None)
    table = [{"column": c.column, "kind": c.kind, "method": c.method,
              "statistic": round(c.statistic, 6), "p_value": c.p_value,
              "adjusted_p_value": c.adjusted_p_value,
              "effect_size": None if c.effect_size is None else round(c.effect_size, 6),
              "effect_floor": c.effect_floor, "threshold": c.threshold, "drifted": c.drifted,
              "n_reference": c.n_reference, "n_current": c.n_current} for c in report.columns]
    drifted = report.drifted_columns
    passed = report.drift_share <= options.max_drift_share
    meta: dict[str, Any] = {"reference": options.reference, "reference_key": key,
                            "reference_rows": max((c.n_reference or 0 for c in report.columns),
                                                  default=0),
                            "alpha": options.alpha,
                            "drift_share": round(report.drift_share, 4),
                            "drifted_columns": drifted, "columns": table}
    if drifted:
        ref = reference_holder.get("frame")
        if ref is None:
            ref = reference_frame(ctx, options)[columns]
        meta["histograms"] = _histograms(ref, current, drifted)
        meta[HISTOGRAM_BINS] = histogram_bins(ref, current, drifted)
    if passed:
        return CheckResult(True, f"no drift beyond {options.max_drift_share:.0%} of "
                           f"{len(columns)} columns (drifted: {drifted or 'none'})", meta)
    worst = sorted((c for c in report.columns if c.drifted),
                   key=lambda c: -(c.effect_size or 0))[:3]
    detail = "; ".join(f"{c.column} ({c.method}, effect {c.effect_size:.3g}"
                       + (f", adj. p {c.adjusted_p_value:.2g}" if c.adjusted_p_value is not None
                          else "") + ")" for c in worst)
    return CheckResult(False, f"{len(drifted)} of {len(columns)} columns drifted vs "
                       f"{options.reference} reference: {detail}", meta)
