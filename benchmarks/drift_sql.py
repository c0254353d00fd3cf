"""SQL pushdown vs pulling the table into pandas first, on PostgreSQL.

    .venv/bin/python benchmarks/drift_sql.py [--rows 1000000,5000000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Creates drift_ref / drift_cur (server-side, generate_series) in the given database, then times
``drift.compare_sql`` against ``pd.read_sql`` of both tables + ``drift.compare`` (median of 3).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import pandas as pd
import sqlalchemy as sa

from e2e_assets import drift
from e2e_assets.drift.demo_tables import create_postgres_tables


def timed(fn, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="1000000")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    engine = sa.create_engine(args.url)
    print(f"{'rows':>9}  {'compare_sql s':>13}  {'pull + compare s':>16}  {'pull only s':>11}  "
          f"drifted (sql | memory)")
    for n in [int(r) for r in args.rows.split(",")]:
        create_postgres_tables(engine, n)
        sql_s, sql = timed(lambda: drift.compare_sql(engine, "drift_ref", "drift_cur",
                                                     columns=["x", "y", "k", "c"]), args.repeats)

        def pull() -> tuple[pd.DataFrame, pd.DataFrame]:
            with engine.connect() as conn:
                return (pd.read_sql_query(sa.text("SELECT x, y, k, c FROM drift_ref"), conn),
                        pd.read_sql_query(sa.text("SELECT x, y, k, c FROM drift_cur"), conn))

        pull_s, frames = timed(pull, args.repeats)
        mem_s, mem = timed(lambda: drift.compare(*frames), args.repeats)  # type: ignore[misc]
        print(f"{n:>9}  {sql_s:>13.2f}  {pull_s + mem_s:>16.2f}  {pull_s:>11.2f}  "
              f"{','.join(sql.drifted_columns)} | {','.join(mem.drifted_columns)}", flush=True)
    with engine.begin() as conn:  # leave the database as we found it
        conn.execute(sa.text("DROP TABLE IF EXISTS drift_ref, drift_cur"))
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
