"""Every injectable fault kind, drilled through the real CLI, yields reports a CI system and a
person can use: JUnit with the catching check under ``<journey>.<stage>``, the JSON report
valid against its published schema, the HTML report with the catcher's evidence table, and an
MLflow validation run holding both reports and the metrics."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from e2e_assets.dryrun import preflight
from e2e_assets.fault_runs import planned_drills
from e2e_assets.faults import INJECTABLE, REGISTRY, Fault
from e2e_assets.home import Home
from e2e_assets.model_registry import client_for
from e2e_assets.spec import load_journey
from tests.conftest import cli
from tests.helpers import REPO

pytestmark = pytest.mark.slow

JOURNEY = "credit_approval"


class _TableCells(HTMLParser):
    """The text of every table cell, per table."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[str]] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        self._in_cell = tag in ("td", "th") or self._in_cell

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell and self.tables and data.strip():
            self.tables[-1].append(data.strip())


@dataclass(frozen=True)
class Prepared:
    home: Path  # bootstrapped, with one clean run (the latency baselines need one)
    drills: dict[str, str]  # fault id -> its --fault argument (stage and column as the matrix's)


@pytest.fixture(scope="module")
def prepared(base_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    home = tmp_path_factory.mktemp("drills") / "home"
    shutil.copytree(base_home, home, ignore=shutil.ignore_patterns("dagster", "storage",
                                                                    "reports"))
    clean = cli("run", JOURNEY, home=home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    h = Home.from_env(str(home))
    journey = load_journey(REPO / "pipelines" / JOURNEY / "journey.yaml",
                           variables=h.variables())
    drills = planned_drills(journey, preflight(journey, h), list(INJECTABLE))
    return Prepared(home, {f.id: _cli_form(f) for f in drills})


def _cli_form(fault: Fault) -> str:
    """``ID:STAGE[:COLUMN[=VALUE]]``: the value where the fault has no default for it."""
    text = ":".join(p for p in (fault.id, fault.stage, fault.column) if p)
    first = REGISTRY[fault.id].params[:1]
    if first and first[0].default is None and fault.params.get(first[0].name) is not None:
        text += f"={fault.params[first[0].name]}"
    return text


@pytest.mark.parametrize("fault", list(INJECTABLE))
def test_a_drill_of_each_fault_kind_yields_junit_json_html_and_an_mlflow_run(
        prepared: Prepared, tmp_path: Path, fault: str) -> None:
    stage = REGISTRY[fault].catch_stage
    home = tmp_path / "home"
    shutil.copytree(prepared.home, home)
    report, junit = tmp_path / "drill.json", tmp_path / "drill.xml"
    proc = cli("run", JOURNEY, "--fault", prepared.drills[fault], "--report", str(report),
               "--junit", str(junit), home=home)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr

    data = json.loads(report.read_text())
    jsonschema.validate(data, json.loads((REPO / "docs" / "report.schema.json").read_text()))
    (run,) = data["runs"]
    assert run["drill"] and run["drill"][0].startswith(f"{fault}@")
    caught = [c for c in run["checks"] if c["stage"] == stage and c["evaluated"]
              and not c["passed"]]
    assert caught, (fault, stage, [(c["stage"], c["name"]) for c in run["checks"]
                                   if c["evaluated"] and not c["passed"]])

    # JUnit: the catcher under <journey>.<stage>; a failure when it blocks, else a warning
    cases = {(c.get("classname"), c.get("name")): c
             for c in ET.parse(junit).getroot().iter("testcase")}
    blocking = [c for c in caught if c["blocking"] and c["severity"] == "error"]
    blocked_anywhere = [c for c in run["checks"] if c["evaluated"] and not c["passed"]
                        and c["blocking"] and c["severity"] == "error"]
    for check in caught:
        case = cases[(f"{JOURNEY}.{stage}", check["name"])]
        failure = case.find("failure")
        if check["severity"] == "error":
            assert failure is not None, (fault, check["name"])
            assert f"on stage '{stage}'" in failure.get("message", "")
            assert failure.get("type") == ("blocking" if check in blocking else "non-blocking")
        else:
            assert "WARNING" in (case.findtext("system-out") or ""), (fault, check["name"])
    assert (proc.returncode == 1) == bool(blocked_anywhere)

    # HTML beside the JSON: the catcher, and its evidence as a table of the same rows
    html = report.with_suffix(".html").read_text()
    assert "<script" not in html
    parser = _TableCells()
    parser.feed(html)
    with_tables = [c for c in caught if c["tables"]]
    assert with_tables, f"{fault}: no catcher at {stage} gave an evidence table"
    for check in with_tables:
        assert f"<b>{check['name']}</b> on stage <b>{stage}</b>" in html
        name, rows = next(iter(check["tables"].items()))
        first = next((str(v) for v in rows[0].values() if isinstance(v, str) and v), None)
        if first is not None:
            assert any(first in cells for cells in parser.tables), (fault, check["name"], name)

    # MLflow: the validation run of the model version, with both reports and the metrics
    line = next(x for x in proc.stdout.splitlines() if x.startswith("mlflow: validation run"))
    client = client_for(Home.from_env(str(home)).tracking_uri)
    logged = client.get_run(line.split()[3])
    assert logged.data.tags["e2e.drill"] == run["drill"][0]
    metrics = logged.data.metrics
    assert metrics["checks_failed"] == sum(c["evaluated"] and not c["passed"]
                                           for c in run["checks"])
    assert metrics["blocking_failures"] == len([c for c in run["checks"] if c["evaluated"]
                                                and not c["passed"] and c["blocking"]
                                                and c["severity"] == "error"])
    assert {a.path for a in client.list_artifacts(logged.info.run_id, "report")} == {
        "report/drill.json", "report/drill.html"}
