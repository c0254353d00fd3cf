"""A partitioned journey reads one day of its source: SQL in the database, parquet in pandas."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from e2e_assets.errors import InfrastructureError
from e2e_assets.sources import read_source
from e2e_assets.spec import load_journey

ROWS = pd.DataFrame({
    "request_id": ["a", "b", "c", "d", "e"],
    "application_date": pd.to_datetime(["2026-01-02 23:59", "2026-01-03 00:00",
                                         "2026-01-03 17:30", "2026-01-04 00:00", None]),
    "amount": [1.0, 2.0, 3.0, 4.0, 5.0]})


def journey_on(tmp_path: Path, source: str, column: str = "application_date") -> Path:
    path = tmp_path / "journey.yaml"
    path.write_text(textwrap.dedent(f"""\
        journey: daily
        module: pipelines.credit_approval.stages
        partitions:
          daily: {{start: "2026-01-01", column: {column}}}
        source: {source}
        stages:
          features: {{function: build_features}}
        sink: {{url: "sqlite:///{tmp_path}/sink.db", table: decisions}}
        """))
    return path


def sqlite_with(tmp_path: Path, frame: pd.DataFrame, dtype: dict | None = None) -> str:
    url = f"sqlite:///{tmp_path}/source.db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        frame.to_sql("requests", conn, index=False, dtype=dtype)
    engine.dispose()
    return url


@pytest.mark.parametrize("stored", ["timestamp", "text", "date"])
def test_sql_table_reads_the_day_in_the_database(tmp_path: Path, stored: str) -> None:
    frame = ROWS.copy()
    dtype = None
    if stored == "text":
        frame["application_date"] = frame["application_date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    elif stored == "date":
        frame["application_date"] = frame["application_date"].dt.date
        dtype = {"application_date": sa.Date}
    url = sqlite_with(tmp_path, frame, dtype)
    journey = load_journey(journey_on(tmp_path, f"{{kind: sql, url: '{url}', table: requests}}"))
    day = read_source(journey, partition="2026-01-03")
    assert list(day["request_id"]) == ["b", "c"]
    assert len(read_source(journey)) == 5  # unpartitioned reads are unchanged
    assert list(read_source(journey, partition="2026-01-03", limit=1)["request_id"]) == ["b"]


def test_sql_query_reads_the_day_in_the_database(tmp_path: Path) -> None:
    url = sqlite_with(tmp_path, ROWS)
    source = f"{{kind: sql, url: '{url}', query: 'SELECT * FROM requests WHERE amount > 2'}}"
    journey = load_journey(journey_on(tmp_path, source))
    assert list(read_source(journey, partition="2026-01-03")["request_id"]) == ["c"]


@pytest.mark.postgres
def test_postgres_table_reads_the_day_in_the_database(pg_database: str,
                                                      tmp_path: Path) -> None:
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:
        ROWS.to_sql("requests", conn, index=False)
    engine.dispose()
    journey = load_journey(journey_on(
        tmp_path, f"{{kind: sql, url: '{pg_database}', table: requests}}"))
    assert list(read_source(journey, partition="2026-01-03")["request_id"]) == ["b", "c"]


def test_parquet_is_filtered_to_the_day(tmp_path: Path) -> None:
    ROWS.to_parquet(tmp_path / "requests.parquet")
    journey = load_journey(journey_on(tmp_path, "{kind: parquet, path: requests.parquet}"))
    assert list(read_source(journey, partition="2026-01-03")["request_id"]) == ["b", "c"]
    assert read_source(journey, partition="2026-01-05").empty


def test_a_missing_partition_column_is_named(tmp_path: Path) -> None:
    ROWS.to_parquet(tmp_path / "requests.parquet")
    journey = load_journey(journey_on(tmp_path, "{kind: parquet, path: requests.parquet}",
                                      column="received"))
    with pytest.raises(InfrastructureError, match=r"partition column 'received' "
                                                  r"\(partitions.daily.column of .*\) is not in"):
        read_source(journey, partition="2026-01-03")
    url = sqlite_with(tmp_path, ROWS)
    journey = load_journey(journey_on(tmp_path, f"{{kind: sql, url: '{url}', table: requests}}",
                                      column="received"))
    with pytest.raises(InfrastructureError, match="is not in the source table 'requests'"):
        read_source(journey, partition="2026-01-03")


def test_a_bad_partition_key_is_refused(tmp_path: Path) -> None:
    ROWS.to_parquet(tmp_path / "requests.parquet")
    journey = load_journey(journey_on(tmp_path, "{kind: parquet, path: requests.parquet}"))
    with pytest.raises(InfrastructureError, match="is not a day; expected YYYY-MM-DD"):
        read_source(journey, partition="January 3rd")
