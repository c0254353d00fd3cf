"""Great Expectations (GX Core 1.x) suites as checks: a thin adapter, no dagster-ge.

A suite is JSON in ``expectations/<journey>/<stage>.json`` (GX's own suite format:
``{"name": ..., "expectations": [{"type": ..., "kwargs": {...}}]}``). It is validated in an
ephemeral GX context against the stage's DataFrame (the common expectations by the vectorised
engine in :mod:`expectation_engine`, with GX's semantics; any other by GX itself), or, with ``target: source_table`` /
``sink_table``, against the SQL table itself through GX's SQL datasource (the rows stay in the
database). A data failure is a result; a broken suite file is a SpecError naming the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from e2e_assets.checks.base import (
    MASK,
    CheckResult,
    DryRunProblem,
    Options,
    StageCheckContext,
    missing_columns,
    register,
)
from e2e_assets.checks.expectation_engine import evaluate
from e2e_assets.db import url_backend
from e2e_assets.errors import SpecError

if TYPE_CHECKING:
    from e2e_assets.spec.loader import Journey
    from e2e_assets.spec.model import JourneySpec

# Expectation kwargs that name one column, or a list of columns, that must exist.
_COLUMN_KWARGS = ("column", "column_A", "column_B")
SEVERITIES = ("critical", "warning", "info")  # GX 1.x's FailureSeverity
_COLUMN_LIST_KWARGS = ("column_list",)
# Expectations about the column set itself: a missing column is their finding, not a typo.
_COLUMN_SET_EXPECTATIONS = {"expect_table_columns_to_match_set",
                            "expect_table_columns_to_match_ordered_list",
                            "expect_column_to_exist"}


class ExpectationsOptions(Options):
    suite: str | None = None  # default: expectations/<journey>/<stage>.json
    target: Literal["frame", "source_table", "sink_table"] = "frame"


def suite_path_for(journey: Journey, stage: str, options: ExpectationsOptions) -> Path:
    """``options.suite`` (relative to the project root), else the conventional location."""
    root = journey.project_root
    if options.suite:
        path = Path(options.suite)
        return path if path.is_absolute() else root / path
    return root / "expectations" / journey.name / f"{stage}.json"


def load_suite(path: Path) -> dict[str, Any]:
    """Read and shape-check a suite file; SpecError names the file and what is wrong."""
    if not path.is_file():
        raise SpecError("expectation suite not found (write one, or draft it with "
                        "`e2e-assets suggest-suite <journey> <stage>`)", file=str(path))
    try:
        suite = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecError(f"malformed JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise SpecError("expected an object with an 'expectations' list", file=str(path))
    for i, exp in enumerate(suite["expectations"]):
        if not isinstance(exp, dict) or "type" not in exp or not isinstance(
                exp.get("kwargs", {}), dict):
            raise SpecError("each expectation needs 'type' and a 'kwargs' object",
                            file=str(path), field=f"expectations.{i}")
        if exp.get("severity", "critical") not in SEVERITIES:
            raise SpecError(f"severity {exp['severity']!r} is not one of {list(SEVERITIES)}",
                            file=str(path), field=f"expectations.{i}.severity")
    return suite


def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False))
    return gx.get_context(mode="ephemeral", project_config=config)


def _suite(suite: dict[str, Any], path: Path) -> Any:
    import great_expectations as gx

    try:
        return gx.ExpectationSuite(name=suite.get("name", path.stem),
                                   expectations=[{"type": e["type"], "kwargs": e.get("kwargs", {}),
                                                  "meta": e.get("meta", {}),
                                                  "severity": e.get("severity", "critical")}
                                                 for e in suite["expectations"]])
    except Exception as exc:
        raise SpecError(f"GX rejected the suite: {exc}", file=str(path)) from exc


def _result_format(id_column: str) -> dict[str, Any]:
    return {"result_format": "COMPLETE", "unexpected_index_column_names": [id_column],
            "partial_unexpected_count": 5, "return_unexpected_index_query": False}


def validate_frame(df: pd.DataFrame, suite: dict[str, Any], path: Path, *, id_column: str,
                   sensitive: tuple[str, ...] = (), sample_size: int = 5) -> CheckResult:
    """The suite on ``df``: each expectation by the native engine when it has one, else by GX;
    the results in the suite's order, each naming the engine that evaluated it."""
    native = [evaluate(df, exp, id_column, sample_size) for exp in suite["expectations"]]
    results = _with_gx(suite, native, lambda rest: _gx_frame_results(df, rest, path, id_column))
    return summarize(results, path, sensitive, sample_size)


