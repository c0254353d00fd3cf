"""Where a journey's steps execute: in this process, or as tasks on dagster-celery workers.

The choice is the deployment's (``E2E_EXECUTOR``, read into :class:`~e2e_assets.home.Home`),
never the journey spec's: the same journey runs in one process on a laptop and on a pool of
workers in a deployment.

On celery, the process that starts a run only plans it and waits; each step (a stage, or a
monitoring check) is a task that some worker runs, in its own process with its own environment.
The worker rebuilds the job from a pointer, :func:`journey_job` called with the journey file and
the submitting home's locations (so the worker's own ``E2E_ASSETS_HOME`` does not matter), and
refuses a journey file whose resolved spec changed since the run was submitted. The Dagster
instance is the submitter's (its reference travels with each task), and stages hand frames to
each other through the stage store on disk, so which worker runs which step does not matter.

A drill's faults are wrapped around the stage functions in the submitting process and cannot be
rebuilt from the journey file, so a drill runs in process whatever the setting.
"""

import os
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from e2e_assets.errors import InfrastructureError
from e2e_assets.home import Home
from e2e_assets.spec import Journey

CELERY_BACKEND = "rpc://"  # results come back over the broker: no second service to run


def journey_executor(home: Home | None) -> dg.ExecutorDefinition:
    """The executor of the home's deployment setting (in process when there is no home)."""
    if home is None or home.executor == "in_process":
        # the stages run one after another: a process per step would only import the code
        # location again for each
        return dg.in_process_executor
    from dagster_celery import celery_executor

    return celery_executor.configured({"broker": home.celery_broker,
                                       "backend": CELERY_BACKEND}, name="celery")


def runs_on_workers(journey: Journey, home: Home) -> bool:
    """Whether ``journey``'s runs go to the workers (a drill never does, see the docstring)."""
    return home.executor == "celery" and not journey.injected


def worker_config(home: Home) -> dict[str, Any]:
    """What ``dagster-celery worker start -y`` needs to listen where the runs are sent."""
    return {"execution": {"config": {"broker": home.celery_broker, "backend": CELERY_BACKEND}}}


def reconstructable_journey_job(journey: Journey, home: Home) -> Any:
    """A pointer to ``journey``'s job that a worker process can follow: this module's
    :func:`journey_job` with the journey file, the home, the project folder and the digest of
    the spec as resolved here."""
    return dg.build_reconstructable_job(
        __name__, journey_job.__name__,
        reconstructable_kwargs={"journey_file": str(journey.path), "home_root": str(home.root),
                                "tracking_uri": home.tracking_uri,
                                "database_url": home.database_url,
                                "executor": home.executor, "celery_broker": home.celery_broker,
                                "project_dir": os.getcwd(),
                                "config_digest": journey.config_digest},
        reconstructor_working_directory=os.getcwd())


def journey_job(*, journey_file: str, home_root: str, tracking_uri: str, database_url: str,
                executor: str, celery_broker: str, project_dir: str,
                config_digest: str) -> dg.JobDefinition:
    """The journey's job with the submitting home's resources, rebuilt in a worker."""
    from e2e_assets.orchestration.factory import build_journey_definitions, journey_job_name
    from e2e_assets.spec import load_journey

    if project_dir not in sys.path:  # the journey's stage modules import from the project
        sys.path.insert(0, project_dir)
    home = Home(root=Path(home_root), tracking_uri=tracking_uri, database_url=database_url,
                executor=executor, celery_broker=celery_broker)
    journey = load_journey(journey_file, variables=home.variables())
    if journey.config_digest != config_digest:
        raise InfrastructureError(
            f"the journey {journey_file} resolves differently in this worker (config digest "
            f"{journey.config_digest[:12]}, the run was submitted with {config_digest[:12]}): "
            f"the file changed since, or the worker's environment sets its ${{VARIABLES}} "
            f"differently")
    return build_journey_definitions(journey, home=home).resolve_job_def(
        journey_job_name(journey))
