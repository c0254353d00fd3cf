"""Stage checks in Dagster: specs declared on the stage asset, results mapped from the core.

Gating checks run inside the stage asset (see ``factory.py``): input checks before the stage
function, output checks after it and before the hand-off (parquet for the next stage, or the
sink at ``deliver``). A failed blocking check of severity ``error`` means the stage yields no
output: downstream stages do not run and nothing reaches the sink (fail closed).
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from e2e_assets.checks.base import get_kind
from e2e_assets.checks.runner import EvaluatedCheck
from e2e_assets.spec import Journey


def check_description(kind_description: str, check: Any) -> str:
    return check.description or f"{kind_description} [{check.severity}" + (
        ", blocking]" if check.blocking else "]")


def build_stage_check_specs(journey: Journey, stage: str) -> list[dg.AssetCheckSpec]:
    """One ``AssetCheckSpec`` per gating check of ``stage`` (blocking as configured); monitoring
    checks (drift) are separate definitions, see ``monitor_checks.py``."""
    key = dg.AssetKey([journey.name, stage])
    specs = []
    for i, check in enumerate(journey.spec.checks.get(stage, [])):  # type: ignore[call-overload]
        kind = get_kind(check.kind)
        if kind.phase_for(stage, journey.check_options(stage, i)) == "monitor":
            continue
        specs.append(dg.AssetCheckSpec(name=check.check_name, asset=key, blocking=check.blocking,
                                       description=check_description(kind.description, check),
                                       metadata={"kind": check.kind,
                                                 "severity": check.severity}))
    return specs


def to_check_result(journey: Journey, evaluated: EvaluatedCheck,
                    provenance: Mapping[str, Any]) -> dg.AssetCheckResult:
    result = evaluated.result
    metadata: dict[str, Any] = {"summary": result.summary, "kind": evaluated.kind,
                                **{k: _value(v) for k, v in result.metadata.items()},
                                **{f"provenance/{k}": v for k, v in provenance.items()}}
    if result.samples:
        metadata["failing_samples"] = dg.MetadataValue.json(_jsonable(list(result.samples)))
    severity = (dg.AssetCheckSeverity.WARN if evaluated.severity == "warn"
                else dg.AssetCheckSeverity.ERROR)
    return dg.AssetCheckResult(asset_key=dg.AssetKey([journey.name, evaluated.stage]),
                               check_name=evaluated.name, passed=result.passed,
                               severity=severity, metadata=metadata,
                               description=result.summary[:1000])


def _value(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v if v is not None else "none"
    return dg.MetadataValue.json(_jsonable(v))


def _jsonable(v: Any) -> Any:
    return json.loads(json.dumps(v, default=str))
