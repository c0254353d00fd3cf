"""Where e2e-assets keeps its state: one local folder, every part of it overridable.

Defaults put everything under ``.e2e/`` in the working directory (``E2E_ASSETS_HOME`` moves it):

    .e2e/mlflow.db          MLflow tracking + registry (``MLFLOW_TRACKING_URI`` overrides)
    .e2e/mlartifacts/       MLflow artifact root
    .e2e/journeys.db        SQL sources and sinks (``E2E_DATABASE_URL`` overrides)
    .e2e/dagster/           DAGSTER_HOME for headless runs, so ``dagster dev`` sees them
    .e2e/storage/           parquet hand-off between stages
    .e2e/reports/           run reports
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "E2E_ASSETS_HOME"
DATABASE_URL_ENV = "E2E_DATABASE_URL"
DEFAULT_HOME = ".e2e"

_DAGSTER_YAML = """\
# Written by e2e-assets. Local instance for headless runs and `dagster dev`.
telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class Home:
    """Resolved locations of the local state. Build with :meth:`from_env`."""

    root: Path
    tracking_uri: str
    database_url: str

    @classmethod
    def from_env(cls, root: str | Path | None = None) -> Home:
        base = Path(root or os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser().resolve()
        tracking = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{base / 'mlflow.db'}"
        database = os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{base / 'journeys.db'}"
        return cls(root=base, tracking_uri=tracking, database_url=database)

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
        """Create the folders (idempotent) and a dagster.yaml with telemetry off."""
        for path in (self.root, self.artifact_root, self.storage, self.reports, self.dagster_home):
            path.mkdir(parents=True, exist_ok=True)
        config = self.dagster_home / "dagster.yaml"
        if not config.exists():
            config.write_text(_DAGSTER_YAML)
        return self
