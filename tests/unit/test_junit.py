"""JUnit XML for CI, parsed back: a testcase per check under <journey>.<stage>, failures with
what, where and the evidence, warnings that do not fail, checks that never ran skipped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from e2e_assets.junit import junit_xml, write_junit
from e2e_assets.results import CheckOutcome, JourneyRun, StageResult


def _run(**kw: object) -> JourneyRun:
    checks = (
        CheckOutcome("features", "expectations", True, "error", True, "53 of 53 passed"),
        CheckOutcome("score", "golden", False, "error", True,
                     "column 'p_default' differs on 200 of 200 golden requests",
                     metadata={"max_abs_diff": 0.004, "tolerance": 1e-9}),
        CheckOutcome("score", "score_sanity", False, "warn", False, "2 probabilities at 1.0"),
        CheckOutcome("score", "home_fairness", False, "error", False, "parity gap 0.4"),
        CheckOutcome("decide", "credit_policy", False, "error", True, "", evaluated=False),
    )
    base: dict[str, object] = {
        "journey": "credit_approval", "run_id": "r1",
        "stages": (StageResult("features", "materialized"), StageResult("score", "blocked")),
        "checks": checks, "model": {"name": "credit_approval", "version": "3"},
        "wall_time_s": 4.25, "drill": ("precision_change@score[p_default]",)}
    base.update(kw)
    return JourneyRun(**base)  # type: ignore[arg-type]


def _suite(xml: str) -> ET.Element:
    root = ET.fromstring(xml)
    suite = root.find("testsuite")
    assert suite is not None
    return suite


def test_one_testcase_per_check_classed_by_journey_and_stage() -> None:
    root = ET.fromstring(junit_xml([_run()]))
    suite = _suite(junit_xml([_run()]))
    cases = [(c.get("classname"), c.get("name")) for c in suite.iter("testcase")]
    assert cases == [("credit_approval.features", "expectations"),
                     ("credit_approval.score", "golden"),
                     ("credit_approval.score", "score_sanity"),
                     ("credit_approval.score", "home_fairness"),
                     ("credit_approval.decide", "credit_policy")]
    counts = {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": "5", "failures": "2", "errors": "0", "skipped": "1"}
    assert root.get("tests") == "5" and root.get("failures") == "2"
    assert suite.get("name") == "credit_approval" and suite.get("time") == "4.250"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["model_version"] == "3" and props["exit_code"] == "1"
    assert props["drill"] == "precision_change@score[p_default]"


def test_a_failure_says_what_where_and_carries_the_evidence() -> None:
    suite = _suite(junit_xml([_run()]))
    golden = next(c for c in suite.iter("testcase") if c.get("name") == "golden")
    failure = golden.find("failure")
    assert failure is not None and failure.get("type") == "blocking"
    assert failure.get("message") == (
        "check 'golden' on stage 'score' of journey 'credit_approval': column 'p_default' "
        "differs on 200 of 200 golden requests")
    assert "max_abs_diff: 0.004" in (failure.text or "")
    assert "tolerance: 1e-09" in (failure.text or "")
    fairness = next(c for c in suite.iter("testcase") if c.get("name") == "home_fairness")
    assert fairness.find("failure") is not None
    assert fairness.find("failure").get("type") == "non-blocking"  # type: ignore[union-attr]


def test_a_warning_passes_with_its_summary_and_a_check_that_never_ran_is_skipped() -> None:
    suite = _suite(junit_xml([_run()]))
    sanity = next(c for c in suite.iter("testcase") if c.get("name") == "score_sanity")
    assert sanity.find("failure") is None
    assert (sanity.findtext("system-out") or "").startswith(
        "WARNING check 'score_sanity' on stage 'score'")
    policy = next(c for c in suite.iter("testcase") if c.get("name") == "credit_policy")
    skipped = policy.find("skipped")
    assert skipped is not None and "did not run" in skipped.get("message", "")
    assert policy.find("failure") is None


def test_a_run_stopped_by_an_error_is_an_error_testcase() -> None:
    run = _run(checks=(), error="stage 'score' broke: ValueError: boom", error_exit_code=1)
    suite = _suite(junit_xml([run]))
    case = suite.find("testcase")
    assert case is not None and case.get("classname") == "credit_approval.run"
    error = case.find("error")
    assert error is not None and "ValueError: boom" in error.get("message", "")
    assert suite.get("errors") == "1" and suite.get("tests") == "1"


def test_markup_in_summaries_is_escaped_and_parses() -> None:
    run = _run(checks=(CheckOutcome("score", "rules", False, "error", True,
                                    'x < 3 & y > "4" ]]>'),))
    failure = _suite(junit_xml([run])).find("testcase/failure")
    assert failure is not None and failure.get("message", "").endswith('x < 3 & y > "4" ]]>')


def test_write_is_atomic_and_a_failed_write_keeps_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out" / "junit.xml"
    write_junit([_run()], path)
    before = path.read_text()
    assert ET.fromstring(before).get("tests") == "5"

    def full_disk(src: object, dst: object) -> None:  # the new file written, then no room
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("e2e_assets.results.os.replace", full_disk)
    with pytest.raises(OSError):
        write_junit([_run()], path)
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["junit.xml"]  # no temporary left


def test_the_json_report_follows_its_published_schema(tmp_path: Path) -> None:
    import json

    import jsonschema

    from e2e_assets.results import REPORT_SCHEMA_VERSION, write_report

    schema = json.loads((Path(__file__).resolve().parents[2] / "docs"
                         / "report.schema.json").read_text())
    assert schema["properties"]["schema_version"]["const"] == REPORT_SCHEMA_VERSION
    stopped = _run(run_id=None, stages=(), checks=(), error="no such table",
                   error_exit_code=2)
    report = json.loads(write_report([_run(), stopped], tmp_path, "r").read_text())
    jsonschema.validate(report, schema)
    assert report["exit_code"] == 2 and report["wall_time_s"] == 8.5
    assert [c["evaluated"] for c in report["runs"][0]["checks"]] == [True] * 4 + [False]
    report["runs"][0]["checks"][0]["severity"] = "fatal"  # the schema is not a formality
    with pytest.raises(jsonschema.ValidationError, match="fatal"):
        jsonschema.validate(report, schema)


def test_reports_and_suites_are_written_readable_by_all(tmp_path) -> None:
    # Found with `suggest-suite`: the atomic write left every report and drafted suite 0600,
    # private to the writer, so a CI uploader or a reviewer under another user could not read it.
    from e2e_assets.results import write_text_atomic

    path = write_text_atomic("{}", tmp_path / "nested" / "suite.json")
    assert path.read_text() == "{}"
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["suite.json"]  # no temporary left
