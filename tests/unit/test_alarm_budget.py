"""The false-alarm budget: blocking statistical checks share the journey's rate (Bonferroni),
warning ones each get the whole rate, explicit alphas are kept and bounded."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from e2e_assets.errors import SpecError
from e2e_assets.spec import load_journey
from e2e_assets.spec.alarm_budget import alpha_shares
from tests.unit.test_spec import MINIMAL, VARS, write


def journey(tmp_path: Path, checks: str, top: str = "") -> dict[str, tuple[float, bool, bool]]:
    text = top + MINIMAL + "checks:\n" + textwrap.indent(textwrap.dedent(checks), "  ")
    loaded = load_journey(write(tmp_path, text), variables=VARS)
    return {s.check: (s.alpha, s.blocking, s.explicit) for s in alpha_shares(loaded.checks)}


FOUR = """\
features:
  - {kind: drift, name: inputs}
  - {kind: drift, name: inputs_warn, severity: warn}
  - {kind: joint_drift, name: joint}
score:
  - {kind: drift, name: outputs, options: {columns: [p_default]}}
  - {kind: golden}
"""


def test_blocking_checks_share_the_default_one_percent(tmp_path: Path) -> None:
    shares = journey(tmp_path, FOUR)
    # three blocking statistical checks: 0.01 / 3 each; the warning one gets the whole 0.01;
    # the golden check in tolerance mode tests no hypothesis and draws nothing
    assert shares == {"inputs": (pytest.approx(0.01 / 3), True, False),
                      "inputs_warn": (0.01, False, False),
                      "joint": (pytest.approx(0.01 / 3), True, False),
                      "outputs": (pytest.approx(0.01 / 3), True, False)}


def test_declared_rate_and_explicit_alpha(tmp_path: Path) -> None:
    checks = FOUR.replace("{kind: drift, name: inputs}",
                          "{kind: drift, name: inputs, options: {alpha: 0.01}}")
    shares = journey(tmp_path, checks, top="false_alarm_rate: 0.05\n")
    # 0.05 - 0.01 explicit, shared by the two unset blocking checks: 0.02 each
    assert shares["inputs"] == (0.01, True, True)
    assert shares["joint"][0] == pytest.approx(0.02)
    assert shares["outputs"][0] == pytest.approx(0.02)
    assert shares["inputs_warn"][0] == 0.05


def test_statistical_golden_draws_on_the_budget(tmp_path: Path) -> None:
    shares = journey(tmp_path, """\
        score:
          - {kind: golden, options: {mode: statistical, statistical_columns: [p_default]}}
          - {kind: drift, options: {columns: [p_default]}}
        """)
    assert shares["golden"][0] == pytest.approx(0.005)
    assert shares["drift"][0] == pytest.approx(0.005)


def test_explicit_alphas_over_the_budget_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        journey(tmp_path, """\
            score:
              - {kind: drift, name: a, options: {alpha: 0.05, columns: [p_default]}}
              - {kind: drift, name: b, options: {columns: [p_default]}}
            """)
    assert err.value.field == "checks.score.0.options.alpha"
    assert "score.a=0.05" in str(err.value) and "false_alarm_rate 0.01" in str(err.value)


@pytest.mark.parametrize("rate", ["0", "0.5", "-0.01", "'many'"])
def test_false_alarm_rate_is_validated(tmp_path: Path, rate: str) -> None:
    with pytest.raises(SpecError) as err:
        journey(tmp_path, "score: []\n", top=f"false_alarm_rate: {rate}\n")
    assert err.value.field == "false_alarm_rate"


def test_reference_journeys_stay_within_one_percent() -> None:
    repo = Path(__file__).resolve().parents[2]
    for name in ("credit_approval", "loan_pricing"):
        loaded = load_journey(repo / "pipelines" / name / "journey.yaml", variables=VARS)
        blocking = [s.alpha for s in alpha_shares(loaded.checks) if s.blocking]
        assert blocking and sum(blocking) == pytest.approx(loaded.spec.false_alarm_rate)
        assert loaded.spec.false_alarm_rate == 0.01
