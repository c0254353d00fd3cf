"""Sink audit: rows deleted, altered or added in the sink after a delivery are reported with
their ids, by the ``sink_audit`` monitor check and by the next run (which must not hide them
by re-upserting); ``reconcile`` compares the sink rows' content with what was delivered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from e2e_assets.checks.reconcile import content_differs, reconcile_ids
from e2e_assets.checks.sink_audit import audit_result
from e2e_assets.sinks import (
    audit_sink,
    canonical_value,
    row_digest,
    row_digests,
    sink_row_digests,
    write_sink,
)

TABLE = "decisions"


def _frame() -> pd.DataFrame:
    """Every type the sink round-trips, with the awkward values of each."""
    return pd.DataFrame({
        "request_id": ["r1", "r2", "r3", "r4"],
        "p": [0.1, 1e-300, float("nan"), 3.0],
        "amount": [1, -(2 ** 53) - 1, 0, 7],
        "flag": [True, False, True, False],
        "note": ["é ü", "", None, "  padded  "],
    })


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sink.db'}"
    return str(request.getfixturevalue("pg_database"))


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


# -- the canonical row digest ----------------------------------------------------------------
def test_canonical_values_agree_across_types_and_tell_strings_apart() -> None:
    assert {canonical_value(v) for v in (True, 1, 1.0, np.int64(1), np.float32(1.0))} == {"n:1"}
    assert {canonical_value(v) for v in (None, float("nan"), np.nan, pd.NaT)} == {"null"}
    assert canonical_value("1") != canonical_value(1)
    assert canonical_value(0.1) == "n:0.1"
    # one ulp apart is another value: the digest is exact, not rounded
    assert canonical_value(0.1) != canonical_value(float(np.nextafter(0.1, 1.0)))
    assert row_digest({"a": 1, "b": "x"}, ["a", "b"]) == row_digest({"b": "x", "a": 1.0},
                                                                     ["b", "a"])


def test_row_digests_survive_the_database_round_trip(url: str) -> None:
    df = _frame()
    write_sink(df, url, TABLE, "request_id")
    back = sink_row_digests(url, TABLE, "request_id", df["request_id"], list(df.columns))
    assert back == row_digests(df, "request_id")


def test_row_digests_agree_when_the_sink_table_widens_a_column(url: str) -> None:
    """A sink table created by its owner may store integers as floating point: same values,
    same digest (an integer beyond 2**53 would lose digits there, and rightly differ)."""
    df = _frame().assign(amount=[1, -5, 0, 7])
    _execute(url, f"CREATE TABLE {TABLE} (request_id TEXT PRIMARY KEY, p DOUBLE PRECISION, "
                  f"amount DOUBLE PRECISION, flag BOOLEAN, note TEXT)")
    write_sink(df, url, TABLE, "request_id")
    back = sink_row_digests(url, TABLE, "request_id", df["request_id"], list(df.columns))
    assert back == row_digests(df, "request_id")


# -- the audit, before and after a re-delivery -----------------------------------------------
def test_tampering_is_reported_with_ids_and_not_hidden_by_the_next_delivery(url: str) -> None:
    df = _frame()
    first = write_sink(df, url, TABLE, "request_id", ledger_run="run-1")
    assert first.audit is not None and first.audit.clean  # no earlier delivery: no baseline
    now, before = audit_sink(url, TABLE, "request_id")
    assert now.clean and before is not None and before.clean and now.recorded == 4
    assert audit_result(now, before).passed

    _execute(url, f"DELETE FROM {TABLE} WHERE request_id = 'r1'",
             f"UPDATE {TABLE} SET p = 0.25 WHERE request_id = 'r2'",
             f"INSERT INTO {TABLE} (request_id, p, amount, flag, note) "
             f"VALUES ('intruder', 0.5, 1, TRUE, 'x')")
    now, _ = audit_sink(url, TABLE, "request_id")
    assert (now.deleted, now.altered, now.foreign) == (("r1",), ("r2",), ("intruder",))
    result = audit_result(now, before)
    assert not result.passed
    assert "1 deleted ['r1'], 1 altered ['r2'], 1 foreign ['intruder']" in result.summary
    assert result.metadata["since_altered_sample"] == ["r2"]

    # The next delivery re-upserts r1 and r2; its pre-write audit keeps what it overwrote.
    second = write_sink(df, url, TABLE, "request_id", ledger_run="run-2")
    assert second.audit is not None
    assert (second.audit.deleted, second.audit.altered) == (("r1",), ("r2",))
    now, before = audit_sink(url, TABLE, "request_id")
    assert (now.deleted, now.altered, now.foreign) == ((), (), ("intruder",))
    assert before is not None and before.run_id == "run-2"
    assert (before.deleted, before.altered, before.foreign) == (("r1",), ("r2",), ("intruder",))
    result = audit_result(now, before)
    assert not result.passed and "before the last delivery" in result.summary
    assert result.metadata["before_deleted_sample"] == ["r1"]

    # A third, clean delivery after the foreign row is removed passes again.
    _execute(url, f"DELETE FROM {TABLE} WHERE request_id = 'intruder'")
    write_sink(df, url, TABLE, "request_id", ledger_run="run-3")
    assert audit_result(*audit_sink(url, TABLE, "request_id")).passed


def test_the_audit_a_delivery_commits_is_the_whole_sink_audited_again(url: str) -> None:
    """The delivering run's own 'since the last delivery' audit is derived in its transaction
    from the whole-sink audit before the write, without reading the sink again: it must equal
    auditing the whole sink right after the commit, whatever was tampered with, re-delivered
    or left alone."""
    df = _frame()
    write_sink(df, url, TABLE, "request_id", ledger_run="run-1")
    _execute(url, f"DELETE FROM {TABLE} WHERE request_id IN ('r1', 'r3')",
             f"UPDATE {TABLE} SET note = 'edited' WHERE request_id IN ('r2', 'r4')",
             f"INSERT INTO {TABLE} (request_id, p, amount, flag, note) "
             f"VALUES ('intruder', 0.5, 1, TRUE, 'x'), ('r9', 0.1, 2, FALSE, 'y')")
    # r1 and r2 delivered again (repaired), r9 delivered (foreign until now); r3, r4 and the
    # intruder left as they are
    again = df[df["request_id"].isin(["r1", "r2"])]
    again = pd.concat([again, pd.DataFrame({"request_id": ["r9"], "p": [0.2], "amount": [3],
                                            "flag": [True], "note": ["z"]})],
                      ignore_index=True)
    written = write_sink(again, url, TABLE, "request_id", ledger_run="run-2")
    assert written.audit is not None and written.after is not None
    assert (written.audit.deleted, written.audit.altered, written.audit.foreign) == (
        ("r1", "r3"), ("r2", "r4"), ("intruder", "r9"))
    whole, _ = audit_sink(url, TABLE, "request_id")  # the sink read again, whole
    assert written.after == whole
    assert (whole.deleted, whole.altered, whole.foreign, whole.recorded) == (
        ("r3",), ("r4",), ("intruder",), 5)
    # the delivering run gets the same answer from the record its delivery kept
    assert audit_sink(url, TABLE, "request_id", delivered_by="run-2") == audit_sink(
        url, TABLE, "request_id")


def test_only_the_run_that_delivered_last_is_spared_the_whole_sink_read(url: str) -> None:
    """Tampering after a delivery is found by any other run (the checks-only job, a later
    delivery) reading the whole sink; the delivering run's own check reports the sink as its
    delivery committed it, a moment before."""
    df = _frame()
    write_sink(df, url, TABLE, "request_id", ledger_run="run-1")
    _execute(url, f"DELETE FROM {TABLE} WHERE request_id = 'r1'")
    as_committed, _ = audit_sink(url, TABLE, "request_id", delivered_by="run-1")
    assert as_committed.clean and as_committed.recorded == 4
    for other in (None, "checks-only-run"):
        now, _ = audit_sink(url, TABLE, "request_id", delivered_by=other)
        assert now.deleted == ("r1",)
    write_sink(df.iloc[1:], url, TABLE, "request_id", ledger_run="run-2")
    now, before = audit_sink(url, TABLE, "request_id", delivered_by="run-1")  # not the last
    assert now.deleted == ("r1",) and before is not None and before.deleted == ("r1",)


def test_first_audited_delivery_adopts_rows_already_in_the_sink(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    df = _frame()
    write_sink(df, url, TABLE, "request_id")  # delivered before the audit existed
    write_sink(df.iloc[:2], url, TABLE, "request_id", ledger_run="run-1")
    now, _ = audit_sink(url, TABLE, "request_id")
    assert now.clean and now.recorded == 4


def test_ids_are_masked_when_the_request_id_is_sensitive(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    write_sink(_frame(), url, TABLE, "request_id", ledger_run="run-1")
    _execute(url, f"DELETE FROM {TABLE} WHERE request_id = 'r1'")
    result = audit_result(*audit_sink(url, TABLE, "request_id"), mask_ids=True)
    assert not result.passed and "r1" not in result.summary
    assert result.metadata["since_deleted_sample"] == ["***"]


def test_audit_without_a_ledger_says_what_is_missing(tmp_path: Path) -> None:
    from e2e_assets.errors import InfrastructureError

    url = f"sqlite:///{tmp_path / 'sink.db'}"
    write_sink(_frame(), url, TABLE, "request_id")
    with pytest.raises(InfrastructureError, match=f"'{TABLE}' .* no audit ledger"):
        audit_sink(url, TABLE, "request_id")


# -- reconcile compares content --------------------------------------------------------------
def test_reconcile_reports_rows_the_sink_holds_with_other_content(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    df = _frame()
    # The sink rewrites what it receives (a trigger stands for a consumer-side rule or a
    # narrowing column): ids all present, content not what was delivered.
    write_sink(df.iloc[:0], url, TABLE, "request_id")
    _execute(url, f"CREATE TRIGGER alter_r3 AFTER INSERT ON {TABLE} WHEN new.request_id = 'r3' "
                  f"BEGIN UPDATE {TABLE} SET flag = 0 WHERE request_id = 'r3'; END")
    written = write_sink(df, url, TABLE, "request_id")
    ids = df["request_id"].tolist()
    # read back inside the write's transaction, as reconcile sees it; the same from outside
    assert written.digests == sink_row_digests(url, TABLE, "request_id", ids, list(df.columns))
    differ = content_differs(row_digests(df, "request_id"), written.digests)
    assert differ == ["r3"]
    result = reconcile_ids(ids, ids, ids, differ_in_sink=differ)
    assert not result.passed and "1 different in the sink" in result.summary
    assert result.metadata["differ_in_sink_sample"] == ["r3"]
    assert reconcile_ids(ids, ids, ids, differ_in_sink=[]).passed


# -- in real journey runs --------------------------------------------------------------------
DELIVER_ONLY = """\
  deliver:
    - kind: reconcile
    - kind: sink_audit
