"""Digests, atomic parquet and the idempotent, all-or-nothing SQL sink (real SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from e2e_assets.errors import InfrastructureError
from e2e_assets.frames import frame_digest, write_parquet_atomic
from e2e_assets.sinks import count_rows, write_sink


def frame(n: int = 5, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"request_id": [f"r{i + offset}" for i in range(n)],
                         "decision": ["approve"] * n, "score": [i / 10 for i in range(n)]})


def test_digest_is_stable_and_content_sensitive() -> None:
    a = frame()
    assert frame_digest(a) == frame_digest(a.copy())
    b = a.copy()
    b.loc[2, "score"] = 0.2000001
    assert frame_digest(a) != frame_digest(b)
    assert frame_digest(a) != frame_digest(a.rename(columns={"score": "p"}))
    assert frame_digest(a) != frame_digest(a.astype({"score": "float32"}))
    assert frame_digest(a.iloc[:0]).startswith("sha256:")


def test_digest_survives_a_parquet_round_trip(tmp_path: Path) -> None:
    a = frame()
    path = write_parquet_atomic(a, tmp_path / "x" / "a.parquet")
    assert frame_digest(pd.read_parquet(path)) == frame_digest(a)
    assert [p.name for p in path.parent.iterdir()] == ["a.parquet"]  # no temp files left


def test_failed_parquet_write_leaves_old_file(tmp_path: Path) -> None:
    path = write_parquet_atomic(frame(), tmp_path / "a.parquet")
    bad = pd.DataFrame({"x": [object()]})
    with pytest.raises(Exception):
        write_parquet_atomic(bad, path)
    assert len(pd.read_parquet(path)) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["a.parquet"]


def test_sink_upsert_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    first = write_sink(frame(5), url, "decisions", "request_id")
    assert (first.rows_written, first.rows_replaced) == (5, 0)
    again = write_sink(frame(5), url, "decisions", "request_id")
    assert (again.rows_written, again.rows_replaced) == (5, 5)
    write_sink(frame(5, offset=3), url, "decisions", "request_id")
    assert count_rows(url, "decisions") == 8


def test_sink_refuses_duplicates_and_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    dup = pd.concat([frame(3), frame(1)])
    with pytest.raises(InfrastructureError, match="appear more than once.*nothing was written"):
        write_sink(dup, url, "decisions", "request_id")
    assert count_rows(url, "decisions") == 0


def test_sink_write_is_all_or_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    write_sink(frame(3), url, "decisions", "request_id")
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a downstream constraint the batch will violate half-way
        conn.execute(sa.text("CREATE TRIGGER no_r7 BEFORE INSERT ON decisions "
                             "WHEN NEW.request_id = 'r7' BEGIN SELECT RAISE(ABORT, 'r7 refused'); END"))
    with pytest.raises(InfrastructureError, match="nothing was written.*r7 refused"):
        write_sink(frame(10), url, "decisions", "request_id")
    with engine.connect() as conn:
        ids = sorted(r[0] for r in conn.execute(sa.text("SELECT request_id FROM decisions")))
    assert ids == ["r0", "r1", "r2"]  # the delete of r0-r2 was rolled back too


def test_sink_schema_mismatch_names_the_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    write_sink(frame(2), url, "decisions", "request_id")
    with pytest.raises(InfrastructureError, match=r"has no columns \['extra'\]"):
        write_sink(frame(2).assign(extra=1), url, "decisions", "request_id")


def test_sink_missing_key_column(tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="sink key column 'id'"):
        write_sink(frame(2), f"sqlite:///{tmp_path / 's.db'}", "decisions", "id")


@pytest.mark.parametrize("audited", [False, True])
def test_a_first_delivery_that_loses_the_create_race_retries_and_upserts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, audited: bool) -> None:
    """Found on a fresh clone: two first deliveries at once both saw no sink table, both
    created it, and the loser failed with 'table ... already exists'. Replayed here without
    timing: the other delivery has created and filled the table, but this one is told it is not
    there yet, as it was when it looked."""
    import e2e_assets.sinks as sinks

    url = f"sqlite:///{tmp_path / 's.db'}"
    write_sink(pd.DataFrame({"id": ["a", "b"], "v": [1.0, 2.0]}), url, "out", "id",
               ledger_run="first" if audited else None)
    looked: list[str] = []
    real = sinks._has_table

    def stale_once(conn: sa.Connection, name: str) -> bool:
        looked.append(name)
        return False if len(looked) == 1 else real(conn, name)

    monkeypatch.setattr(sinks, "_has_table", stale_once)
    written = write_sink(pd.DataFrame({"id": ["b", "c"], "v": [3.0, 4.0]}), url, "out", "id",
                         ledger_run="second" if audited else None)
    assert looked[:2] == ["out", "out"]  # lost once, then found the table
    assert written.rows_written == 2 and written.rows_replaced == 1
    rows = pd.read_sql("SELECT id, v FROM out ORDER BY id", sa.create_engine(url))
    assert rows.to_dict("list") == {"id": ["a", "b", "c"], "v": [1.0, 3.0, 4.0]}


def test_other_sink_errors_are_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    import e2e_assets.sinks as sinks

    calls: list[int] = []

    def broken(*_: object) -> None:
        calls.append(1)
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(sinks, "_write_once", broken)
    with pytest.raises(InfrastructureError, match="nothing was written: .*disk I/O error"):
        write_sink(pd.DataFrame({"id": ["a"]}), f"sqlite:///{tmp_path / 's.db'}", "out", "id")
    assert calls == [1]


def _delivered_watching_inserts(df: pd.DataFrame, url: str
                                ) -> list[tuple[str, bool, list[Any]]]:
    """Deliver ``df`` with a ledger, and return each INSERT the engine sent: (table, whether
    it reached the driver uncompiled, its parameter rows)."""
    from e2e_assets import db

    inserts: list[tuple[str, bool, list[Any]]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT"):
            rows = list(parameters) if executemany else [parameters]
            inserts.append((statement.split("(")[0].split()[-1].strip('"'),
                            context.compiled is None, rows))

    engine = db.engine_for(url)
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        write_sink(df, url, "decisions", "request_id", ledger_run="run-1")
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    return inserts


def test_sink_and_ledger_rows_are_inserted_in_key_order(tmp_path: Path) -> None:
    """A shuffled batch lands in primary-key order, in the sink (SQLite's rowid records the
    insert order) and its ledger (keyed b-tree: the order its rows were sent in), so the key
    index is appended to, not split page by page; the rows are the batch's, each with its own
    values."""
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    ids = ["b-10", "a-2", "é-1", "a-10", "B-3", "a-1"]
    df = pd.DataFrame({"request_id": ids, "value": range(len(ids))})
    inserts = _delivered_watching_inserts(df, url)
    sent = [row[0] for table, _, rows in inserts if table == "decisions__e2e_ledger"
            for row in rows]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            sink = conn.execute(sa.text(
                "SELECT request_id, value FROM decisions ORDER BY rowid")).all()
    finally:
        engine.dispose()
    assert [r[0] for r in sink] == sorted(ids) == sent
    assert dict(sink) == dict(zip(ids, range(len(ids))))


def test_sqlite_sink_and_ledger_rows_go_to_the_driver_uncompiled_whatever_their_types(
        tmp_path: Path) -> None:
    """Every INSERT of a delivery (sink rows and ledger rows: float, datetime and boolean
    columns included) reaches SQLite's executemany as plain parameters, not through
    SQLAlchemy's per-row compiled parameter processing (its cost at a million rows exceeded
    SQLite's own); the columns' conversions are still applied: the values read back are the
    values delivered."""
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    df = pd.DataFrame({"request_id": ["r2", "r1", "r3"], "score": [0.5, float("nan"), 2.0],
                       "approved": [True, False, True],
                       "at": pd.to_datetime(["2026-01-02 03:04:05", "2026-02-03 00:00:00", None])})
    engine = sa.create_engine(url)
    rows_tables = {"decisions", "decisions__e2e_ledger"}  # one row per request: the bulk
    inserts = [(table, uncompiled) for table, uncompiled, _ in
               _delivered_watching_inserts(df, url) if table in rows_tables]
    assert {table for table, _ in inserts} == rows_tables
    assert all(uncompiled for _, uncompiled in inserts), inserts
    try:
        back = pd.read_sql_query("SELECT * FROM decisions ORDER BY request_id", engine,
                                 parse_dates=["at"])
    finally:
        engine.dispose()
    assert back["request_id"].tolist() == ["r1", "r2", "r3"]
    assert back["score"].isna().tolist() == [True, False, False]
    assert back["score"].tolist()[1:] == [0.5, 2.0]
    assert back["approved"].astype(bool).tolist() == [False, True, True]
    assert back["at"].tolist()[:2] == [pd.Timestamp("2026-02-03"),
                                       pd.Timestamp("2026-01-02 03:04:05")]
    assert pd.isna(back["at"].iloc[2])


@pytest.mark.parametrize("keys, expected", [
    (["b-10", "a-2", "é-1", "a-10", "B-3", "a-1", "\U0001f600", "\uffff"],
     sorted(["b-10", "a-2", "é-1", "a-10", "B-3", "a-1", "\U0001f600", "\uffff"])),
    ([30, -2, 10**12, 7], [-2, 7, 30, 10**12]),
    (pd.Series(["z", "y", "x"], dtype="str"), ["x", "y", "z"]),
    ([3, "a", 1], [3, "a", 1]),  # no order between int and str: as given
])
def test_in_key_order_sorts_text_by_code_point_and_numbers_by_value(
        keys: object, expected: list[object]) -> None:
    from e2e_assets.sinks import _in_key_order

    values = list(keys)  # type: ignore[call-overload]
    assert [values[i] for i in _in_key_order(keys)] == expected  # type: ignore[arg-type]


def test_the_sqlite_ledger_is_one_b_tree_keyed_by_request_id(tmp_path: Path) -> None:
    """The ledger is a WITHOUT ROWID table on SQLite: its rows live in the key's index, so a
    delivery writes one b-tree, not a rowid table and an index beside it."""
    url = f"sqlite:///{tmp_path / 'sink.db'}"
    write_sink(frame(), url, "decisions", "request_id", ledger_run="run-1")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ddl = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = "
                                       "'decisions__e2e_ledger'")).scalar_one()
            indexes = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'index' "
                                           "AND tbl_name = 'decisions__e2e_ledger'")).all()
    finally:
        engine.dispose()
    assert "WITHOUT ROWID" in ddl.upper()
    assert indexes == []
