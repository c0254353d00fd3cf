"""SQL pushdown on the real PostgreSQL server, on tables of a million rows."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import sqlalchemy as sa

from e2e_assets import drift
from e2e_assets.drift.demo_tables import create_postgres_tables
from e2e_assets.drift.sql import SQL_BINS

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
N = 1_000_000


def test_compare_sql_on_a_million_rows_agrees_with_memory(pg_database: str) -> None:
    engine = sa.create_engine(pg_database)
    create_postgres_tables(engine, N)
    started = time.perf_counter()
    sql = drift.compare_sql(engine, "drift_ref", "SELECT x, y, k, c FROM drift_cur",
                            columns=["x", "y", "k", "c"])
    sql_s = time.perf_counter() - started
    with engine.connect() as conn:
        ref = pd.read_sql_query(sa.text("SELECT x, y, k, c FROM drift_ref"), conn)
        cur = pd.read_sql_query(sa.text("SELECT x, y, k, c FROM drift_cur"), conn)
    engine.dispose()
    mem = drift.compare(ref, cur)
    assert len(ref) == len(cur) == N
    assert sql.drifted_columns == mem.drifted_columns == ["x", "c"]
    for a, b in zip(sql.columns, mem.columns, strict=True):
        assert a.method == b.method and a.n_reference == b.n_reference == N
        if a.kind == "numeric":
            assert abs(a.statistic - b.statistic) <= 5 / SQL_BINS
            assert abs(a.effect_size - b.effect_size) <= 2e-3
        else:
            assert a.statistic == pytest.approx(b.statistic, rel=1e-9)
    assert sql_s < 60  # generous: the point is that no row left the database
