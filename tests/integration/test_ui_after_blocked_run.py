"""What the Dagster UI shows after a blocked drill, read through the real ``dagster dev``'s
GraphQL API: the failing check is the newest failed evaluation on its asset, the run that it
blocked failed (run-failure alerting sees it), and the checks of the stages it stopped were
never planned, so they keep their last real result instead of "Execution failed"."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser import artifact, chromium
from tests.conftest import cli
from tests.ui_server import dagster_ui, graphql

pytestmark = pytest.mark.slow

JOURNEY = "credit_approval"
FAULT = "precision_change:score:p_default"

CHECKS = """query Checks($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
    assetChecksOrError { ... on AssetChecks { checks { name } } } } } }"""

HISTORY = """query History($path: [String!]!, $name: String!) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $name, limit: 5) {
    runId status timestamp
    evaluation { success description targetMaterialization { runId }
                 metadataEntries { label ... on TextMetadataEntry { text } } } } }"""

RUN = """query Run($id: ID!) { runOrError(runId: $id) { ... on Run {
  status tags { key value } } } }"""


@dataclass(frozen=True)
class BlockedDrill:
    home: Path
    port: int
    clean: dict[str, Any]  # the clean run before it, from its JSON report
    drill: dict[str, Any]  # the blocked drill, from its JSON report


@pytest.fixture(scope="module")
def blocked_drill(base_home: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[BlockedDrill]:
    """A clean run, then a drill blocked at score, in a private home; then ``dagster dev``."""
    home = tmp_path_factory.mktemp("ui") / "home"
    shutil.copytree(base_home, home, ignore=shutil.ignore_patterns("dagster", "storage",
                                                                    "reports"))
    clean = cli("run", JOURNEY, "--report", str(home / "clean.json"), home=home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    drill = cli("run", JOURNEY, "--fault", FAULT, "--report", str(home / "drill.json"),
                "--junit", str(home / "drill.xml"), home=home)
    assert drill.returncode == 1, drill.stdout + drill.stderr
    with dagster_ui(home) as port:
        yield BlockedDrill(home, port, _run(home / "clean.json"), _run(home / "drill.json"))


def _run(report: Path) -> dict[str, Any]:
    (run,) = json.loads(report.read_text())["runs"]
    return run


def _checks(port: int, stage: str) -> list[str]:
    node = graphql(port, CHECKS, {"path": [JOURNEY, stage]})["assetNodeOrError"]
    return [c["name"] for c in node["assetChecksOrError"]["checks"]]


def _history(port: int, stage: str, name: str) -> list[dict[str, Any]]:
    return graphql(port, HISTORY, {"path": [JOURNEY, stage], "name": name})[
        "assetCheckExecutions"]


def test_the_blocked_stage_fails_its_run_and_the_stages_after_it_never_start(
        blocked_drill: BlockedDrill) -> None:
    drill = blocked_drill.drill
    assert [s["status"] for s in drill["stages"]] == [
        "materialized", "materialized", "blocked", "skipped", "skipped"]
    runs = drill["dagster_run_ids"]
    assert len(runs) == 3  # ingest, features, score: no run was planned for decide or deliver
    statuses = [graphql(blocked_drill.port, RUN, {"id": r})["runOrError"] for r in runs]
    assert [s["status"] for s in statuses] == ["SUCCESS", "SUCCESS", "FAILURE"]
    for status in statuses:  # every run says it is a drill, of which journey run
        tags = {t["key"]: t["value"] for t in status["tags"]}
        assert tags["e2e/drill"] == "precision_change@score[p_default]" and tags["e2e/journey_run"] == drill["run_id"]


def test_the_failing_check_is_the_newest_failed_evaluation_on_its_asset(
        blocked_drill: BlockedDrill) -> None:
    drill = blocked_drill.drill
    blocked_run = drill["dagster_run_ids"][-1]
    failed = [c for c in drill["checks"] if c["stage"] == "score" and c["evaluated"]
              and not c["passed"] and c["blocking"]]
    assert failed, drill["checks"]
    newest_failed = None
    for name in _checks(blocked_drill.port, "score"):
        for execution in _history(blocked_drill.port, "score", name):
            if execution["status"] == "FAILED" and (
                    newest_failed is None or execution["timestamp"] > newest_failed[1]):
                newest_failed = (name, execution["timestamp"], execution)
    assert newest_failed is not None
    name, _, execution = newest_failed
    assert name in {c["name"] for c in failed} and execution["runId"] == blocked_run
    for check in failed:  # each blocking failure is the newest evaluation of its check
        latest = _history(blocked_drill.port, "score", check["name"])[0]
        assert (latest["runId"], latest["status"]) == (blocked_run, "FAILED"), latest
        # Nothing was materialized: the result says so, in place of the link Dagster shows
        # (to the previous materialization, from the clean run).
        texts = {m["label"]: m.get("text") for m in latest["evaluation"]["metadataEntries"]}
        assert texts["materialization"].startswith("none: the stage was blocked")
        assert latest["evaluation"]["targetMaterialization"]["runId"] != blocked_run


def test_checks_of_the_stages_the_block_stopped_are_not_failed(
        blocked_drill: BlockedDrill) -> None:
    """decide and deliver never ran: their checks' newest results are the clean run's, never
    FAILED or EXECUTION_FAILED."""
    clean_runs = set(blocked_drill.clean["dagster_run_ids"])
    seen = 0
    for stage in ("decide", "deliver"):
        for name in _checks(blocked_drill.port, stage):
            history = _history(blocked_drill.port, stage, name)
            assert history, (stage, name)
            latest = history[0]
            assert latest["status"] not in ("FAILED", "EXECUTION_FAILED"), (stage, name, latest)
            assert latest["runId"] not in blocked_drill.drill["dagster_run_ids"], (stage, name)
            if name not in ("score_drift", "sink_audit"):  # monitor checks have their own job
                assert latest["runId"] in clean_runs, (stage, name, latest)
            seen += 1
    assert seen >= 8


def test_checks_of_a_stage_that_passed_attach_to_its_materialization(
        blocked_drill: BlockedDrill) -> None:
    features_run = blocked_drill.drill["dagster_run_ids"][1]
    for name in _checks(blocked_drill.port, "features"):
        latest = _history(blocked_drill.port, "features", name)[0]
        if latest["runId"] != features_run:
            continue  # a monitor check: not part of the stage's run
        assert latest["evaluation"]["targetMaterialization"]["runId"] == features_run, name


def test_the_failing_check_page_in_a_real_browser(blocked_drill: BlockedDrill) -> None:
    """Headless chromium on the failing check's page: its name, its summary and a row of its
    evidence table are on screen; on deliver's page, no check is shown failed."""
    from playwright.sync_api import expect, sync_playwright

    executable = chromium()
    failing = next(c for c in blocked_drill.drill["checks"] if c["stage"] == "score"
                   and c["evaluated"] and not c["passed"] and c["kind"] == "golden")
    base = f"http://127.0.0.1:{blocked_drill.port}/assets/{JOURNEY}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(executable), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"{base}/score?view=checks&checkDetail={failing['name']}")
            _dismiss_welcome(page)
            expect(page.get_by_text(failing["description"][:60]).first).to_be_visible(timeout=60_000)
            expect(page.get_by_role("heading", name=failing["name"]).or_(
                page.get_by_text(failing["name"], exact=True).first)).to_be_visible()
            # the evidence: the failing column first in the per-column table, a failing sample
            row = page.get_by_role("row").filter(has_text="p_default").first
            expect(row).to_be_visible()
            page.screenshot(path=str(artifact("failed-check-page.png")))

            page.goto(f"{base}/deliver?view=checks")
            _dismiss_welcome(page)
            checks_list = page.get_by_text("Checks (", exact=False).first
            expect(checks_list).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Succeeded").first).to_be_visible(timeout=60_000)
            listed = page.inner_text("body")
            assert "Execution failed" not in listed and "\nFailed\n" not in listed, listed[:3000]
            page.screenshot(path=str(artifact("downstream-checks-page.png")))
        finally:
            browser.close()


def _dismiss_welcome(page: Any) -> None:
    """Dagster's first-visit dialog (community links) covers the page: skip it when shown."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.click(timeout=5_000)
    except Exception:
        pass
