"""Find journeys: ``<pipelines>/<name>/journey.yaml``."""

from __future__ import annotations

import os
from pathlib import Path

from e2e_assets.errors import SpecError
from e2e_assets.home import Home
from e2e_assets.spec import Journey, load_journey

PIPELINES_ENV = "E2E_PIPELINES_DIR"


def pipelines_dir() -> Path:
    """``$E2E_PIPELINES_DIR``, else ``./pipelines``: the folder of journey folders.

    A folder, never an import: the library imports no package of that name, so a project's
    own ``pipelines`` package (or none) is left alone."""
    if os.environ.get(PIPELINES_ENV):
        return Path(os.environ[PIPELINES_ENV]).resolve()
    return Path.cwd() / "pipelines"


def journey_files(folder: Path | None = None) -> list[Path]:
    return sorted((folder or pipelines_dir()).glob("*/journey.yaml"))


def find_journey_file(name_or_path: str) -> Path:
    """A journey name (folder under the pipelines dir) or a path to a journey.yaml."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return path
    if path.is_dir() and ((path / "journey.yaml").exists() or os.sep in name_or_path):
        return path / "journey.yaml"  # a journey's folder
    candidate = pipelines_dir() / name_or_path / "journey.yaml"
    if candidate.is_file():
        return candidate
    if not pipelines_dir().is_dir():
        raise SpecError(f"no journey named '{name_or_path}': there is no journeys folder "
                        f"{pipelines_dir()}; expected ./pipelines/<journey>/journey.yaml (or "
                        f"set {PIPELINES_ENV}, or give the journey.yaml's path); "
                        f"`e2e-assets init <dir>` creates a project", file=str(candidate))
    known = [p.parent.name for p in journey_files()]
    raise SpecError(f"no journey named '{name_or_path}' under {pipelines_dir()}; "
                    f"known journeys: {known or 'none'}", file=str(candidate))


def load_all(home: Home, folder: Path | None = None) -> list[Journey]:
    return [load_journey(p, variables=home.variables()) for p in journey_files(folder)]