def validate_table(url: str, table: str, suite: dict[str, Any], path: Path, *, id_column: str,
                   sensitive: tuple[str, ...] = (), sample_size: int = 5) -> CheckResult:
    """The suite on a SQL table, the rows staying in the database: the common expectations in
    one aggregate query (:mod:`expectation_sql`), any other by GX's SQL datasource."""
    import sqlalchemy as sa

    from e2e_assets.checks.expectation_sql import evaluate_table
    from e2e_assets.db import engine_for

    native: list[dict[str, Any] | None] = [None] * len(suite["expectations"])
    with engine_for(url).connect() as conn:
        if sa.inspect(conn).has_table(table):  # else GX says the table is missing
            target = sa.Table(table, sa.MetaData(), autoload_with=conn)
            native = evaluate_table(conn, target, suite["expectations"], id_column,
                                    sample_size)
    results = _with_gx(suite, native,
                       lambda rest: _gx_table_results(url, table, rest, path, id_column))
    return summarize(results, path, sensitive, sample_size, where=f"table {table}")


_POSITION = "e2e_position"  # meta key: which suite entry a GX result answers


def _with_gx(suite: dict[str, Any], native: list[dict[str, Any] | None],
             gx: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every expectation's result in suite order: the native ones, and GX's answers (one GX
    validation) for those the native engine declined."""
    expectations = suite["expectations"]
    results: list[dict[str, Any] | None] = [None if r is None else {
        "expectation_config": {"type": e["type"], "kwargs": e.get("kwargs", {}),
                               "severity": e.get("severity", "critical")},
        **r, "engine": "native"} for e, r in zip(expectations, native)]
    declined = [i for i, r in enumerate(results) if r is None]
    if declined:
        for d in gx({**suite, "expectations": [
                {**expectations[i], "meta": {**expectations[i].get("meta", {}), _POSITION: i}}
                for i in declined]}):
            results[d["expectation_config"]["meta"].pop(_POSITION)] = {**d, "engine": "gx"}
    return [r for r in results if r is not None]


def _gx_frame_results(df: pd.DataFrame, suite: dict[str, Any], path: Path, id_column: str
                      ) -> list[dict[str, Any]]:
    ctx = _context()
    asset = ctx.data_sources.add_pandas("pandas").add_dataframe_asset("frame")
    batch = asset.add_batch_definition_whole_dataframe("batch").get_batch(
        batch_parameters={"dataframe": df})
    result = batch.validate(_suite(suite, path), result_format=_result_format(id_column))
    return [r.to_json_dict() for r in result.results]


def _gx_table_results(url: str, table: str, suite: dict[str, Any], path: Path, id_column: str
                      ) -> list[dict[str, Any]]:
    ctx = _context()
    backend = url_backend(url)
    add = {"sqlite": ctx.data_sources.add_sqlite,
           "postgresql": ctx.data_sources.add_postgres}.get(backend, ctx.data_sources.add_sql)
    source = add("sql", connection_string=url)
    asset = source.add_table_asset(name=table, table_name=table)
    batch = asset.add_batch_definition_whole_table("batch").get_batch()
    result = batch.validate(_suite(suite, path), result_format=_result_format(id_column))
    return [r.to_json_dict() for r in result.results]


def _exception_message(info: Any) -> str | None:
    """GX's exception message: ``exception_info`` is one record, or one per failed metric."""
    if not isinstance(info, dict):
        return None
    records = [info] if "raised_exception" in info else list(info.values())
    messages = [str(r.get("exception_message")) for r in records
                if isinstance(r, dict) and r.get("raised_exception")]
    return "; ".join(dict.fromkeys(messages)) or None


def summarize(results: list[dict[str, Any]], path: Path, sensitive: tuple[str, ...],
              sample_size: int, where: str = "frame") -> CheckResult:
    """Per-expectation table and failing request ids (sensitive values masked), from GX-shaped
    result dicts."""
    rows, samples = [], []
    for d in results:
        cfg, res = d["expectation_config"], d.get("result") or {}
        column = cfg["kwargs"].get("column")
        rows.append({"expectation": cfg["type"], "column": column, "success": d["success"],
                     "expected": expected_text(cfg["kwargs"], cfg["type"]),
                     "severity": str(cfg.get("severity") or "critical"),
                     "observed_value": _short(res.get("observed_value")),
                     "unexpected_count": res.get("unexpected_count"),
                     "unexpected_percent": res.get("unexpected_percent"),
                     "error": _exception_message(d.get("exception_info")),
                     "engine": d["engine"]})
        if not d["success"]:
            for item in (res.get("unexpected_index_list") or [])[:sample_size]:
                if isinstance(item, dict):
                    samples.append({"expectation": cfg["type"], **{
                        k: (MASK if k in sensitive else v) for k, v in item.items()}})
    failed = [r for r in rows if not r["success"] and r["severity"] != "info"]
    critical = [r for r in failed if r["severity"] == "critical"]
    meta = {"suite": str(path), "validated": where, "expectations": rows,
            "evaluated": len(rows), "failed": len(failed), "failed_critical": len(critical)}
    if failed:
        failed = critical or failed  # name what blocks first
        detail = "; ".join(
            f"{r['expectation']}({r['column'] or ''})"
            + (f" {r['unexpected_percent']:.1f}% unexpected" if r["unexpected_percent"] else "")
            + (f" error: {r['error']}" if r["error"] else "") for r in failed[:3])
        more = f" (+{len(failed) - 3} more)" if len(failed) > 3 else ""
        what = "critical " if critical else "warning "
        return CheckResult(False, f"{len(failed)} of {len(rows)} expectations ({what}severity) "
                           f"failed on {where}: {detail}{more}", meta, tuple(samples),
                           severity=None if critical else "warn")
    return CheckResult(True, f"{len(rows)} expectations met on {where}", meta)


_NAMED_BY_TYPE = {"expect_column_values_to_not_be_null": "not null",
                  "expect_column_values_to_be_null": "null",
                  "expect_column_values_to_be_unique": "unique",
                  "expect_column_to_exist": "present"}
_NOT_EXPECTATIONS = ("column", "mostly", "result_format", "batch_id", "meta", "catch_exceptions",
                     "include_config")


def expected_text(kwargs: dict[str, Any], expectation_type: str = "") -> str:
    """What an expectation expects, from its kwargs: 'between 0 and 1 (mostly 0.99)'."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    parts = []
    if low is not None and high is not None:
        parts.append(f"between {low} and {high}")
    elif low is not None:
        parts.append(f">= {low}")
    elif high is not None:
        parts.append(f"<= {high}")
    if kwargs.get("value_set") is not None:
        values = list(kwargs["value_set"])
        parts.append(f"in {values[:8]}" + (f" (+{len(values) - 8} more)" if len(values) > 8
                                             else ""))
    if kwargs.get("regex"):
        parts.append(f"matching {kwargs['regex']!r}")
    if kwargs.get("type_"):
        parts.append(f"of type {kwargs['type_']}")
    if kwargs.get("column_list") is not None:
        parts.append(f"columns {list(kwargs['column_list'])}")
    if kwargs.get("column_set") is not None:
        parts.append(f"columns {sorted(map(str, kwargs['column_set']))}"
                     + (" exactly" if kwargs.get("exact_match", True) else " at least"))
    if not parts and expectation_type in _NAMED_BY_TYPE:
        parts.append(_NAMED_BY_TYPE[expectation_type])
    if not parts:
        rest = {k: v for k, v in kwargs.items() if k not in _NOT_EXPECTATIONS}
        parts.append(json.dumps(rest, default=str, sort_keys=True) if rest else "as named")
    if kwargs.get("mostly") is not None:
        parts.append(f"(mostly {kwargs['mostly']})")
    return " ".join(parts)


def _short(value: Any) -> Any:
    text = json.dumps(value, default=str)
    return value if len(text) <= 200 else text[:197] + "..."


def suite_columns(suite: dict[str, Any]) -> list[str]:
    """Columns the suite's expectations read (not those that test the column set itself)."""
    out: list[str] = []
    for exp in suite["expectations"]:
        if exp["type"] in _COLUMN_SET_EXPECTATIONS:
            continue
        kwargs = exp.get("kwargs", {})
        out += [str(kwargs[k]) for k in _COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
        for k in _COLUMN_LIST_KWARGS:
            if isinstance(kwargs.get(k), list):
                out += [str(c) for c in kwargs[k]]
    return out


def _validate_target(spec: JourneySpec, stage: str, options: ExpectationsOptions
                     ) -> tuple[str, str] | None:
    if options.target == "source_table" and (spec.source.kind != "sql"
                                             or getattr(spec.source, "table", None) is None):
        return "target", "target 'source_table' needs a SQL source with a 'table:'"
    return None


def _dry_run(ctx: StageCheckContext, options: ExpectationsOptions) -> list[DryRunProblem]:
    path = suite_path_for(ctx.journey, ctx.stage, options)
    if options.target != "frame":  # the table's columns are checked by GX in the database
        return []
    return missing_columns(ctx, "output", suite_columns(load_suite(path)),
                           f"suite {path.name}")


@register("expectations", options=ExpectationsOptions, validate_spec=_validate_target,
          dry_run=_dry_run)
def check_expectations(ctx: StageCheckContext, options: ExpectationsOptions) -> CheckResult:
    """The stage's data meets its GX expectation suite."""
    path = suite_path_for(ctx.journey, ctx.stage, options)
    suite = load_suite(path)
    spec = ctx.journey.spec
    rid, sensitive, n = ctx.request_id, tuple(spec.sensitive), options.sample_size
    source_table = getattr(spec.source, "table", None)
    if options.target == "source_table" and source_table is not None:
        return validate_table(getattr(spec.source, "url"), source_table, suite, path,  # noqa: B009
                              id_column=rid, sensitive=sensitive, sample_size=n)
    if options.target == "sink_table":
        return validate_table(spec.sink.url, spec.sink.table, suite, path, id_column=rid,
                              sensitive=sensitive, sample_size=n)
    return validate_frame(ctx.frame("output"), suite, path, id_column=rid, sensitive=sensitive,
                          sample_size=n)
