"""Read a journey's requests from its source: a SQL table/query, a parquet file or a generator."""

from __future__ import annotations

from collections.abc import Callable
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


def read_source(journey: Journey, seed: int | None = None, *, limit: int | None = None
                ) -> pd.DataFrame:
    """Return the requests (the first ``limit`` only, if given) as a DataFrame; raise
    InfrastructureError naming the source when it is missing or unreadable."""
    src = journey.spec.source
    if isinstance(src, SqlSource):
        return _read_sql(src, journey, limit)
    if isinstance(src, ParquetSource):
        return _read_parquet(parquet_path(journey, src), journey, limit)
    if not isinstance(src, GeneratorSource):
        raise InfrastructureError(f"unknown source kind {type(src).__name__}")
    out = _generate(journey, src, journey.spec.seed if seed is None else seed)
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


def _read_sql(src: SqlSource, journey: Journey, limit: int | None) -> pd.DataFrame:
    engine = engine_for(src.url)
    try:
        with engine.connect() as conn:
            if src.table is not None:
                if not sa.inspect(conn).has_table(src.table):
                    raise InfrastructureError(
                        f"source table '{src.table}' does not exist at {masked(src.url)}"
                        f"{_missing_hint(journey)}")
                if limit is None:
                    return pd.read_sql_table(src.table, conn)
                table = sa.Table(src.table, sa.MetaData(), autoload_with=conn)
                return pd.read_sql_query(sa.select(table).limit(limit), conn)
            query = sa.text(src.query or "")
            if limit is None:
                return pd.read_sql_query(query, conn)
            return pd.read_sql_query(sa.select(sa.text("*")).select_from(
                query.columns().subquery("source")).limit(limit), conn)
    except InfrastructureError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise InfrastructureError(f"cannot reach the database for the source of journey "
                                  f"'{journey.name}' at {masked(src.url)}: {reason(exc)}"
                                  ) from exc


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
