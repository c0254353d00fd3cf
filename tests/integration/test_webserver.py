"""The real Dagster webserver over the workspace: the UI lists the journeys and headless runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import cli
from tests.helpers import REPO

pytestmark = pytest.mark.slow

QUERY = """{
  assetNodes { assetKey { path } groupName }
  runsOrError { ... on Runs { results { runId jobName status } } }
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                 data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["data"]


def test_ui_shows_journey_assets_and_headless_runs(home: Path) -> None:
    run = cli("run", "credit_approval", home=home)
    assert run.returncode == 0, run.stdout + run.stderr
    port = free_port()
    env = {**os.environ, "E2E_ASSETS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        data = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                data = graphql(port, QUERY)
                if data["assetNodes"]:
                    break
            except OSError:
                pass
            if server.poll() is not None:
                pytest.fail(f"webserver exited: {server.stderr.read()[-2000:]}")
            time.sleep(1)
        assert data is not None, "webserver did not answer within 120 s"
        nodes = {("/".join(n["assetKey"]["path"]), n["groupName"]) for n in data["assetNodes"]}
        assert ("credit_approval/score", "credit_approval") in nodes
        assert ("loan_pricing/deliver", "loan_pricing") in nodes
        runs = data["runsOrError"]["results"]
        assert any(r["jobName"] == "credit_approval_journey" and r["status"] == "SUCCESS"
                   for r in runs), runs
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()
