"""One writer at a time per registered model's aliases, across processes and machines.

The promotion gate moves an alias with compare-and-set: under this lock it re-reads the alias
and moves it only if it still points where it pointed when the gate started. The lock lives
where the MLflow store lives, so every process that shares the store shares the lock:

* PostgreSQL store: a session-level advisory lock (``pg_advisory_lock``) on the tracking
  database, keyed by the model name; released when the block ends or the connection dies.
* SQLite store: an exclusive ``fcntl`` lock on ``<database>.aliases.lock`` next to the file
  (SQLite stores are local to one machine).
* any other store (a local folder; a tracking server): a file lock in the e2e-assets home, which
  serializes the gates of that home only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from e2e_assets.db import url_backend
from e2e_assets.errors import InfrastructureError
from e2e_assets.handoff import file_lock


def _key(model_name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``."""
    digest = hashlib.sha256(f"e2e-assets/aliases/{model_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def alias_lock(tracking_uri: str, model_name: str, fallback_dir: Path,
               timeout_s: float = 120.0) -> Iterator[str]:
    """Hold the lock on ``model_name``'s aliases; yields how it is held (for the record)."""
    scheme = url_backend(tracking_uri)
    if scheme == "postgresql":
        with _pg_advisory_lock(tracking_uri, model_name, timeout_s):
            yield "postgresql advisory lock"
        return
    if scheme == "sqlite":
        from sqlalchemy.engine import make_url

        database = make_url(tracking_uri).database
        if database:
            path = Path(database).with_name(Path(database).name + ".aliases.lock")
            with file_lock(path):
                yield f"file lock {path}"
            return
    path = fallback_dir / f".aliases-{model_name}.lock"
    with file_lock(path):
        yield f"file lock {path}"


@contextmanager
def _pg_advisory_lock(tracking_uri: str, model_name: str, timeout_s: float) -> Iterator[None]:
    import sqlalchemy as sa

    engine = sa.create_engine(tracking_uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"SET lock_timeout = '{int(timeout_s * 1000)}ms'"))
            try:
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _key(model_name)})
            except sa.exc.DBAPIError as exc:
                raise InfrastructureError(f"could not take the alias lock of model "
                                          f"'{model_name}' within {timeout_s:.0f} s: another "
                                          f"gate holds it ({exc.orig})") from exc
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _key(model_name)})
    finally:
        engine.dispose()
