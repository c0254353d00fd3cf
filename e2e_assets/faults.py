"""Production faults (docs/faults.md, generated from ``REGISTRY``) injected into any journey.

``with_faults(journey, [Fault(...)])`` returns the same journey whose stage outputs (or served
model) are altered as the fault describes (``e2e_assets.fault_injections``); everything else,
checks included, runs unchanged. ``tamper_golden`` edits a registered golden artifact in place.
Injection is deterministic for a given seed, except ``nondeterminism``, whose whole point is not
to be.

Every fault is one ``FaultSpec`` in ``REGISTRY``: what it breaks, how it is injected, the
parameters it takes (name, default, allowed range; ``=VALUE`` on the command line sets the
first), what catches it and its status. ``python -m e2e_assets.faults --markdown`` prints the
catalogue, docs/faults.md, from it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from e2e_assets.errors import SpecError
from e2e_assets.fault_injections import (
    MODEL_FAULT,
    TIMED_TRANSFORMS,
    ConstantModel,
    UnavailableModel,
    cohort_bias,
    contract_break,
    covariate_drift,
    latency_regression,
    lost_records,
    nondeterminism,
    null_burst,
    output_drift,
    policy_violation,
    precision_change,
    schema_rename,
    tamper_golden,
    unit_change,
)
from e2e_assets.spec.loader import Journey

__all__ = ["FAULT_IDS", "INJECTABLE", "REGISTRY", "ConstantModel", "Fault", "FaultSpec", "Param",
           "UnavailableModel", "catalogue_markdown", "check_params", "cohort_bias",
           "contract_break", "covariate_drift", "latency_regression", "lost_records",
           "nondeterminism", "null_burst", "output_drift", "parse_fault", "policy_violation",
           "precision_change", "schema_rename", "tamper_golden", "unit_change", "with_faults"]


@dataclass(frozen=True)
class Fault:
    id: str
    stage: str
    column: str | None = None
    # Given: any declared parameters; held: every one (checked and converted, else its default).
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:  # Python callers get the CLI's checks
        object.__setattr__(self, "params", check_params(self.id, self.params))

    def describe(self) -> str:
        return f"{self.id}@{self.stage}" + (f"[{self.column}]" if self.column else "")


@dataclass(frozen=True)
class Param:
    """One parameter of a fault: a number in [low, high] (``open_low``: low excluded), an
    integer, or text (a value or a rule). ``default`` None: the fault says what it does."""

    name: str
    default: float | str | None
    kind: Literal["number", "integer", "text"] = "number"
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    doc: str = ""

    def expected(self) -> str:
        if self.kind == "text":
            return f"{self.name}: {self.doc or 'text'}"
        lo = "" if self.low == -math.inf else f"{'>' if self.open_low else '>='} {self.low:g}"
        hi = "" if self.high == math.inf else f"<= {self.high:g}"
        kind = "an integer" if self.kind == "integer" else "a number"
        return f"{self.name}: {kind}" + (f" {lo}" if lo else "") + (
            f"{' and' if lo else ''} {hi}" if hi else "")

    def check(self, value: Any) -> Any:
        """The value converted, or ValueError saying what was expected."""
        if self.kind == "text":
            if isinstance(value, str) and not value.strip():
                raise ValueError(f"expected {self.expected()}, got an empty value")
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected {self.expected()}, got {value!r}") from None
        bad = (math.isnan(number) or number < self.low or number > self.high
               or (self.open_low and number == self.low)
               or (self.kind == "integer" and not number.is_integer()))
        if bad:
            raise ValueError(f"expected {self.expected()}, got {value!r}")
        return int(number) if self.kind == "integer" else number


FrameFault = Callable[..., pd.DataFrame]  # (output, fault[, the stage's own seconds])


@dataclass(frozen=True)
class FaultSpec:
    """One fault of the catalogue. ``transform`` alters a stage's output frame, ``model``
    replaces the model a stage is given; neither: injected outside a run (``injection``)."""

    id: str
    fault: str  # what breaks in production
    injection: str  # how it is injected (markdown)
    caught_by: str  # what catches it in the reference journeys (markdown)
    status: str
    stage: str | None = None  # the default stage
    params: tuple[Param, ...] = ()  # the first is set by =VALUE
    transform: FrameFault | None = None
    model: Callable[[Fault], Any] | None = None
    # The stage whose checks must catch it when injected at ``stage`` (None: that same stage);
    # the fault matrix (e2e_assets.fault_matrix) holds every drill to it.
    expected_stage: str | None = None

    @property
    def injectable(self) -> bool:
        return self.transform is not None or self.model is not None

    @property
    def catch_stage(self) -> str | None:
        return self.expected_stage or self.stage


_F = FaultSpec
REGISTRY: dict[str, FaultSpec] = {s.id: s for s in (
    _F("schema_rename", "upstream renames or drops a column; features become NaN",
       "rename one column", "`expectations` at ingest/features, `contract` (signature) at "
       "score", "caught", "ingest", transform=schema_rename),
    _F("unit_change", "preprocessing changes a unit or scaling", "multiply one column by 1000",
       "`golden` at features, `expectations`, `drift`", "caught", "features",
       (Param("factor", 1000.0, low=0.0, open_low=True),), unit_change),
    _F("null_burst", "a share of a feature arrives null", "null 30% of one column",
       "`expectations`, `contract` (signature: nulls in required columns)", "caught",
       "features", (Param("share", 0.3, low=0.0, high=1.0),), null_burst),
    _F("covariate_drift", "input distribution shifts", "shift one column by 1 std",
       "`drift` on features (in the reference journeys a warning: sustained, it starts one "
       "retrain, see the README's release loop)", "caught", "ingest",
       (Param("std_shift", 1.0, low=-100.0, high=100.0),), covariate_drift,
       expected_stage="features"),
    _F("output_drift", "score distribution shifts", "bias the scores", "`drift` on score "
       "outputs, `golden`", "caught", "score",
       (Param("bias", None, doc="added to the column; default 0.15 on a probability "
              "(clipped to [0, 1]), else 2.0"),), output_drift),
    _F("precision_change", "a dependency upgrade alters numerics", "round one column",
       "`golden` (tolerance) at score", "caught", "score",
       (Param("decimals", 2, "integer", low=0, high=15),), precision_change),
    _F("contract_break", "downstream expects probabilities, gets class ids",
       "threshold one column to 0/1", "`contract` (columns) at deliver", "caught", "deliver",
       (Param("threshold", 0.5, low=0.0, high=1.0),), contract_break),
    _F("wrong_model", "a stale or wrong version is served", "a constant model (any stage with "
       "a model)", "`golden` at score", "caught", "score",
       (Param("value", 0.5, doc="the constant answer", low=0.0, high=1.0),),
       model=lambda f: ConstantModel(f.params["value"])),
    _F("nondeterminism", "outputs change between identical runs", "random noise on one column",
       "`reproducibility` at score", "caught", "score",
       (Param("scale", 0.01, low=0.0, open_low=True, doc="std of the noise"),),
       nondeterminism),
    _F("golden_tamper", "golden set edited or stale, or replaced consistently (artifact, "
       "manifest and tag rewritten)", "`faults.tamper_golden(artifact_dir)`; a consistent "
       "replacement in `tests/integration/test_golden_tamper.py`", "reported as TAMPERED when "
       "the golden set loads: manifest vs tag, and vs the golden dataset digest logged "
       "immutably on the registering run", "caught"),
    _F("policy_violation", "a business rule is broken", "set a column on 20% of rows "
       "(a boolean column without a value: flipped)", "`rules` at decide", "caught", "decide",
       (Param("value", None, "text", doc="the value to set ('+N' adds N; none flips a "
              "boolean)"), Param("share", 0.2, low=0.0, high=1.0)), policy_violation),
    _F("lost_records", "requests dropped or duplicated", "drop 1% / duplicate rows",
       "`reconcile` at deliver", "caught", "deliver",
       (Param("drop", 0.01, doc="share of rows dropped (at least one when > 0)", low=0.0, high=1.0),
        Param("duplicate", 0, "integer", low=0, doc="rows duplicated")), lost_records),
    _F("model_unavailable", "registry or model server down", "the model raises when called "
       "(`failures=N`: only on the first N calls, a transient outage)",
       "a stage with a declared `fallback:` retries with backoff, then its fallback decides "
       "every request (none lost, still judged by the rules at decide); the `fallback` check "
       "at score fails when the fallback share is above `max_fallback_share` (exit 1, nothing "
       "delivered); a transient outage is retried and passes, the retries in the check's "
       "report. Without a fallback: the stage fails (exit 1, stage named)", "caught", "score",
       (Param("failures", None, "integer", low=1, doc="calls that raise before the model "
              "serves again; default: every call"),),
       model=lambda f: UnavailableModel(f.params["failures"])),
    _F("latency_regression", "a stage gets slower",
       "sleep in one stage: it becomes `slowdown` times as slow, at least `seconds` slower",
       "`latency` at score (the stage's wall time against its budget and against 3x the "
       "median of the champion's last passing runs, scaled by the machine's slowdown); at a "
       "stage without its own, `end_to_end_latency` at deliver (p50/p95 per request batch "
       "through every stage)", "caught", "score",
       # In proportion to the stage: a fixed 0.5 s stayed within loan_pricing's 3x budget (its
       # score takes ~0.3-0.6 s); 1 s clears a fast stage's 400 ms floor on a machine the
       # check finds several times slower than when its baseline was recorded.
       (Param("seconds", 1.0, low=0.0, high=600.0, doc="at least this much slower"),
        Param("slowdown", 5.0, low=1.0, high=1000.0, doc="the stage's own time, times this")),
       latency_regression),
    _F("cohort_bias", "decisions differ unfairly for a cohort", "penalise one cohort's scores "
       "(default cohort: the most frequent value of the first categorical column)",
       "`fairness` at score: the cohort's favourable rate and score shift against the model "
       "of record's golden outputs, paired (default cohort: `home_fairness` in credit, "
       "`state_fairness` in loans; `where=age < 30`: `age_fairness`); also `golden` and "
       "`quality`", "caught", "score",
       (Param("where", None, "text", doc="the cohort, a rule such as home == 'rent'"),
        Param("penalty", 0.2, low=-10.0, high=10.0, doc="added to a probability (clipped), "
              "in std units otherwise")), cohort_bias),
    _F("joint_shift", "relationships between inputs break (marginals unchanged)",
       "shuffle one column across rows (`tests/unit/test_joint_drift.py`)",
       "`joint_drift` at features (a domain classifier's held-out AUC, exact test; names the "
       "columns that drive the split), a warning like feature_drift", "caught (credit)"),
    _F("sink_tamper", "delivered rows deleted, edited or added after delivery",
       "edit the sink table directly after a run (SQL DELETE / UPDATE / INSERT; "
       "`tests/integration/test_sink_audit.py`)",
       "`sink_audit` on deliver (the ids deleted / altered / foreign, also found by the next "
       "run before it re-upserts, exit 1); `reconcile` for rows stored differently than "
       "delivered", "caught"),
    _F("unblessed_model", "alias moved by hand: to a version never gated, refused, or back to "
       "an older one", "`MlflowClient.set_registered_model_alias` "
       "(`tests/integration/test_release_gate.py`)", "the blessing check before every run and "
       "in every step (exit 1, naming `e2e-assets gate`)", "caught"),
    _F("degenerate_model", "a constant, noise or clearly weaker model is registered the "
       "documented way (`ctx.register_model`, own golden set)",
       "`tests/journeys/degenerate_models.py` (constant, shuffled labels, a stump, three "
       "features, a linear model, 10 boosting rounds, 150 training rows)", "the promotion "
       "gate: `quality` on the champion's labelled golden set (MLflow thresholds) and "
       "`challenger` (non-inferiority, flip rate, McNemar); it never serves", "caught"),
    _F("race_promotion", "two gates promote at once; champion ends on a version not validated "
       "against the one it replaced", "two gates in two processes deciding together "
       "(`tests/integration/test_gate_race.py`)", "compare-and-set on the alias under the "
       "store's lock: one promoted, one refused", "caught"),
)}
INJECTABLE = tuple(i for i, s in REGISTRY.items() if s.injectable)
FAULT_IDS = tuple(REGISTRY)


def check_params(fid: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared parameter of the fault: ``params`` checked and converted, the rest their
    defaults; SpecError naming every bad one and what was expected."""
    spec = REGISTRY.get(fid)
    if spec is None or not spec.injectable:
        raise SpecError(f"unknown fault {fid!r}; expected one of {sorted(INJECTABLE)}"
                        + (" (this one is injected outside a run, see docs/faults.md)"
                           if spec else ""))
    declared, problems = {p.name: p for p in spec.params}, []
    out = {p.name: p.default for p in spec.params}
    for name, value in params.items():
        if value is None and name in declared and declared[name].default is None:
            continue  # None: the parameter's default behaviour
        if name not in declared:
            problems.append(f"unknown parameter {name!r} (fault '{fid}' takes "
                            f"{sorted(declared) or 'none'})")
            continue
        try:
            out[name] = declared[name].check(value)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise SpecError(f"fault '{fid}': " + "; ".join(problems))
    return out


