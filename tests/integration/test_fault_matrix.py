"""`e2e-assets faults` as a subprocess: the matrix names each drill's catcher and stage, and the
exit code says whether every fault was caught where the registry says it must be."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from e2e_assets.faults import REGISTRY
from e2e_assets.sinks import count_rows
from tests.conftest import cli
from tests.helpers import journey_with_checks

pytestmark = pytest.mark.slow

# The first, the model's and the last stage keep this short; tests/dagster/test_checks_in_runs.py
# drills every stage and benchmarks/fault_matrix.py runs the whole catalogue through this CLI.
# fault -> the (check, stage) that must be among its catchers in the credit journey
CATCHERS = {"schema_rename": ("expectations", "ingest"),
            "precision_change": ("golden", "score"),
            "lost_records": ("reconcile", "deliver")}


def test_faults_prints_each_catcher_at_its_stage_and_exits_0(home: Path, tmp_path: Path
                                                             ) -> None:
    out = tmp_path / "matrix.json"
    # --home names the home; the environment points elsewhere (a home that does not exist)
    proc = cli("faults", "credit_approval", "--home", str(home), "--only", ",".join(CATCHERS),
               "--json", str(out), home=tmp_path / "not-a-home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    table = proc.stdout
    header = re.search(r"^fault +injected at +caught by \(check@stage\) +right stage +severity$",
                       table, re.MULTILINE)
    assert header, table
    for fid, (check, stage) in CATCHERS.items():
        line = next(x for x in table.splitlines() if x.startswith(fid + " "))
        assert re.match(rf"{fid} +{REGISTRY[fid].stage} +.*\b{check}@{stage}\b.* yes +blocking "
                        rf"error$", line), line
        assert "drill " in proc.stderr and f"{fid}@{REGISTRY[fid].stage}" in proc.stderr
    assert "false alarms: 0 failed check(s) in 1 clean run(s) (none)" in table
    assert table.rstrip().splitlines()[-2].startswith("PASSED in ")
    data = json.loads(out.read_text())
    assert data["passed"] and [r["fault"] for r in data["rows"]] == list(CATCHERS)
    assert {f["fault"] for f in data["out_of_run"]} >= {"golden_tamper", "sink_tamper"}
    # drills deliver to the shadow table only; the real sink is untouched
    assert count_rows(f"sqlite:///{home / 'journeys.db'}", "credit_decisions") == 0


def test_a_fault_no_check_catches_exits_1(home: Path, tmp_path: Path) -> None:
    """The credit journey with only reconcile: a precision change reaches the sink unseen."""
    path = journey_with_checks(tmp_path, "  deliver:\n    - kind: reconcile\n")
    proc = cli("faults", str(path), "--only", "precision_change,lost_records", home=home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^precision_change +score +NOT CAUGHT +NO \(expected score\) +-$",
                     proc.stdout, re.MULTILINE), proc.stdout
    assert re.search(r"^lost_records +deliver +reconcile@deliver +yes +blocking error$",
                     proc.stdout, re.MULTILINE), proc.stdout
    assert "FAILED in" in proc.stdout and "not caught at the expected stage: precision_change" \
        in proc.stdout


def test_unknown_fault_exits_2_before_any_run(home: Path) -> None:
    proc = cli("faults", "credit_approval", "--only", "golden_tamper", home=home)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--only: unknown or not injectable fault(s) ['golden_tamper']" in proc.stderr
    assert "clean run" not in proc.stderr
