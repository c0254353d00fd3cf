"""The promotion gate through the real CLI, on real MLflow and a real Dagster instance.

Bad models registered the documented way are refused and never serve; a hand-moved alias is
refused at run time; rollback re-validates; exit codes 0 promoted, 1 refused, 2 configuration.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2e_assets.home import Home
from e2e_assets.model_registry import client_for, resolve_model
from e2e_assets.release.blessing import (
    FAILED_CHECKS_TAG,
    RECORD_TAG,
    VERDICT_TAG,
    alias_tag,
    blessing_of,
)
from tests.conftest import cli
from tests.helpers import journey_variant, own_experiments

pytestmark = pytest.mark.slow
MODEL = "credit_approval"


def client(home: Path):  # noqa: ANN201 - MlflowClient
    return client_for(Home.from_env(str(home)).tracking_uri)


def champion(home: Path) -> str:
    return str(client(home).get_model_version_by_alias(MODEL, "champion").version)


def version_tags(home: Path, version: str) -> dict[str, str]:
    return dict(client(home).get_model_version(MODEL, version).tags)


def bad_model_journey(tmp_path: Path, kind: str) -> Path:
    """credit_approval whose bootstrap registers a bad model (tests/journeys/degenerate_models)."""
    return journey_variant(tmp_path, replace={
        "function: pipelines.credit_approval.train:bootstrap":
            "function: tests.journeys.degenerate_models:bad_credit_model",
        "    holdout: 0.3\n    golden_size: 500\n": f"    kind: {kind}\n"})


def test_a_fresh_home_serves_a_champion_blessed_by_the_gate(base_home: Path) -> None:
    tags = version_tags(base_home, champion(base_home))
    record = json.loads(tags[RECORD_TAG])
    assert tags[VERDICT_TAG] == "promoted" and record["action"] == "bootstrap"
    assert record["quality"]["roc_auc"] > 0.75 and record["dagster_run_id"]
    alias_record = json.loads(dict(client(base_home).get_registered_model(MODEL).tags)[
        alias_tag("champion")])
    assert alias_record["version"] == champion(base_home)


@pytest.mark.parametrize(("kind", "why"), [
    ("constant", "roc_auc 0.500 is below the threshold 0.750"),  # quality
    ("few_iterations", "NOT shown non-inferior on roc_auc"),  # challenger vs the champion
])
def test_a_bad_model_registered_the_documented_way_never_serves(
        home: Path, tmp_path: Path, kind: str, why: str) -> None:
    own_experiments(home)
    before = champion(home)
    proc = cli("bootstrap", str(bad_model_journey(tmp_path, kind)), "--force", home=home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "promotion gate refused" in proc.stderr and why in proc.stderr
    assert "Traceback" not in proc.stderr
    assert champion(home) == before  # the champion is unchanged
    candidate = str(int(before) + 1)
    tags = version_tags(home, candidate)
    assert tags[VERDICT_TAG] == "rejected" and why in tags[FAILED_CHECKS_TAG]
    record = json.loads(tags[RECORD_TAG])
    assert record["verdict"] == "refused" and record["dagster_run_id"]
    assert record["git_commit"] and record["decided_at"]

    # Pointing champion at it by hand does not make it serve.
    client(home).set_registered_model_alias(MODEL, "champion", candidate)
    run = cli("run", MODEL, home=home)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"credit_approval@champion -> v{candidate} was refused by the gate" in run.stdout
    assert f"e2e-assets gate credit_approval --candidate {candidate}" in run.stdout


def test_hand_moved_champion_rollback_and_a_version_that_no_longer_passes(
        home: Path, tmp_path: Path) -> None:
    own_experiments(home)
    retrain = cli("retrain", MODEL, home=home)
    assert retrain.returncode == 0, retrain.stderr
    assert "version: 2" in retrain.stdout and champion(home) == "1"
    gate = cli("gate", MODEL, "--candidate", "challenger", home=home)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "PROMOTED" in gate.stdout and champion(home) == "2"
    assert "challenger is non-inferior on roc_auc (Δ" in gate.stdout
    report = json.loads((home / "reports" / f"{MODEL}-gate.json").read_text())
    assert report["gate"]["verdict"] == "promoted" and report["gate"]["baselines"] == {
        "score": "1"}

    # Moving champion back to the older (once blessed) version by hand is refused.
    client(home).set_registered_model_alias(MODEL, "champion", "1")
    run = cli("run", MODEL, home=home)
    assert run.returncode == 1, run.stdout
    assert "the last gate decision put v2 there" in run.stdout and "moved by hand" in run.stdout
    drill = cli("run", MODEL, "--allow-unblessed", home=home)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "DRILL: --allow-unblessed served versions" in drill.stdout
    drill_report = json.loads((home / "reports" / f"{MODEL}.json").read_text())["runs"][0]
    assert drill_report["unblessed_allowed"] is True and drill_report["model"]["version"] == "1"
    client(home).set_registered_model_alias(MODEL, "champion", "2")

    # Rollback re-validates v1 under the journey as it is now: a stricter quality threshold
    # that v1 no longer meets is refused, and champion stays v2.
    strict = journey_variant(tmp_path, replace={"roc_auc: {threshold: 0.75}":
                                                "roc_auc: {threshold: 0.95}"})
    refused = cli("rollback", str(strict), home=home)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "REFUSED" in refused.stdout and "roc_auc" in refused.stdout
    assert champion(home) == "2" and version_tags(home, "1")[VERDICT_TAG] == "rejected"

    # Under the journey as shipped, v1 still passes: rollback moves the alias back.
    back = cli("rollback", MODEL, home=home)
    assert back.returncode == 0, back.stdout + back.stderr
    assert champion(home) == "1"
    served = resolve_model(Home.from_env(str(home)).tracking_uri, f"models:/{MODEL}@champion")
    assert blessing_of(served).blessed  # the next run serves it
    history = json.loads(dict(client(home).get_registered_model(MODEL).tags)[
        alias_tag("champion")])
    assert history["action"] == "rollback" and history["history"] == []


QUALITY_BLOCK = """    - kind: quality                      # on the labelled golden set, MLflow thresholds
      options:
        thresholds:
          roc_auc: {threshold: 0.75}
          log_loss: {threshold: 0.55}
          brier_score: {threshold: 0.18}
"""


def test_gate_without_a_quality_check_is_a_configuration_error(home: Path, tmp_path: Path
                                                               ) -> None:
    journey = journey_variant(tmp_path, replace={QUALITY_BLOCK: ""})
    proc = cli("gate", str(journey), "--candidate", "1", home=home)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "lacks a 'quality' check" in proc.stderr and "Traceback" not in proc.stderr


def test_a_gate_that_cannot_run_the_journey_decides_nothing(home: Path) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(Home.from_env(str(home)).database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE credit_applications"))
    engine.dispose()
    proc = cli("gate", MODEL, "--candidate", "1", home=home)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the gate could not run the journey, so it decided nothing" in proc.stderr
    assert "credit_applications" in proc.stderr and "Traceback" not in proc.stderr
    assert version_tags(home, "1")[VERDICT_TAG] == "promoted"  # not tagged rejected
    assert champion(home) == "1"
