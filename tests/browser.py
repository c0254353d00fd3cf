"""A real browser for the UI tests: Debian's chromium driven by Playwright (from PyPI).

Chromium is installed with apt-get when it is missing and the test runs as root. Outside CI a
machine that cannot have it skips, saying why; with ``CI=true`` it fails loudly instead."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / ".test-artifacts"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium() -> Path:
    """The chromium binary, installing Debian's package first when it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    problem = _install()
    if problem is None and CHROMIUM.exists():
        return CHROMIUM
    message = f"the browser tests need {CHROMIUM} (Debian package chromium): {problem}"
    if in_ci():
        pytest.fail(f"{message}. CI must run the browser tests, not skip them.")
    pytest.skip(message)


def _install() -> str | None:
    if shutil.which("apt-get") is None:
        return "apt-get is not available to install it"
    if os.geteuid() != 0:
        return "not root, so it cannot be installed here (apt-get install chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:  # stale package lists: update them, then try once more
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=900)
        proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    return None if proc.returncode == 0 else \
        f"apt-get install chromium failed: {proc.stderr.strip()[-500:]}"


def artifact(name: str) -> Path:
    """Where a test saves what a person should look at (screenshots), kept after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
