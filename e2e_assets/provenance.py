"""Provenance: enough about a result to trace it back to its exact inputs.

Every materialization and check result carries these fields (flat, so they read well in the
Dagster UI and compare easily in tests).
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from e2e_assets.model_registry import GOLDEN_DIGEST_TAG, ResolvedModel

KEY_PACKAGES = ("e2e-assets", "dagster", "mlflow", "great-expectations", "scikit-learn",
                "pandas", "numpy", "scipy", "pyarrow", "sqlalchemy")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=8)
def git_commit(folder: str | Path = ".") -> str:
    """HEAD of the repository holding ``folder`` (``+dirty`` if it has changes), or 'unknown'."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=folder, capture_output=True, text=True, timeout=5).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@lru_cache(maxsize=1)
def package_versions() -> str:
    return ", ".join(f"{d}=={_version(d)}" for d in KEY_PACKAGES)


@dataclass(frozen=True)
class Provenance:
    journey: str
    stage: str
    dagster_run_id: str
    git_commit: str
    package_version: str
    config_digest: str
    seed: int
    data_digest: str
    input_digest: str | None
    rows_in: int | None
    rows_out: int
    wall_time_s: float
    model_name: str | None = None
    model_version: str | None = None
    model_alias: str | None = None
    model_run_id: str | None = None
    golden_digest: str | None = None
    python: str = platform.python_version()
    packages: str = ""

    def as_dict(self) -> dict[str, str | int | float]:
        """Flat dict without empty values, for metadata and reports."""
        return {k: v for k, v in asdict(self).items() if v is not None and v != ""}


def build_provenance(*, journey: str, stage: str, run_id: str, folder: Path, config_digest: str,
                     seed: int, data_digest: str, input_digest: str | None, rows_in: int | None,
                     rows_out: int, wall_time_s: float, model: ResolvedModel | None,
                     golden_digest: str | None = None) -> Provenance:
    return Provenance(
        journey=journey, stage=stage, dagster_run_id=run_id, git_commit=git_commit(str(folder)),
        package_version=_version("e2e-assets"), config_digest=config_digest, seed=seed,
        data_digest=data_digest, input_digest=input_digest, rows_in=rows_in, rows_out=rows_out,
        wall_time_s=round(wall_time_s, 4),
        model_name=model.name if model else None, model_version=model.version if model else None,
        model_alias=model.alias if model else None, model_run_id=model.run_id if model else None,
        golden_digest=golden_digest or (model.tag(GOLDEN_DIGEST_TAG) if model else None),
        packages=package_versions())
