"""Hand decisions to the downstream consumer: upsert into a SQL table keyed by request id.

One transaction per write: either every row lands or none does, and re-running the same run
replaces its rows instead of duplicating them.

Audit (``sink_audit``): a delivery with a ``ledger_run`` records, in the same transaction and
the same database, one canonical digest per delivered row in ``<table>__e2e_ledger`` (id,
digest, delivery) and the delivery itself in ``<table>__e2e_deliveries`` (run id, column list,
time). Rows the sink holds that differ from their ledger digest were altered, ledger ids
missing from the sink were deleted, sink ids the ledger lacks are foreign (never delivered
through an audited delivery). Before it overwrites, the same transaction audits the sink against
the ledger and keeps the findings in ``<table>__e2e_audits`` (one row per delivering run), so a
re-upsert that repairs the rows never hides that they had been tampered with. The first audited
delivery adopts the rows already in the table as delivered (there is no earlier record), and a
row deleted from the sink stays reported as deleted until a delivery brings it back. The ledger lives
beside the sink, not in the stage store, because only one transaction can keep the two in step:
a crash between a sink write and a separate file write would make the next audit cry wolf.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from e2e_assets.db import engine_for, masked, reason
from e2e_assets.errors import InfrastructureError
from e2e_assets.row_digests import (  # noqa: F401 - canonical_value, row_digest: the definition
    canonical_value,
    column_digests,
    fetched_columns,
    frame_digests,
    row_digest,
)

row_digests = frame_digests  # {request id: row digest} of a frame, as it is written

_CHUNK = 500
SHADOW_SUFFIX = "__shadow"
LEDGER_SUFFIX = "__e2e_ledger"
DELIVERIES_SUFFIX = "__e2e_deliveries"
AUDITS_SUFFIX = "__e2e_audits"
ADOPTED_RUN = "(in the sink before the first audited delivery)"


def shadow_table(table: str) -> str:
    """Where a validation run (the promotion gate's) delivers: never the real sink."""
    return f"{table}{SHADOW_SUFFIX}"


@dataclass(frozen=True)
class SinkWrite:
    table: str
    url: str  # masked
    rows_written: int
    rows_replaced: int
    audit: SinkAudit | None = None  # the sink against the ledger, before this write
    # ... and as this write committed it (same transaction): ``audit`` less the rows it
    # delivered, which the ledger now records as the sink holds them
    after: SinkAudit | None = None
    # {id: row digest} of the written rows as the sink holds them, read back in the write's
    # own transaction (a concurrent writer cannot make them look altered)
    digests: Mapping[Any, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SinkAudit:
    """The sink table against the digests of the rows delivered to it (ids sorted by str)."""

    table: str
    recorded: int  # rows in the ledger
    deleted: tuple[Any, ...] = ()
    altered: tuple[Any, ...] = ()
    foreign: tuple[Any, ...] = ()
    run_id: str | None = None  # the run before whose delivery this audit ran, if any
    # taken from that delivery's record of the sink at its commit, not from reading the sink
    as_committed: bool = field(default=False, compare=False)

    @property
    def clean(self) -> bool:
        return not (self.deleted or self.altered or self.foreign)

    def describe(self) -> str:
        """Counts only (ids may be sensitive): '2 deleted, 0 altered, 1 foreign of 1337'."""
        return (f"{len(self.deleted)} deleted, {len(self.altered)} altered, "
                f"{len(self.foreign)} foreign (ledger of {self.recorded} rows)")

    def as_json(self) -> dict[str, Any]:
        return {"table": self.table, "recorded": self.recorded, "deleted": list(self.deleted),
                "altered": list(self.altered), "foreign": list(self.foreign),
                "run_id": self.run_id}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SinkAudit:
        return cls(table=raw["table"], recorded=raw["recorded"], deleted=tuple(raw["deleted"]),
                   altered=tuple(raw["altered"]), foreign=tuple(raw["foreign"]),
                   run_id=raw["run_id"])


def _column_type(series: pd.Series) -> sa.types.TypeEngine:
    kind = series.dtype.kind
    if kind == "b":
        return sa.Boolean()
    if kind in "iu":
        return sa.BigInteger()
    if kind == "f":
        return sa.Float()
    if kind == "M":
        return sa.DateTime()
    return sa.Text()


def _table_for(df: pd.DataFrame, name: str, key: str, metadata: sa.MetaData) -> sa.Table:
    cols = [sa.Column(str(c), _column_type(df[c]), primary_key=(c == key)) for c in df.columns]
    return sa.Table(name, metadata, *cols)


def _python_values(values: pd.Series) -> list[object]:
    """A column as Python values every DB driver accepts: numpy scalars converted, nulls None."""
    if values.dtype.kind in "biuf" and not values.hasnans:
        return cast(list[object], values.to_numpy().tolist())  # numpy -> Python, in C
    out = values.astype(object).where(values.notna(), None).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in out]


def _insert_columns(conn: sa.Connection, table: sa.Table, names: Sequence[str],
                    columns: Sequence[Sequence[Any]]) -> None:
    """INSERT rows given as columns (``columns[i]`` the values of ``names[i]``, Python values).

    On SQLite, each column's bind processor (a Float's ``to_float``, a DateTime's formatting)
    is applied here a column at a time and the rows go straight to the driver's executemany:
    SQLAlchemy's per-row parameter processing cost more than SQLite's own insert at a million
    rows. Elsewhere (PostgreSQL: SQLAlchemy batches rows into multi-row VALUES), through Core."""
    dialect = conn.dialect
    if dialect.name == "sqlite":
        processed = []
        for name, values in zip(names, columns):
            process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            processed.append(values if process is None else [process(v) for v in values])
        quote = dialect.identifier_preparer.quote
        statement = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
                     f"({', '.join(quote(n) for n in names)}) "
                     f"VALUES ({', '.join('?' * len(names))})")
        rows = list(zip(*processed))
        for start in range(0, len(rows), _MANY):
            conn.exec_driver_sql(statement, rows[start:start + _MANY])
        return
    rows = list(zip(*columns))
    for start in range(0, len(rows), _MANY):
        conn.execute(sa.insert(table), [dict(zip(names, row)) for row in rows[start:start + _MANY]])


