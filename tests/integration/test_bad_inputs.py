"""Bad inputs through the real CLI: the documented exit code, a message naming what is at fault,
never a Python traceback. Configuration and infrastructure problems exit 2 before any Dagster
run starts (the home's instance holds no run afterwards)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, cli
from tests.helpers import journey_variant, journey_with_checks

pytestmark = pytest.mark.slow

SINK_URL = "url: ${E2E_DATABASE_URL}\n  table: credit_decisions"


def _output(proc: subprocess.CompletedProcess[str]) -> str:
    """stdout + stderr, after checking neither holds a traceback or an 'internal error'."""
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-4000:]
    assert "internal error" not in out, out[-4000:]
    return out


def _dagster_runs(home: Path) -> list[object]:
    """Runs recorded in the home's Dagster instance (none if it was never created)."""
    folder = home / "dagster"
    if not folder.exists():
        return []
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(folder))
    try:
        return list(instance.get_runs())
    finally:
        instance.dispose()


def _light(path: Path) -> Path:
    """The journey at ``path`` with no checks: for cases where checks are beside the point."""
    text = path.read_text()
    path.write_text(text[: text.index("\nchecks:")] + "\nchecks: {}\n")
    return path


def _rules(tmp_path: Path, expr: str, name: str = "the_rule") -> Path:
    """credit_approval with one rules check ('policy' on decide) holding one rule."""
    return journey_with_checks(tmp_path, "  decide:\n    - kind: rules\n      name: policy\n"
                               "      options:\n        rules:\n"
                               f"          - {{name: {name}, expr: {json.dumps(expr)}}}\n")


def _line_of(path: Path, text: str) -> int:
    """1-based line of the first line of ``path`` whose stripped content is ``text``."""
    return [ln.strip() for ln in path.read_text().splitlines()].index(text) + 1


# --- a check naming a column the stage lacks: exit 2 before the run, from validate and run -----

MISSING_COLUMNS = """\
  features:
    - kind: drift
      name: feature_drift
      options: {columns: [age, agee]}
  score:
    - kind: expectations
      name: score_suite
      options: {suite: SUITE}
  decide:
    - kind: rules
      name: credit_policy
      options:
        rules:
          - {name: approval_needs_income, expr: "decision == 'approve' implies incme > 0"}
  deliver:
    - kind: contract
      name: downstream_contract
      options:
        against: columns
        columns:
          request_id: {type: string}
          decison: {type: string, allowed: [approve, review, decline]}
"""
# (check, stage, column it names that the stage's frame lacks)
MISSING = [("feature_drift", "features", "agee"), ("score_suite", "score", "p_defalt"),
           ("credit_policy", "decide", "incme"), ("downstream_contract", "deliver", "decison")]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_checks_naming_missing_columns_exit_2_before_any_run(home: Path, tmp_path: Path,
                                                             command: str) -> None:
    """Finding: a rule on a missing column passed validate, then failed the run with exit 1.
    Same for a GX suite expectation, a declared contract column and drift columns."""
    suite = tmp_path / "score_suite.json"
    suite.write_text(json.dumps({"name": "score", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "p_default"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "p_defalt", "min_value": 0, "max_value": 1}}]}))
    path = journey_with_checks(tmp_path, MISSING_COLUMNS.replace("SUITE", str(suite)))
    report = tmp_path / "r.json"
    junit = tmp_path / "junit.xml"
    args = [command, str(path)] + (["--report", str(report), "--junit", str(junit)]
                                   if command == "run" else [])
    proc = cli(*args, home=home)
    out = _output(proc)
    assert proc.returncode == 2, out[-3000:]
    for check, stage, column in MISSING:
        line = _line_of(path, f"name: {check}") - 1  # the check's '- kind:' line
        assert f"{path}:{line}" in out, (check, out[-3000:])
        assert f"check '{check}' on stage '{stage}'" in out and f"'{column}'" in out, out
    assert _dagster_runs(home) == []
    if command == "run":
        run = json.loads(report.read_text())["runs"][0]
        assert run["exit_code"] == 2 and run["run_id"] is None
        assert {p["column"] for p in run["problems"]} == {c for _, _, c in MISSING}
        assert {(p["check"], p["stage"]) for p in run["problems"]} == {
            (c, s) for c, s, _ in MISSING}
        assert all(p["file"] == str(path) and p["line"] for p in run["problems"])
        # CI sees the stopped run as an error testcase, with the exit code and the message
        suite = ET.parse(junit).getroot().find("testsuite")
        assert suite is not None and suite.get("errors") == "1"
        error = suite.find("testcase/error")
        assert error is not None and error.get("type") == "exit 2"
        assert "p_defalt" in error.get("message", "")


