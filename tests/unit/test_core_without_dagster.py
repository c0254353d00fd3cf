"""The core works in a notebook without Dagster: every module outside ``orchestration`` imports
with dagster blocked. The module list is walked from the package, not written by hand."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import e2e_assets

ORCHESTRATION = "e2e_assets.orchestration"


def core_modules() -> list[str]:
    names = ["e2e_assets"]
    for info in pkgutil.walk_packages(e2e_assets.__path__, prefix="e2e_assets."):
        if info.name.endswith(".__main__"):  # runs the CLI when imported
            continue
        if info.name != ORCHESTRATION and not info.name.startswith(ORCHESTRATION + "."):
            names.append(info.name)
    return names


PROGRAM = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "dagster" or name.startswith("dagster."):
            raise ImportError("dagster is blocked in this test")
sys.meta_path.insert(0, Block())
import importlib
for mod in {mods!r}:
    importlib.import_module(mod)
assert not any(m == "dagster" or m.startswith("dagster.") for m in sys.modules)
print("ok")
"""


def test_the_walk_finds_the_whole_core() -> None:
    modules = core_modules()
    # a few that must be there, including subpackages' modules, and none of the Dagster layer
    for name in ("e2e_assets.protocol", "e2e_assets.handoff", "e2e_assets.spec.loader",
                 "e2e_assets.checks.rules", "e2e_assets.drift.sql", "e2e_assets.dryrun"):
        assert name in modules
    assert not [m for m in modules if m.startswith(ORCHESTRATION)]
    assert len(modules) >= 45


def test_core_imports_without_dagster() -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM.format(mods=core_modules())],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_blocking_works() -> None:  # the guard itself must be able to fail
    proc = subprocess.run([sys.executable, "-c", PROGRAM.format(
        mods=[ORCHESTRATION])], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "dagster is blocked" in proc.stderr
