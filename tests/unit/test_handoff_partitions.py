"""The stage store of a partitioned journey: runs keyed per run, ``latest`` per partition."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from e2e_assets.handoff import RunStore

STAGES = ("ingest", "features")


def publish_run(base: Path, run_id: str, partition: str | None) -> RunStore:
    store = RunStore(base, "daily", run_id, STAGES, partition)
    first = store.write("ingest", pd.DataFrame({"request_id": [run_id]}), None)
    store.publish(store.write("features", pd.DataFrame({"request_id": [run_id]}), first))
    return store


def test_each_partition_keeps_its_own_latest_chain(tmp_path: Path) -> None:
    day3 = publish_run(tmp_path, "run-3", "2026-01-03")
    day4 = publish_run(tmp_path, "run-4", "2026-01-04")
    assert day3.latest() == {"ingest": "run-3", "features": "run-3"}
    assert day4.latest() == {"ingest": "run-4", "features": "run-4"}
    assert list(day3.read_latest("features")["request_id"]) == ["run-3"]
    assert not (tmp_path / "daily" / "latest.json").exists()
    unpartitioned = publish_run(tmp_path, "run-all", None)
    assert unpartitioned.latest() == {"ingest": "run-all", "features": "run-all"}
    assert day3.latest()["features"] == "run-3"  # untouched by the others


def test_a_discarded_run_leaves_its_partitions_latest_only(tmp_path: Path) -> None:
    day3 = publish_run(tmp_path, "run-3", "2026-01-03")
    publish_run(tmp_path, "run-4", "2026-01-04")
    RunStore(tmp_path, "daily", "run-3", ()).discard("run-3")  # as a dead run is closed
    assert day3.latest() == {}
    assert RunStore(tmp_path, "daily", "x", STAGES, "2026-01-04").latest()["features"] == "run-4"
    assert not day3.run_dir("run-3").exists() and day3.run_dir("run-4").exists()
