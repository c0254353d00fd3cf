"""Contracts: the model's input matches its MLflow signature (at ``score``, before the model runs);
a stage's output matches what its downstream consumer declared (at ``deliver``, before hand-off).
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from e2e_assets.checks.base import (
    CheckResult,
    DryRunProblem,
    Options,
    Phase,
    StageCheckContext,
    missing_columns,
    register,
)
from e2e_assets.model_registry import InputColumn, input_schema

# dtype kinds accepted for each contract type (MLflow DataType names included).
_KINDS = {"float": "f", "double": "f", "number": "fiu", "integer": "iu", "long": "iu",
          "string": "OUT", "boolean": "b", "datetime": "M"}


class ColumnContract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["float", "number", "integer", "string", "boolean", "datetime"]
    nullable: bool = False
    allowed: list[Any] | None = None
    min: float | None = None
    max: float | None = None


class ContractOptions(Options):
    # 'signature': the model input (score's input) against the served version's signature;
    # 'columns': this stage's output against the declared contract below.
    against: Literal["signature", "columns"] = "columns"
    columns: dict[str, ColumnContract] = {}
    # Columns the contract does not name: refused by default against the signature (a model
    # fed columns it was not trained on), allowed by default against declared columns.
    allow_extra: bool | None = None


def _kind_ok(series: pd.Series, type_name: str) -> bool:
    kinds = _KINDS.get(type_name)
    if kinds is None:
        return True  # a type we do not map: presence and nulls are still checked
    if kinds == "OUT":
        return series.dtype == object or isinstance(series.dtype, pd.StringDtype)
    return series.dtype.kind in kinds


def check_signature_columns(df: pd.DataFrame, schema: tuple[InputColumn, ...],
                            ignore: tuple[str, ...] = (), allow_extra: bool = False
                            ) -> list[dict[str, Any]]:
    """One row per problem: column, expected, found."""
    problems = []
    for col in schema:
        if col.name not in df.columns:
            problems.append({"column": col.name, "expected": f"{col.type}"
                             f"{' (required)' if col.required else ''}", "found": "missing"})
            continue
        s = df[col.name]
        if not _kind_ok(s, col.type):
            problems.append({"column": col.name, "expected": col.type, "found": str(s.dtype)})
        nulls = int(s.isna().sum())
        if col.required and nulls:
            problems.append({"column": col.name, "expected": f"{col.type} without nulls",
                             "found": f"{nulls} nulls ({nulls / max(len(s), 1):.1%})"})
    known = {c.name for c in schema} | set(ignore)
    for extra in [c for c in df.columns if c not in known]:
        problems.append({"column": str(extra), "expected": "no column outside the signature",
                         "found": f"extra column ({df[extra].dtype})",
                         **({"severity": "info"} if allow_extra else {})})
    return problems


def check_declared_columns(df: pd.DataFrame, columns: dict[str, ColumnContract],
                           allow_extra: bool) -> list[dict[str, Any]]:
    problems = []
    for name, spec in columns.items():
        if name not in df.columns:
            problems.append({"column": name, "expected": spec.type, "found": "missing"})
            continue
        s = df[name]
        if not _kind_ok(s, spec.type):
            problems.append({"column": name, "expected": spec.type, "found": str(s.dtype)})
            continue
        nulls = int(s.isna().sum())
        if nulls and not spec.nullable:
            problems.append({"column": name, "expected": "no nulls", "found": f"{nulls} nulls"})
        values = s.dropna()
        if spec.allowed is not None:
            distinct = pd.unique(values.to_numpy(dtype=object))  # not a Python set of 1M
            bad = sorted(set(distinct.tolist()) - set(spec.allowed), key=str)
            if bad:
                problems.append({"column": name, "expected": f"one of {spec.allowed}",
                                 "found": f"{len(bad)} other values, e.g. {bad[:3]}"})
        if spec.min is not None and len(values) and values.min() < spec.min:
            problems.append({"column": name, "expected": f">= {spec.min}",
                             "found": f"min {values.min()}"})
        if spec.max is not None and len(values) and values.max() > spec.max:
            problems.append({"column": name, "expected": f"<= {spec.max}",
                             "found": f"max {values.max()}"})
    if not allow_extra:
        for extra in [c for c in df.columns if c not in columns]:
            problems.append({"column": str(extra), "expected": "not in the contract",
                             "found": str(df[extra].dtype)})
    return problems


def _contract_phase(stage: str, options: ContractOptions) -> Phase:
    return "input" if options.against == "signature" else "output"


def _validate(spec: Any, stage: str, options: ContractOptions) -> tuple[str, str] | None:
    if options.against == "signature" and spec.model_for(stage) is None:
        return "against", (f"'against: signature' checks the input of the model this stage "
                           f"serves, and stage '{stage}' serves none (stages with a model: "
                           f"{list(spec.model_stages)})")
    if options.against == "columns" and not options.columns:
        return "columns", "'against: columns' needs the declared 'columns:' of the contract"
    return None


def _dry_run(ctx: StageCheckContext, options: ContractOptions) -> list[DryRunProblem]:
    if options.against == "signature":
        if ctx.resolved_model is None or ctx.tracking_uri is None:
            return []
        schema = input_schema(ctx.tracking_uri, ctx.resolved_model)
        return missing_columns(ctx, "input", [c.name for c in schema if c.required],
                               f"the signature of {ctx.resolved_model.version_uri}")
    return missing_columns(ctx, "output", list(options.columns), "the declared contract")


@register("contract", options=ContractOptions, phase=_contract_phase, validate_spec=_validate,
          dry_run=_dry_run)
def check_contract(ctx: StageCheckContext, options: ContractOptions) -> CheckResult:
    """The frame matches its contract: the model signature, or the declared downstream columns."""
    if options.against == "signature":
        if ctx.resolved_model is None or ctx.tracking_uri is None:
            return CheckResult(False, f"stage '{ctx.stage}' resolved no model: no signature "
                               f"to check its input against")
        schema = input_schema(ctx.tracking_uri, ctx.resolved_model)
        problems = check_signature_columns(ctx.frame("input"), schema,
                                           ignore=(ctx.request_id,),
                                           allow_extra=bool(options.allow_extra))
        what = (f"model input vs signature of {ctx.resolved_model.name} "
                f"v{ctx.resolved_model.version}")
    else:
        problems = check_declared_columns(ctx.frame("output"), options.columns,
                                          options.allow_extra is not False)
        what = f"'{ctx.stage}' output vs its declared contract"
    errors = [p for p in problems if p.get("severity") != "info"]
    meta = {"contract": options.against, "problems": problems}
    if errors:
        detail = "; ".join(f"{p['column']}: expected {p['expected']}, found {p['found']}"
                           for p in errors[:4])
        more = f" (+{len(errors) - 4} more)" if len(errors) > 4 else ""
        return CheckResult(False, f"{what}: {detail}{more}", meta)
    return CheckResult(True, f"{what}: all columns match", meta)
