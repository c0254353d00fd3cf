"""Checks inside real journey runs: clean data passes everything; each fault fails the check
meant to catch it, at the stage at fault; blocking checks stop the journey there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dagster as dg
import pytest

from e2e_assets.faults import Fault, with_faults
from e2e_assets.home import Home
from e2e_assets.identity import git_commit
from e2e_assets.inprocess import run_in_process
from e2e_assets.orchestration.instance import instance_for
from e2e_assets.orchestration.run import run_journey
from e2e_assets.results import JourneyRun, render_table
from e2e_assets.sinks import count_rows
from e2e_assets.spec import STAGES, load_journey
from tests.helpers import REPO, empty_shadow, journey_with_checks

pytestmark = pytest.mark.slow
SINKS = {"credit_approval": "credit_decisions", "loan_pricing": "loan_offers"}


def reference(name: str, h: Home) -> object:
    return load_journey(REPO / "pipelines" / name / "journey.yaml", variables=h.variables())


def failed(run: JourneyRun) -> set[tuple[str, str]]:
    return {(c.stage, c.name) for c in run.checks if c.failed}


@pytest.mark.parametrize("name", ["credit_approval", "loan_pricing"])
def test_clean_run_passes_every_configured_check(home: Path, name: str) -> None:
    h = Home.from_env()
    journey = reference(name, h)
    run = run_journey(journey, h)
    assert run.exit_code == 0 and not failed(run), render_table(run)
    configured = {(stage, c.check_name) for stage, checks in journey.spec.checks.items()
                  for c in checks}
    # and the check a declared fallback adds to its stage
    configured |= {(stage, "fallback") for stage in journey.stages
                   if (spec := journey.spec.stage(stage)) is not None and spec.fallback}
    assert {(c.stage, c.name) for c in run.checks} == configured
    assert len(configured) >= 15


FAULTS = [  # journey, fault, the (stage, check) that must catch it
    ("credit_approval", Fault("schema_rename", "ingest", "income"), ("ingest", "expectations")),
    ("credit_approval", Fault("null_burst", "features", "amount"), ("features", "expectations")),
    ("credit_approval", Fault("unit_change", "features", "income"), ("features", "golden")),
    ("credit_approval", Fault("precision_change", "score", "p_default"), ("score", "golden")),
    ("credit_approval", Fault("nondeterminism", "score", "p_default"),
     ("score", "reproducibility")),
    ("credit_approval", Fault("wrong_model", "score"), ("score", "golden")),
    ("credit_approval", Fault("policy_violation", "decide", "decision", {"value": "approve"}),
     ("decide", "credit_policy")),
    ("credit_approval", Fault("contract_break", "deliver", "p_default"),
     ("deliver", "downstream_contract")),
    ("credit_approval", Fault("lost_records", "deliver"), ("deliver", "reconcile")),
    ("loan_pricing", Fault("policy_violation", "decide", "offered_rate", {"value": "+8"}),
     ("decide", "pricing_policy")),
    ("loan_pricing", Fault("unit_change", "features", "annual_income"),
     ("features", "expectations")),
    ("loan_pricing", Fault("lost_records", "deliver", params={"drop": 0.0, "duplicate": 3}),
     ("deliver", "reconcile")),
    # cohort_bias: its default cohort (the first categorical column's most frequent value:
    # home 'owner' in credit, state 'CA' in loans) and an age band, each caught by the fairness
    # check watching that attribute, at score, the stage at fault.
    ("credit_approval", Fault("cohort_bias", "score"), ("score", "home_fairness")),
    ("credit_approval", Fault("cohort_bias", "score", params={"where": "age < 30"}),
     ("score", "age_fairness")),
    ("loan_pricing", Fault("cohort_bias", "score"), ("score", "state_fairness")),
]


@pytest.mark.parametrize(("name", "fault", "caught_by"), FAULTS,
                         ids=[f"{n}-{f.id}" for n, f, _ in FAULTS])
def test_fault_is_caught_at_its_stage(home: Path, name: str, fault: Fault,
                                      caught_by: tuple[str, str]) -> None:
    """Through the stage protocol in process (the checks exactly as a run evaluates them,
    monitors included); how Dagster skips what a blocked stage stops is the next test's."""
    h = Home.from_env()
    shadow = empty_shadow(h.database_url, SINKS[name])
    run = run_in_process(with_faults(reference(name, h), [fault]), h)
    blocking = {(c.stage, c.name) for c in run.blocking_failures}
    assert caught_by in blocking, [(c.stage, c.name, c.result.summary) for c in run.failed]
    assert run.blocked_at == caught_by[0]  # the stages before it ran, none after it
    assert {c.stage for c in run.checks} <= set(STAGES[:STAGES.index(caught_by[0]) + 1])
    assert count_rows(h.database_url, shadow) == 0  # nothing delivered, even to a drill's sink
    assert count_rows(h.database_url, SINKS[name]) == 0


