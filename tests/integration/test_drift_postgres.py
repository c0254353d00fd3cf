"""SQL pushdown on the real PostgreSQL server, on tables of a million rows.

The tables (made inside PostgreSQL, see ``demo_tables``) differ in location *and* in scale, far
from zero, so a wrong standard deviation in ``sql.py`` cannot hide: each numeric effect size (the
Wasserstein distance in reference standard deviations) and KS statistic is checked against the
value known from the generating parameters, not only against the in-memory path.
"""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from e2e_assets import drift
from e2e_assets.drift.demo_tables import create_postgres_tables
from e2e_assets.drift.sql import SQL_BINS

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
N = 1_000_000
SHIFT = 0.2      # x: N(0, 1) -> N(0.2, 1)
OFFSET = 1e4     # s: N(1e4, 4) -> N(1e4, 6); u: N(1e4, 4) in both
SD = 4.0
RATIO = 1.5
COLUMNS = ["x", "s", "u", "y", "k", "c"]


def phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


# Known values from the generating parameters.
# Wasserstein-1 between N(m, a) and N(m', b) with the quantile coupling: the quantiles differ by
# (m' - m) + (b - a) z, so W1 = |m' - m| when a = b, and |b - a| E|Z| = |b - a| sqrt(2 / pi)
# when m = m'. Divided by the reference std:
W_X = SHIFT / 1.0                                           # 0.2
W_S = (RATIO - 1) * SD * math.sqrt(2 / math.pi) / SD        # 0.5 * 0.79788 = 0.39894
# KS: sup |F - G|. For a shift d of unit normals the sup is midway: 2 Phi(d/2) - 1 = 0.07966.
# For N(m, a) vs N(m, r a) it is where the densities cross, z^2 = 2 ln r / (1 - 1/r^2):
# z = 1.20817, D = Phi(z) - Phi(z / r) = 0.09679.
KS_X = 2 * phi(SHIFT / 2) - 1
_Z = math.sqrt(2 * math.log(RATIO) / (1 - 1 / RATIO**2))
KS_S = phi(_Z) - phi(_Z / RATIO)
# Tolerances: with independent samples of a million rows the normed Wasserstein estimate has a
# sampling sd of 0.0015 and KS of 0.0004 (numpy simulation, 12 seeds); the SQL histogram adds
# at most a bin (range / 2000 / std < 0.006 std for W, far less in practice). A wrong std is off
# by a factor: from avg(x) instead of avg(x*x) the std collapses to the fallback 1.0 (s: 1.60
# instead of 0.40), without the sqrt it is the variance (s: 0.025).
W_TOL = 0.0075
KS_TOL = 0.004


def test_compare_sql_on_a_million_rows_agrees_with_known_values_and_memory(
        pg_database: str) -> None:
    engine = sa.create_engine(pg_database)
    create_postgres_tables(engine, N, shift=SHIFT, offset=OFFSET, sd=SD, sd_ratio=RATIO)
    started = time.perf_counter()
    sql = drift.compare_sql(engine, "drift_ref", f"SELECT {', '.join(COLUMNS)} FROM drift_cur",
                            columns=COLUMNS)
    sql_s = time.perf_counter() - started
    with engine.connect() as conn:
        ref = pd.read_sql_query(sa.text(f"SELECT {', '.join(COLUMNS)} FROM drift_ref"), conn)
        cur = pd.read_sql_query(sa.text(f"SELECT {', '.join(COLUMNS)} FROM drift_cur"), conn)
    engine.dispose()
    mem = drift.compare(ref, cur)
    assert len(ref) == len(cur) == N
    # the generated columns are what they claim to be (sample moments, 1e6 rows)
    assert ref.s.mean() == pytest.approx(OFFSET, abs=0.05)
    assert cur.s.mean() == pytest.approx(OFFSET, abs=0.05)
    assert ref.s.std() == pytest.approx(SD, rel=0.005)
    assert cur.s.std() == pytest.approx(SD * RATIO, rel=0.005)

    by_name = {c.column: c for c in sql.columns}
    for report in (sql, mem):
        cols = {c.column: c for c in report.columns}
        assert [c.kind for c in report.columns] == ["numeric"] * 4 + ["categorical"] * 2
        # x: location shift, s: same mean at 1e4 but 1.5x the std; both drifted
        assert cols["x"].effect_size == pytest.approx(W_X, abs=W_TOL)
        assert cols["s"].effect_size == pytest.approx(W_S, abs=W_TOL)
        assert cols["x"].statistic == pytest.approx(KS_X, abs=KS_TOL)
        assert cols["s"].statistic == pytest.approx(KS_S, abs=KS_TOL)
        # u (same N(1e4, 4) both sides), y and k: undrifted, effect far below the 0.1 floor
        for undrifted in ("u", "y", "k"):
            assert cols[undrifted].effect_size < 0.01, (undrifted, cols[undrifted])
        assert report.drifted_columns == ["x", "s", "c"]
    assert by_name["s"].drifted and not by_name["u"].drifted

    for a, b in zip(sql.columns, mem.columns, strict=True):
        assert a.method == b.method and a.n_reference == b.n_reference == N
        if a.kind == "numeric":
            assert abs(a.statistic - b.statistic) <= 5 / SQL_BINS
            assert abs(a.effect_size - b.effect_size) <= 2e-3
        else:
            assert a.statistic == pytest.approx(b.statistic, rel=1e-9)
    assert sql_s < 60  # generous: the point is that no row left the database
