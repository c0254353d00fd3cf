"""Stage checks in Dagster: specs declared on the stage asset, results mapped from the core.

Gating checks run inside the stage asset, through the core's stage protocol
(:func:`e2e_assets.protocol.run_stage_protocol`). A failed blocking check (only ``error`` checks
block) means the stage materializes nothing: Dagster skips the stages downstream.
"""

import json
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

import dagster as dg

from e2e_assets.checks.base import ConfiguredCheck, Markdown
from e2e_assets.checks.runner import EvaluatedCheck
from e2e_assets.evidence import evidence_table, is_records
from e2e_assets.identity import mlflow_model_version_url
from e2e_assets.spec import Journey


def check_description(check: ConfiguredCheck) -> str:
    """The spec's description, else what this check is set to do: its kind's purpose and the
    options that differ from the kind's defaults, with severity and blocking."""
    if check.spec.description:
        return check.spec.description
    settings = options_text(check.options)
    return (f"{check.kind.description}" + (f" ({settings})" if settings else "")
            + f" [{check.severity}" + (", blocking]" if check.blocking else "]"))


def options_text(options: Any, limit: int = 300) -> str:
    """The options set away from their defaults, as 'key=value, ...' (long values cut)."""
    if options is None or not hasattr(options, "model_dump"):
        return ""
    changed = options.model_dump(exclude_defaults=True, mode="json")
    parts = []
    for key, value in changed.items():
        text = (value if isinstance(value, str) else f"{value:.4g}"
                if isinstance(value, float) else json.dumps(value, sort_keys=True))
        parts.append(f"{key}={text if len(text) <= 80 else text[:77] + '...'}")
    out = ", ".join(parts)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def check_spec_metadata(check: ConfiguredCheck) -> dict[str, Any]:
    return {"kind": check.kind.name, "severity": check.severity, "blocking": check.blocking}


def journey_partitions_def(journey: Journey) -> dg.PartitionsDefinition | None:
    """The partitions of a partitioned journey's stages and checks (None: not partitioned)."""
    partitions = journey.spec.partitions
    if partitions is None:
        return None
    return _daily(partitions.daily.start.isoformat(),
                  partitions.daily.end.isoformat() if partitions.daily.end else None)


@cache
def _daily(start: str, end: str | None) -> dg.DailyPartitionsDefinition:
    # one instance per (start, end): a stage's checks must carry its asset's very definition
    return dg.DailyPartitionsDefinition(start_date=start, end_date=end)


@contextmanager
def partitioned_checks() -> Iterator[None]:
    """Dagster 1.13 marks partitioned asset checks as a preview and warns (PreviewWarning) at
    each one defined. Ours carry their asset's own partitions, the case Dagster evaluates per
    partition (each result records the partition of the run that evaluated it); the warning
    would repeat that for every check of every stage."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        yield


def build_stage_check_specs(journey: Journey, stage: str) -> list[dg.AssetCheckSpec]:
    """One ``AssetCheckSpec`` per gating check of ``stage``; monitoring checks (drift) are
    separate definitions, see ``monitor_checks.py``. A partitioned journey's checks are
    partitioned as their stage: each result belongs to the partition its run evaluated."""
    key = dg.AssetKey([journey.name, stage])
    with partitioned_checks():
        return [dg.AssetCheckSpec(name=c.name, asset=key, blocking=c.blocking,
                                  description=check_description(c),
                                  metadata=check_spec_metadata(c),
                                  partitions_def=journey_partitions_def(journey))
                for c in journey.checks_for(stage) if c.phase != "monitor"]


def to_check_result(journey: Journey, evaluated: EvaluatedCheck,
                    provenance: Mapping[str, Any]) -> dg.AssetCheckResult:
    result = evaluated.result
    # The summary is the result's description, shown first; metadata repeats it only when the
    # description had to be cut.
    summary = {"summary": result.summary} if len(result.summary) > DESCRIPTION_LIMIT else {}
    metadata: dict[str, Any] = {**summary, "kind": evaluated.kind,
                                **{k: metadata_value(v, k) for k, v in result.metadata.items()},
                                **{f"provenance/{k}": v for k, v in provenance.items()}}
    if provenance.get("model_name") and provenance.get("model_version") not in (None, "none"):
        metadata["mlflow_model_version"] = dg.MetadataValue.url(mlflow_model_version_url(
            str(provenance["model_name"]), str(provenance["model_version"])))
    if result.samples:
        metadata["failing_samples"] = _table(list(result.samples))
    severity = (dg.AssetCheckSeverity.WARN if evaluated.severity == "warn"
                else dg.AssetCheckSeverity.ERROR)
    return dg.AssetCheckResult(asset_key=dg.AssetKey([journey.name, evaluated.stage]),
                               check_name=evaluated.name, passed=result.passed,
                               severity=severity, metadata=metadata,
                               description=result.summary[:DESCRIPTION_LIMIT])


NOT_EVALUATED = "e2e/not_evaluated"


def not_evaluated_result(journey: Journey, stage: str, name: str,
                         blocked_by: tuple[str, ...]) -> dg.AssetCheckResult:
    """A check its stage never reached: reported as such (warn), never as a pass."""
    summary = (f"not evaluated: stage '{stage}' was blocked by {', '.join(blocked_by)} before "
               f"this check's phase")
    return dg.AssetCheckResult(asset_key=dg.AssetKey([journey.name, stage]), check_name=name,
                               passed=False, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"summary": summary, NOT_EVALUATED: True},
                               description=summary)


DESCRIPTION_LIMIT = 1000

# Numbers that describe the check's set-up or its fixed reference, not what it measured: shown
# as text, so that Dagster does not plot them as flat lines run after run.
_SETTINGS = ("alpha", "confidence", "threshold", "tolerance", "budget", "floor", "bins", "seed")
_FIXED_SIZES = ("golden_rows", "rows_expected", "reference_rows", "requests", "batch_rows",
                "cohorts", "golden_requests")


def is_setting(key: str) -> bool:
    """A number that stays constant while the check's configuration and reference do."""
    return key in _FIXED_SIZES or any(part in key for part in _SETTINGS)


def metadata_value(v: Any, key: str = "") -> Any:
    if isinstance(v, Markdown):
        return dg.MetadataValue.md(str(v))
    if isinstance(v, (int, float)) and not isinstance(v, bool) and is_setting(key):
        return dg.MetadataValue.text(f"{v:g}" if isinstance(v, float) else str(v))
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v if v is not None else "none"
    if is_records(v):  # per-column, per-expectation, per-cohort results: a table
        return _table(v)
    return dg.MetadataValue.json(_jsonable(v))


def _table(records: Any) -> dg.MetadataValue:
    """Records as a typed table, the failing rows first."""
    table = evidence_table(records)
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in table.columns])
    return dg.MetadataValue.table([dg.TableRecord(dict(row)) for row in table.rows],
                                  schema=schema)


def _jsonable(v: Any) -> Any:
    return json.loads(json.dumps(v, default=str))
