"""SQL pushdown on SQLite agrees with the in-memory path within the documented binning error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from e2e_assets import drift
from e2e_assets.drift.sql import SQL_BINS


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 30_000
    ref = pd.DataFrame({"x": rng.normal(0, 1, n), "y": rng.gamma(2, 1, n),
                        "k": rng.integers(0, 4, n), "c": rng.choice(list("abcde"), n),
                        "b": rng.choice(["y", "n"], n)})
    cur = pd.DataFrame({"x": rng.normal(0.3, 1, n), "y": rng.gamma(2, 1, n) * 1.02,
                        "k": rng.integers(0, 4, n),
                        "c": rng.choice(list("abcde"), n, p=[0.3, 0.2, 0.2, 0.15, 0.15]),
                        "b": rng.choice(["y", "n"], n)})
    cur.loc[::50, "y"] = None  # nulls are dropped on both paths
    return ref, cur


@pytest.fixture()
def engine(tmp_path: Path, frames: tuple[pd.DataFrame, pd.DataFrame]) -> sa.Engine:
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'drift.db'}")
    frames[0].to_sql("ref", eng, index=False)
    frames[1].to_sql("cur", eng, index=False)
    return eng


def assert_agree(sql: drift.DriftReport, mem: drift.DriftReport, ref: pd.DataFrame) -> None:
    for a, b in zip(sql.columns, mem.columns, strict=True):
        assert (a.column, a.kind, a.method, a.drifted) == (b.column, b.kind, b.method, b.drifted)
        assert a.n_current == b.n_current and a.n_reference == b.n_reference
        if a.kind == "numeric":
            cell = 1 / SQL_BINS * 5  # a few bins' mass at most
            assert abs(a.statistic - b.statistic) <= cell, a.column
            width = (ref[a.column].max() - ref[a.column].min()) / SQL_BINS / ref[a.column].std()
            assert abs(a.effect_size - b.effect_size) <= width + 1e-3, a.column
        else:  # counts are exact
            assert a.statistic == pytest.approx(b.statistic)
            assert a.effect_size == pytest.approx(b.effect_size)


def test_tables_and_queries_agree_with_memory(engine: sa.Engine,
                                              frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = frames
    assert_agree(drift.compare_sql(engine, "ref", "cur"), drift.compare(ref, cur, exact=True),
                 ref)
    sql = drift.compare_sql(engine, "SELECT x, c FROM ref", "SELECT x, c FROM cur WHERE 1 = 1")
    assert [c.column for c in sql.columns] == ["x", "c"] and sql.drifted_columns == ["x", "c"]


@pytest.mark.parametrize("method", ["psi", "jensen_shannon", "hellinger", "kl_div", "tvd"])
def test_binned_distances_agree(engine: sa.Engine, frames: tuple[pd.DataFrame, pd.DataFrame],
                                method: str) -> None:
    ref, cur = frames
    for col in ("x", "y"):
        sql = drift.compare_sql(engine, "ref", "cur", columns=[col], methods={col: method})
        mem = drift.compare(ref, cur, columns=[col], methods={col: method}, exact=True)
        assert sql.columns[0].statistic == pytest.approx(mem.columns[0].statistic, rel=0.02,
                                                         abs=2e-3)


def test_sql_errors(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="expected a table name or a SELECT query"):
        drift.compare_sql(engine, "ref; DROP TABLE ref", "cur")
    with pytest.raises(KeyError, match=r"columns \['zz'\]"):
        drift.compare_sql(engine, "ref", "cur", columns=["zz"])
    with pytest.raises(ValueError, match="cannot run on column 'x' in SQL: it has no SQL engine"):
        drift.compare_sql(engine, "ref", "cur", columns=["x"], methods={"x": "anderson_darling"})
