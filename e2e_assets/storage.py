"""Where stage outputs are kept between stages: ``<base>/<journey>/<stage>.parquet``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from e2e_assets.errors import InfrastructureError


def stage_path(base_dir: str | Path, key: Sequence[str]) -> Path:
    return Path(base_dir, *key).with_suffix(".parquet")


def read_stage(base_dir: str | Path, journey: str, stage: str) -> pd.DataFrame:
    path = stage_path(base_dir, (journey, stage))
    if not path.is_file():
        raise InfrastructureError(f"no stored output of {journey}/{stage} at {path}; "
                                  f"materialize that stage first")
    return pd.read_parquet(path)
