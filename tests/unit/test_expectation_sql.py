"""The SQL push-down gives GX's own answers on a SQLite table: every planned expectation
against GX's SQL datasource on the same table, what it leaves to GX, and one query for all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from e2e_assets.checks.expectation_sql import evaluate_table
from e2e_assets.checks.expectations import _gx_table_results, validate_table
from tests.unit.test_expectation_engine import EDGE, EDGE_CASES, RID, same

PATH = Path("suite.json")
SQL_CASES = [e for e in EDGE_CASES if e["type"] != "expect_table_columns_to_match_set"] + [
    {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": [
        c.upper() for c in EDGE.columns]}},
    {"type": "expect_table_columns_to_match_set",
     "kwargs": {"column_set": ['"rid"', "X", '"N"'], "exact_match": False}},
]


@pytest.fixture()
def table(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'edge.db'}"
    EDGE.to_sql("edge", sa.create_engine(url), index=False)
    return url, "edge"


def test_planned_expectations_agree_with_gx_sql(table: tuple[str, str]) -> None:
    url, name = table
    tagged = [{**e, "meta": {"at": i}} for i, e in enumerate(SQL_CASES)]
    gx: list[dict[str, Any]] = [{}] * len(SQL_CASES)
    for d in _gx_table_results(url, name, {"expectations": tagged}, PATH, RID):
        gx[d["expectation_config"]["meta"]["at"]] = d
    with sa.create_engine(url).connect() as conn:
        mine = evaluate_table(conn, sa.Table(name, sa.MetaData(), autoload_with=conn),
                              SQL_CASES, RID, 5)
    for exp, native, theirs in zip(SQL_CASES, mine, gx):
        assert native is not None, f"declined {exp}"
        assert native["success"] == theirs["success"], (exp, native, theirs["result"])
        for key, value in native["result"].items():
            expected = theirs["result"].get(key)
            if key == "unexpected_index_list":
                expected = sorted((dict(sorted(d.items())) for d in expected or []), key=str)[:5]
                value = sorted((dict(sorted(d.items())) for d in value), key=str)
            elif key == "partial_unexpected_list":
                expected, value = sorted(map(str, (expected or [])[:5])), sorted(map(str, value))
            assert same(value, expected), (exp, key, value, expected)


def test_one_aggregate_query_answers_a_suite(table: tuple[str, str]) -> None:
    url, name = table
    engine = sa.create_engine(url)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *a: statements.append(statement))
    passing = [e for e in SQL_CASES[:3]] + [SQL_CASES[-3]]
    with engine.connect() as conn:
        results = evaluate_table(conn, sa.Table(name, sa.MetaData(), autoload_with=conn),
                                 passing, RID, 5)
    aggregate_queries = [s for s in statements if "sum(" in s.lower() or "count(" in s.lower()]
    assert len(aggregate_queries) == 1 and all(r is not None for r in results)


def test_a_mixed_suite_on_a_table_names_each_engine(table: tuple[str, str]) -> None:
    url, name = table
    suite = {"expectations": [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "^u$"}},
        EDGE_CASES[4],
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "s",
                                                                  "min_value": 0}}]}
    result = validate_table(url, name, suite, PATH, id_column=RID)
    rows = result.metadata["expectations"]
    assert [r["engine"] for r in rows] == ["gx", "native", "gx"]
    assert rows[1]["unexpected_count"] == 2 and not result.passed
    assert result.metadata["validated"] == "table edge"


def test_a_missing_table_is_gx_s_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    pd.DataFrame({"a": [1]}).to_sql("other", sa.create_engine(url), index=False)
    with pytest.raises(Exception):  # noqa: B017 - GX's own error for a missing table
        validate_table(url, "nope", {"expectations": [EDGE_CASES[0]]}, PATH, id_column=RID)
