"""Stage functions that take their time, so a test can kill a run in the middle of a stage."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from pipelines.credit_approval import stages as credit

KILLED_POLICY = "killed-run-policy"  # rows a killed run would have delivered carry this


def deliver_slowly(decisions: pd.DataFrame, marker: str, sleep_s: float = 120.0,
                   min_rows: int = 1000) -> pd.DataFrame:
    """``credit.deliver``, but on a real run's batch (``min_rows`` or more: not the dry run's
    sample, not the golden set) write ``marker`` (this process's pid) and sleep ``sleep_s``.

    Its rows carry ``KILLED_POLICY`` so that a test can tell them apart in the sink.
    """
    out = credit.deliver(decisions)
    if len(decisions) < min_rows:
        return out
    Path(marker).write_text(f"{os.getpid()}\n")
    time.sleep(sleep_s)
    out["policy_version"] = KILLED_POLICY
    return out


def features_then_move_alias(applications: pd.DataFrame, to_version: str,
                             min_rows: int = 1000) -> pd.DataFrame:
    """``credit.build_features``; on a real run's batch, first move ``champion`` of
    credit_approval to ``to_version`` by hand, as someone could while the run is under way."""
    if len(applications) >= min_rows:
        from e2e_assets.home import Home
        from e2e_assets.model_registry import client_for

        client_for(Home.from_env().tracking_uri).set_registered_model_alias(
            "credit_approval", "champion", to_version)
    return credit.build_features(applications)