def parse_fault(text: str) -> Fault:
    """``id[:stage[:column[=value]]]`` as given on the command line; ``value`` sets the
    fault's first declared parameter."""
    fid, *rest = text.split(":", 2)
    if fid not in INJECTABLE:
        check_params(fid, {})  # raises, naming the known ones
    spec = REGISTRY[fid]
    stage = rest[0] if rest and rest[0] else str(spec.stage)
    column, params = (rest[1] if len(rest) > 1 else None), {}
    if column and "=" in column:
        column, value = (s.strip() for s in column.split("=", 1))
        if not spec.params:
            raise SpecError(f"fault '{fid}' takes no parameter; got '={value}'")
        params[spec.params[0].name] = value
    return Fault(id=fid, stage=stage, column=column or None, params=params)


def with_faults(journey: Journey, faults: Sequence[Fault]) -> Journey:
    """The same journey with its stage functions wrapped to inject ``faults``.

    A frame fault alters what the stage returns; a model fault replaces the model the stage is
    given. The core never knows: it calls the (wrapped) functions as always.
    """
    functions = dict(journey.functions)
    for fault in faults:
        if fault.stage not in journey.stages:
            raise SpecError(f"fault '{fault.id}' targets stage '{fault.stage}', which journey "
                            f"'{journey.name}' does not have; its stages: "
                            f"{list(journey.stages)}")
        if REGISTRY[fault.id].model is not None and journey.spec.model_for(fault.stage) is None:
            raise SpecError(f"fault '{fault.id}' replaces a model, and stage '{fault.stage}' "
                            f"serves none; stages with a model: "
                            f"{list(journey.spec.model_stages)}")
        functions[fault.stage] = _wrap(functions[fault.stage], fault)
    return dataclasses.replace(journey, functions=functions,
                               injected=(*journey.injected, *(f.describe() for f in faults)),
                               base=journey.pristine)


