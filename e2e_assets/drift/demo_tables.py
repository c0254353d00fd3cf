"""Server-side generated drift tables on PostgreSQL, for the SQL pushdown test and benchmark.

The rows are made inside the database (generate_series), so a million rows cost no transfer.
Columns, reference -> current (normals by Box-Muller):

- ``x``: N(0, 1) -> N(shift, 1), a shift in location;
- ``s``: N(offset, sd) -> N(offset, sd * sd_ratio), same mean, wider: a change of scale far
  from zero, where a wrong standard deviation (from avg(x) instead of avg(x*x), or without the
  square root) gives a grossly wrong normalised Wasserstein distance;
- ``u``: N(offset, sd) in both, undrifted, far from zero;
- ``y``: exponential with mean 2 in both, undrifted;
- ``k``: integers 0..3 uniform in both, undrifted;
- ``c``: categories a..e, skewed towards ``a`` in the current.
"""

from __future__ import annotations

import sqlalchemy as sa

_NORMAL = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
_COLUMNS = """
    g AS id,
    {normal} + {shift} AS x,
    {normal} * {s_sd} + {offset} AS s,
    {normal} * {sd} + {offset} AS u,
    -ln(1 - random()) * 2 AS y,
    floor(random() * 4)::int AS k,
    (ARRAY['a', 'b', 'c', 'd', 'e'])[1 + floor(power(random(), {skew}) * 5)::int] AS c
"""


def create_postgres_tables(engine: sa.Engine, n: int, *, reference: str = "drift_ref",
                           current: str = "drift_cur", shift: float = 0.2, skew: float = 1.3,
                           offset: float = 1e4, sd: float = 4.0, sd_ratio: float = 1.5,
                           seed: float = 0.42) -> None:
    """``reference`` and ``current`` with n rows each; current's x shifted, s wider, c skewed."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT setseed(:s)"), {"s": seed})
        for name, sh, sk, s_sd in ((reference, 0.0, 1.0, sd),
                                   (current, shift, skew, sd * sd_ratio)):
            cols = _COLUMNS.format(normal=_NORMAL, shift=float(sh), skew=float(sk),
                                   s_sd=float(s_sd), sd=float(sd), offset=float(offset))
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE TABLE {name} AS SELECT {cols} "
                                 f"FROM generate_series(1, :n) AS g"), {"n": n})
