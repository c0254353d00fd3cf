"""The real Dagster UI for tests: ``dagster dev`` (or the bare webserver) on loopback, over the
repository's workspace and a test's home, queried through its GraphQL endpoint."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphql(port: int, query: str, variables: dict[str, Any] | None = None) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                 data=json.dumps({"query": query,
                                                  "variables": variables or {}}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.loads(resp.read())
    assert "errors" not in body, body["errors"]
    return body["data"]


@contextmanager
def dagster_ui(home: Path, *, dev: bool = True, timeout_s: float = 180) -> Iterator[int]:
    """``dagster dev`` (``dev=False``: the webserver alone) for ``home``; yields its port once
    the code location has loaded, and stops it (with its daemon and code servers) after."""
    port = free_port()
    env = {**os.environ, "E2E_ASSETS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    exe = Path(sys.executable).with_name("dagster" if dev else "dagster-webserver")
    args = ["dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)] if dev else \
        ["-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    log = (home / "ui-server.log").open("w")
    server = subprocess.Popen([str(exe), *args], cwd=REPO, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if graphql(port, "{ assetNodes { id } }")["assetNodes"]:
                    break
            except OSError:
                pass
            if server.poll() is not None:
                pytest.fail(f"the Dagster UI exited: {_tail(home / 'ui-server.log')}")
            if time.monotonic() > deadline:
                pytest.fail(f"the Dagster UI did not answer within {timeout_s:.0f} s: "
                            f"{_tail(home / 'ui-server.log')}")
            time.sleep(1)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"
