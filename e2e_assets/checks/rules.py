"""Business rules: declarative assertions over a stage's rows (see :mod:`e2e_assets.checks.expr`).

Each rule has a name, an ``expr`` that every row should satisfy, an optional ``where`` filter,
``mostly`` (the share of rows that must pass, default 1.0) and optionally ``by`` (a cohort column:
``mostly`` must then hold inside every cohort). The check passes when every rule does.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from e2e_assets.checks.base import (
    CheckResult,
    DryRunProblem,
    Options,
    StageCheckContext,
    missing_columns,
    register,
)
from e2e_assets.checks.expr import Expression, parse


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    expr: str
    where: str | None = None
    mostly: float = Field(default=1.0, ge=0.0, le=1.0)
    by: str | None = None
    message: str = ""

    @field_validator("expr", "where")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse(value)  # ExpressionError (a ValueError) carries the position
        return value

    def compiled(self) -> tuple[Expression, Expression | None]:
        return parse(self.expr), parse(self.where) if self.where else None


class RulesOptions(Options):
    rules: list[Rule] = Field(min_length=1)


def evaluate_rule(rule: Rule, df: pd.DataFrame) -> dict[str, Any]:
    """Counts for one rule: rows in scope, failing rows, pass rate, worst cohort."""
    expr, where = rule.compiled()
    scope = where.evaluate(df) if where is not None else pd.Series(True, index=df.index)
    ok = expr.evaluate(df)
    in_scope = int(scope.sum())
    failing = scope & ~ok
    rate = 1.0 if in_scope == 0 else float((scope & ok).sum()) / in_scope
    passed = rate >= rule.mostly
    worst: tuple[str, float] | None = None
    if rule.by is not None:
        groups = pd.DataFrame({"c": df[rule.by], "s": scope, "f": failing})[scope]
        rates = 1.0 - groups.groupby("c", dropna=False)["f"].mean()
        if len(rates):
            worst = (str(rates.idxmin()), float(rates.min()))
            passed = passed and worst[1] >= rule.mostly
    return {"rule": rule.name, "in_scope": in_scope, "failing": int(failing.sum()),
            "pass_rate": round(rate, 6), "mostly": rule.mostly, "passed": passed,
            "worst_cohort": worst, "failing_mask": failing,
            "columns": sorted(expr.columns | (where.columns if where else frozenset()))}


def _dry_run(ctx: StageCheckContext, options: RulesOptions) -> list[DryRunProblem]:
    problems = []
    for rule in options.rules:
        expr, where = rule.compiled()
        used = sorted(expr.columns | (where.columns if where else frozenset()))
        used += [rule.by] if rule.by else []
        for p in missing_columns(ctx, "output", used, f"rule '{rule.name}'"):
            problems.append({**p, "rule": rule.name})
    return problems


@register("rules", options=RulesOptions, dry_run=_dry_run)
def check_rules(ctx: StageCheckContext, options: RulesOptions) -> CheckResult:
    """Business rules hold on the stage's rows (with where / mostly / per-cohort)."""
    df = ctx.frame("output")
    outcomes = [evaluate_rule(rule, df) for rule in options.rules]
    failed = [o for o in outcomes if not o["passed"]]
    samples: list[dict[str, Any]] = []
    for o in failed:
        for row in ctx.samples(df[o["failing_mask"]], o["columns"], options.sample_size):
            samples.append({"rule": o["rule"], **row})
    table = [{k: v for k, v in o.items() if k not in ("failing_mask", "columns")}
             for o in outcomes]
    if failed:
        first = failed[0]
        rule = next(r for r in options.rules if r.name == first["rule"])
        where = f" where {rule.where}" if rule.where else ""
        if first["pass_rate"] < rule.mostly or not first["worst_cohort"]:
            shortfall = f"pass rate {first['pass_rate']:.2%} < mostly {rule.mostly:.0%}"
        else:
            cohort, rate = first["worst_cohort"]
            shortfall = f"cohort {rule.by}={cohort} passes {rate:.1%} < mostly {rule.mostly:.0%}"
        summary = (f"{len(failed)} of {len(outcomes)} rules failed; '{first['rule']}' "
                   f"({rule.expr}{where}): {first['failing']} of {first['in_scope']} rows fail, "
                   f"{shortfall}" + (f" — {rule.message}" if rule.message else ""))
    else:
        summary = f"all {len(outcomes)} rules hold"
    return CheckResult(passed=not failed, summary=summary, metadata={"rules": table},
                       samples=tuple(samples))
