"""JUnit XML of journey runs, for CI: one ``<testsuite>`` per run, one ``<testcase>`` per check.

* ``classname`` is ``<journey>.<stage>`` and ``name`` the check's name, so a CI test view
  groups checks by journey and stage.
* A failed ``error`` check is a ``<failure>``: ``type`` says whether it blocked, ``message``
  says what failed where (the check's summary), and the body holds its evidence (the check's
  metadata, one ``key: value`` per line).
* A failed ``warn`` check passes, as it does in the run (exit 0): its summary is in
  ``<system-out>`` starting ``WARNING``, so it is seen without turning CI red.
* A check that never ran, because its stage or one upstream was blocked, is ``<skipped>`` and
  says so; it did not fail.
* A run that stopped on an error (a broken stage, an unreachable database) gets one more
  testcase, ``<journey>.run``, with an ``<error>`` carrying the message and exit code.

Pure: no Dagster. The file is written atomically.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from e2e_assets.results import CheckOutcome, JourneyRun, write_text_atomic


def junit_xml(runs: Sequence[JourneyRun]) -> str:
    """The JUnit XML document for ``runs``."""
    suites = ET.Element("testsuites", name="e2e-assets")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for run in runs:
        suite = _suite(run)
        suites.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("time", f"{sum(r.wall_time_s for r in runs):.3f}")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _suite(run: JourneyRun) -> ET.Element:
    suite = ET.Element("testsuite", name=run.journey, time=f"{run.wall_time_s:.3f}")
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", run.run_id or ""), ("exit_code", str(run.exit_code)),
                       *((f"model_{k}", v) for k, v in sorted(run.model.items())),
                       ("drill", ", ".join(run.drill))):
        if value:
            ET.SubElement(props, "property", name=key, value=value)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for check in run.checks:
        suite.append(_case(run, check, counts))
    if run.error:
        case = ET.SubElement(suite, "testcase", classname=f"{run.journey}.run", name="run")
        error = ET.SubElement(case, "error", type=f"exit {run.exit_code}", message=run.error)
        error.text = run.error
        counts["tests"] += 1
        counts["errors"] += 1
    for key, count in counts.items():
        suite.set(key, str(count))
    return suite


def _case(run: JourneyRun, check: CheckOutcome, counts: dict[str, int]) -> ET.Element:
    where = f"check '{check.name}' on stage '{check.stage}' of journey '{run.journey}'"
    case = ET.Element("testcase", classname=f"{run.journey}.{check.stage}", name=check.name)
    counts["tests"] += 1
    if not check.evaluated:
        ET.SubElement(case, "skipped", message=f"{where} did not run: {check.description}")
        counts["skipped"] += 1
    elif not check.passed and check.severity == "warn":
        ET.SubElement(case, "system-out").text = f"WARNING {where}: {check.description}"
    elif not check.passed:
        blocks = check.blocking and check.severity == "error"
        failure = ET.SubElement(case, "failure", message=f"{where}: {check.description}",
                                type="blocking" if blocks else "non-blocking")
        failure.text = _evidence(check)
        counts["failures"] += 1
    return case


def _evidence(check: CheckOutcome) -> str:
    lines = [check.description, ""]
    lines += [f"{key}: {value}" for key, value in sorted(check.metadata.items())]
    return "\n".join(lines)


def write_junit(runs: Sequence[JourneyRun], path: Path) -> Path:
    """Write :func:`junit_xml` to ``path`` atomically (a reader never sees half a file)."""
    return write_text_atomic(junit_xml(runs), path)
