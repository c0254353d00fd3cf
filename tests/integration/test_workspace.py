"""The workspace loads in Dagster's own CLI the way ``dagster dev -w workspace.yaml`` loads it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow


def dagster(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "E2E_ASSETS_HOME": str(tmp_path / "home"),
           "DAGSTER_HOME": str(tmp_path)}
    return subprocess.run([str(exe), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def test_definitions_validate(tmp_path: Path) -> None:
    proc = dagster("definitions", "validate", "-w", "workspace.yaml", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout


def test_asset_list(tmp_path: Path) -> None:
    proc = dagster("asset", "list", "-m", "pipelines.definitions", "-d", ".", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = set(proc.stdout.split())
    expected = {f"{j}/{s}" for j in ("credit_approval", "loan_pricing")
                for s in ("ingest", "features", "score", "decide", "deliver")}
    assert expected <= listed and len(listed & expected) == 10