def _wrap(fn: Callable[..., pd.DataFrame], fault: Fault) -> Callable[..., pd.DataFrame]:
    spec = REGISTRY[fault.id]
    if spec.model is not None:
        # One stand-in per wrapped stage, so a transient fault counts the stage's calls; one
        # with ``stand_in_for(served)`` decides per call what the stage is given.
        replacement = spec.model(fault)
        per_call = getattr(type(replacement), "stand_in_for", None)

        @functools.wraps(fn)
        def with_model(frame: pd.DataFrame, model: Any, *args: Any, **kwargs: Any
                       ) -> pd.DataFrame:
            given = per_call(replacement, model) if per_call is not None else replacement
            return fn(frame, given, *args, **kwargs)

        setattr(with_model, MODEL_FAULT, True)
        return with_model
    transform = spec.transform
    if transform is None:  # Fault() admits injectable ids only
        raise SpecError(f"fault '{fault.id}' is not injected into a run")

    timed = transform in TIMED_TRANSFORMS

    @functools.wraps(fn)
    def with_output(*args: Any, **kwargs: Any) -> pd.DataFrame:
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        if not isinstance(out, pd.DataFrame):
            return out
        return (transform(out, fault, time.perf_counter() - started) if timed
                else transform(out, fault))

    return with_output