def _insert_frame(conn: sa.Connection, table: sa.Table, df: pd.DataFrame, key: str) -> None:
    """INSERT the frame's rows as Python values (see :func:`_python_values`), ``_MANY`` rows
    at a time, so a million rows never exist as Python values all at once; in key order (see
    :func:`_in_key_order`)."""
    names = [str(c) for c in df.columns]
    df = df.iloc[_in_key_order(df[key])]
    for start in range(0, len(df), _MANY):
        part = df.iloc[start:start + _MANY]
        _insert_columns(conn, table, names, [_python_values(part[c]) for c in part.columns])


def write_sink(df: pd.DataFrame, url: str, table: str, key: str, *,
               ledger_run: str | None = None) -> SinkWrite:
    """Upsert ``df`` into ``table`` by ``key`` in one transaction. With ``ledger_run``, first
    audit the sink against its ledger, then record the audit and the delivered rows' digests
    (see the module docstring), all in the same transaction."""
    if key not in df.columns:
        raise InfrastructureError(f"sink key column '{key}' is not in the delivered frame "
                                  f"(columns: {list(df.columns)})")
    dupes = df[key][df[key].duplicated()]
    if len(dupes):
        raise InfrastructureError(
            f"refusing to write {len(df)} rows to sink table '{table}': {dupes.nunique()} "
            f"request ids appear more than once (e.g. {list(dupes.unique()[:3])}); "
            f"nothing was written")
    engine = engine_for(url)
    for attempt in range(_CREATE_RACE_RETRIES + 1):
        try:
            return _write_once(engine, df, url, table, key, ledger_run)
        except sa.exc.SQLAlchemyError as exc:
            # Two first deliveries at once both found no table and both created it: the
            # loser's transaction rolled back whole; again, it finds the table and upserts.
            if attempt < _CREATE_RACE_RETRIES and _lost_create_race(exc):
                continue
            raise InfrastructureError(f"writing to sink table '{table}' at {masked(url)} "
                                      f"failed, nothing was written: {reason(exc)}") from exc
    raise AssertionError("unreachable")


