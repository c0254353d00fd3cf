"""The dry run: the journey on a small sample of its source, in memory, before a real run.

It finds what only data can show: a rule, contract, suite or drift setting naming a column that
the stage does not produce, a missing source table, an unreadable source file, a model alias
that does not resolve. Every problem is collected (not the first only) and raised as one
:class:`DryRunError` naming the file, line, check and column, so that ``validate`` and ``run``
exit 2 before a Dagster run starts. Injected faults are left out: a drill must reach the checks.

Nothing is written: the stage functions run on the sample in memory, the sink is not touched.
A stage function that raises on the sample stops the dry run there; the real run then reports
that stage's failure (exit 1) where the UI and the report show it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from e2e_assets.checks.base import ConfiguredCheck, DryRunProblem, StageCheckContext
from e2e_assets.db import check_reachable
from e2e_assets.errors import DryRunError, E2EAssetsError, SpecError, StageError
from e2e_assets.fault_injections import MODEL_FAULT
from e2e_assets.home import Home
from e2e_assets.model_registry import require_tracking_store
from e2e_assets.serving import ServedModels
from e2e_assets.sources import read_source
from e2e_assets.spec.lines import line_for
from e2e_assets.stages import run_stage

if TYPE_CHECKING:
    from e2e_assets.spec.loader import Journey

DEFAULT_SAMPLE_ROWS = 50


def preflight(journey: Journey, home: Home, alias: str | None = None, *,
              sample_rows: int = DEFAULT_SAMPLE_ROWS, served: ServedModels | None = None
              ) -> ServedModels:
    """Everything a run needs, checked before it starts (E2EAssetsError, exit 2; an unblessed
    model, exit 1): the tracking store, the sink, every model alias and its blessing, and a dry
    run on a sample of the source. Returns the served models, resolved (pin them for the run);
    ``served`` gives them already configured (the gate's pins and baselines)."""
    sample = read_source(journey.pristine, limit=sample_rows)  # the source first: most often
    check_reachable(journey.spec.sink.url, f"the sink of journey '{journey.name}'")
    require_tracking_store(home.tracking_uri)
    served = served or ServedModels(journey, home.tracking_uri, alias)
    for stage in journey.spec.model_stages:
        served.resolved(stage)
        served.baseline(stage)
    dry_run(journey, served, rows=sample_rows, sample=sample)
    return served


def dry_run(journey: Journey, served: ServedModels, *, rows: int = DEFAULT_SAMPLE_ROWS,
            sample: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Run the pristine journey on ``rows`` source rows (or ``sample``); raise DryRunError
    listing every problem; return the stages it got through (stage, rows in, rows out)."""
    faulted, journey = journey, journey.pristine
    frame = sample if sample is not None else read_source(journey, limit=rows)
    problems: list[dict[str, Any]] = []
    reached: list[dict[str, Any]] = []
    for stage in journey.stages:
        resolved = served.resolved(stage)
        model = served.model(stage) if resolved is not None else None
        ctx = StageCheckContext(journey=journey, stage=stage, input=frame, model=model,
                                resolved_model=resolved, tracking_uri=served.tracking_uri,
                                served=served)
        problems += _problems(ctx, "input")
        try:
            out = run_stage(journey, stage, frame, model=model)
        except StageError:
            break  # the real run reports it, with the stage named (exit 1)
        wrapped = faulted.functions.get(stage)
        if wrapped is not journey.functions.get(stage) and not getattr(wrapped, MODEL_FAULT,
                                                                          False):
            _check_fault(faulted, stage, frame, model)
        reached.append({"stage": stage, "rows_in": len(frame), "rows_out": len(out)})
        ctx = StageCheckContext(journey=journey, stage=stage, input=frame, output=out,
                                model=model, resolved_model=resolved,
                                tracking_uri=served.tracking_uri, served=served)
        problems += _problems(ctx, "output", "monitor")
        frame = out
    if problems:
        raise _error(journey, problems)
    return reached


def _check_fault(faulted: Journey, stage: str, frame: pd.DataFrame, model: Any) -> None:
    """An injected fault that cannot apply (a column the stage lacks) is a usage error, found
    here rather than inside the run; what the fault then does to the data is the drill's."""
    try:
        run_stage(faulted, stage, frame, model=model)
    except StageError as exc:
        if isinstance(exc.__cause__, SpecError):  # the command line's, not the spec's
            raise E2EAssetsError(f"--fault on stage '{stage}' cannot be injected: "
                                 f"{exc.__cause__.detail}") from None


def _problems(ctx: StageCheckContext, *phases: str) -> list[dict[str, Any]]:
    out = []
    for check in ctx.journey.checks_for(ctx.stage):
        if check.phase not in phases:
            continue
        try:
            found = check.kind.dry_run(ctx, check.options) if check.kind.dry_run else []
            if not found and check.kind.name == "rules":
                found = _rules_on_sample(ctx, check.options)
        except E2EAssetsError:
            raise
        except Exception as exc:  # noqa: BLE001 - a setting the sample cannot even be run on
            found = [{"message": f"cannot be checked on the sample: {_described(exc)}"}]
        out += [_located(ctx.journey, check, p) for p in found]
    return out


def _rules_on_sample(ctx: StageCheckContext, options: Any) -> list[DryRunProblem]:
    """Each rule evaluated on the sample: one the language refuses on these columns, or too
    large or too deep to compute, fails on any data, so it is a problem here. Other errors may
    be the sample's own (a column all null in 50 rows): the real run reports them on the check."""
    from e2e_assets.checks.expr import ExpressionError
    from e2e_assets.checks.rules import evaluate_rule

    problems: list[DryRunProblem] = []
    for rule in options.rules:
        try:
            evaluate_rule(rule, ctx.frame("output"))
        except (ExpressionError, MemoryError, RecursionError, OverflowError) as exc:
            problems.append({"rule": rule.name, "message": f"rule '{rule.name}' ({rule.expr}) "
                             f"cannot be evaluated on the sample: {_described(exc)}"})
        except Exception:  # noqa: BLE001, S112 - maybe the sample's own: the run reports it
            continue
    return problems


def _described(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _located(journey: Journey, check: ConfiguredCheck, problem: DryRunProblem) -> dict[str, Any]:
    loc = ("checks", check.stage, str(check.position))
    return {"file": str(journey.path), "line": line_for(loc, journey.lines),
            "field": ".".join(loc), "stage": check.stage, "check": check.name,
            "kind": check.kind.name, **problem}


def _error(journey: Journey, problems: list[dict[str, Any]]) -> DryRunError:
    def one(p: dict[str, Any]) -> str:
        return (f"{p['file']}:{p['line']} at '{p['field']}': check '{p['check']}' on stage "
                f"'{p['stage']}': {p['message']}")

    first = problems[0]
    message = (f"check '{first['check']}' on stage '{first['stage']}': {first['message']}"
               if len(problems) == 1 else
               f"the dry run on a sample found {len(problems)} problems:\n  "
               + "\n  ".join(one(p) for p in problems))
    return DryRunError(message, file=first["file"], line=first["line"], field=first["field"],
                       stage=first["stage"], check=first["check"], column=first.get("column"),
                       problems=problems)
