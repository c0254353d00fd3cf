"""What a run is: the run tags that let anyone tell a drill from a real failure and find the
model and code behind a run, in the Dagster UI's run list and filters.

==================  ==========================================================================
tag                 value
==================  ==========================================================================
e2e/journey         the journey's name
e2e/model           the model of record's registered name
e2e/alias           the alias it is served by (the spec's, or ``--alias``)
e2e/model_version   the version the alias resolved to when the run started
e2e/git_commit      the commit of the journey's folder (12 hex digits, ``+dirty`` with
                    uncommitted changes to tracked files; ``unknown`` outside git)
e2e/drill           the injected faults, on drills only
==================  ==========================================================================

Static ones (:func:`definition_tags`) go on the journey's job, so runs launched from the UI, a
schedule or a sensor carry them too; the resolved version is added when the run starts.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from e2e_assets.model_registry import ResolvedModel
    from e2e_assets.spec.loader import Journey

JOURNEY_TAG = "e2e/journey"
MODEL_TAG = "e2e/model"
MODEL_ALIAS_TAG = "e2e/alias"
MODEL_VERSION_TAG = "e2e/model_version"
GIT_COMMIT_TAG = "e2e/git_commit"
UNKNOWN_COMMIT = "unknown"
# Where people open MLflow: links in check metadata point there.
MLFLOW_UI_ENV = "E2E_MLFLOW_UI_URL"
DEFAULT_MLFLOW_UI = "http://127.0.0.1:5000"


@functools.lru_cache(maxsize=32)
def git_commit(folder: Path) -> str:
    """The commit checked out at ``folder``: 12 hex digits, ``+dirty`` if tracked files
    differ from it, ``unknown`` when it is not in a git work tree (or git is missing)."""
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
        if head.returncode != 0:
            return UNKNOWN_COMMIT
        dirty = subprocess.run(["git", "-C", str(folder), "diff", "--quiet", "HEAD", "--"],
                               capture_output=True, timeout=10, check=False).returncode == 1
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN_COMMIT
    return head.stdout.strip() + ("+dirty" if dirty else "")


def definition_tags(journey: Journey) -> dict[str, str]:
    """The tags known before a run starts: journey, model name and alias, code commit."""
    tags = {JOURNEY_TAG: journey.name, GIT_COMMIT_TAG: git_commit(journey.folder.resolve())}
    model = journey.spec.primary_model
    if model is not None:
        tags.update({MODEL_TAG: model.name, MODEL_ALIAS_TAG: model.alias})
    return tags


def served_tags(summary: dict[str, str]) -> dict[str, str]:
    """The model of record as the run serves it (``ServedModels.summary()``)."""
    if not summary:
        return {}
    return {MODEL_TAG: summary["name"], MODEL_ALIAS_TAG: summary["alias"],
            MODEL_VERSION_TAG: summary["version"]}


def model_identity(model: ResolvedModel | None) -> dict[str, str]:
    """The model a check judged: registered name, version, alias, URI and training run."""
    if model is None:
        return {"model_version": "none"}
    return {"model_name": model.name, "model_version": model.version,
            "model_alias": model.alias, "model_uri": model.uri,
            "model_run_id": model.run_id or ""}


def mlflow_ui_base() -> str:
    return os.environ.get(MLFLOW_UI_ENV, DEFAULT_MLFLOW_UI).rstrip("/")


def mlflow_model_version_url(name: str, version: str, base: str | None = None) -> str:
    """The MLflow UI page of one registered model version."""
    return f"{base or mlflow_ui_base()}/#/models/{quote(name, safe='')}/versions/{version}"