_PROSE = """\
# Production faults e2e-assets injects and catches

This is the project's fault catalogue, generated from the registry in `e2e_assets/faults.py`
(`python -m e2e_assets.faults --markdown > docs/faults.md`; a test fails when it is stale).
Every row is a way a model-driven flow breaks in production. For each, `e2e_assets.faults` has
an injection (`e2e-assets run <journey> --fault ID[:STAGE[:COLUMN[=VALUE]]]`, or
`with_faults(journey, [Fault(...)])` in Python) and at least one check must fail when it is
present, naming the stage at fault. A clean run raises no failure: a check that cries wolf is
as broken as one that sleeps.

Injection wraps the journey's stage functions (a frame fault alters what the stage returns; a
model fault replaces the model the stage is given); the core runs the wrapped journey as
always. The dry run before a run uses the journey without faults, so a drill reaches the checks
instead of being refused as a configuration error.

A run with `--fault` is a drill: it delivers to the shadow table (`<sink table>__shadow`), never
to the real sink, never publishes its outputs as the journey's latest, and is tagged
`e2e/drill` with its faults in Dagster; its JSON report lists them under `drill`.

Parameters: `=VALUE` sets a fault's first parameter (`--fault null_burst:features:lvrat=0.9`);
from Python, `Fault(..., params={"share": 0.9})` sets any of them. A value that is not what the
parameter expects, or a value for a fault that takes none, is refused (exit 2) naming the
`--fault` text and what was expected.
"""

