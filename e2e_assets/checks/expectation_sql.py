"""The common GX expectations pushed down to a SQL table: one aggregate query for the whole
suite, then one small query per failed expectation for its first unexpected rows.

GX's SQL datasource computes each metric with its own query (several per expectation): tens of
queries over a million-row source table, and seconds before a run even starts (the dry run
validates the source). The rules are those of :mod:`expectation_engine` and GX's SQL engine:
nulls are outside a map expectation's domain, ``IN`` and comparisons are the database's own,
duplicates are non-null values that occur more than once, and a column set is matched
case-insensitively unless a name is written in double quotes. Whatever this module declines
(``None``) goes to GX. ``tests/unit/test_expectation_sql.py`` compares it with GX on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from e2e_assets.checks.expectation_engine import (
    PASSIVE_KEYWORDS,
    Result,
    _bounds,
    _mostly,
    map_result,
    within,
)

Finish = Callable[[dict[str, Any], sa.Connection], Result]


@dataclass(frozen=True)
class Plan:
    """The aggregates one expectation needs from the table, and how to turn them into its
    GX-shaped result."""

    aggregates: dict[str, sa.ColumnElement[Any]]
    finish: Finish


def evaluate_table(conn: sa.Connection, table: sa.Table, expectations: list[dict[str, Any]],
                   id_column: str, sample_size: int) -> list[Result | None]:
    """Each expectation's result on ``table`` (None: left to GX), with one aggregate query."""
    plans = [_plan(table, e, id_column, sample_size, f"e{i}")
             for i, e in enumerate(expectations)]
    # Each distinct aggregate once (a suite asks for the row count and a column's nulls many
    # times): SQLite evaluates every expression of the select for every row.
    distinct: dict[str, tuple[str, sa.ColumnElement[Any]]] = {}
    alias: dict[str, str] = {}
    for plan in plans:
        for name, expr in (plan.aggregates.items() if plan is not None else ()):
            text = _sql_text(expr, conn) or name
            alias[name] = distinct.setdefault(text, (f"a{len(distinct)}", expr))[0]
    values: dict[str, Any] = {}
    if distinct:
        row = conn.execute(sa.select(*[expr.label(label) for label, expr in distinct.values()])
                           .select_from(table)).one()
        values = {name: row._mapping[label] for name, label in alias.items()}
    return [None if p is None else p.finish(values, conn) for p in plans]


def _sql_text(expr: sa.ColumnElement[Any], conn: sa.Connection) -> str | None:
    """The expression as SQL with its values inlined (to tell equal aggregates), or None
    when a value cannot be written inline."""
    try:
        return str(expr.compile(conn, compile_kwargs={"literal_binds": True}))
    except (sa.exc.CompileError, NotImplementedError, TypeError):
        return None


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _numeric(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, (sa.Integer, sa.Float, sa.Numeric)) and not isinstance(
        column.type, sa.Boolean)


def _column(table: sa.Table, kwargs: dict[str, Any]) -> sa.Column[Any] | None:
    name = kwargs.get("column")
    return table.c[name] if isinstance(name, str) and name in table.c else None


def _unexpected_condition(etype: str, col: sa.Column[Any], table: sa.Table,
                          kwargs: dict[str, Any]) -> sa.ColumnElement[bool] | None:
    """The rows a map expectation finds unexpected (None: declined)."""
    if etype == "expect_column_values_to_not_be_null":
        return col.is_(None)
    if etype == "expect_column_values_to_be_between":
        bounds = _bounds(kwargs)
        if bounds is None or not _numeric(col):
            return None
        low, high = bounds
        inside = []
        if low is not None:
            inside.append(col > low if kwargs.get("strict_min") else col >= low)
        if high is not None:
            inside.append(col < high if kwargs.get("strict_max") else col <= high)
        return sa.and_(col.is_not(None), sa.not_(sa.and_(*inside)))
    if etype == "expect_column_values_to_be_in_set":
        value_set = kwargs.get("value_set")
        if not isinstance(value_set, list) or not value_set:
            return None
        return sa.and_(col.is_not(None), col.not_in(value_set))
    if etype == "expect_column_values_to_be_unique":
        repeated = (sa.select(col).where(col.is_not(None)).group_by(col)
                    .having(sa.func.count() > 1))
        return col.in_(repeated)
    return None


_MAP_KEYWORDS = {
    "expect_column_values_to_not_be_null": (),
    "expect_column_values_to_be_between": ("min_value", "max_value", "strict_min",
                                           "strict_max"),
    "expect_column_values_to_be_in_set": ("value_set",),
    "expect_column_values_to_be_unique": (),
}

