"""The fault registry and its injections, as pure functions (issue 13's fault-CLI findings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from e2e_assets.errors import SpecError
from e2e_assets.faults import (
    INJECTABLE,
    REGISTRY,
    Fault,
    catalogue_markdown,
    cohort_bias,
    null_burst,
    parse_fault,
    policy_violation,
)

REPO = Path(__file__).resolve().parents[2]


def test_value_after_equals_sets_the_main_parameter() -> None:
    """Finding: `--fault null_burst:features:lvrat=0.9` silently ignored the 0.9."""
    fault = parse_fault("null_burst:features:lvrat=0.9")
    assert (fault.id, fault.stage, fault.column, dict(fault.params)) == (
        "null_burst", "features", "lvrat", {"share": 0.9})
    frame = pd.DataFrame({"lvrat": np.linspace(0.1, 1.0, 1000)})
    out = null_burst(frame, fault)
    # the rows nulled are exactly those the fault's own seeded generator draws below 0.9
    expected = int((np.random.default_rng(0).random(1000) < 0.9).sum())
    assert out["lvrat"].isna().sum() == expected and 850 < expected < 950
    default = null_burst(frame, parse_fault("null_burst:features:lvrat"))
    assert 250 < default["lvrat"].isna().sum() < 350  # the declared default share, 0.3


def test_python_params_are_checked_like_the_command_line() -> None:
    assert Fault("lost_records", "deliver", params={"duplicate": "3"}).params == {
        "drop": 0.01, "duplicate": 3}  # converted, and the others at their declared defaults
    with pytest.raises(SpecError, match=r"expected share: a number >= 0 and <= 1, got 2"):
        Fault("null_burst", "features", "x", params={"share": 2})
    with pytest.raises(SpecError, match=r"unknown parameter 'shar' \(fault 'null_burst' takes "
                                        r"\['share'\]\)"):
        Fault("null_burst", "features", "x", params={"shar": 0.5})


@pytest.mark.parametrize(("text", "expected"), [
    ("null_burst:features:lvrat=abc", "expected share: a number >= 0 and <= 1, got 'abc'"),
    ("null_burst:features:lvrat=1.5", "expected share: a number >= 0 and <= 1, got '1.5'"),
    ("precision_change:score:p=2.5", "expected decimals: an integer >= 0 and <= 15"),
    ("schema_rename:ingest:income=3", "fault 'schema_rename' takes no parameter; got '=3'"),
    ("golden_tamper", "unknown fault 'golden_tamper'"),
])
def test_bad_fault_values_exit_2_naming_the_fault_text(
        text: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from e2e_assets.cli import main

    monkeypatch.setenv("E2E_ASSETS_HOME", str(tmp_path))
    monkeypatch.chdir(REPO)
    assert main(["run", "credit_approval", "--fault", text]) == 2
    err = capsys.readouterr().err
    assert f"--fault {text}" in err and expected in err, err
    assert "Traceback" not in err


def test_policy_violation_on_a_boolean_column() -> None:
    """Finding: policy_violation on a boolean column raised a TypeError."""
    frame = pd.DataFrame({"approved": [True, False] * 50})
    drawn = np.random.default_rng(0).random(100) < 0.2
    flipped = policy_violation(frame, parse_fault("policy_violation:decide:approved"))
    assert flipped["approved"].dtype == bool
    assert (flipped["approved"] != frame["approved"]).to_numpy().tolist() == drawn.tolist()
    forced = policy_violation(frame, parse_fault("policy_violation:decide:approved=true"))
    assert forced.loc[drawn, "approved"].all()
    assert (forced.loc[~drawn, "approved"] == frame.loc[~drawn, "approved"]).all()
    with pytest.raises(SpecError, match="column 'approved' is boolean; expected true/false"):
        policy_violation(frame, parse_fault("policy_violation:decide:approved=approve"))
    with pytest.raises(SpecError, match="needs a value for column 'rate'"):
        policy_violation(pd.DataFrame({"rate": [1.0]}), parse_fault("policy_violation:d:rate"))
    added = policy_violation(pd.DataFrame({"rate": [1.0] * 100}),
                             parse_fault("policy_violation:decide:rate=+8"))
    assert added["rate"].tolist() == [9.0 if d else 1.0 for d in drawn]


def test_cohort_bias_penalises_one_cohort() -> None:
    """Finding: `--fault cohort_bias` crashed; with no rule it takes the first categorical
    column's most frequent value (never an id column), with a rule exactly its rows."""
    frame = pd.DataFrame({"request_id": [f"r{i}" for i in range(10)],
                          "home": ["rent"] * 6 + ["owner"] * 4,
                          "p_default": [0.1] * 9 + [0.95]})
    out = cohort_bias(frame, parse_fault("cohort_bias"))
    assert np.allclose(out["p_default"], [0.3] * 6 + [0.1] * 3 + [0.95])
    owners = cohort_bias(frame, parse_fault("cohort_bias:score:p_default=home == 'owner'"))
    assert np.allclose(owners["p_default"], [0.1] * 6 + [0.3] * 3 + [1.0])  # clipped at 1
    with pytest.raises(SpecError, match="the cohort rule 'tenure > 3' cannot be evaluated"):
        cohort_bias(frame, parse_fault("cohort_bias:score:p_default=tenure > 3"))


def test_every_injectable_fault_declares_valid_defaults() -> None:
    for fid in INJECTABLE:
        spec = REGISTRY[fid]
        assert spec.stage, fid
        defaults = {p.name: p.default for p in spec.params}
        given = {k: v for k, v in defaults.items() if v is not None}
        assert Fault(fid, spec.stage, params=given).params == defaults, fid
        assert Fault(fid, spec.stage).params == defaults, fid


def test_docs_catalogue_is_generated_from_the_registry() -> None:
    """docs/faults.md cannot go stale: regenerate it with
    `python -m e2e_assets.faults --markdown > docs/faults.md`."""
    text = (REPO / "docs" / "faults.md").read_text()
    assert text == catalogue_markdown()
    rows = [line.split("|")[1].strip(" `") for line in text.splitlines()
            if line.startswith("| `")]
    assert rows == list(REGISTRY)
    assert len(rows) == 20 and {"joint_shift", "sink_tamper", "golden_tamper",
                                "race_promotion"} <= set(rows)
    assert not (REPO / "docs" / "FAULTS.md").exists()


def test_latency_regression_slows_the_stage_in_proportion_at_least_by_seconds() -> None:
    """Finding: a fixed 0.5 s sleep stayed inside loan_pricing's 3x budget (its score takes
    ~0.3-0.6 s). The drill now makes the stage ``slowdown`` times as slow (default 5x), at
    least ``seconds`` (default 1 s) slower, so it is a regression for a slow stage and a fast
    one alike."""
    import time

    from e2e_assets.faults import _wrap

    def stage(seconds: float) -> pd.DataFrame:
        time.sleep(seconds)
        return pd.DataFrame({"x": [1]})

    def timed(fault: Fault, seconds: float) -> float:
        started = time.perf_counter()
        _wrap(stage, fault)(seconds)
        return time.perf_counter() - started

    default = Fault("latency_regression", "score")
    assert (default.params["seconds"], default.params["slowdown"]) == (1.0, 5.0)
    assert 1.0 <= timed(default, 0.01) < 1.0 + 0.01 + 0.3  # fast stage: +1 s
    assert timed(default, 0.3) >= 5 * 0.3  # slow stage: 5x its own time
    assert timed(Fault("latency_regression", "score", params={"seconds": 0, "slowdown": 1}),
                 0.01) < 0.2  # no-op drill