def test_blocking_check_at_score_stops_decide_and_deliver(home: Path) -> None:
    h = Home.from_env()
    fault = Fault("precision_change", "score", "p_default")
    shadow = empty_shadow(h.database_url, "credit_decisions")
    run = run_journey(with_faults(reference("credit_approval", h), [fault]), h)
    instance = instance_for(h)
    for stage in ("decide", "deliver"):
        records = instance.fetch_materializations(dg.AssetKey(["credit_approval", stage]),
                                                  limit=1).records
        assert records == []
    evaluations = {(c.stage, c.name): c for c in run.checks}
    golden = evaluations[("score", "golden")]
    assert not golden.passed and golden.blocking and "p_default' differs" in golden.description
    # the run log says why, in a line of its own, not only inside the check's event
    logged = [e.user_message for e in instance.all_logs(run.dagster_run_ids[-1])]
    assert any(m.startswith("check 'golden' on stage 'score' FAILED (error, blocking): ")
               and "p_default' differs" in m for m in logged), logged
    assert any(m.startswith("stage 'score' blocked by golden") for m in logged), logged
    assert count_rows(h.database_url, shadow) == count_rows(h.database_url, "credit_decisions") == 0


def test_a_drill_delivers_to_the_shadow_sink_and_is_tagged(home: Path) -> None:
    """Finding: a run with --fault wrote the real sink. A drill that reaches deliver writes
    the shadow table only, is tagged e2e/drill in Dagster and says so in its report."""
    h = Home.from_env()
    shadow = empty_shadow(h.database_url, "credit_decisions")
    fault = Fault("latency_regression", "score", params={"seconds": 0, "slowdown": 1})
    run = run_journey(with_faults(reference("credit_approval", h), [fault]), h,
                      allow_unblessed=True)
    assert run.stages[-1].status == "materialized", render_table(run)
    assert count_rows(h.database_url, shadow) == run.stages[-1].rows_out > 1000
    assert count_rows(h.database_url, "credit_decisions") == 0
    assert run.drill == ("latency_regression@score",)
    assert json.loads(json.dumps(run.to_dict()))["drill"] == ["latency_regression@score"]
    assert "DRILL: faults latency_regression@score injected" in render_table(run)
    assert run.unblessed_allowed  # a drill's shadow sink is no gate run: --allow-unblessed shows
    tags = instance_for(h).get_run_by_id(str(run.run_id)).tags
    assert tags["e2e/drill"] == "latency_regression@score" and tags["e2e/shadow"] == "true"
    # who and what: the journey, the model served and by which alias, the code's commit
    assert {k: tags[k] for k in ("e2e/journey", "e2e/model", "e2e/alias",
                                 "e2e/model_version")} == {
        "e2e/journey": "credit_approval", "e2e/model": "credit_approval",
        "e2e/alias": "champion", "e2e/model_version": "1"}
    assert re.fullmatch(r"[0-9a-f]{12}(\+dirty)?|unknown", tags["e2e/git_commit"])
    assert tags["e2e/git_commit"] == git_commit(REPO / "pipelines" / "credit_approval")
    # each check links the MLflow model version it judged
    golden = next(c for c in run.checks if (c.stage, c.name) == ("score", "golden"))
    assert str(golden.metadata["mlflow_model_version"]).endswith(
        "/#/models/credit_approval/versions/1")


