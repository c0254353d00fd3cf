"""A model stage's declared fallback, in the pure core: retries with exponential backoff, then
the fallback on the same input (no request lost), the fallback share, and the check bounding it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from e2e_assets.checks.base import StageCheckContext
from e2e_assets.checks.fallback import check_fallback
from e2e_assets.errors import InfrastructureError, StageError
from e2e_assets.fallback import FallbackOutcome, serve_with_fallback
from e2e_assets.spec import Journey, load_journey

REPO = Path(__file__).resolve().parents[2]
VARS = {"E2E_DATABASE_URL": "sqlite:///:memory:", "E2E_ASSETS_HOME": "/tmp/e2e-home"}


# Stage functions of the test journey below (module: tests.unit.test_fallback).
def score(df: pd.DataFrame, model: Any) -> pd.DataFrame:
    return df.assign(p=model.predict(df))


def constant_score(df: pd.DataFrame, p: float = 0.35) -> pd.DataFrame:
    return df.assign(p=float(p))


def loses_one(df: pd.DataFrame) -> pd.DataFrame:
    return df.iloc[1:].assign(p=0.35)


class Flaky:
    """Raises on its first ``failures`` calls (all of them: None), or for the ids in ``bad``."""

    def __init__(self, failures: int | None = None, bad: frozenset[str] = frozenset()) -> None:
        self.failures, self.bad, self.calls = failures, bad, 0

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        if self.failures is None or self.calls <= self.failures:
            raise InfrastructureError("connection refused by the model server")
        if self.bad & set(df["request_id"]):
            raise ValueError("cannot score request")
        return np.full(len(df), 0.1)


def journey(tmp_path: Path, fallback: str = "function: constant_score") -> Journey:
    path = tmp_path / "journey.yaml"
    path.write_text(textwrap.dedent(f"""\
        journey: tiny
        module: tests.unit.test_fallback
        source: {{kind: sql, url: "${{E2E_DATABASE_URL}}", table: requests}}
        model: {{uri: "models:/tiny@champion"}}
        stages:
          score:
            function: score
            fallback: {{{fallback}}}
        sink: {{url: "${{E2E_DATABASE_URL}}", table: decisions}}
        """))
    return load_journey(path, variables=VARS)


def requests(n: int = 10) -> pd.DataFrame:
    return pd.DataFrame({"request_id": [f"r{i}" for i in range(n)], "x": np.arange(n, dtype=float)})


def serve(j: Journey, model: Flaky | None = None, load: Any = None, df: pd.DataFrame | None = None
          ) -> tuple[pd.DataFrame, FallbackOutcome, Any, list[float]]:
    slept: list[float] = []
    out, outcome, served = serve_with_fallback(
        j, "score", requests() if df is None else df, load or (lambda: model), sleep=slept.append)
    return out, outcome, served, slept


def test_a_transient_failure_is_retried_with_exponential_backoff(tmp_path: Path) -> None:
    j = journey(tmp_path, "function: constant_score, retries: 3, backoff_s: 0.2")
    model = Flaky(failures=2)
    out, outcome, served, slept = serve(j, model)
    assert slept == [0.2, 0.4]  # before retry 1 and 2; retry 2 served
    assert [a.error is None for a in outcome.attempts] == [False, False, True]
    assert outcome.retries == 2 and outcome.fallback_rows == 0 and outcome.share == 0.0
    assert (out["p"] == 0.1).all() and served is model  # the model's answers, not the fallback's
    assert "InfrastructureError: connection refused" in outcome.attempts[0].error  # type: ignore[operator]
    facts = outcome.facts()
    assert facts["model_retries"] == 2 and facts["fallback_share"] == 0.0
    assert "attempt 2 after 0.2 s: failed" in facts["attempt_log"]


def test_a_model_that_keeps_failing_falls_back_for_every_request(tmp_path: Path) -> None:
    j = journey(tmp_path, "function: constant_score, params: {p: 0.4}, max_fallback_share: 0.05")
    out, outcome, _, slept = serve(j, Flaky())
    assert slept == [0.2, 0.4] and len(outcome.attempts) == 3  # retries: 2 by default
    assert outcome.fallback_rows == 10 and outcome.share == 1.0 and not outcome.within_bound
    assert list(out["request_id"]) == list(requests()["request_id"])  # no request lost
    assert list(out.columns) == ["request_id", "x", "p"] and (out["p"] == 0.4).all()
    assert outcome.reason == "InfrastructureError: connection refused by the model server"


def test_a_model_that_cannot_be_loaded_is_retried_then_falls_back(tmp_path: Path) -> None:
    j = journey(tmp_path)
    loads: list[int] = []

    def load_once_broken() -> Flaky:
        loads.append(1)
        if len(loads) == 1:
            raise InfrastructureError("cannot load model models:/tiny/1: timeout")
        return Flaky(failures=0)

    _, outcome, served, slept = serve(j, load=load_once_broken)
    assert len(loads) == 2 and slept == [0.2] and outcome.share == 0.0
    assert isinstance(served, Flaky) and outcome.model_loaded

    def never_loads() -> Any:
        raise InfrastructureError("cannot load model models:/tiny/1: artifact store down")

    out, outcome, served, _ = serve(j, load=never_loads)
    assert served is None and not outcome.model_loaded and outcome.share == 1.0
    assert "artifact store down" in str(outcome.reason) and len(out) == 10


def test_chunks_fall_back_alone_and_keep_their_order(tmp_path: Path) -> None:
    j = journey(tmp_path, "function: constant_score, batch_rows: 4, retries: 1, "
                          "max_fallback_share: 0.5")
    out, outcome, _, slept = serve(j, Flaky(failures=0, bad=frozenset({"r5"})))
    assert outcome.fallback_rows == 4 and outcome.share == pytest.approx(0.4)
    assert outcome.within_bound and slept == [0.2]  # only the chunk with r5 was retried
    assert list(out["request_id"]) == [f"r{i}" for i in range(10)]
    assert list(out["p"]) == [0.1] * 4 + [0.35] * 4 + [0.1] * 2


def test_a_fallback_that_loses_a_request_is_a_broken_stage(tmp_path: Path) -> None:
    j = journey(tmp_path, "function: loses_one")
    with pytest.raises(StageError, match="every request id of its input exactly once"):
        serve(j, Flaky())


def test_a_malformed_model_output_is_not_retried(tmp_path: Path) -> None:
    j = journey(tmp_path)
    with pytest.raises(StageError, match="no request id column"):
        serve(j, Flaky(failures=0), df=requests().rename(columns={"request_id": "id"}))


def test_the_check_reports_share_retries_and_reason(tmp_path: Path) -> None:
    j = journey(tmp_path, "function: constant_score, max_fallback_share: 0.05")
    for model, passed in ((Flaky(failures=1), True), (Flaky(), False)):
        out, outcome, _, _ = serve(j, model)
        ctx = StageCheckContext(journey=j, stage="score", input=requests(), output=out,
                                fallback=outcome)
        result = check_fallback(ctx, None)  # type: ignore[arg-type]
        assert result.passed is passed, result.summary
        assert result.metadata["model_retries"] == (1 if passed else 2)
        assert result.metadata["fallback_share"] == (0.0 if passed else 1.0)
        assert result.metadata["max_fallback_share"] == 0.05
    assert "the fallback decided 10 of 10 requests (share 1.000, max_fallback_share 0.05)" \
        in result.summary and "connection refused" in result.summary
    with pytest.raises(RuntimeError, match="no fallback outcome"):
        check_fallback(StageCheckContext(journey=j, stage="score", input=requests()), None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "rules_stage"), [("credit_approval", "decide"),
                                                    ("loan_pricing", "decide")])
def test_reference_fallbacks_satisfy_the_business_rules(name: str, rules_stage: str) -> None:
    """The fallback's decisions, through decide, pass the journey's blocking rules."""
    from e2e_assets.checks.runner import evaluate_phase

    j = load_journey(REPO / "pipelines" / name / "journey.yaml", variables=VARS)
    features = _features(j)
    out, outcome, _, _ = serve(j, Flaky(), df=features)
    assert outcome.share == 1.0
    decided = j.functions["decide"](out, **j.spec.stage("decide").params)  # type: ignore[union-attr]
    ctx = StageCheckContext(journey=j, stage=rules_stage, input=out, output=decided)
    rules = [c for c in evaluate_phase(ctx, "output") if c.kind == "rules"]
    assert rules and all(c.result.passed for c in rules), [c.result.summary for c in rules]


def _features(j: Journey) -> pd.DataFrame:
    """A few hundred made-up applications through the journey's own features stage."""
    rng = np.random.default_rng(0)
    n = 200
    raw = pd.DataFrame({"request_id": [f"q{i}" for i in range(n)],
                        "amount": rng.uniform(500, 3000, n), "price": rng.uniform(400, 4000, n),
                        "income": rng.choice([0.0, 80.0, 150.0], n),
                        "records": rng.choice(["yes", "no"], n).astype(object),
                        "state": rng.choice(["NY", "CA", "AR", "TX"], n).astype(object),
                        "grade": rng.choice(list("ABCDEFG"), n).astype(object),
                        "loan_amount": rng.uniform(1e3, 4e4, n),
                        "term": rng.choice([36.0, 60.0], n)})
    return j.functions["features"](raw)