"""


@pytest.mark.slow
def test_journey_run_reports_tampering_and_the_next_run_does_not_hide_it(
        home: Path, tmp_path: Path) -> None:
    from e2e_assets.home import Home
    from e2e_assets.orchestration import build_journey_definitions
    from e2e_assets.orchestration.instance import instance_for
    from e2e_assets.orchestration.run import run_journey
    from e2e_assets.results import render_table
    from e2e_assets.spec import load_journey
    from tests.helpers import journey_with_checks

    h = Home.from_env()
    journey = load_journey(journey_with_checks(tmp_path, DELIVER_ONLY), variables=h.variables())
    clean = run_journey(journey, h)
    assert clean.exit_code == 0, render_table(clean)
    assert {c.name for c in clean.checks if c.passed and c.stage == "deliver"} == {"reconcile",
                                                                          "sink_audit"}
    (in_run,) = [c for c in clean.checks if c.name == "sink_audit"]
    assert in_run.metadata["audited"] == "as this run's delivery committed it"

    sink = pd.read_sql_table("credit_decisions", h.database_url).sort_values("request_id")
    gone, changed = sink["request_id"].iloc[0], sink["request_id"].iloc[1]
    _execute(h.database_url, f"DELETE FROM credit_decisions WHERE request_id = '{gone}'",
             f"UPDATE credit_decisions SET p_default = p_default + 1e-12 "
             f"WHERE request_id = '{changed}'",
             "INSERT INTO credit_decisions (request_id, decision) VALUES ('foreign-1', 'approve')")

    # Re-evaluated without a run, by the checks-only job.
    job = build_journey_definitions(journey, home=h).resolve_job_def(
        "credit_approval_drift_checks")
    result = job.execute_in_process(instance=instance_for(h), raise_on_error=False)
    (audit,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "sink_audit"]
    assert not audit.passed
    assert audit.metadata["audited"].text == "the whole sink, now"
    assert all(str(i) in audit.description for i in (gone, changed, "foreign-1")), (
        audit.description, gone, changed)

    # The next run re-upserts the deleted and altered rows; it still reports all three.
    again = run_journey(journey, h)
    (check,) = [c for c in again.checks if c.name == "sink_audit"]
    assert check.failed and again.exit_code == 1, render_table(again)
    assert "before the last delivery" in check.description
    assert all(str(i) in check.description for i in (gone, changed, "foreign-1"))


def test_a_delivery_racing_another_to_the_same_keys_never_collides(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two deliveries of the same requests at once (a champion and a challenger run, a retry):
    each replaces the other's rows, whichever commits last wins, neither fails. A delivery
    that read which keys to replace before holding the write lock let the other commit those
    keys in between, and its insert then failed the primary key (seen in CI)."""
    import threading

    from e2e_assets import sinks

    df = _frame()
    write_sink(df.assign(request_id=["x1", "x2", "x3", "x4"]), url, TABLE, "request_id")
    original = sinks._rows_with_ids
    main = threading.get_ident()
    racer_outcome: list[object] = []

    def racer() -> None:
        try:
            racer_outcome.append(write_sink(df.assign(note="racer"), url, TABLE, "request_id"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            racer_outcome.append(exc)

    racing = threading.Thread(target=racer)

    def read_then_let_the_other_deliver(*args: object, **kwargs: object) -> object:
        rows = original(*args, **kwargs)
        if threading.get_ident() == main and not racing.is_alive() and not racer_outcome:
            racing.start()
            racing.join(timeout=2.0)  # it commits now, unless this delivery holds the lock
        return rows

    monkeypatch.setattr(sinks, "_rows_with_ids", read_then_let_the_other_deliver)
    written = write_sink(df, url, TABLE, "request_id")  # raised "UNIQUE constraint failed"
    racing.join(timeout=30)
    assert written.rows_written == 4
    assert len(racer_outcome) == 1 and not isinstance(racer_outcome[0], Exception), racer_outcome
    held = pd.read_sql_table(TABLE, url)
    assert sorted(held["request_id"]) == ["r1", "r2", "r3", "r4", "x1", "x2", "x3", "x4"]
    # the racer waited for the lock and committed last: its rows are the ones kept
    assert set(held.loc[held["request_id"].str.startswith("r"), "note"]) == {"racer"}


# -- the ledger's layout -----------------------------------------------------------------------
def _rows(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(statement)).all()]
    finally:
        engine.dispose()


def test_a_delivery_records_its_run_and_columns_once_not_on_every_row(url: str) -> None:
    """The ledger keeps an id, its digest and the delivery that recorded it; the run, column
    list and time are the delivery's, in one row (on every ledger row they were most of a
    million-row delivery's ledger write)."""
    df = _frame()
    write_sink(df, url, TABLE, "request_id", ledger_run="run-1")
    write_sink(df.iloc[:2], url, TABLE, "request_id", ledger_run="run-2")
    deliveries = _rows(url, f"SELECT delivery, run_id, row_columns FROM {TABLE}__e2e_deliveries "
                            f"ORDER BY delivery")
    assert [(run, cols) for _, run, cols in deliveries] == [
        ("run-1", '["amount", "flag", "note", "p", "request_id"]'),
        ("run-2", '["amount", "flag", "note", "p", "request_id"]')]
    ledger = _rows(url, f"SELECT * FROM {TABLE}__e2e_ledger ORDER BY request_id")
    first, second = deliveries[0][0], deliveries[1][0]
    digests = row_digests(df, "request_id")
    assert ledger == [("r1", digests["r1"], second), ("r2", digests["r2"], second),
                      ("r3", digests["r3"], first), ("r4", digests["r4"], first)]


def test_a_ledger_of_the_first_layout_is_migrated_by_the_next_delivery_losing_nothing(
        url: str) -> None:
    """A ledger written before deliveries had their own table (column list, run id and time
    on every row) is still read, and the next delivery rewrites it in the new layout in its
    own transaction: the rows altered and deleted since are still found, and every recorded
    id keeps its digest."""
    df = _frame()
    digests = row_digests(df, "request_id")
    write_sink(df, url, TABLE, "request_id")  # the sink, without a ledger yet
    columns = '["amount", "flag", "note", "p", "request_id"]'
    _execute(url, f"CREATE TABLE {TABLE}__e2e_ledger (request_id TEXT PRIMARY KEY, "
                  f"row_digest TEXT NOT NULL, row_columns TEXT NOT NULL, run_id TEXT NOT NULL, "
                  f"delivered_at FLOAT NOT NULL)",
             f"CREATE TABLE {TABLE}__e2e_audits (run_id TEXT PRIMARY KEY, audited_at FLOAT "
             f"NOT NULL, findings TEXT NOT NULL)",
             *[f"INSERT INTO {TABLE}__e2e_ledger VALUES ('{rid}', '{digest}', '{columns}', "
               f"'{'old-1' if rid < 'r3' else 'old-2'}', 1.0)" for rid, digest in digests.items()],
             f"UPDATE {TABLE} SET amount = 99 WHERE request_id = 'r2'",
             f"DELETE FROM {TABLE} WHERE request_id = 'r4'")
    now, _ = audit_sink(url, TABLE, "request_id")  # read as it is, before any migration
    assert (now.altered, now.deleted, now.recorded) == (("r2",), ("r4",), 4)
    written = write_sink(df.iloc[:1], url, TABLE, "request_id", ledger_run="run-3")
    assert written.audit is not None
    assert (written.audit.altered, written.audit.deleted) == (("r2",), ("r4",))
    assert sorted(r[0] for r in _rows(url, f"SELECT run_id FROM {TABLE}__e2e_deliveries")) == [
        "old-1", "old-2", "run-3"]
    ledger = dict((r[0], r[1]) for r in _rows(
        url, f"SELECT request_id, row_digest FROM {TABLE}__e2e_ledger"))
    assert ledger == digests
    after, _ = audit_sink(url, TABLE, "request_id")
    assert (after.altered, after.deleted, after.foreign) == (("r2",), ("r4",), ())
