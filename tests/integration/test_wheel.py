"""The wheel, as a team installs it into its own project: it ships only ``e2e_assets``, it never
imports a package named ``pipelines`` (the team may have its own), and ``e2e-assets init``
gives a project that bootstraps, runs and loads in Dagster.

The fresh venv gets the wheel with ``pip install --no-deps``; its third-party dependencies are
the locked ones of the test's own venv, reached through a ``.pth`` path entry (which does not
run that venv's own ``.pth`` hooks, so the editable e2e_assets of the repository stays out).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow

FOREIGN_PIPELINES = '''\
"""A team's own package that happens to be called pipelines."""
import os

MARKER = "the team's own pipelines"
if os.environ.get("FOREIGN_PIPELINES_LOG"):
    with open(os.environ["FOREIGN_PIPELINES_LOG"], "a") as fh:
        fh.write(f"imported by pid {os.getpid()}\\n")
'''


def run(*args: str | Path, cwd: Path, env: dict[str, str], timeout: int = 600
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=False, cwd=cwd, env=env,
                          capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, REPO,
               cwd=out, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = out.glob("e2e_assets-*.whl")
    return built


def test_the_wheel_ships_the_library_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"e2e_assets", wheel.name.split("-py3")[0] + ".dist-info"}, tops
    assert "e2e_assets/templates/journey/journey.yaml" in names  # what `init` writes
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[dagster_dg_cli.registry_modules]\ne2e_assets = e2e_assets" in entry_points


def test_a_fresh_venv_beside_a_foreign_pipelines_package_inits_bootstraps_and_runs(
        wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    proc = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path,
               env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    python = venv / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                       cwd=tmp_path, env=dict(os.environ)).stdout.strip())
    proc = run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
               "--quiet", wheel, cwd=tmp_path, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (purelib / "pipelines").mkdir()
    (purelib / "pipelines" / "__init__.py").write_text(FOREIGN_PIPELINES)
    (purelib / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    log = tmp_path / "foreign-imports.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
                "E2E_ASSETS_HOME": str(tmp_path / "proj" / ".e2e"),
                "FOREIGN_PIPELINES_LOG": str(log)})
    where = run(python, "-c", "import e2e_assets, pipelines; print(e2e_assets.__file__); "
                              "print(pipelines.MARKER)", cwd=tmp_path, env=env)
    assert where.returncode == 0, where.stderr
    library, marker = where.stdout.split("\n")[:2]
    assert Path(library).is_relative_to(venv) and marker == "the team's own pipelines"
    log.unlink()  # that import was ours; from here on nothing may import it

    cli = venv / "bin" / "e2e-assets"
    proc = run(cli, "init", "proj", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    project = tmp_path / "proj"
    proc = run(cli, "bootstrap", cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run(cli, "run", "card_default", "--junit", "junit.xml", cwd=project, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "PASSED" in proc.stdout
    report = json.loads((project / ".e2e" / "reports" / "card_default.json").read_text())
    assert report["exit_code"] == 0
    assert report["runs"][0]["journey"] == "card_default"
    assert all(s["status"] == "materialized" for s in report["runs"][0]["stages"])

    # the project's code location loads in Dagster's own CLI
    proc = run(python, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml",
               cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not log.exists(), f"e2e-assets imported the foreign package: {log.read_text()}"
