"""Two gates racing on one model cannot leave champion on a version that was not validated
against the champion it replaced: compare-and-set on the alias, under a lock held where the
MLflow store lives (fcntl next to a SQLite store, pg_advisory_lock on PostgreSQL)."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from e2e_assets.home import Home
from e2e_assets.model_registry import client_for
from e2e_assets.release.alias_lock import alias_lock
from e2e_assets.release.blessing import RECORD_TAG, VERDICT_TAG, alias_tag
from tests.conftest import REPO
from tests.helpers import own_experiments

pytestmark = pytest.mark.slow


def _gate_in_child(root: str, version: str, barrier: Any, out: Any) -> None:
    """One gate in its own process; both run their journey, then decide at the same moment."""
    os.environ["E2E_ASSETS_HOME"] = root
    os.chdir(REPO)
    from e2e_assets.orchestration.run import run_journey
    from e2e_assets.release.gate import gate_candidates
    from e2e_assets.spec import load_journey

    home = Home.from_env(root)
    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables=home.variables())

    def execute(served: Any, tags: Any) -> Any:
        run = run_journey(journey, home, served=served, shadow=True, tags=tags)
        barrier.wait(timeout=300)  # neither decides before both have validated against v1
        return run

    decision = gate_candidates(journey, home, {"score": version}, execute=execute)
    out.put((version, decision.verdict, list(decision.reasons)))


def test_two_racing_gates_leave_no_unvalidated_champion(home: Path) -> None:
    from e2e_assets.release.retrain import retrain_journey
    from e2e_assets.spec import load_journey

    own_experiments(home)
    h = Home.from_env(str(home))
    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables=h.variables())
    candidates = [retrain_journey(journey, h).version for _ in range(2)]
    assert candidates == ["2", "3"]

    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_gate_in_child, args=(str(home), v, barrier, out))
             for v in candidates]
    for proc in procs:
        proc.start()
    results = {v: (verdict, reasons) for v, verdict, reasons in
               (out.get(timeout=400) for _ in procs)}
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0

    promoted = [v for v, (verdict, _) in results.items() if verdict == "promoted"]
    assert len(promoted) == 1, results  # both validated well; only one may win the CAS
    (loser,) = set(candidates) - set(promoted)
    assert any("champion moved during the gate (v1 when it started" in r
               for r in results[loser][1]), results[loser]
    client = client_for(h.tracking_uri)
    winner = str(client.get_model_version_by_alias("credit_approval", "champion").version)
    assert winner == promoted[0]
    record = json.loads(client.get_model_version("credit_approval", winner).tags[RECORD_TAG])
    assert record["baselines"] == {"score": "1"}  # validated against what it replaced
    alias_record = json.loads(dict(client.get_registered_model("credit_approval").tags)[
        alias_tag("champion")])
    assert alias_record["version"] == winner and alias_record["history"] == ["1"]
    assert client.get_model_version("credit_approval", loser).tags[VERDICT_TAG] == "rejected"


def _contend(uri: str, fallback: Path) -> list[str]:
    """Two threads take the alias lock; the second must wait for the first to release it."""
    events: list[str] = []
    first_holds = threading.Event()

    def first() -> None:
        with alias_lock(uri, "credit_approval", fallback):
            events.append("first acquired")
            first_holds.set()
            time.sleep(1.0)
            events.append("first released")

    def second() -> None:
        first_holds.wait(timeout=30)
        with alias_lock(uri, "credit_approval", fallback):
            events.append("second acquired")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return events


def test_alias_lock_excludes_on_a_sqlite_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert _contend(uri, tmp_path) == ["first acquired", "first released", "second acquired"]
    assert (tmp_path / "mlflow.db.aliases.lock").exists()


def test_alias_lock_excludes_on_a_postgresql_store(pg_database: str, tmp_path: Path) -> None:
    events = _contend(pg_database, tmp_path)
    assert events == ["first acquired", "first released", "second acquired"]
    assert not list(tmp_path.iterdir())  # held in the database, not in a file
