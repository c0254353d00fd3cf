"""The real ``e2e-assets`` CLI as a subprocess: exit codes, messages, provenance read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import dagster as dg
import jsonschema
import pandas as pd
import pytest

from e2e_assets.frames import frame_digest
from e2e_assets.home import Home
from e2e_assets.model_registry import client_for
from e2e_assets.sinks import count_rows
from tests.conftest import REPO, cli
from tests.helpers import empty_shadow, journey_variant

pytestmark = pytest.mark.slow


def test_run_records_model_version_and_digest_in_mlflow_and_event_log(home: Path) -> None:
    proc = cli("run", "credit_approval", home=home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED" in proc.stdout and "report:" in proc.stdout
    report = json.loads((home / "reports" / "credit_approval.json").read_text())
    run = report["runs"][0]
    assert report["exit_code"] == 0 and run["status"] == "passed"

    h = Home.from_env(str(home))
    mv = client_for(h.tracking_uri).get_model_version_by_alias("credit_approval", "champion")
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    records = instance.fetch_materializations(dg.AssetKey(["credit_approval", "score"]),
                                              limit=1).records
    meta = {k: getattr(v, "value", v)
            for k, v in records[0].asset_materialization.metadata.items()}
    assert meta["dagster_run_id"] == run["dagster_run_ids"][2]  # score: the third stage's run
    assert meta["journey_run_id"] == run["run_id"]
    assert (meta["model_name"], meta["model_version"], meta["model_run_id"]) == (
        "credit_approval", str(mv.version), mv.run_id)
    stored = pd.read_parquet(home / "storage" / "credit_approval" / "runs" / run["run_id"] /
                             "score.parquet")
    assert meta["data_digest"] == frame_digest(stored)
    ingest = instance.fetch_materializations(dg.AssetKey(["credit_approval", "ingest"]),
                                             limit=1).records[0].asset_materialization
    assert ingest.metadata["source"].value.startswith("sql sqlite:///")
    assert count_rows(h.database_url, "credit_decisions") == meta["rows_out"]


def test_validate_valid_and_offline(home: Path) -> None:
    proc = cli("validate", "pipelines/loan_pricing/journey.yaml", home=home)
    assert proc.returncode == 0, proc.stderr
    assert "valid journey 'loan_pricing'" in proc.stdout


def test_validate_malformed_yaml_exits_2_naming_file_and_line(home: Path, tmp_path: Path) -> None:
    path = journey_variant(tmp_path, replace={"  table: credit_decisions":
                                              "  table: [credit_decisions"})
    proc = cli("validate", str(path), "--offline", home=home)
    assert proc.returncode == 2
    assert str(path) in proc.stderr and "malformed YAML" in proc.stderr


def test_unknown_field_exits_2_naming_field(home: Path, tmp_path: Path) -> None:
    path = journey_variant(tmp_path, replace={"request_id: request_id": "requestid: request_id"})
    for command in (["validate", str(path)], ["run", str(path)]):
        proc = cli(*command, home=home)
        assert proc.returncode == 2, command
        assert "at 'requestid': unknown field" in proc.stderr


def test_unknown_model_exits_2(home: Path, tmp_path: Path) -> None:
    path = journey_variant(tmp_path, replace={"models:/credit_approval@champion":
                                              "models:/credit_approvl@champion"})
    proc = cli("validate", str(path), home=home)
    assert proc.returncode == 2
    assert "model 'credit_approvl' is not registered" in proc.stderr


def test_missing_alias_exits_2_and_runs_nothing(home: Path) -> None:
    proc = cli("run", "credit_approval", "--alias", "challenger", home=home)
    assert proc.returncode == 2
    assert "has no alias 'challenger'" in proc.stdout and "champion -> v1" in proc.stdout
    assert count_rows(Home.from_env(str(home)).database_url, "credit_decisions") == 0


def test_unreachable_database_exits_2(home: Path) -> None:
    proc = cli("run", "credit_approval", home=home,
               env={"E2E_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    assert proc.returncode == 2
    assert "cannot reach the database for the source of journey 'credit_approval'" in proc.stdout
    assert "127.0.0.1:1" in proc.stdout


def test_stage_raising_exits_1_naming_stage_and_writes_no_rows(home: Path, tmp_path: Path) -> None:
    path = journey_variant(tmp_path, replace={
        "function: deliver": "function: 'tests.journeys.broken_stages:deliver_raises'"})
    proc = cli("run", str(path), home=home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "stage 'deliver' of journey 'credit_approval' failed" in proc.stdout
    assert "origination system rejected the batch" in proc.stdout
    verdict = next(line for line in proc.stdout.splitlines() if line.startswith("FAILED in"))
    assert verdict.split(": ", 1)[1].startswith("stage 'deliver'")  # no class path before it
    assert count_rows(Home.from_env(str(home)).database_url, "credit_decisions") == 0


def test_unknown_journey_name_lists_known_ones(home: Path) -> None:
    proc = cli("run", "credit", home=home)
    assert proc.returncode == 2
    assert "no journey named 'credit'" in proc.stderr and "credit_approval" in proc.stderr


def test_home_env_var_moves_everything(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    proc = cli("run", "loan_pricing", home=other)
    assert proc.returncode == 2  # nothing bootstrapped there: says so, writes no report of runs
    assert "loan_applications.parquet" in proc.stdout
    assert not os.path.exists(home / "reports" / "loan_pricing.json")


def test_blocking_check_exits_1_naming_check_and_stage(home: Path, tmp_path: Path) -> None:
    url = Home.from_env(str(home)).database_url
    shadow = empty_shadow(url, "credit_decisions")  # a drill delivers there, not to the sink
    junit = tmp_path / "ci" / "junit.xml"
    proc = cli("run", "credit_approval", "--fault", "precision_change:score:p_default",
               "--junit", str(junit), home=home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED blocking error check 'golden' on stage 'score'" in proc.stdout
    assert "INJECTING faults: precision_change@score[p_default]" in proc.stderr
    lines = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()
             if line.split() and line.split()[0] in ("score", "decide", "deliver")}
    assert lines == {"score": "blocked", "decide": "skipped", "deliver": "skipped"}
    report = json.loads((home / "reports" / "credit_approval.json").read_text())
    assert report["exit_code"] == 1 and report["runs"][0]["drill"] == [
        "precision_change@score[p_default]"]
    schema = json.loads((REPO / "docs" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)  # a real blocked run's report, as published
    never_ran = [c for c in report["runs"][0]["checks"] if c["stage"] == "deliver"]
    assert never_ran and not any(c["evaluated"] for c in never_ran)
    golden = next(c for c in report["runs"][0]["checks"] if c["name"] == "golden"
                  and c["stage"] == "score")
    assert golden["tables"]["columns"][0]["column"] == "p_default"  # the failing column first
    # the HTML report beside it: self-contained, with the failed check's evidence table
    html = (home / "reports" / "credit_approval.html").read_text()
    assert "<script" not in html and 'class="verdict failed">FAILED<' in html
    assert "<b>golden</b> on stage <b>score</b>" in html and "<td>p_default</td>" in html
    # and in MLflow: a validation run of the model version, with both reports
    line = next(x for x in proc.stdout.splitlines() if x.startswith("mlflow: validation run"))
    client = client_for(Home.from_env(str(home)).tracking_uri)
    logged = client.get_run(line.split()[3])
    assert logged.data.tags["e2e.verdict"] == "failed"
    assert logged.data.metrics["blocking_failures"] == 1.0
    assert {a.path for a in client.list_artifacts(logged.info.run_id, "report")} == {
        "report/credit_approval.json", "report/credit_approval.html"}
    assert count_rows(url, shadow) == count_rows(url, "credit_decisions") == 0
    # JUnit for CI: the failure under credit_approval.score, what never ran skipped
    assert f"junit:  {junit}" in proc.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [
        ("credit_approval.score", "golden")]
    failure = failed[0].find("failure")
    assert failure is not None and failure.get("type") == "blocking"
    assert "check 'golden' on stage 'score' of journey 'credit_approval'" in failure.get(
        "message", "")
    assert "p_default" in (failure.text or "")  # the evidence: which column differs
    downstream = [c for c in suite.iter("testcase")
                  if c.get("classname") in ("credit_approval.decide", "credit_approval.deliver")]
    assert len(downstream) >= 10  # every check of the stages that never ran, none failed
    assert all(c.find("skipped") is not None for c in downstream)
    assert "upstream was blocked" in downstream[0].find("skipped").get("message", "")  # type: ignore[union-attr]


def test_unknown_fault_exits_2(home: Path) -> None:
    proc = cli("run", "credit_approval", "--fault", "gremlins", home=home)
    assert proc.returncode == 2 and "unknown fault 'gremlins'" in proc.stderr


def test_suggest_suite_drafts_a_suite_that_passes(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "score.json"
    proc = cli("suggest-suite", "credit_approval", "score", "--out", str(out), home=home)
    assert proc.returncode == 0, proc.stderr
    # drafted from the population the model knows, not from one served sample
    assert "rows of the training data of credit_approval v1 through 'score'" in proc.stdout
    suite = json.loads(out.read_text())
    kinds = {e["type"] for e in suite["expectations"]}
    assert {"expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
            "expect_column_values_to_not_be_null", "expect_table_columns_to_match_set"} <= kinds
    p = next(e for e in suite["expectations"] if e["type"] ==
             "expect_column_values_to_be_between" and e["kwargs"]["column"] == "p_default")
    assert (p["kwargs"]["min_value"], p["kwargs"]["max_value"]) == (0.0, 1.0)
    assert "Status" not in json.dumps(suite)  # the label is not a serving column
    served = cli("suggest-suite", "credit_approval", "score", "--reference", "served", "--out",
                 str(tmp_path / "served.json"), home=home)
    assert served.returncode == 0 and "running the stages in memory" in served.stderr
    again = cli("suggest-suite", "credit_approval", "score", "--out", str(out), home=home)
    assert again.returncode == 2 and "exists; pass --force" in again.stderr


def test_bootstrap_makes_only_what_is_missing_and_never_moves_the_alias(home: Path) -> None:
    """Finding: with only the source table missing, bootstrap re-registered the model and moved
    `champion` to a new version."""
    import sqlalchemy as sa

    h = Home.from_env(str(home))
    client = client_for(h.tracking_uri)
    before = client.get_model_version_by_alias("credit_approval", "champion").version
    versions = len(client.search_model_versions("name='credit_approval'"))
    with sa.create_engine(h.database_url).begin() as conn:
        conn.execute(sa.text("DROP TABLE credit_applications"))
    proc = cli("bootstrap", "credit_approval", home=home)
    assert proc.returncode == 0, proc.stderr
    assert count_rows(h.database_url, "credit_applications") == 1337
    assert client.get_model_version_by_alias("credit_approval", "champion").version == before
    assert len(client.search_model_versions("name='credit_approval'")) == versions
    again = cli("bootstrap", "credit_approval", home=home)  # nothing missing: nothing made
    assert again.returncode == 0 and "source and model present" in again.stderr
    assert len(client.search_model_versions("name='credit_approval'")) == versions
    forced = cli("bootstrap", "credit_approval", "--force", home=home)
    assert forced.returncode == 0, forced.stderr
    moved = client.get_model_version_by_alias("credit_approval", "champion").version
    assert int(moved) == int(before) + 1  # --force is the one way to move it


def test_demo_runs_every_reference_journey_and_says_where_the_report_is(home: Path) -> None:
    proc = cli("demo", home=home, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for journey in ("credit_approval", "loan_pricing"):
        assert f"journey {journey}  run " in proc.stdout
    assert proc.stdout.count("PASSED in") == 2 and "Traceback" not in proc.stderr
    report_line = next(line for line in proc.stdout.splitlines() if line.startswith("report:"))
    report = json.loads(Path(report_line.split(":", 1)[1].strip()).read_text())
    assert report["exit_code"] == 0
    assert [r["journey"] for r in report["runs"]] == ["credit_approval", "loan_pricing"]
    assert all(r["status"] == "passed" and len(r["stages"]) == 5 for r in report["runs"])
    assert "dagster dev -w workspace.yaml" in proc.stdout


def test_demo_from_an_empty_home_bootstraps_the_journeys_side_by_side(tmp_path: Path) -> None:
    """Each journey in a process of its own: the MLflow store is made once (under the home's
    lock), each model registered once and promoted by the gate, both journeys run."""
    fresh = tmp_path / "fresh"
    proc = cli("demo", home=fresh, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    for journey in ("credit_approval", "loan_pricing"):
        assert f"[{journey}] bootstrapped in " in proc.stderr
        assert f"[{journey}] gate bootstrap {journey} (score: v1) against champion none: " \
               f"PROMOTED" in proc.stderr
        assert f"journey {journey}  run " in proc.stdout
    client = client_for(Home.from_env(str(fresh)).tracking_uri)
    for name in ("credit_approval", "loan_pricing"):
        assert [str(v.version) for v in client.search_model_versions(f"name='{name}'")] == ["1"]
    assert proc.stdout.count("mlflow: validation run ") == 2 and "Traceback" not in proc.stderr


def test_progress_per_stage_on_a_terminal(home: Path) -> None:
    """On a terminal (a pseudo-terminal from `script`), one line per stage as it finishes,
    through the real Dagster run; piped (every other test), none."""
    exe = Path(sys.executable).with_name("e2e-assets")
    env = {**os.environ, "E2E_ASSETS_HOME": str(home), "TERM": "dumb", "COLUMNS": "120"}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run(["script", "-qec", f"{exe} run credit_approval", "/dev/null"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = [line for line in proc.stdout.splitlines()
             if line.startswith("[credit_approval] ") and " checks " in line]
    assert [line.split()[1] for line in lines] == [
        "ingest", "features", "score", "decide", "deliver"], proc.stdout[-3000:]
    assert all(" ok " in line and "0 failed" in line for line in lines), lines
