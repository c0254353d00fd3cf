"""A headless run loads each model version it serves once, for the dry run, every stage and
every check (counted through the loader, not timed)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from e2e_assets import serving
from e2e_assets.discovery import find_journey_file
from e2e_assets.home import Home
from e2e_assets.model_registry import ResolvedModel
from e2e_assets.orchestration.run import run_journey
from e2e_assets.spec import load_journey


def test_a_run_loads_its_model_once(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: Counter[tuple[str, str]] = Counter()
    real = serving.load_model

    def counting(tracking_uri: str, resolved: ResolvedModel) -> Any:
        loads[(resolved.name, resolved.version)] += 1
        return real(tracking_uri, resolved)

    monkeypatch.setattr(serving, "load_model", counting)
    serving._load_cached.cache_clear()  # the per-process cache under test: start empty
    h = Home.from_env()
    journey = load_journey(find_journey_file("credit_approval"), variables=h.variables())
    run = run_journey(journey, h)
    assert run.exit_code == 0, run.error
    assert loads == {("credit_approval", run.model["version"]): 1}
