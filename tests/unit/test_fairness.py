"""The fairness check on small frames whose rates are computed by hand in the comments."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from e2e_assets.checks.base import StageCheckContext, get_kind
from e2e_assets.checks.cohort_gaps import (
    cohort_rates,
    cohorts,
    equalised_odds_gaps,
    favourable,
    rate_gaps,
    shift_gaps,
)
from e2e_assets.checks.fairness import FairnessOptions, check_fairness
from e2e_assets.errors import SpecError
from e2e_assets.spec import load_journey
from tests.helpers import journey_with_checks

VARS = {"E2E_DATABASE_URL": "sqlite://", "E2E_ASSETS_HOME": "/nonexistent"}


def outcomes(**cohort_counts: tuple[int, int]) -> tuple[pd.Series, np.ndarray]:
    """cohort -> (rows, favourable rows): the cohort of each row and 1.0 where favourable."""
    names, fav = [], []
    for name, (rows, good) in cohort_counts.items():
        names += [name] * rows
        fav += [1.0] * good + [0.0] * (rows - good)
    return pd.Series(names), np.array(fav)


def by(gaps: list, measure: str) -> dict:
    return {g.cohort: g for g in gaps if g.measure == measure}


def test_parity_difference_and_disparate_impact_by_hand() -> None:
    # a: 150 of 200 favourable = 0.75 (the most favoured); b: 100 of 200 = 0.50.
    # parity difference = 0.75 - 0.50 = 0.25; disparate impact = 0.50 / 0.75 = 0.667.
    cohort, fav = outcomes(a=(200, 150), b=(200, 100))
    opts = FairnessOptions(attribute="g", decision="d", favourable="y", alpha=0.05,
                           max_parity_difference=0.1, min_disparate_impact=0.9)
    gaps = rate_gaps(cohort, fav, opts)
    dpd, di = by(gaps, "parity_difference")["b"], by(gaps, "disparate_impact")["b"]
    assert dpd.against == "a" and dpd.value == pytest.approx(0.25)
    assert di.value == pytest.approx(2 / 3)
    # SE of the gap = sqrt(.75 * .25 / 200 + .5 * .5 / 200) = 0.0468: its one-sided 95% bound
    # (about 0.25 - 1.645 * 0.047 = 0.17) clears 0.1, and the ratio's stays under 0.9.
    assert dpd.low > 0.1 and dpd.flagged
    assert di.high < 0.9 and di.flagged
    assert "a" not in by(gaps, "parity_difference")  # the reference is not compared to itself


def test_a_gap_above_threshold_but_not_significant_is_not_flagged() -> None:
    # The same rates on 50 rows each: gap 0.25 > 0.2, but SE = sqrt(.1875/50 + .25/50) = 0.094,
    # so its one-sided 99% bound (about 0.25 - 2.33 * 0.094 = 0.03) does not clear 0.2.
    cohort, fav = outcomes(a=(52, 39), b=(52, 26))
    opts = FairnessOptions(attribute="g", decision="d", favourable="y", alpha=0.01,
                           max_parity_difference=0.2, min_disparate_impact=0.8)
    dpd = by(rate_gaps(cohort, fav, opts), "parity_difference")["b"]
    assert dpd.value == pytest.approx(0.25) and dpd.low < 0.2
    assert not dpd.flagged


def test_cohorts_below_min_size_are_reported_never_judged() -> None:
    # c has 10 rows, none favourable (rate 0): below min_cohort_size 50, so no gap for it.
    cohort, fav = outcomes(a=(100, 80), b=(100, 70), c=(10, 0))
    opts = FairnessOptions(attribute="g", decision="d", favourable="y", alpha=0.05)
    gaps = rate_gaps(cohort, fav, opts)
    assert {g.cohort for g in gaps} == {"b"} and not any(g.flagged for g in gaps)
    rates = {r.cohort: r for r in cohort_rates(cohort, fav, 50, 0.9)}
    assert rates["c"].n == 10 and rates["c"].rate == 0 and not rates["c"].judged
    assert rates["a"].rate == pytest.approx(0.8) and rates["a"].low < 0.8 < rates["a"].high
    # one judged cohort only: nothing to compare
    alone, fav_alone = outcomes(a=(100, 80), c=(10, 0))
    assert rate_gaps(alone, fav_alone, opts) == []


def test_equalised_odds_gaps_by_hand() -> None:
    # a: 200 truly favourable, 160 given the favourable outcome -> TPR 0.80;
    #    200 truly unfavourable, 40 given it -> FPR 0.20.
    # b: TPR 100 / 200 = 0.50, FPR 20 / 200 = 0.10.
    # TPR gap of b vs a = 0.30 (SE sqrt(.16/200 + .25/200) = 0.045: bound about 0.23 > 0.2);
    # FPR gap of b vs a = 0.10, below 0.2.
    rows = []
    for name, tp, fp in (("a", 160, 40), ("b", 100, 20)):
        rows += [(name, 1.0, 1.0)] * tp + [(name, 0.0, 1.0)] * (200 - tp)
        rows += [(name, 1.0, 0.0)] * fp + [(name, 0.0, 0.0)] * (200 - fp)
    frame = pd.DataFrame(rows, columns=["g", "fav", "truth"])
    opts = FairnessOptions(attribute="g", decision="d", favourable="y", alpha=0.05,
                           max_equalised_odds_gap=0.2)
    gaps = equalised_odds_gaps(frame["g"], frame["fav"].to_numpy(), frame["truth"].to_numpy(),
                               opts)
    tpr, fpr = by(gaps, "tpr_gap")["b"], by(gaps, "fpr_gap")["b"]
    assert tpr.value == pytest.approx(0.3) and tpr.flagged
    assert fpr.value == pytest.approx(0.1) and not fpr.flagged


def test_shift_against_recorded_outputs() -> None:
    # Identical outputs: no change anywhere, nothing to test. One cohort's 60 rows each lose
    # 1 in 3 approvals (-1/3 each on average) while 60 others keep theirs: shift -0.333.
    opts = FairnessOptions(attribute="g", decision="d", favourable="y", alpha=0.05)
    cohort = pd.Series(["a"] * 60 + ["b"] * 60)
    assert shift_gaps(cohort, np.zeros(120), "parity_shift", 0.05, opts) == []
    change = np.array([-1.0, 0.0, 0.0] * 20 + [0.0] * 60)
    gaps = by(shift_gaps(cohort, change, "parity_shift", 0.05, opts), "parity_shift")
    assert gaps["a"].value == pytest.approx(-1 / 3) and gaps["a"].flagged
    assert gaps["a"].high < -0.05


def test_bands_and_favourable() -> None:
    ages = pd.Series([25, 30, 39.9, 40, 55, None])
    assert cohorts(ages, [30, 40]).tolist() == ["<30", "30-40", "30-40", ">=40", ">=40",
                                                 "missing"]
    assert cohorts(pd.Series(["rent", None])).tolist() == ["rent", "missing"]
    frame = pd.DataFrame({"p": [0.1, 0.25, 0.6], "d": ["approve", "review", "approve"]})
    below = FairnessOptions(attribute="g", score="p", threshold=0.25)
    above = FairnessOptions(attribute="g", score="p", threshold=0.25, favourable_below=False)
    decided = FairnessOptions(attribute="g", decision="d", favourable="approve")
    assert favourable(frame, below).tolist() == [1.0, 0.0, 0.0]  # strictly below
    assert favourable(frame, above).tolist() == [0.0, 0.0, 1.0]
    assert favourable(frame, decided).tolist() == [1.0, 0.0, 1.0]


class _Spec:
    request_id = "request_id"


class _Journey:
    spec = _Spec()


def test_check_flags_a_biased_batch_and_passes_a_fair_one() -> None:
    rng = np.random.default_rng(0)
    homes = np.array(["rent", "owner"] * 300)
    fair = np.where(rng.random(600) < 0.6, "approve", "decline")
    # renters approved 0.3 of the time, owners 0.6: parity difference 0.3, impact 0.5
    biased = np.where(rng.random(600) < np.where(homes == "rent", 0.3, 0.6), "approve",
                      "decline")
    ids = [f"r{i}" for i in range(600)]
    inputs = pd.DataFrame({"request_id": ids, "home": homes})  # the attribute comes from here
    opts = FairnessOptions(attribute="home", decision="decision", favourable="approve")
    ctx = StageCheckContext(journey=_Journey(), stage="decide", input=inputs,  # type: ignore[arg-type]
                            output=pd.DataFrame({"request_id": ids, "decision": fair}))
    ok = check_fairness(ctx, opts)
    assert ok.passed, ok.summary
    assert [r["cohort"] for r in ok.metadata["cohort_rates"]] and all(
        {"rows", "favourable_rate", "judged"} <= set(r) for r in ok.metadata["cohort_rates"])
    assert "no model of record" in ok.metadata["notes"]  # no golden set here: batch only
    bad = check_fairness(replace(ctx, output=pd.DataFrame({"request_id": ids,
                                                           "decision": biased})), opts)
    assert not bad.passed and "parity_difference of 'rent' vs 'owner'" in bad.summary
    assert bad.metadata["flagged"] >= 1 and any(g["flagged"] for g in bad.metadata["gaps"])


def test_dry_run_names_a_missing_attribute_and_outcome() -> None:
    kind = get_kind("fairness")
    assert kind.dry_run is not None
    ctx = StageCheckContext(journey=_Journey(), stage="decide",  # type: ignore[arg-type]
                            input=pd.DataFrame({"request_id": ["a"]}),
                            output=pd.DataFrame({"request_id": ["a"], "decision": ["x"]}))
    problems = kind.dry_run(ctx, FairnessOptions(attribute="age", score="p", threshold=0.2))
    assert [p["column"] for p in problems] == ["p", "age"]


@pytest.mark.parametrize(("options", "field", "message"), [
    ("{attribute: age, decision: decision}", "favourable", "needs 'favourable'"),
    ("{attribute: age, score: p_default}", "threshold", "needs 'threshold'"),
    ("{attribute: age}", "score", "give either 'decision'"),
    ("{attribute: age, decision: decision, favourable: approve, score: p_default}", "score",
     "not both or neither"),
    ("{attribute: age, bands: [50, 30], score: p_default, threshold: 0.25}", "bands",
     "strictly increasing"),
    ("{attribute: age, score: p_default, threshold: 0.25, min_disparate_impact: 1.5}",
     "min_disparate_impact", "less than or equal to 1"),
    ("{attribute: age, decision: decision, favourable: approve, label: Status}",
     "label_favourable", "needs 'label_favourable'"),
    ("{attribute: age, score: p_default, threshold: 0.25, label: outcome}", "label",
     "label column 'Status'"),
])
def test_bad_options_are_refused_at_load_naming_the_field(tmp_path: Path, options: str,
                                                          field: str, message: str) -> None:
    path = journey_with_checks(tmp_path, f"  score:\n    - kind: fairness\n"
                                         f"      options: {options}\n")
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field == f"checks.score.0.options.{field}", str(err.value)
    assert message in str(err.value)


def test_reference_journeys_load_their_fairness_checks() -> None:
    from tests.helpers import REPO

    for name, expected in (("credit_approval", {("score", "age_fairness"),
                                                ("score", "home_fairness"),
                                                ("decide", "age_fairness")}),
                           ("loan_pricing", {("score", "homeownership_fairness"),
                                             ("score", "state_fairness")})):
        journey = load_journey(REPO / "pipelines" / name / "journey.yaml", variables=VARS)
        found = {(stage, c.name) for stage in journey.stages
                 for c in journey.checks_for(stage) if c.kind.name == "fairness"}
        assert found == expected
