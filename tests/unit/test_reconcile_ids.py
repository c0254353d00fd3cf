"""reconcile_ids, vectorised: counts and text-sorted samples, hand-checked, and a million ids."""

from __future__ import annotations

from e2e_assets.checks.reconcile import content_differs, reconcile_ids


def test_lost_duplicated_unexpected_and_sink_gaps_by_hand() -> None:
    expected = ["a", "b", "c", "d", 10, 9]
    delivered = ["a", "b", "b", "x", 10, 10, 10, 9, "c"]
    result = reconcile_ids(expected, delivered, in_sink=["a", "b", 10, "x"],
                           differ_in_sink=["b", "b"])
    meta = result.metadata
    assert (meta["expected"], meta["delivered"]) == (6, 9)
    assert meta["lost_sample"] == ["d"] and meta["lost"] == 1
    assert meta["duplicated_sample"] == [10, "b"]  # "10" < "b" as text
    assert meta["unexpected_sample"] == ["x"]
    assert meta["missing_in_sink_sample"] == [9, "c"] and meta["differ_in_sink"] == 1
    assert not result.passed and result.summary.startswith("1 lost, 2 duplicated, 1 unexpected")


def test_a_million_ids_delivered_once_pass() -> None:
    ids = [f"r{i}" for i in range(1_000_000)]
    result = reconcile_ids(ids, ids[::-1], in_sink=ids)
    assert result.passed and result.metadata["delivered"] == 1_000_000
    lost = reconcile_ids(ids, ids[:-3], in_sink=ids)
    assert lost.metadata["lost_sample"] == ["r999997", "r999998", "r999999"]


def test_content_differs_only_where_the_sink_holds_the_id() -> None:
    assert content_differs({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "9"}) == ["b"]
