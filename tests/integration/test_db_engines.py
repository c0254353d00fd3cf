"""The shared engines: one per database URL, and none dropped with its connections open.

A test session (or any long-lived process) touches more databases than the engine cache keeps;
an engine evicted with a pooled PostgreSQL connection open was collected later, during an
unrelated test, as psycopg's "deleted while still open" ResourceWarning (an error here)."""

from __future__ import annotations

import gc
from pathlib import Path

from e2e_assets.db import check_reachable, engine_for, forget_engine

OTHERS = 40  # more databases than the cache keeps (32)


def test_an_engine_dropped_from_the_cache_has_its_connections_closed(tmp_path: Path) -> None:
    first = engine_for(f"sqlite:///{tmp_path / 'first.db'}")
    check_reachable(f"sqlite:///{tmp_path / 'first.db'}", "a test")
    assert first.pool.checkedin() == 1  # pooled, open
    for i in range(OTHERS):
        check_reachable(f"sqlite:///{tmp_path / f'other{i}.db'}", "a test")
    assert first.pool.checkedin() == 0
    assert engine_for(f"sqlite:///{tmp_path / 'first.db'}") is not first  # made anew


def test_the_same_url_shares_one_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    assert engine_for(url) is engine_for(url)
    forget_engine(url)
    assert engine_for(url) is not None


def test_no_postgresql_connection_is_left_to_the_garbage_collector(pg_database: str,
                                                                   tmp_path: Path) -> None:
    check_reachable(pg_database, "a test")  # a psycopg connection now pooled
    for i in range(OTHERS):
        check_reachable(f"sqlite:///{tmp_path / f'other{i}.db'}", "a test")
    gc.collect()  # an undisposed engine's open connection warns here, failing the test
