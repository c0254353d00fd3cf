"""Read a journey's requests from its source: a SQL table/query, a parquet file or a generator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from e2e_assets.db import engine_for, masked, reason
from e2e_assets.errors import InfrastructureError, StageError
from e2e_assets.spec import Journey
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


def read_source(journey: Journey, seed: int | None = None) -> pd.DataFrame:
    """Return the requests as a DataFrame; raise InfrastructureError naming the source."""
    src = journey.spec.source
    if isinstance(src, SqlSource):
        return _read_sql(src)
    if isinstance(src, ParquetSource):
        path = parquet_path(journey, src)
        if not path.is_file():
            raise InfrastructureError(f"source parquet file not found: {path} (journey "
                                      f"'{journey.name}'; `e2e-assets demo` bootstraps it)")
        return pd.read_parquet(path)
    assert isinstance(src, GeneratorSource)  # narrowed by the discriminated union
    return _generate(journey, src, journey.spec.seed if seed is None else seed)


def _read_sql(src: SqlSource) -> pd.DataFrame:
    engine = engine_for(src.url)
    try:
        with engine.connect() as conn:
            if src.table is not None:
                if not sa.inspect(conn).has_table(src.table):
                    raise InfrastructureError(
                        f"source table '{src.table}' does not exist at {masked(src.url)} "
                        f"(`e2e-assets demo` bootstraps the reference journeys' tables)")
                return pd.read_sql_table(src.table, conn)
            return pd.read_sql_query(sa.text(src.query or ""), conn)
    except InfrastructureError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise InfrastructureError(f"cannot read the source at {masked(src.url)}: "
                                  f"{reason(exc)}") from exc


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
