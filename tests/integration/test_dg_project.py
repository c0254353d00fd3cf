"""Dagster's own ``dg`` CLI, as a Dagster user drives it: the component is listed, scaffolded
into a dg project, and the project's definitions hold the journey it declares."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow
DG = Path(sys.executable).with_name("dg")

PYPROJECT = """\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["e2e-assets"]

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "{name}"
"""

DEFINITIONS = """\
from pathlib import Path

import dagster as dg
from dagster.components import load_from_defs_folder


@dg.definitions
def defs():
    return load_from_defs_folder(path_within_project=Path(__file__).parent)
"""


def dg(*args: str, cwd: Path, env: dict[str, str] | None = None
       ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DG), *args], check=False, cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_dg_list_components_lists_the_journey_component() -> None:
    proc = dg("list", "components", "--json", cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = {c["key"]: c for c in json.loads(proc.stdout)["items"]}
    assert "e2e_assets.JourneyComponent" in listed, sorted(listed)
    assert "asset checks" in listed["e2e_assets.JourneyComponent"]["summary"]


def _project(tmp_path: Path, name: str = "riskproj") -> tuple[Path, dict[str, str]]:
    root = tmp_path / name
    package = root / "src" / name
    (package / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT.format(name=name))
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(DEFINITIONS)
    env = {"PYTHONPATH": str(root / "src"), "E2E_ASSETS_HOME": str(tmp_path / "home")}
    return root, env


def test_dg_scaffold_writes_a_journey_the_project_loads(tmp_path: Path) -> None:
    root, env = _project(tmp_path)
    proc = dg("scaffold", "defs", "e2e_assets.JourneyComponent", "card_watch", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = root / "src" / "riskproj" / "defs" / "card_watch"
    assert (folder / "defs.yaml").read_text().startswith("type: e2e_assets.JourneyComponent")
    assert (folder / "stages.py").is_file() and (folder / "train.py").is_file()

    proc = dg("list", "defs", "--json", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = json.loads(proc.stdout)
    assets = {a["asset_key"]: a for a in listed["assets"]}
    assert set(assets) == {f"card_watch/{s}" for s in ("ingest", "features", "score", "decide",
                                                       "deliver")}
    # the stage's docstring, its whole first paragraph (not its first line, cut mid-sentence)
    assert assets["card_watch/decide"]["description"] == (
        "keep / limit / close: ``p_default >= close_at`` closes the account, ``>= limit_at`` "
        "lowers its limit, anything lower keeps it.")
    assert assets["card_watch/decide"]["source"].endswith("defs/card_watch/defs.yaml:1")
    checks = {c["key"] for c in listed["asset_checks"]}
    assert "card_watch/score:signature_contract" in checks
    assert any(j["name"] == "card_watch_journey" for j in listed["jobs"])

    # the same defs.yaml runs headless through the CLI, as a journey.yaml would
    proc = subprocess.run([str(Path(sys.executable).with_name("e2e-assets")), "validate",
                           str(folder / "defs.yaml"), "--offline"], check=False, cwd=root,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "valid journey 'card_watch'" in proc.stdout
