"""Evidence tables: typed columns, failing rows first, nested values as text; and what an
expectation expected, in words."""

from __future__ import annotations

import dagster as dg

from e2e_assets.checks.expectations import expected_text
from e2e_assets.evidence import evidence_table, is_records, row_failed
from e2e_assets.orchestration.checks import metadata_value


def test_failing_rows_come_first_in_their_original_order() -> None:
    rows = [{"expectation": "not_null", "column": "a", "success": True},
            {"expectation": "between", "column": "b", "success": False},
            {"expectation": "in_set", "column": "c", "success": True},
            {"expectation": "between", "column": "d", "success": False}]
    table = evidence_table(rows)
    assert [r["column"] for r in table.rows] == ["b", "d", "a", "c"]
    assert table.columns == (("expectation", "string"), ("column", "string"),
                             ("success", "bool"))


def test_column_types_missing_keys_and_nested_values() -> None:
    table = evidence_table([{"column": "x", "diverged": 0, "max_abs_diff": 0.5},
                            {"column": "y", "diverged": 3, "tolerance": {"abs": 1e-9}}])
    assert [r["column"] for r in table.rows] == ["y", "x"]  # diverged > 0 is a failure
    assert dict(table.columns) == {"column": "string", "diverged": "int",
                                   "max_abs_diff": "float", "tolerance": "string"}
    assert table.rows[0]["tolerance"] == '{"abs": 1e-09}' and table.rows[0]["max_abs_diff"] is None


def test_numpy_scalars_become_python_values() -> None:
    import numpy as np

    table = evidence_table([{"n": np.int64(3), "x": np.float64(0.5), "ok": np.bool_(False),
                             "v": np.array([1, 2])}])
    row = table.rows[0]
    assert (type(row["n"]), type(row["x"]), type(row["ok"])) == (int, float, bool)
    assert row["v"] == "[1, 2]"  # nested: JSON text
    assert dict(table.columns) == {"n": "int", "x": "float", "ok": "bool", "v": "string"}


def test_what_counts_as_failed_and_as_a_table() -> None:
    assert row_failed({"drifted": True}) and not row_failed({"drifted": False})
    assert row_failed({"unexpected_count": 2}) and not row_failed({"unexpected_count": 0})
    assert not row_failed({"column": "a", "count": 9})
    # an expectation that passed within its 'mostly' has unexpected values and did not fail
    assert not row_failed({"success": True, "unexpected_count": 10})
    assert row_failed({"success": False, "unexpected_count": 0})
    assert is_records([{"a": 1}]) and not is_records([]) and not is_records(["a"])
    assert not is_records("ab") and not is_records({"a": 1})


def test_records_reach_dagster_as_a_typed_table() -> None:
    value = metadata_value([{"column": "a", "drifted": False, "p_value": 0.4},
                    {"column": "b", "drifted": True, "p_value": 0.001}])
    assert isinstance(value, dg.TableMetadataValue)
    assert value.records[0].data == {"column": "b", "drifted": True, "p_value": 0.001}
    assert [c.type for c in value.schema.columns] == ["string", "bool", "float"]
    assert isinstance(metadata_value({"nested": 1}), dg.JsonMetadataValue)


def test_expected_text_names_the_bounds() -> None:
    assert expected_text({"column": "p", "min_value": 0, "max_value": 1}) == "between 0 and 1"
    assert expected_text({"column": "p", "min_value": 0, "mostly": 0.99}) == ">= 0 (mostly 0.99)"
    assert expected_text({"column": "s", "value_set": ["a", "b"]}) == "in ['a', 'b']"
    assert expected_text({"column": "s", "value_set": list(range(10))}) == \
        "in [0, 1, 2, 3, 4, 5, 6, 7] (+2 more)"
    assert expected_text({"column": "s"}) == "as named"
    # GX's own kwargs are not what is expected; a type with no bounds says what it expects
    assert expected_text({"column": "s", "batch_id": "pandas-frame", "mostly": 0.98},
                         "expect_column_values_to_not_be_null") == "not null (mostly 0.98)"
    assert expected_text({"column_set": ["b", "a"], "batch_id": "x"},
                         "expect_table_columns_to_match_set") == "columns ['a', 'b'] exactly"
    assert expected_text({"column": "s", "regex": "^[A-Z]+$"}) == "matching '^[A-Z]+$'"


def test_check_descriptions_say_what_the_check_is_set_to_do() -> None:
    from e2e_assets.orchestration.checks import check_description
    from e2e_assets.spec import load_journey
    from tests.unit.test_spec import REPO, VARS

    journey = load_journey(REPO / "pipelines" / "credit_approval" / "journey.yaml",
                           variables=VARS)
    checks = {(s, c.name): c for s in journey.stages for c in journey.checks_for(s)}
    drift = check_description(checks[("score", "score_drift")])
    assert "reference=holdout" in drift and drift.endswith("[error, blocking]")
    assert "alpha=0.001667" in check_description(checks[("decide", "challenger")])
    plain = check_description(checks[("ingest", "expectations")])
    assert plain == "The stage's data meets its GX expectation suite. [error, blocking]"


def test_dagster_metadata_shows_markdown_as_markdown_and_settings_as_text() -> None:
    """Histograms render as markdown, not one raw line; constant counters and settings are
    text (Dagster plots every number run after run); measurements stay numbers; the summary is
    the description, not repeated in the metadata."""
    from e2e_assets.checks.base import CheckResult, Markdown
    from e2e_assets.checks.runner import EvaluatedCheck
    from e2e_assets.orchestration.checks import to_check_result
    from e2e_assets.orchestration.run import _number_again

    md = metadata_value(Markdown("| column | reference |\n|---|---|\n| x | `▁█` |"), "histograms")
    assert isinstance(md, dg.MarkdownMetadataValue)
    assert isinstance(metadata_value("| a |", "note"), str)  # plain text stays text
    for key, value in (("golden_rows", 500), ("rows_expected", 1337), ("alpha", 0.05),
                       ("abs_tolerance", 1e-9), ("p95_budget_ms", 121.5)):
        shown = metadata_value(value, key)
        assert isinstance(shown, dg.TextMetadataValue), key
        assert _number_again(key, shown.value) == value  # the JSON report keeps the number
    assert metadata_value(0.0049, "max_abs_diff") == 0.0049
    assert metadata_value(3, "diverged_rows") == 3

    class _Journey:
        name = "j"

    evaluated = EvaluatedCheck(stage="score", name="golden", kind="golden", severity="error",
                               blocking=True, result=CheckResult(False, "p_default differs",
                                                                 {"golden_rows": 500}))
    result = to_check_result(_Journey(), evaluated, {})  # type: ignore[arg-type]
    assert result.description == "p_default differs" and "summary" not in result.metadata
    long = EvaluatedCheck(stage="score", name="golden", kind="golden", severity="error",
                          blocking=True, result=CheckResult(False, "x" * 1500))
    cut = to_check_result(_Journey(), long, {})  # type: ignore[arg-type]
    assert len(cut.description or "") == 1000 and cut.metadata["summary"].value == "x" * 1500
