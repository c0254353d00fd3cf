"""Dagster resources: the MLflow registry and the parquet hand-off between stages."""


from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from e2e_assets.frames import write_parquet_atomic
from e2e_assets.model_registry import ResolvedModel, load_model, resolve_model
from e2e_assets.storage import read_stage, stage_path

IO_MANAGER_KEY = "e2e_parquet_io_manager"
ALIAS_TAG = "e2e/model_alias"


class MlflowResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Resolves ``models:/<name>@<alias>`` and loads exact versions (a thin MlflowClient wrap)."""

    tracking_uri: str

    def resolve(self, uri: str, alias: str | None = None) -> ResolvedModel:
        return resolve_model(self.tracking_uri, uri, alias)

    def load(self, resolved: ResolvedModel) -> Any:
        return load_model(self.tracking_uri, resolved)


class StageStore(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Read access to stored stage outputs, for checks that compare stages (reconcile)."""

    base_dir: str

    def read(self, journey: str, stage: str) -> pd.DataFrame:
        return read_stage(self.base_dir, journey, stage)


class ParquetIOManager(dg.ConfigurableIOManager):  # type: ignore[type-arg]
    """Stores each stage's frame at ``<base_dir>/<journey>/<stage>.parquet`` (atomic rename)."""

    base_dir: str

    def _path(self, key: dg.AssetKey) -> Path:
        return stage_path(self.base_dir, key.path)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        path = write_parquet_atomic(obj, self._path(context.asset_key))
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path)),
                                     "bytes": path.stat().st_size})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        path = self._path(context.asset_key)
        if not path.is_file():
            raise FileNotFoundError(f"no stored output for {context.asset_key.to_user_string()} "
                                    f"at {path}; materialize the upstream stage first")
        return pd.read_parquet(path)