def test_signature_contract_blocks_before_the_model_runs(home: Path, tmp_path: Path) -> None:
    h = Home.from_env()
    path = journey_with_checks(tmp_path, "  score:\n    - kind: contract\n"
                               "      name: signature_contract\n"
                               "      options: {against: signature}\n")
    journey = load_journey(path, variables=h.variables())
    assert run_journey(journey, h).exit_code == 0
    run = run_journey(with_faults(journey, [Fault("schema_rename", "features", "amount")]), h)
    (outcome,) = [c for c in run.checks if c.name == "signature_contract"]
    assert not outcome.passed and "amount: expected double (required), found missing" in \
        outcome.description
    assert {s.stage: s.status for s in run.stages}["score"] == "blocked"
    assert run.exit_code == 1 and run.error is None  # a blocked check, not a Dagster error
    verdict = render_table(run)
    assert "Dagster" not in verdict and "Dagster" not in json.dumps(run.to_dict())
    assert "FAILED blocking error check 'signature_contract' on stage 'score'" in verdict


def test_input_block_reports_the_unreached_checks_as_not_evaluated(home: Path,
                                                                  tmp_path: Path) -> None:
    h = Home.from_env()
    path = journey_with_checks(tmp_path, "  score:\n    - kind: contract\n"
                               "      name: signature_contract\n"
                               "      options: {against: signature}\n"
                               "    - kind: reproducibility\n")
    journey = with_faults(load_journey(path, variables=h.variables()),
                          [Fault("schema_rename", "features", "income")])
    run = run_journey(journey, h)
    (later,) = [c for c in run.checks if c.name == "reproducibility"]
    assert not later.evaluated and not later.failed and "not evaluated" in later.description
    assert [c.name for c in run.blocking_failures] == ["signature_contract"]
    assert "reproducibility" not in render_table(run)
    assert {s.stage: s.checks(run.checks) for s in run.stages}["score"] == (0, 1)


@pytest.mark.parametrize("blocking", ["", "      blocking: false\n"],
                         ids=["blocking-left-true", "blocking-false"])
def test_warn_check_never_blocks_and_lets_the_run_continue(home: Path, tmp_path: Path,
                                                           blocking: str) -> None:
    """Finding: `severity: warn` with the default `blocking: true` printed "FAILED blocking
    warn check" and exited 1 although every row reached the sink. A warn check never blocks."""
    h = Home.from_env()
    path = journey_with_checks(tmp_path, f"""\
  decide:
    - kind: rules
      name: approve_everyone
      severity: warn
{blocking}      options: {{rules: [{{name: all_approved, expr: "decision == 'approve'"}}]}}
""")
    journey = load_journey(path, variables=h.variables())
    (check,) = journey.checks_for("decide")
    assert check.spec.blocking == (not blocking) and not check.blocking
    run = run_journey(journey, h)
    assert run.exit_code == 0, render_table(run)
    assert failed(run) == {("decide", "approve_everyone")}
    assert [s.status for s in run.stages] == ["materialized"] * 5
    assert count_rows(h.database_url, "credit_decisions") == run.stages[-1].rows_out
    assert "FAILED warn check 'approve_everyone' on stage 'decide'" in render_table(run)
    assert "blocking" not in render_table(run)


def test_non_blocking_error_check_is_reported_without_stopping(home: Path,
                                                               tmp_path: Path) -> None:
    h = Home.from_env()
    path = journey_with_checks(tmp_path, """\
  decide:
    - kind: rules
      name: approve_everyone
      blocking: false
      options: {rules: [{name: all_approved, expr: "decision == 'approve'"}]}
""")
    run = run_journey(load_journey(path, variables=h.variables()), h)
    assert run.exit_code == 0 and failed(run) == {("decide", "approve_everyone")}
    assert run.stages[-1].status == "materialized"