_OUTRO = """
The tests that inject every caught fault into the reference journeys and assert the check
that must catch it are in `tests/dagster/test_checks_in_runs.py` and
`tests/dagster/test_drift_checks.py`.
"""


def _param_cell(spec: FaultSpec) -> str:
    def one(p: Param) -> str:
        default = "" if p.default is None else f" = {p.default:g}" if isinstance(
            p.default, float) else f" = {p.default}"
        doc = f" ({p.doc})" if p.doc and p.kind != "text" else ""
        return f"`{p.name}`{default}: {p.expected().split(': ', 1)[1]}{doc}"

    return "; ".join(one(p) for p in spec.params) or "—"


def catalogue_markdown() -> str:
    """docs/faults.md, generated from ``REGISTRY``."""
    head = ("| id | fault | injection (default stage) | parameters (`=VALUE` sets the first) "
            "| caught in the reference journeys by | status |\n|---|---|---|---|---|---|\n")
    rows = []
    for s in REGISTRY.values():
        where = f" (`{s.stage}`)" if s.stage and s.injectable else ""
        injection = s.injection if s.injection != "—" or s.injectable else "—"
        rows.append(f"| `{s.id}` | {s.fault} | {injection}{where} | "
                    f"{_param_cell(s) if s.injectable else '—'} | {s.caught_by} | {s.status} |")
    return f"{_PROSE}\n{head}" + "\n".join(rows) + "\n" + _OUTRO


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["--markdown"]:
        print("usage: python -m e2e_assets.faults --markdown", file=sys.stderr)
        return 2
    sys.stdout.write(catalogue_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
