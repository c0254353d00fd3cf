"""The checks-only drift job of each reference journey, launched under ``dagster dev`` as the UI
launches it (GraphQL ``launchRun``), timed from launch to the run's end, with where the time
went: queued (the daemon's run coordinator), run worker start-up (the new process imports the
code location), and each check's step.

    .venv/bin/python benchmarks/drift_job_under_dev.py [--repeat 3]

Bootstraps and runs both journeys once in a fresh home first (so the checks have stored stage
outputs), then starts ``dagster dev`` on loopback over that home. Prints one table (last output:
benchmarks/results_drift_job_under_dev.txt). The target (issue 14): at most 10 s end to end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.ui_server import dagster_ui, graphql

JOURNEYS = ("credit_approval", "loan_pricing")
LOCATION = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { ... on RepositoryLocation { repositories { name } } } } } } }"""
LAUNCH = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""
RUN = """query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status creationTime
  startTime endTime stepStats { stepKey status startTime endTime } } } }"""


def _cli(*args: str, env: dict[str, str]) -> None:
    exe = str(Path(sys.executable).with_name("e2e-assets"))
    proc = subprocess.run([exe, *args], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"e2e-assets {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")


def launch_and_wait(port: int, location: str, repository: str, job: str) -> dict:
    params = {"selector": {"repositoryLocationName": location, "repositoryName": repository,
                           "jobName": job}, "runConfigData": {}}
    started = time.perf_counter()
    launched = graphql(port, LAUNCH, {"params": params})["launchRun"]
    if launched["__typename"] != "LaunchRunSuccess":
        sys.exit(f"launching {job} failed: {launched}")
    run_id = launched["run"]["runId"]
    while True:
        run = graphql(port, RUN, {"id": run_id})["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(0.2)
    run["wall_s"] = time.perf_counter() - started
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "E2E_ASSETS_HOME": str(home), "DO_NOT_TRACK": "1",
               "GX_ANALYTICS_ENABLED": "false", "MLFLOW_ENABLE_TELEMETRY": "false"}
        env.pop("DAGSTER_HOME", None)
        _cli("bootstrap", env=env)
        for journey in JOURNEYS:
            _cli("run", journey, env=env)
        os.environ.update({k: env[k] for k in ("DO_NOT_TRACK", "GX_ANALYTICS_ENABLED")})
        with dagster_ui(home) as port:
            entry = graphql(port, LOCATION)["workspaceOrError"]["locationEntries"][0]
            location = entry["name"]
            repository = entry["locationOrLoadError"]["repositories"][0]["name"]
            rows = []
            for journey in JOURNEYS:
                runs = [launch_and_wait(port, location, repository, f"{journey}_drift_checks")
                        for _ in range(repeat)]
                rows.append((journey, runs))
    print(f"checks-only drift job under dagster dev, {repeat} launches per journey "
          f"(median; machine: {os.cpu_count()} cores)")
    head = ("journey", "status", "end to end s",
            "launch to run start s (queue, new process, code import)",
            "run start to first step s", "steps s", "slowest step")
    print(" | ".join(head))
    for journey, runs in rows:
        def med(values: list[float]) -> str:
            return f"{statistics.median(values):.2f}"
        queued = [r["startTime"] - r["creationTime"] for r in runs]
        first_step = [min(s["startTime"] for s in r["stepStats"]) - r["startTime"] for r in runs]
        steps = [max(s["endTime"] for s in r["stepStats"])
                 - min(s["startTime"] for s in r["stepStats"]) for r in runs]
        slow = max(runs[-1]["stepStats"], key=lambda s: s["endTime"] - s["startTime"])
        print(" | ".join((journey, ",".join(sorted({r["status"] for r in runs})),
                          med([r["wall_s"] for r in runs]), med(queued), med(first_step),
                          med(steps), f"{slow['stepKey']} "
                                      f"{slow['endTime'] - slow['startTime']:.2f}")))


if __name__ == "__main__":
    main()
