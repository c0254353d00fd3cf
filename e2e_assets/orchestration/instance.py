"""The Dagster instance of a home: initialised once under a lock, abandoned runs closed.

Several headless runs may start at once in a fresh home. Dagster's SQLite storages create and
stamp their schema on first use, and two processes doing that together corrupt it ("more than
one head"), so the first use happens under an exclusive file lock.

A process killed with ``kill -9`` leaves its run STARTED forever. Every headless run is tagged
with its host, process id and process start time; the next start marks runs whose process is
gone as FAILURE, with the reason, and removes their hand-off folders.
"""

import os
import socket
from pathlib import Path

import dagster as dg

from e2e_assets.errors import InfrastructureError
from e2e_assets.handoff import RunStore, file_lock
from e2e_assets.home import Home
from e2e_assets.identity import JOURNEY_TAG
from e2e_assets.orchestration.resources import handoff_run_id

HOST_TAG, PID_TAG, PID_START_TAG = "e2e/host", "e2e/pid", "e2e/pid_start"


def process_tags() -> dict[str, str]:
    """Tags that let a later start tell whether this run's process still exists."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()),
            PID_START_TAG: _start_time(os.getpid()) or ""}


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    fields = _stat(pid)
    return fields[19] if fields else None


def _process_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _stat(pid)
    if fields is None:  # no /proc: the pid exists, trust that
        return True
    if fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent: it runs no more
        return False
    return not (started and fields[19] != started)


def instance_for(home: Home) -> dg.DagsterInstance:
    """The home's Dagster instance; created and migrated under a lock, stale runs closed."""
    home.ensure()
    folder = home.dagster_home
    try:
        with file_lock(folder / ".e2e-instance.lock"):
            _check_postgres_driver(folder)
            instance = dg.DagsterInstance.from_config(str(folder))
            instance.get_runs(limit=1)  # first use creates the run storage: under the lock
            instance.get_latest_materialization_event(dg.AssetKey(["e2e", "init"]))
            close_abandoned_runs(instance, home)
    except InfrastructureError:
        raise
    except Exception as exc:  # a corrupt or foreign instance: say where, never a traceback
        raise InfrastructureError(f"the Dagster instance at {folder} (DAGSTER_HOME) cannot be "
                                  f"opened: {type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    return instance


def _event_log_postgres_url(folder: Path) -> str | None:
    """The PostgreSQL URL the instance's event log would use, read from ``dagster.yaml`` without
    building the instance (which would open connections), or None when it is not PostgreSQL."""
    import yaml

    try:
        config = yaml.safe_load((folder / "dagster.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None  # no file (Dagster's defaults) or an unreadable one: Dagster says what is wrong
    if not isinstance(config, dict):
        return None
    storage = config.get("storage")
    event_log = config.get("event_log_storage")
    if isinstance(storage, dict) and isinstance(storage.get("postgres"), dict):
        pg = storage["postgres"]
    elif (isinstance(event_log, dict) and str(event_log.get("module", "")).startswith(
            "dagster_postgres") and isinstance(event_log.get("config"), dict)):
        pg = event_log["config"]
    else:
        return None
    from dagster_postgres.utils import pg_url_from_config

    resolved = _with_env(pg)
    try:
        return pg_url_from_config(resolved) if isinstance(resolved, dict) else None
    except Exception:  # noqa: BLE001 - incomplete config: let Dagster say what is missing
        return None


def _with_env(value: object) -> object:
    """A Dagster config value with every ``{env: NAME}`` replaced by that variable's value."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return os.environ.get(str(value["env"]), "")
        return {k: _with_env(v) for k, v in value.items()}
    return value


def _check_postgres_driver(folder: Path) -> None:
    """Refuse a PostgreSQL event log reached through psycopg 3, before any run starts.

    dagster-postgres sends ``NOTIFY run_events, <bound parameter>``, which only psycopg2's
    client-side binding accepts; SQLAlchemy 2.1 reads a bare ``postgresql://`` URL as psycopg 3,
    and the first event of the first run then failed with a syntax error, as an internal error.
    Read from the configuration, so a refused instance never opens a connection.
    """
    url = _event_log_postgres_url(folder)
    if url is None:
        return
    from sqlalchemy.engine import make_url

    try:
        driver = make_url(url).get_dialect().driver
    except Exception:  # noqa: BLE001 - an unknown driver: let Dagster say what is wrong
        return
    if driver != "psycopg2":
        raise InfrastructureError(
            f"the Dagster instance at {folder} (DAGSTER_HOME) reaches PostgreSQL through "
            f"{driver}, but dagster-postgres needs psycopg2: write its URL as "
            f"postgresql+psycopg2://... (a bare postgresql:// means psycopg 3 under "
            f"SQLAlchemy 2.1); see docs/deployment/README.md")


def close_abandoned_runs(instance: dg.DagsterInstance, home: Home) -> list[str]:
    """Mark this host's STARTED runs whose process is gone as failed; returns their ids."""
    host = socket.gethostname()
    closed = []
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED,
                                                             dg.DagsterRunStatus.STARTING],
                                                   tags={HOST_TAG: host}))
    for run in runs:
        pid = run.tags.get(PID_TAG, "")
        if not pid.isdigit() or _process_alive(int(pid), run.tags.get(PID_START_TAG, "")):
            continue
        instance.report_run_failed(
            run, message=f"e2e-assets: the process that ran this run (pid {pid} on {host}) "
                         f"ended without finishing it (killed?); marked failed at the next "
                         f"start. Its stage hand-offs were discarded; the sink's transaction, "
                         f"if one was open, was rolled back by the database.")
        journey = run.tags.get(JOURNEY_TAG)
        if journey:  # a stage of a stage-by-stage journey run: that journey run's hand-offs
            handoff_id = handoff_run_id(run)
            RunStore(home.storage, journey, handoff_id, ()).discard(handoff_id)
        closed.append(run.run_id)
    return closed