def drops_x(df: pd.DataFrame) -> pd.DataFrame:
    return df[["request_id"]].assign(p=0.35)


def test_the_dry_run_refuses_a_fallback_with_other_columns(tmp_path: Path) -> None:
    from e2e_assets.checks.base import get_kind

    dry_run = get_kind("fallback").dry_run
    assert dry_run is not None
    model_out = score(requests(), Flaky(failures=0))
    for fallback, problems in (("constant_score", 0), ("drops_x", 1)):
        j = journey(tmp_path, f"function: {fallback}")
        ctx = StageCheckContext(journey=j, stage="score", input=requests(), output=model_out)
        found = dry_run(ctx, None)
        assert len(found) == problems, found
    assert "missing ['x']" in found[0]["message"]


def test_a_transient_model_unavailable_fails_only_its_first_calls(tmp_path: Path) -> None:
    from e2e_assets.fault_injections import MODEL_FAULT
    from e2e_assets.faults import parse_fault, with_faults
    from e2e_assets.stages import run_stage

    fault = parse_fault("model_unavailable:score:=2")
    assert fault.params == {"failures": 2} and fault.column is None
    j = with_faults(journey(tmp_path), [fault])
    assert getattr(j.functions["score"], MODEL_FAULT)  # the dry run spends none of its calls
    for _ in range(2):
        with pytest.raises(StageError, match="model server unavailable"):
            run_stage(j, "score", requests(), model=Flaky(failures=0))
    assert (run_stage(j, "score", requests(), model=Flaky(failures=0))["p"] == 0.1).all()
    out, outcome, _, slept = serve(with_faults(journey(tmp_path), [fault]), Flaky(failures=0))
    assert outcome.retries == 2 and outcome.share == 0.0 and slept == [0.2, 0.4]