def _plan(table: sa.Table, exp: dict[str, Any], id_column: str, sample_size: int, tag: str
          ) -> Plan | None:
    etype, kwargs = exp["type"], exp.get("kwargs") or {}
    if any(isinstance(v, dict) for v in kwargs.values()):  # suite parameters: GX's
        return None
    if etype in _MAP_KEYWORDS:
        if not set(kwargs) <= {"column", "mostly", *_MAP_KEYWORDS[etype], *PASSIVE_KEYWORDS}:
            return None
        return _map_plan(table, etype, kwargs, id_column, sample_size, tag)
    if etype == "expect_column_mean_to_be_between":
        return _mean_plan(table, kwargs, tag)
    if etype == "expect_table_row_count_to_be_between":
        return _row_count_plan(kwargs, tag)
    if etype == "expect_table_columns_to_match_set":
        return _column_set_plan(table, kwargs)
    return None


def _map_plan(table: sa.Table, etype: str, kwargs: dict[str, Any], id_column: str,
              sample_size: int, tag: str) -> Plan | None:
    col, mostly = _column(table, kwargs), _mostly(kwargs)
    if col is None or mostly is None:
        return None
    condition = _unexpected_condition(etype, col, table, kwargs)
    if condition is None:
        return None
    over_all_rows = etype == "expect_column_values_to_not_be_null"

    def finish(values: dict[str, Any], conn: sa.Connection) -> Result:
        total, nulls, bad = (int(values[f"{tag}_{k}"]) for k in ("rows", "nulls", "bad"))
        samples: list[tuple[Any, Any]] = []
        if bad:
            ident = table.c[id_column] if id_column in table.c else sa.null()
            samples = [(r[0], r[1]) for r in conn.execute(
                sa.select(ident, col).where(condition).limit(sample_size))]
        return map_result(total, nulls, bad, mostly, samples, col.name, id_column,
                          over_all_rows=over_all_rows)

    return Plan({f"{tag}_rows": sa.func.count(), f"{tag}_nulls": _count_if(col.is_(None)),
                 f"{tag}_bad": _count_if(condition)}, finish)


def _inside(value: Any, kwargs: dict[str, Any], bounds: tuple[Any, Any]) -> bool:
    return bool(within(value, *bounds, bool(kwargs.get("strict_min")),
                       bool(kwargs.get("strict_max"))))


def _mean_plan(table: sa.Table, kwargs: dict[str, Any], tag: str) -> Plan | None:
    col, bounds = _column(table, kwargs), _bounds(kwargs)
    if col is None or bounds is None or not _numeric(col) or not set(kwargs) <= {
            "column", "min_value", "max_value", "strict_min", "strict_max", *PASSIVE_KEYWORDS}:
        return None

    def finish(values: dict[str, Any], conn: sa.Connection) -> Result:
        mean = values[f"{tag}_mean"]
        if mean is None:
            return {"success": False, "result": {"observed_value": None}}
        return {"success": _inside(float(mean), kwargs, bounds),
                "result": {"observed_value": float(mean)}}

    return Plan({f"{tag}_mean": sa.func.avg(col)}, finish)


def _row_count_plan(kwargs: dict[str, Any], tag: str) -> Plan | None:
    bounds = _bounds(kwargs)
    if bounds is None or not set(kwargs) <= {"min_value", "max_value", "strict_min",
                                             "strict_max", *PASSIVE_KEYWORDS}:
        return None

    def finish(values: dict[str, Any], conn: sa.Connection) -> Result:
        rows = int(values[f"{tag}_rows"])
        return {"success": _inside(rows, kwargs, bounds), "result": {"observed_value": rows}}

    return Plan({f"{tag}_rows": sa.func.count()}, finish)


def _column_set_plan(table: sa.Table, kwargs: dict[str, Any]) -> Plan | None:
    expected, exact = kwargs.get("column_set"), kwargs.get("exact_match", True)
    if (not isinstance(expected, list) or not all(isinstance(c, str) for c in expected)
            or not isinstance(exact, bool)
            or not set(kwargs) <= {"column_set", "exact_match", *PASSIVE_KEYWORDS}):
        return None
    actual = [c.name for c in table.c]

    def finish(values: dict[str, Any], conn: sa.Connection) -> Result:
        unmatched_actual = {a.lower(): a for a in actual}
        unmatched_expected = set(expected)
        for name in expected:  # "quoted" names match exactly, the rest case-insensitively
            quoted = name.startswith('"') and name.endswith('"') and len(name) > 1
            hit = (name[1:-1] if quoted and name[1:-1] in actual else None) if quoted else (
                unmatched_actual.get(name.lower()))
            if hit is not None and hit.lower() in unmatched_actual:
                del unmatched_actual[hit.lower()]
                unmatched_expected.discard(name)
        observed = sorted(actual)
        unexpected = sorted(unmatched_actual.values())
        missing = sorted(unmatched_expected)
        if not unexpected and not missing:
            return {"success": True, "result": {"observed_value": observed}}
        mismatched = {**({"unexpected": unexpected} if unexpected else {}),
                      **({"missing": missing} if missing else {})}
        return {"success": not exact and not missing,
                "result": {"observed_value": observed, "details": {"mismatched": mismatched}}}

    return Plan({}, finish)
