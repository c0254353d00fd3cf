"""Hand decisions to the downstream consumer: upsert into a SQL table keyed by request id.

One transaction per write: either every row lands or none does, and re-running the same run
replaces its rows instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa

from e2e_assets.db import engine_for, masked, reason
from e2e_assets.errors import InfrastructureError

_CHUNK = 500
SHADOW_SUFFIX = "__shadow"


def shadow_table(table: str) -> str:
    """Where a validation run (the promotion gate's) delivers: never the real sink."""
    return f"{table}{SHADOW_SUFFIX}"


@dataclass(frozen=True)
class SinkWrite:
    table: str
    url: str  # masked
    rows_written: int
    rows_replaced: int


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


def _records(df: pd.DataFrame) -> list[dict[str, object]]:
    obj = df.astype(object).where(df.notna(), None)
    rows = obj.to_dict("records")
    for row in rows:  # numpy scalars -> Python so every DB driver accepts them
        for k, v in row.items():
            if isinstance(v, np.generic):
                row[k] = v.item()
    return cast(list[dict[str, object]], rows)


def write_sink(df: pd.DataFrame, url: str, table: str, key: str) -> SinkWrite:
    """Upsert ``df`` into ``table`` by ``key`` in one transaction."""
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
    metadata = sa.MetaData()
    try:
        with engine.begin() as conn:
            if sa.inspect(conn).has_table(table):
                target = sa.Table(table, metadata, autoload_with=conn)
                missing = [c for c in df.columns if c not in target.c]
                if missing:
                    raise InfrastructureError(
                        f"sink table '{table}' at {masked(url)} has no columns {missing}; "
                        f"it has {list(target.c.keys())}. Migrate the table or rename it.")
            else:
                target = _table_for(df, table, key, metadata)
                target.create(conn)
            keys = df[key].tolist()
            replaced = 0
            for start in range(0, len(keys), _CHUNK):
                chunk = [k.item() if isinstance(k, np.generic) else k
                         for k in keys[start:start + _CHUNK]]
                res = conn.execute(sa.delete(target).where(target.c[key].in_(chunk)))
                replaced += res.rowcount or 0
            if len(df):
                conn.execute(sa.insert(target), _records(df))
    except InfrastructureError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise InfrastructureError(f"writing to sink table '{table}' at {masked(url)} failed, "
                                  f"nothing was written: {reason(exc)}") from exc
    return SinkWrite(table=table, url=masked(url), rows_written=len(df), rows_replaced=replaced)


def count_rows(url: str, table: str) -> int:
    with engine_for(url).connect() as conn:
        if not sa.inspect(conn).has_table(table):
            return 0
        return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar()
                   or 0)


def sink_ids(url: str, table: str, key: str, ids: Iterable[Any]) -> list[object]:
    """Which of ``ids`` are present in the sink table (read back after a write)."""
    wanted = [i.item() if isinstance(i, np.generic) else i for i in ids]
    found: list[object] = []
    with engine_for(url).connect() as conn:
        target = sa.Table(table, sa.MetaData(), autoload_with=conn)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            found += [r[0] for r in conn.execute(
                sa.select(target.c[key]).where(target.c[key].in_(chunk)))]
    return found
