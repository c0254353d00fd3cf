"""The core works in a notebook without Dagster: import it with dagster blocked."""

from __future__ import annotations

import subprocess
import sys

CORE = ["e2e_assets", "e2e_assets.spec", "e2e_assets.stages", "e2e_assets.sources",
        "e2e_assets.sinks", "e2e_assets.model_registry", "e2e_assets.provenance",
        "e2e_assets.bootstrap", "e2e_assets.results", "e2e_assets.discovery",
        "e2e_assets.frames", "e2e_assets.home", "e2e_assets.cli", "e2e_assets.golden",
        "e2e_assets.faults", "e2e_assets.storage", "e2e_assets.checks",
        "e2e_assets.checks.catalog", "e2e_assets.checks.expr", "e2e_assets.checks.rules",
        "e2e_assets.checks.contract", "e2e_assets.checks.golden",
        "e2e_assets.checks.expectations", "e2e_assets.checks.reconcile",
        "e2e_assets.checks.reproducibility", "e2e_assets.checks.runner",
        "e2e_assets.checks.suggest", "e2e_assets.checks.frame_diff",
        "e2e_assets.checks.drift", "e2e_assets.drift", "e2e_assets.drift.sql",
        "e2e_assets.drift.prepared", "e2e_assets.drift.demo_tables"]

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


def test_core_imports_without_dagster() -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM.format(mods=CORE)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_blocking_works() -> None:  # the guard itself must be able to fail
    proc = subprocess.run([sys.executable, "-c", PROGRAM.format(
        mods=["e2e_assets.orchestration"])], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "dagster is blocked" in proc.stderr