_CREATE_RACE_RETRIES = 2


def _lost_create_race(exc: sa.exc.SQLAlchemyError) -> bool:
    """A CREATE TABLE that lost to another process's (SQLite: 'already exists'; PostgreSQL:
    'already exists', or the unique index on pg_type when both create at the same instant)."""
    text = str(exc)
    return "already exists" in text or "pg_type_typname_nsp_index" in text


def _has_table(conn: sa.Connection, name: str) -> bool:
    return sa.inspect(conn).has_table(name)


def _write_once(engine: sa.Engine, df: pd.DataFrame, url: str, table: str, key: str,
                ledger_run: str | None) -> SinkWrite:
    metadata = sa.MetaData()
    with engine.begin() as conn:
        if _has_table(conn, table):
            target = sa.Table(table, metadata, autoload_with=conn)
            missing = [c for c in df.columns if c not in target.c]
            if missing:
                raise InfrastructureError(
                    f"sink table '{table}' at {masked(url)} has no columns {missing}; "
                    f"it has {list(target.c.keys())}. Migrate the table or rename it.")
        else:
            target = _table_for(df, table, key, metadata)
            target.create(conn)
        # Every delivery holds the write lock before it reads the sink (which keys to replace,
        # the audit): a delivery committing between that read and this one's writes would
        # leave keys undeleted, and the insert would collide with them.
        _serialize_deliveries(conn, target)
        audit = _audit(conn, target, key, ledger_run) if ledger_run else None
        keys = [k.item() if isinstance(k, np.generic) else k for k in df[key].tolist()]
        replaced = _delete_keys(conn, target, key, keys)
        if len(df):
            _insert_frame(conn, target, df, key)
        digests = _read_digests(conn, target, key, keys, [str(c) for c in df.columns])
        after = None
        if ledger_run and audit is not None:
            after = _record_delivery(conn, target, key, df, ledger_run, audit)
    return SinkWrite(table=table, url=masked(url), rows_written=len(df), rows_replaced=replaced,
                     audit=audit, after=after, digests=digests)


def _delete_keys(conn: sa.Connection, table: sa.Table, key: str, keys: Sequence[Any]) -> int:
    """Delete the rows of ``table`` whose ``key`` is among ``keys``; returns how many there were.

    Only the keys the table holds are deleted (found by :func:`_rows_with_ids`: one scan when
    they are a large share of it), one compiled statement executed for many, so a first
    delivery of a million rows deletes nothing and a repeated one does not compile 2,000
    IN lists."""
    present = [row[0] for row in _rows_with_ids(conn, table, key, [table.c[key]], keys)]
    if present:
        statement = sa.delete(table).where(table.c[key] == sa.bindparam("_key"))
        for start in range(0, len(present), _MANY):
            conn.execute(statement, [{"_key": k} for k in present[start:start + _MANY]])
    return len(present)


_MANY = 50_000  # parameter sets per executemany


