"""The home refuses a psycopg 3 PostgreSQL event log from dagster.yaml alone, before it opens
any connection (a refused instance once leaked a connection into whichever test ran next)."""

from pathlib import Path

import pytest

from e2e_assets.errors import InfrastructureError
from e2e_assets.home import Home
from e2e_assets.orchestration.instance import instance_for

# Port 1 on localhost refuses connections: an instance that tried to connect would fail with
# "cannot be opened", not with the driver's name.
UNREACHABLE = "127.0.0.1:1/nothing"


def write_config(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text(text)


@pytest.mark.parametrize("config", [
    "storage:\n  postgres:\n    postgres_url: {env: E2E_TEST_PG_URL}\n",
    ("event_log_storage:\n  module: dagster_postgres.event_log\n"
    "  class: PostgresEventLogStorage\n  config:\n    postgres_url: {env: E2E_TEST_PG_URL}\n"),
    ("storage:\n  postgres:\n    postgres_db:\n      hostname: 127.0.0.1\n      port: 1\n"
    "      db_name: nothing\n      username: {env: E2E_TEST_PG_USER}\n"),
], ids=["storage_url", "event_log_url", "storage_parts_default_scheme"])
def test_a_psycopg3_event_log_is_refused_without_connecting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str) -> None:
    dagster_home = tmp_path / "dagster"
    write_config(dagster_home, config)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("E2E_TEST_PG_URL", f"postgresql://u@{UNREACHABLE}")
    monkeypatch.setenv("E2E_TEST_PG_USER", "u")
    with pytest.raises(InfrastructureError, match=r"through psycopg\b.*postgresql\+psycopg2://") as err:
        instance_for(Home.from_env(tmp_path / "home"))
    assert str(dagster_home) in str(err.value) and err.value.exit_code == 2

