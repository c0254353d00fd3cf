"""Read a journey's requests from its source: a SQL table/query, a parquet file or a generator.

A partitioned journey (``partitions: {daily: ...}``) reads one day at a time: a SQL source is
filtered in the database (the WHERE pushed down), a parquet file or a generator's frame in
pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from e2e_assets.db import engine_for, masked, reason
from e2e_assets.errors import InfrastructureError, StageError
from e2e_assets.spec.loader import Journey
from e2e_assets.spec.model import GeneratorSource, ParquetSource, SqlSource


def describe_source(journey: Journey) -> str:
    src = journey.spec.source
    if isinstance(src, SqlSource):
        return f"sql {masked(src.url)} " + (f"table {src.table}" if src.table else "query")
    if isinstance(src, ParquetSource):
        return f"parquet {parquet_path(journey, src)}"
    return f"generator {src.function}"


def parquet_path(journey: Journey, src: ParquetSource) -> Path:
    path = Path(src.path)
    return path if path.is_absolute() else journey.folder / path


def read_source(journey: Journey, seed: int | None = None, *, limit: int | None = None,
                partition: str | None = None) -> pd.DataFrame:
    """Return the requests (the first ``limit`` only, if given; of one day only, if
    ``partition`` names it) as a DataFrame; raise InfrastructureError naming the source when it
    is missing or unreadable."""
    src = journey.spec.source
    day = partition_day(journey, partition)
    if isinstance(src, SqlSource):
        return _read_sql(src, journey, limit, day)
    if isinstance(src, ParquetSource):
        path = parquet_path(journey, src)
        if day is None:
            return _read_parquet(path, journey, limit)
        return _on_day(_read_parquet(path, journey, None), journey, day, f"parquet {path}",
                       limit)
    if not isinstance(src, GeneratorSource):
        raise InfrastructureError(f"unknown source kind {type(src).__name__}")
    out = _generate(journey, src, journey.spec.seed if seed is None else seed)
    if day is not None:
        return _on_day(out, journey, day, f"generator {src.function}", limit)
    return out if limit is None else out.head(limit)


def partition_day(journey: Journey, partition: str | None) -> date | None:
    """The day a partition key names (None: the whole source); InfrastructureError for a key
    of a journey that is not partitioned, or one that is not a day."""
    if partition is None:
        return None
    if journey.spec.partitions is None:
        raise InfrastructureError(f"journey '{journey.name}' is not partitioned (no "
                                  f"'partitions:' in {journey.path}), so it has no partition "
                                  f"{partition!r}")
    try:
        return date.fromisoformat(partition)
    except ValueError:
        raise InfrastructureError(f"partition {partition!r} of journey '{journey.name}' is not "
                                  f"a day; expected YYYY-MM-DD") from None


def _partition_column(journey: Journey) -> str:
    partitions = journey.spec.partitions
    if partitions is None:  # partition_day refused the key already
        raise InfrastructureError(f"journey '{journey.name}' is not partitioned")
    return partitions.daily.column


def _on_day(frame: pd.DataFrame, journey: Journey, day: date, where: str,
            limit: int | None) -> pd.DataFrame:
    """The rows of ``frame`` whose partition column falls on ``day``."""
    column = _partition_column(journey)
    if column not in frame.columns:
        raise InfrastructureError(f"partition column '{column}' (partitions.daily.column of "
                                  f"{journey.path}) is not in the source {where}; its columns: "
                                  f"{[str(c) for c in frame.columns]}")
    values = pd.to_datetime(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        raise InfrastructureError(f"partition column '{column}' of the source {where} holds "
                                  f"values that are not dates or timestamps, e.g. "
                                  f"{frame[column][bad].iloc[0]!r}")
    out = frame[(values.dt.date == day).to_numpy()].reset_index(drop=True)
    return out if limit is None else out.head(limit)


def _missing_hint(journey: Journey) -> str:
    if journey.spec.bootstrap is not None:
        return f" (`e2e-assets bootstrap {journey.name}` makes it)"
    return ""


def _read_parquet(path: Path, journey: Journey, limit: int | None) -> pd.DataFrame:
    if not path.is_file():
        raise InfrastructureError(f"source parquet file not found: {path} (journey "
                                  f"'{journey.name}'){_missing_hint(journey)}")
    try:
        if limit is None:
            return pd.read_parquet(path)
        batches = pq.ParquetFile(path).iter_batches(batch_size=limit)
        first = next(batches, None)
        return first.to_pandas() if first is not None else pd.read_parquet(path).head(0)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InfrastructureError(f"source parquet file {path} cannot be read (truncated or "
                                  f"not parquet?): {str(exc).splitlines()[0]}") from exc


def _read_sql(src: SqlSource, journey: Journey, limit: int | None, day: date | None
              ) -> pd.DataFrame:
    engine = engine_for(src.url)
    try:
        with engine.connect() as conn:
            if src.table is not None:
                if not sa.inspect(conn).has_table(src.table):
                    raise InfrastructureError(
                        f"source table '{src.table}' does not exist at {masked(src.url)}"
                        f"{_missing_hint(journey)}")
                if limit is None and day is None:
                    return pd.read_sql_table(src.table, conn)
                table = sa.Table(src.table, sa.MetaData(), autoload_with=conn)
                select = sa.select(table)
                if day is not None:
                    column = _partition_column(journey)
                    if column not in table.c:
                        raise InfrastructureError(
                            f"partition column '{column}' (partitions.daily.column of "
                            f"{journey.path}) is not in the source table '{src.table}' at "
                            f"{masked(src.url)}; its columns: {list(table.c.keys())}")
                    select = select.where(_on_day_clause(table.c[column], day, conn))
                return pd.read_sql_query(select if limit is None else select.limit(limit), conn)
            query = sa.text(src.query or "")
            if limit is None and day is None:
                return pd.read_sql_query(query, conn)
            select = sa.select(sa.text("*")).select_from(query.columns().subquery("source"))
            if day is not None:
                select = select.where(_on_day_clause(sa.column(_partition_column(journey)), day,
                                                     conn))
            return pd.read_sql_query(select if limit is None else select.limit(limit), conn)
    except InfrastructureError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise InfrastructureError(f"cannot reach the database for the source of journey "
                                  f"'{journey.name}' at {masked(src.url)}: {reason(exc)}"
                                  ) from exc


def _on_day_clause(column: Any, day: date, conn: sa.Connection) -> Any:
    """``column`` falls on ``day``, in the database. A date or timestamp column is compared as a
    range (an index on it still serves); any other (text, or a query's untyped column) is
    converted to a date first: SQLite keeps dates as ISO text, read by its ``date()``."""
    if isinstance(column.type, (sa.Date, sa.DateTime)):
        start = datetime.combine(day, datetime.min.time()) \
            if isinstance(column.type, sa.DateTime) else day
        return sa.and_(column >= start, column < start + timedelta(days=1))
    if conn.dialect.name == "sqlite":
        return sa.func.date(column) == day.isoformat()
    return sa.cast(column, sa.Date) == day


def _generate(journey: Journey, src: GeneratorSource, seed: int) -> pd.DataFrame:
    fn: Callable[..., Any] = journey.functions["source"]
    try:
        out = fn(seed=seed, **src.params)
    except Exception as exc:
        raise StageError(journey.name, "ingest", f"source generator {src.function} raised "
                         f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(out, pd.DataFrame):
        raise StageError(journey.name, "ingest", f"source generator {src.function} returned "
                         f"{type(out).__name__}, expected a pandas DataFrame")
    return out