def _serialize_deliveries(conn: sa.Connection, target: sa.Table) -> None:
    """Hold the sink's write lock before the delivery reads the sink (the keys it replaces,
    the audit of ledger and sink), so that no delivery commits in between: its rows would look
    altered, or be left in place for the insert to collide with (readers are not blocked)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f'LOCK TABLE "{target.name}" IN SHARE ROW EXCLUSIVE MODE'))
    else:  # SQLite takes its database write lock at the first write statement
        conn.execute(sa.delete(target).where(sa.false()))


def count_rows(url: str, table: str) -> int:
    with engine_for(url).connect() as conn:
        if not sa.inspect(conn).has_table(table):
            return 0
        return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar()
                   or 0)


_SCAN_SHARE = 0.2  # asked for at least this share of the table's rows: read it whole


def _rows_with_ids(conn: sa.Connection, target: sa.Table, key: str,
                   cols: Sequence[sa.ColumnElement[Any]], ids: Iterable[Any]
                   ) -> list[Sequence[Any]]:
    """The rows (``cols``, the key among them) whose key is among ``ids``: looked up 500 ids at
    a time, or, when the ids are a large share of the table (a whole batch delivered into it),
    read in one scan and filtered here, instead of thousands of lookups."""
    wanted = [i.item() if isinstance(i, np.generic) else i for i in ids]
    at = [c.key for c in cols].index(key)
    if len(wanted) > 10 * _CHUNK:
        total = conn.execute(sa.select(sa.func.count()).select_from(target)).scalar() or 0
        if len(wanted) >= _SCAN_SHARE * total:
            rows = conn.execute(sa.select(*cols)).all()
            hits = set(wanted)
            return [r for r in rows if r[at] in hits]
    out: list[Sequence[Any]] = []
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        out += conn.execute(sa.select(*cols).where(target.c[key].in_(chunk))).all()
    return out


def sink_row_digests(url: str, table: str, key: str, ids: Iterable[Any],
                     columns: Sequence[str]) -> dict[Any, str]:
    """{id: digest over ``columns``} of the sink rows with these ids; a column the sink lacks
    reads as missing, so the row differs."""
    with engine_for(url).connect() as conn:
        target = sa.Table(table, sa.MetaData(), autoload_with=conn)
        return _read_digests(conn, target, key, ids, columns)


def _read_digests(conn: sa.Connection, target: sa.Table, key: str, ids: Iterable[Any],
                  columns: Sequence[str]) -> dict[Any, str]:
    cols = [target.c[c] for c in columns if c in target.c]
    rows = _rows_with_ids(conn, target, key, cols, ids)
    return _digests_by_id(rows, [c.name for c in cols], key, columns)


def _digests_by_id(rows: Sequence[Sequence[Any]], fields: Sequence[str], key: str,
                   columns: Sequence[str]) -> dict[Any, str]:
    """{id: row digest over ``columns``} of rows fetched with ``fields`` (a column the rows
    lack reads as null)."""
    digests = column_digests(fetched_columns(rows, fields), columns, len(rows))
    at = list(fields).index(key)
    return {row[at]: digest for row, digest in zip(rows, digests)}


# -- the audit ledger ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Ledger:
    """A sink's audit tables: one row per delivered id (its digest and the delivery that
    recorded it), one row per audited delivery (its run, column list and time), one row of
    findings per delivering run."""

    rows: sa.Table  # <table>__e2e_ledger: id, row_digest, delivery
    # <table>__e2e_deliveries: delivery, run_id, row_columns, delivered_at; None in a ledger of
    # the first layout, whose every row holds its run id, column list and time itself
    deliveries: sa.Table | None
    audits: sa.Table  # <table>__e2e_audits: run_id, audited_at, findings


def _open_ledger(conn: sa.Connection, table: str) -> _Ledger | None:
    """The audit tables of sink ``table``, or None if no audited delivery yet. A ledger in the
    first layout (column list and run id on every row) is read as it is; a delivery migrates
    it first (:func:`_migrated`)."""
    if not _has_table(conn, table + LEDGER_SUFFIX):
        return None
    metadata = sa.MetaData()
    rows = sa.Table(table + LEDGER_SUFFIX, metadata, autoload_with=conn)
    audits = sa.Table(table + AUDITS_SUFFIX, metadata, autoload_with=conn)
    if _FIRST_LAYOUT in rows.c:
        return _Ledger(rows, None, audits)
    return _Ledger(rows, sa.Table(table + DELIVERIES_SUFFIX, metadata, autoload_with=conn),
                   audits)


_FIRST_LAYOUT = "row_columns"  # a ledger column only in the first layout


def _ledger_tables(metadata: sa.MetaData, table: str, key_column: sa.Column[Any]
                   ) -> tuple[sa.Table, sa.Table, sa.Table]:
    rows = sa.Table(table + LEDGER_SUFFIX, metadata,
                    sa.Column(key_column.name, key_column.type, primary_key=True),
                    sa.Column("row_digest", sa.Text(), nullable=False),
                    sa.Column("delivery", sa.Integer(), nullable=False),
                    # on SQLite the key's index is the table: a million-row delivery writes one
                    # b-tree instead of a rowid table and an index beside it
                    sqlite_with_rowid=False)
    deliveries = sa.Table(table + DELIVERIES_SUFFIX, metadata,
                          sa.Column("delivery", sa.Integer(), primary_key=True,
                                    autoincrement=True),
                          sa.Column("run_id", sa.Text(), nullable=False),
                          sa.Column("row_columns", sa.Text(), nullable=False),
                          sa.Column("delivered_at", sa.Float(), nullable=False))
    audits = sa.Table(table + AUDITS_SUFFIX, metadata,
                      sa.Column("run_id", sa.Text(), primary_key=True),
                      sa.Column("audited_at", sa.Float(), nullable=False),
                      sa.Column("findings", sa.Text(), nullable=False))
    return rows, deliveries, audits


def _create_ledger(conn: sa.Connection, target: sa.Table, key: str) -> _Ledger:
    metadata = sa.MetaData()
    ledger = _Ledger(*_ledger_tables(metadata, target.name, target.c[key]))
    metadata.create_all(conn)
    return ledger


def _migrated(conn: sa.Connection, ledger: _Ledger, key: str) -> _Ledger:
    """The ledger in the current layout: one of the first layout (a column list, run id and
    time on every row, a fifth of a million-row delivery's write) rewritten in the delivery's
    transaction, each distinct (run, column list) becoming one delivery; nothing recorded is
    lost."""
    if ledger.deliveries is not None:
        return ledger
    old = ledger.rows
    name = old.name
    conn.exec_driver_sql(f"ALTER TABLE {_quoted(conn, name)} RENAME TO "
                         f"{_quoted(conn, name + '__first_layout')}")
    old = sa.Table(name + "__first_layout", sa.MetaData(), autoload_with=conn)
    metadata = sa.MetaData()
    rows, deliveries, _ = _ledger_tables(metadata, name.removesuffix(LEDGER_SUFFIX), old.c[key])
    metadata.create_all(conn, tables=[rows, deliveries])
    conn.execute(sa.insert(deliveries).from_select(
        ["run_id", "row_columns", "delivered_at"],
        sa.select(old.c.run_id, old.c.row_columns, sa.func.min(old.c.delivered_at))
        .group_by(old.c.run_id, old.c.row_columns)))
    conn.execute(sa.insert(rows).from_select(
        [key, "row_digest", "delivery"],
        sa.select(old.c[key], old.c.row_digest, deliveries.c.delivery).select_from(
            old.join(deliveries, sa.and_(old.c.run_id == deliveries.c.run_id,
                                         old.c.row_columns == deliveries.c.row_columns)))))
    old.drop(conn)
    return _Ledger(rows, deliveries, ledger.audits)


def _quoted(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _recorded(conn: sa.Connection, ledger: _Ledger, key: str) -> dict[Any, tuple[str, str]]:
    """{id: (row digest, JSON column list)} of every recorded row."""
    rows, deliveries = ledger.rows, ledger.deliveries
    if deliveries is None:  # the first layout
        select = sa.select(rows.c[key], rows.c.row_digest, rows.c.row_columns)
    else:
        select = sa.select(rows.c[key], rows.c.row_digest, deliveries.c.row_columns
                           ).select_from(rows.join(deliveries,
                                                   rows.c.delivery == deliveries.c.delivery))
    return {r[0]: (r[1], r[2]) for r in conn.execute(select).all()}


def _audit(conn: sa.Connection, target: sa.Table, key: str, run_id: str | None) -> SinkAudit:
    ledger = _open_ledger(conn, target.name)
    if ledger is None:  # nothing delivered under audit yet: no baseline, nothing to report
        return SinkAudit(table=target.name, recorded=0, run_id=run_id)
    recorded = _recorded(conn, ledger, key)
    rows = conn.execute(sa.select(target)).all()
    fields = list(target.c.keys())
    at = fields.index(key)
    seen = {row[at] for row in rows}
    foreign = [row[at] for row in rows if row[at] not in recorded]
    by_columns: dict[str, list[Sequence[Any]]] = {}
    for row in rows:  # digested per recorded column list (one list, unless the sink grew one)
        if row[at] in recorded:
            by_columns.setdefault(recorded[row[at]][1], []).append(row)
    altered = [rid for names, group in by_columns.items()
               for rid, digest in _digests_by_id(group, fields, key, json.loads(names)).items()
               if digest != recorded[rid][0]]
    deleted = [rid for rid in recorded if rid not in seen]
    return SinkAudit(table=target.name, recorded=len(recorded), deleted=_sorted(deleted),
                     altered=_sorted(altered), foreign=_sorted(foreign), run_id=run_id)


def _record_delivery(conn: sa.Connection, target: sa.Table, key: str, df: pd.DataFrame,
                     run_id: str, audit: SinkAudit) -> SinkAudit:
    """Record the delivered rows' digests and the audit before the write; return the audit
    as this write commits it (see :func:`_as_committed`), kept with the findings."""
    now = time.time()
    names = sorted(str(c) for c in df.columns)
    columns = json.dumps(names)
    digests = row_digests(df, key)
    ledger = _open_ledger(conn, target.name)
    if ledger is not None:
        ledger = _migrated(conn, ledger, key)
    else:
        # The first audited delivery adopts the rows already in the sink as its baseline:
        # without a record of who wrote them, calling them foreign would only cry wolf.
        ledger = _create_ledger(conn, target, key)
        cols = [target.c[c] for c in names if c in target.c]
        fields = [c.name for c in cols]
        at = fields.index(key)
        total = conn.execute(sa.select(sa.func.count()).select_from(target)).scalar() or 0
        if total > len(digests):  # rows other than this delivery's (its ids are unique)
            earlier = [row for row in conn.execute(sa.select(*cols)).all()
                       if row[at] not in digests]
            _insert_ledger(conn, ledger, key, _digests_by_id(earlier, fields, key, names),
                           columns, ADOPTED_RUN, now)
    audits = ledger.audits
    _delete_keys(conn, ledger.rows, key, list(digests))
    _insert_ledger(conn, ledger, key, digests, columns, run_id, now)
    recorded = conn.execute(sa.select(sa.func.count()).select_from(ledger.rows)).scalar() or 0
    after = _as_committed(audit, digests, recorded)
    findings = {**audit.as_json(), AS_COMMITTED: after.as_json()}
    conn.execute(sa.delete(audits).where(audits.c.run_id == run_id))
    conn.execute(sa.insert(audits), [{"run_id": run_id, "audited_at": now,
                                      "findings": json.dumps(findings, default=str)}])
    return after


AS_COMMITTED = "as_committed"  # the findings' key of the audit as the delivery committed it


def _as_committed(before: SinkAudit, delivered: Mapping[Any, str], recorded: int) -> SinkAudit:
    """The sink against the ledger once a delivery commits, from the whole-sink audit its
    transaction ran before writing (no other delivery can write in between): each row it
    delivered is now in the sink and recorded as the sink holds it, so it is no longer
    deleted, altered or foreign; every other finding stands. Equal to auditing the whole sink
    again at commit, without reading it again."""
    def left(ids: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(i for i in ids if i not in delivered)

    return SinkAudit(table=before.table, recorded=int(recorded), deleted=left(before.deleted),
                     altered=left(before.altered), foreign=left(before.foreign),
                     run_id=before.run_id)


def _insert_ledger(conn: sa.Connection, ledger: _Ledger, key: str, digests: Mapping[Any, str],
                   columns: str, run_id: str, now: float) -> None:
    """One delivery row (run, column list, time), then each id's digest pointing to it."""
    if ledger.deliveries is None:
        raise AssertionError("a delivery migrates a first-layout ledger before recording")
    inserted = conn.execute(sa.insert(ledger.deliveries).values(
        run_id=run_id, row_columns=columns, delivered_at=now)).inserted_primary_key
    delivery = cast(Sequence[Any], inserted)[0]
    ids = list(digests)
    order = _in_key_order(ids)
    for start in range(0, len(ids), _MANY):
        part = [ids[i] for i in order[start:start + _MANY]]
        _insert_columns(conn, ledger.rows, [key, "row_digest", "delivery"],
                        [part, [digests[i] for i in part], [delivery] * len(part)])


def _in_key_order(keys: Sequence[Any] | pd.Series) -> Sequence[int]:
    """Positions of ``keys`` in ascending order, as the table's primary-key index holds them
    (code point order for text, as SQLite's BINARY collation orders UTF-8 and as Python orders
    str): rows inserted in that order append to the index instead of splitting pages all over
    it, which halved SQLite's insert of a million shuffled request ids. Sorted by Arrow (a
    million ids in a fraction of a second); keys Arrow cannot type (mixed types) in Python, and
    keys Python cannot order either keep the order given."""
    try:
        typed = pa.array(keys, from_pandas=True)
        if typed.null_count == 0 and (pa.types.is_string(typed.type)
                                      or pa.types.is_large_string(typed.type)
                                      or pa.types.is_integer(typed.type)):
            return cast(Sequence[int], pc.sort_indices(typed).to_numpy())
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        pass
    values = list(keys)
    try:
        return sorted(range(len(values)), key=values.__getitem__)
    except TypeError:
        return range(len(values))


def audit_sink(url: str, table: str, key: str, *, delivered_by: str | None = None
               ) -> tuple[SinkAudit, SinkAudit | None]:
    """(the sink now against its ledger, the audit the last delivery ran before it wrote).
    With ``delivered_by``, the run that just delivered: if its delivery is still the last, the
    first is the audit as that delivery committed it (kept with its findings, see
    :func:`_as_committed`) instead of a second read of the whole sink; a later delivery, or an
    older record without it, and the sink is audited whole. Raises InfrastructureError if the
    sink table or its ledger does not exist."""
    try:
        with engine_for(url).connect() as conn:
            if not sa.inspect(conn).has_table(table):
                raise InfrastructureError(f"sink table '{table}' at {masked(url)} does not "
                                          f"exist: nothing was delivered there yet")
            target = sa.Table(table, sa.MetaData(), autoload_with=conn)
            ledger = _open_ledger(conn, table)
            if ledger is None:
                raise InfrastructureError(
                    f"sink table '{table}' at {masked(url)} has no audit ledger "
                    f"('{table}{LEDGER_SUFFIX}'): no delivery recorded row digests yet; run the "
                    f"journey once with its sink_audit check")
            audits = ledger.audits
            last = conn.execute(sa.select(audits.c.run_id, audits.c.findings)
                                .order_by(audits.c.audited_at.desc()).limit(1)).first()
            raw = json.loads(last.findings) if last is not None else {}
            if delivered_by is not None and last is not None and last.run_id == delivered_by \
                    and AS_COMMITTED in raw:
                now = replace(SinkAudit.from_json(raw[AS_COMMITTED]), as_committed=True)
            else:
                now = _audit(conn, target, key, last.run_id if last else None)
    except sa.exc.SQLAlchemyError as exc:
        raise InfrastructureError(f"auditing sink table '{table}' at {masked(url)} failed: "
                                  f"{reason(exc)}") from exc
    return now, (SinkAudit.from_json(raw) if last is not None else None)


def _sorted(ids: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted(ids, key=str))
