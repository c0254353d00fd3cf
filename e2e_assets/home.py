"""Where e2e-assets keeps its state: one local folder, every part of it overridable.

Defaults put everything under ``.e2e/`` in the working directory (``E2E_ASSETS_HOME`` moves it):

    .e2e/mlflow.db          MLflow tracking + registry (``MLFLOW_TRACKING_URI`` overrides)
    .e2e/mlartifacts/       MLflow artifact root
    .e2e/journeys.db        SQL sources and sinks (``E2E_DATABASE_URL`` overrides)
    .e2e/dagster/           DAGSTER_HOME for headless runs, so ``dagster dev`` sees them
    .e2e/storage/           parquet hand-off between stages
    .e2e/reports/           run reports

Where the steps of a journey run execute is a deployment setting, not the journey's:
``E2E_EXECUTOR`` is ``in_process`` (the default: one process) or ``celery`` (each step a task on
dagster-celery workers, broker ``E2E_CELERY_BROKER``, default the local RabbitMQ).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from e2e_assets.errors import InfrastructureError

HOME_ENV = "E2E_ASSETS_HOME"
DATABASE_URL_ENV = "E2E_DATABASE_URL"
DEFAULT_HOME = ".e2e"
EXECUTOR_ENV = "E2E_EXECUTOR"
CELERY_BROKER_ENV = "E2E_CELERY_BROKER"
EXECUTORS = ("in_process", "celery")
DEFAULT_CELERY_BROKER = "amqp://guest:guest@127.0.0.1:5672//"

_DAGSTER_YAML = """\
# Written by e2e-assets. Local instance for headless runs and `dagster dev`.
telemetry:
  enabled: false
# `dagster dev` queues runs launched from the UI; its daemon looks every 5 s by default, which
# was half of a checks-only drift job's time. Once a second:
run_coordinator:
  module: dagster
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
"""


@dataclass(frozen=True)
class Home:
    """Resolved locations of the local state. Build with :meth:`from_env`."""

    root: Path
    tracking_uri: str
    database_url: str
    executor: str = "in_process"  # one of EXECUTORS
    celery_broker: str = DEFAULT_CELERY_BROKER

    @classmethod
    def from_env(cls, root: str | Path | None = None) -> Home:
        base = Path(root or os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser().resolve()
        tracking = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{base / 'mlflow.db'}"
        database = os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{base / 'journeys.db'}"
        executor = os.environ.get(EXECUTOR_ENV) or "in_process"
        if executor not in EXECUTORS:
            raise InfrastructureError(f"{EXECUTOR_ENV}={executor!r} is not an executor; "
                                      f"expected one of {list(EXECUTORS)}")
        return cls(root=base, tracking_uri=tracking, database_url=database, executor=executor,
                   celery_broker=os.environ.get(CELERY_BROKER_ENV) or DEFAULT_CELERY_BROKER)

    @property
    def artifact_root(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.root / "dagster").resolve()

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def variables(self) -> dict[str, str]:
        """Variables a journey spec may interpolate even when unset in the environment."""
        return {HOME_ENV: str(self.root), DATABASE_URL_ENV: self.database_url,
                "MLFLOW_TRACKING_URI": self.tracking_uri}

    def ensure(self) -> Home:
        """Create the folders (idempotent) and a dagster.yaml with telemetry off; raise
        InfrastructureError naming the folder (and the variable that set it) if one is a file
        or not writable."""
        for path, origin in ((self.root, HOME_ENV), (self.artifact_root, HOME_ENV),
                             (self.storage, HOME_ENV), (self.reports, HOME_ENV),
                             (self.dagster_home, "DAGSTER_HOME")):
            _usable_folder(path, origin)
        config = self.dagster_home / "dagster.yaml"
        if not config.exists():
            try:  # written by one process at a time, via a rename: never half a file
                fd, tmp = tempfile.mkstemp(dir=self.dagster_home, prefix=".dagster.yaml.")
                with os.fdopen(fd, "w") as fh:
                    fh.write(_DAGSTER_YAML)
                os.replace(tmp, config)
            except OSError as exc:
                raise InfrastructureError(f"cannot write {config}: {exc.strerror or exc}"
                                          ) from exc
        return self

    def check_dagster_home(self) -> None:
        """Raise InfrastructureError if DAGSTER_HOME could not be used, creating nothing."""
        check_can_create(self.dagster_home, "DAGSTER_HOME")


def check_can_create(folder: Path, what: str) -> None:
    """Raise InfrastructureError naming ``what`` unless ``folder`` is, or could be made, a
    writable folder: it (or its nearest existing parent) must be a writable folder. Creates
    nothing."""
    folder = Path(folder).absolute()
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        raise InfrastructureError(f"{what} {folder} cannot be used: {existing} is a file, "
                                  f"expected a folder; point {what} elsewhere")
    try:  # os.access says yes to root even on a read-only mount: try for real
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise InfrastructureError(f"{what} {folder} cannot be used: {existing} is not "
                                  f"writable ({exc.strerror or exc}); point {what} elsewhere"
                                  ) from exc


def _usable_folder(path: Path, origin: str) -> None:
    if path.exists() and not path.is_dir():
        raise InfrastructureError(f"{path} is a file, expected a folder (set by {origin} or "
                                  f"its default); point {origin} at a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InfrastructureError(f"cannot create the folder {path} ({origin}): "
                                  f"{exc.strerror or exc}") from exc
    try:  # os.access says yes to root even on a read-only mount: try for real
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise InfrastructureError(f"the folder {path} ({origin}) is not writable: "
                                  f"{exc.strerror or exc}") from exc