# --- the source: a missing table, a truncated parquet file --------------------------------------

@pytest.mark.parametrize("command", ["validate", "run"])
def test_missing_source_table_exits_2_before_any_run(home: Path, command: str) -> None:
    """Finding: a missing source table passed validate, then failed after Dagster started."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{home / 'journeys.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE credit_applications"))
    engine.dispose()
    proc = cli(command, "credit_approval", home=home)
    out = _output(proc)
    assert proc.returncode == 2, out[-3000:]
    assert "source table 'credit_applications' does not exist" in out
    assert _dagster_runs(home) == []


def _truncate(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "half":  # the footer is gone
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    else:  # the footer is intact, a column chunk is not
        middle = len(data) // 2
        path.write_bytes(data[:middle] + b"\0" * 2000 + data[middle + 2000:])


@pytest.mark.parametrize(("how", "commands"), [
    ("half", ("validate", "run")), ("corrupt_pages", ("run",))])
def test_truncated_parquet_source_exits_2_with_a_report(home: Path, tmp_path: Path, how: str,
                                                       commands: tuple[str, ...]) -> None:
    """Finding: a truncated parquet source gave exit 1 with an ArrowInvalid traceback and no
    report."""
    source = home / "sources" / "loan_applications.parquet"  # the private home's own copy
    _truncate(source, how)
    report = tmp_path / "r.json"
    for command in commands:
        args = [command, "loan_pricing"] + (["--report", str(report)] if command == "run" else [])
        proc = cli(*args, home=home)
        out = _output(proc)
        assert proc.returncode == 2, (args, out[-3000:])
        assert f"source parquet file {source} cannot be read" in out, out[-3000:]
    run = json.loads(report.read_text())["runs"][0]
    assert run["exit_code"] == 2 and str(source) in run["error"]
    assert _dagster_runs(home) == []


# --- DAGSTER_HOME that cannot be used ----------------------------------------------------------

@pytest.mark.parametrize("where", ["is_a_file", "under_a_file", "proc"])
def test_unusable_dagster_home_exits_2(home: Path, tmp_path: Path, where: str) -> None:
    """Finding: DAGSTER_HOME that is a file or not writable gave exit 1 with a traceback. (Root
    may write into a read-only folder, so: a file, a path under a file, a path in /proc.)"""
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    dagster_home = {"is_a_file": a_file, "under_a_file": a_file / "dagster",
                    "proc": Path("/proc/e2e-bad-inputs/dagster")}[where]
    env = {**os.environ, "E2E_ASSETS_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
    exe = str(Path(sys.executable).with_name("e2e-assets"))
    proc = subprocess.run([exe, "run", "credit_approval"], cwd=REPO, env=env, check=False,
                          capture_output=True, text=True, timeout=300)
    out = _output(proc)
    assert proc.returncode == 2, out[-3000:]
    assert "DAGSTER_HOME" in out and str(dagster_home) in out, out[-3000:]
    assert a_file.read_text() == "not a folder\n" and not (home / "dagster").exists()


# --- rules the language must refuse (limits built in checks/expr.py) ---------------------------

@pytest.mark.parametrize(("expr", "command"), [
    ("p_default" + " + 0" * 400 + " > 0", "validate"),  # was a RecursionError
    ("str_len('a' * 10**15) > 0", "validate"),  # was an empty MemoryError
    ("str_len('a' * 1000000000000000) > 0", "run"),
    # refused only on data ('decision' holds text): by the dry run, before the run starts
    ("str_len(decision * 1000000000000000) > 0", "run"),
], ids=["chain_400", "str_len_power", "str_len_literal", "str_len_column"])
def test_rules_too_big_to_evaluate_exit_2_naming_the_rule(home: Path, tmp_path: Path,
                                                         expr: str, command: str) -> None:
    """Finding: 400 chained '+ 0' (RecursionError) and str_len('a' * 10**15) (an empty
    MemoryError) ended in exit 1 with a traceback."""
    path = _rules(tmp_path, expr, name="oversized_rule")
    proc = cli(command, str(path), home=home)
    out = _output(proc)
    assert proc.returncode == 2, out[-3000:]
    assert "oversized_rule" in out and str(path) in out, out[-3000:]
    assert _dagster_runs(home) == []


# --- a mistyped MLFLOW_TRACKING_URI: refused, and nothing created ------------------------------

@pytest.mark.parametrize(("kind", "command"), [
    ("sqlite", "run"), ("sqlite", "validate"), ("folder", "validate"), ("scheme", "run")])
def test_mistyped_tracking_uri_exits_2_and_creates_nothing(home: Path, tmp_path: Path,
                                                           kind: str, command: str) -> None:
    """Finding: a mistyped MLFLOW_TRACKING_URI silently created a new empty store (and its
    folder), and the message suggested `demo`. Only bootstrap and demo create a store."""
    typo = tmp_path / "mlfow"
    uri = {"sqlite": f"sqlite:///{typo / 'mlflow.db'}", "folder": f"file://{typo}",
           "scheme": f"sqlit:///{typo / 'mlflow.db'}"}[kind]
    proc = cli(command, "credit_approval", home=home, env={"MLFLOW_TRACKING_URI": uri})
    out = _output(proc)
    assert proc.returncode == 2, out[-3000:]
    error = "\n".join(ln for ln in out.splitlines() if "MLflow" in ln)
    assert uri in error and "MLFLOW_TRACKING_URI" in error, out[-3000:]
    assert "demo" not in error
    assert not typo.exists() and not list(tmp_path.glob("sqlit*"))
    assert _dagster_runs(home) == []


# --- an input-phase check that blocks: the verdict names the check, never Dagster -------------

def test_blocking_input_check_names_the_check_not_dagster(home: Path, tmp_path: Path) -> None:
    """Finding: when an input-phase check blocked, DagsterStepOutputNotFoundError leaked into
    the verdict line and the report."""
    path = journey_with_checks(tmp_path, "  score:\n    - kind: contract\n"
                               "      name: signature_contract\n"
                               "      options: {against: signature}\n")
    report = tmp_path / "r.json"
    proc = cli("run", str(path), "--fault", "schema_rename:features:income", "--report",
               str(report), home=home)
    out = _output(proc)
    assert proc.returncode == 1, out[-3000:]
    text = report.read_text()
    assert "Dagster" not in out and "Dagster" not in text, out[-3000:]
    verdict = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
    assert any("check 'signature_contract' on stage 'score'" in ln for ln in verdict), verdict
    run = json.loads(text)["runs"][0]
    assert run["exit_code"] == 1 and run["error"] is None
    assert [(c["name"], c["stage"], c["passed"]) for c in run["checks"] if c["evaluated"]] == [
        ("signature_contract", "score", False)]
    # the output check score's fallback adds is reported, not evaluated: the stage never ran
    assert [(c["name"], c["stage"]) for c in run["checks"] if not c["evaluated"]] == [
        ("fallback", "score")]
    assert {s["stage"]: s["status"] for s in run["stages"]}["score"] == "blocked"


# --- every documented bad input: its exit code, what is at fault named, no traceback ---------

@dataclass
class Case:
    args: list[str]
    names: list[str]  # each must appear in stdout + stderr
    code: int = 2
    env: dict[str, str] = field(default_factory=dict)


def _variant(tmp_path: Path, old: str, new: str, *, light: bool = False) -> Path:
    path = journey_variant(tmp_path, replace={old: new})
    return _light(path) if light else path


def _module_case(tmp_path: Path, source: str) -> Case:
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "e2e_bad_inputs_stages.py").write_text(source)
    path = _variant(tmp_path, "module: pipelines.credit_approval.stages",
                    "module: e2e_bad_inputs_stages")
    return Case(["validate", str(path)], [str(path), "module", "e2e_bad_inputs_stages"],
                env={"PYTHONPATH": os.pathsep.join(filter(None, [
                    str(mods), os.environ.get("PYTHONPATH")]))})


def _deep_yaml(tmp_path: Path) -> Case:
    path = tmp_path / "deep" / "journey.yaml"
    path.parent.mkdir()
    path.write_text("journey: deep\nsource: " + "[" * 5000 + "]" * 5000 + "\n")
    return Case(["validate", str(path)], [str(path), "malformed YAML", "nested"])


def _file_case(tmp_path: Path, content: bytes | None, names: list[str]) -> Case:
    path = tmp_path / "j" / "journey.yaml"
    if content is None:
        path.mkdir(parents=True)
    else:
        path.parent.mkdir()
        path.write_bytes(content)
    return Case(["validate", str(path)], [str(path), *names])


def _existing_suite(tmp_path: Path) -> Case:
    out = tmp_path / "existing.json"
    out.write_text("{}")
    return Case(["suggest-suite", "credit_approval", "score", "--out", str(out)],
                [str(out), "exists", "--force"])


def _report_under_a_file(tmp_path: Path) -> Case:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return Case(["run", "credit_approval", "--report", str(a_file / "r.json")],
                ["--report", str(a_file)])


CASES: dict[str, Callable[[Path], Case]] = {
    "unknown_journey_name": lambda t: Case(["run", "no_such_journey"],
                                           ["no_such_journey", "known journeys"]),
    "missing_journey_file": lambda t: Case(["validate", str(t / "nowhere" / "journey.yaml")],
                                           [str(t / "nowhere" / "journey.yaml"), "not found"]),
    "malformed_yaml": lambda t: Case(
        ["validate", str(p := _variant(t, "  table: credit_decisions",
                                       "  table: [credit_decisions"))],
        [f"{p}:", "malformed YAML"]),
    "unknown_field": lambda t: Case(
        ["validate", str(_variant(t, "request_id: request_id", "requestid: request_id"))],
        ["'requestid'", "unknown field"]),
    "unknown_check_kind": lambda t: Case(
        ["validate", str(_variant(t, "- kind: reconcile", "- kind: reconcil"))],
        ["'checks.deliver.1.kind'", "unknown check kind 'reconcil'"]),
    "bad_option": lambda t: Case(
        ["validate", str(_variant(t, "options: {abs_tolerance: 1.0e-9}",
                                  "options: {abs_tolerence: 1.0e-9}"))],
        ["abs_tolerence", "unknown option"]),
    "bad_rule_syntax": lambda t: Case(["validate", str(_rules(t, "p_default >", "half_rule"))],
                                      ["half_rule", "syntax error"]),
    "hash_in_rule": lambda t: Case(
        ["validate", str(_rules(t, "decision != 'approve' # implies income > 0", "hashed"))],
        ["hashed", "#"]),
    "non_ascii_identifier": lambda t: Case(
        ["validate", str(_rules(t, "décision == 'approve'", "accented"))],
        ["accented", "décision"]),
    "unset_variable": lambda t: Case(
        ["validate", str(_variant(t, SINK_URL, SINK_URL.replace("E2E_DATABASE_URL",
                                                                 "E2E_BAD_INPUTS_UNSET")))],
        ["'sink.url'", "${E2E_BAD_INPUTS_UNSET}"]),
    "unknown_fault": lambda t: Case(["run", "credit_approval", "--fault", "no_such_fault"],
                                    ["--fault", "no_such_fault"]),
    "fault_on_missing_stage": lambda t: Case(
        ["run", "credit_approval", "--fault", "null_burst:no_such_stage:age"],
        ["--fault", "no_such_stage"]),
    "fault_on_missing_column": lambda t: Case(
        ["run", str(_light(journey_variant(t))), "--fault", "null_burst:features:no_such_col"],
        ["--fault", "features", "no_such_col"]),
    "report_path_under_a_file": _report_under_a_file,
    "sample_rows_0": lambda t: Case(["validate", "credit_approval", "--sample-rows", "0"],
                                    ["--sample-rows"]),
    "suggest_suite_unknown_stage": lambda t: Case(
        ["suggest-suite", "credit_approval", "no_such_stage"], ["no_such_stage"]),
    "suggest_suite_exists": _existing_suite,
    "unreachable_postgres_sink": lambda t: Case(
        ["validate", str(_variant(t, SINK_URL, "url: postgresql+psycopg://nobody@127.0.0.1:1/x"
                                  "\n  table: credit_decisions", light=True))],
        ["sink", "127.0.0.1:1"]),
    "sink_url_not_a_url": lambda t: Case(
        ["validate", str(p := _variant(t, SINK_URL, "url: not a url\n  table: credit_decisions",
                                       light=True))],
        [str(p), "'sink.url'", "not a database URL"]),
    "stage_raises": lambda t: Case(  # at the first stage: the rest is beside the point
        ["run", str(_variant(t, "function: ingest\n",
                             "function: tests.journeys.broken_stages:decide_raises\n",
                             light=True))],
        ["stage 'ingest'", "policy table 'credit-policy-2' not found"], code=1),
    "empty_journey_file": lambda t: _file_case(t, b"", ["empty"]),
    "journey_file_is_a_folder": lambda t: _file_case(t, None, ["folder"]),
    "binary_journey_file": lambda t: _file_case(t, bytes(range(256)) * 4, ["not a UTF-8"]),
    "deeply_nested_yaml": _deep_yaml,
    "module_raises_on_import": lambda t: _module_case(
        t, "raise RuntimeError('config service down')\n"),
    "module_syntax_error": lambda t: _module_case(t, "def build_features(:\n    pass\n"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_never_ends_in_a_traceback(home: Path, tmp_path: Path, case: str) -> None:
    spec = CASES[case](tmp_path)
    proc = cli(*spec.args, home=home, env=spec.env)
    out = _output(proc)
    assert proc.returncode == spec.code, (spec.args, out[-3000:])
    for name in spec.names:
        assert name in out, (name, out[-3000:])
    if spec.code == 2:
        assert _dagster_runs(home) == []


# --- the release commands -------------------------------------------------------------------

@pytest.mark.parametrize(("args", "code", "message"), [
    (("gate", "credit_approval", "--candidate", "99"), 2,
     "model 'credit_approval' has no version 99"),
    (("gate", "credit_approval"), 2, "has no alias 'challenger'"),  # nothing retrained yet
    (("gate", "credit_approval", "--stage", "decide"), 2, "stage 'decide' serves no model"),
    (("rollback", "credit_approval"), 2, "no previous blessed champion"),
    (("retrain", "fraud_credit_variant"), 2, "no retrain hook"),
    (("run", "credit_approval", "--alias", "challenger"), 2, "has no alias 'challenger'"),
])
def test_release_commands_say_what_is_wrong(home: Path, tmp_path: Path, args: tuple[str, ...],
                                            code: int, message: str) -> None:
    if "fraud_credit_variant" in args:  # a journey without release.retrain
        folder = tmp_path / "fraud_credit_variant"
        folder.mkdir()
        (folder / "journey.yaml").write_text(
            (REPO / "tests" / "journeys" / "fraud_credit" / "journey.yaml").read_text())
        args = (args[0], str(folder / "journey.yaml"))
    proc = cli(*args, home=home)
    out = _output(proc)
    assert proc.returncode == code, out[-3000:]
    assert message in out, out[-3000:]
    assert not _dagster_runs(home)  # refused before any run started
