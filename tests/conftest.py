"""Shared fixtures: a bootstrapped home (real MLflow on SQLite, real sources) and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUIET_ENV = {"DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
             "MLFLOW_ENABLE_TELEMETRY": "false", "DAGSTER_DISABLE_TELEMETRY": "true",
             # One native thread per process (inherited by the CLI subprocesses): the suite
             # runs a worker per core, and OpenMP models oversubscribed by the other workers
             # ran 10-90x slower (see e2e_assets/checks/latency.py).
             "OMP_NUM_THREADS": "1"}
os.environ.update(QUIET_ENV)
for var in ("E2E_ASSETS_HOME", "E2E_DATABASE_URL", "MLFLOW_TRACKING_URI", "DAGSTER_HOME",
            "E2E_PIPELINES_DIR"):
    os.environ.pop(var, None)  # tests never touch the developer's own home
PG_ADMIN_URL = os.environ.get("E2E_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBITMQ_URL = os.environ.get("E2E_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _bootstrap(root: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
               ) -> None:
    """Bootstrap reference journeys (default: all) through the real CLI into ``root``."""
    proc = subprocess.run([sys.executable, "-m", "e2e_assets", "bootstrap", *args], cwd=REPO,
                          env={**os.environ, "E2E_ASSETS_HOME": str(root), **(env or {})},
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _shared_base_home(shared: Path) -> Path:
    """Bootstrap ``shared/base_home`` unless a worker already did (under a lock)."""
    from e2e_assets.handoff import file_lock

    root = shared / "base_home"
    with file_lock(shared / "base_home.lock"):
        if not (root / ".bootstrapped").exists():
            shutil.rmtree(root, ignore_errors=True)
            _bootstrap(root)
            (root / ".bootstrapped").touch()
    return root


@pytest.fixture(scope="session", autouse=True)
def _base_home_in_the_background(request: pytest.FixtureRequest,
                                 tmp_path_factory: pytest.TempPathFactory,
                                 worker_id: str) -> None:
    """Start bootstrapping the shared base home at once, beside the first (unit) tests, so the
    first test that needs it waits less. A failure here is retried, and shown, by base_home."""
    needed = any("base_home" in getattr(item, "fixturenames", ())
                 for item in request.session.items)
    if worker_id == "master" or not needed:
        return
    shared = tmp_path_factory.getbasetemp().parent

    def build() -> None:
        with contextlib.suppress(Exception):  # base_home builds it again and reports why
            _shared_base_home(shared)

    threading.Thread(target=build, name="base-home-bootstrap", daemon=True).start()


@pytest.fixture(scope="session")
def base_home(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A home with both reference journeys bootstrapped once per session, shared by the
    pytest-xdist workers (built once under a lock, started in the background when the session
    starts; the others wait and reuse it). Do not write to it: the ``home`` fixture gives a
    private copy."""
    if worker_id == "master":  # not distributed
        root = tmp_path_factory.mktemp("base_home")
        _bootstrap(root)
        return root
    return _shared_base_home(tmp_path_factory.getbasetemp().parent)


@pytest.fixture()
def home(base_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the bootstrapped home (MLflow registry, sources, empty sinks).

    Artifacts stay in the base home (their URIs are absolute); they are only read.
    """
    root = tmp_path / "home"
    shutil.copytree(base_home, root, ignore=shutil.ignore_patterns("dagster", "storage",
                                                                    "reports"))
    monkeypatch.setenv("E2E_ASSETS_HOME", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster"))
    monkeypatch.chdir(REPO)
    return root


def cli(*args: str, home: Path, env: dict[str, str] | None = None, cwd: Path = REPO,
        timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``e2e-assets`` console script as a new user would: its Dagster instance
    is the home's own (``home/dagster``) unless ``env`` names a DAGSTER_HOME."""
    exe = Path(sys.executable).with_name("e2e-assets")
    full_env = {**os.environ, "E2E_ASSETS_HOME": str(home)}
    full_env.pop("DAGSTER_HOME", None)  # the ``home`` fixture's, set for in-process use
    full_env.update(env or {})
    return subprocess.run([str(exe), *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _pg_reachable() -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_reachable()
    if problem is not None:
        message = f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {problem}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message}. CI must run the PostgreSQL tests, not skip them.")
        pytest.skip(message)
    return PG_ADMIN_URL


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _rabbitmq_reachable() -> str | None:
    from kombu import Connection

    try:
        with Connection(RABBITMQ_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@pytest.fixture(scope="session")
def rabbitmq_broker() -> str:
    """The RabbitMQ broker the celery executor's tests send steps through."""
    problem = _rabbitmq_reachable()
    if problem is not None:
        message = f"RabbitMQ at {RABBITMQ_URL} is not reachable: {problem}"
        if _in_ci():
            pytest.fail(f"{message}. CI must run the celery executor tests, not skip them.")
        pytest.skip(message)
    return RABBITMQ_URL


@pytest.fixture()
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    import sqlalchemy as sa

    name = f"e2e_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_server.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from e2e_assets.db import forget_engine

        forget_engine(url)  # the product's pooled connections closed before the drop
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
