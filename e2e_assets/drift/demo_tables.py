"""Server-side generated drift tables on PostgreSQL, for the SQL pushdown test and benchmark.

The rows are made inside the database (generate_series), so a million rows cost no transfer.
"""

from __future__ import annotations

import sqlalchemy as sa

_COLUMNS = """
    g AS id,
    sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) + {shift} AS x,
    -ln(1 - random()) * 2 AS y,
    floor(random() * 4)::int AS k,
    (ARRAY['a', 'b', 'c', 'd', 'e'])[1 + floor(power(random(), {skew}) * 5)::int] AS c
"""


def create_postgres_tables(engine: sa.Engine, n: int, *, reference: str = "drift_ref",
                           current: str = "drift_cur", shift: float = 0.2, skew: float = 1.3,
                           seed: float = 0.42) -> None:
    """``reference`` and ``current`` with n rows each; current's x shifted, c skewed."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT setseed(:s)"), {"s": seed})
        for name, sh, sk in ((reference, 0.0, 1.0), (current, shift, skew)):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE TABLE {name} AS SELECT "
                                 f"{_COLUMNS.format(shift=sh, skew=sk)} "
                                 f"FROM generate_series(1, :n) AS g"), {"n": n})
