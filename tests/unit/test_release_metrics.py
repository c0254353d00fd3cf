"""Quality metrics against hand-computed values, and MLflow-decided thresholds.

AUC is counted pair by pair, log loss and Brier are written with ``math.log`` and sums, RMSE
and MAE are small enough to do in the head; none comes from sklearn.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from mlflow.models import MetricThreshold

from e2e_assets.errors import GoldenError, SpecError, UnknownNameError
from e2e_assets.release.metrics import (
    GREATER_IS_BETTER,
    QUALITY_METRICS,
    Threshold,
    ThresholdVerdict,
    quality_metrics,
    validate_quality,
)

Y = [0, 0, 1, 1, 0, 1]
P = [0.1, 0.4, 0.35, 0.8, 0.5, 0.6]


def test_the_catalogue() -> None:
    assert QUALITY_METRICS == {"classifier": ("roc_auc", "log_loss", "brier_score"),
                               "regressor": ("rmse", "mae")}
    assert set(GREATER_IS_BETTER) == {m for ms in QUALITY_METRICS.values() for m in ms}


def test_classifier_metrics_by_hand() -> None:
    got = quality_metrics("classifier", Y, P)
    assert set(got) == set(QUALITY_METRICS["classifier"])
    # positives 0.35, 0.8, 0.6 against negatives 0.1, 0.4, 0.5: 0.35 beats only 0.1; 0.8 and
    # 0.6 beat all three -> 7 of 9 pairs ranked right
    pairs = [(p, n) for p, yp in zip(P, Y, strict=True) if yp == 1
             for n, yn in zip(P, Y, strict=True) if yn == 0]
    right = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs)
    assert right / len(pairs) == pytest.approx(7 / 9)
    assert got["roc_auc"] == pytest.approx(7 / 9)
    log_loss = -sum(math.log(p) if y else math.log(1 - p) for y, p in zip(Y, P, strict=True)) / 6
    assert got["log_loss"] == pytest.approx(log_loss)
    brier = sum((p - y) ** 2 for y, p in zip(Y, P, strict=True)) / 6
    assert got["brier_score"] == pytest.approx(brier)
    assert brier == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04 + 0.25 + 0.16) / 6)
    assert all(type(v) is float for v in got.values())


def test_a_constant_classifier_has_auc_one_half() -> None:
    got = quality_metrics("classifier", Y, [0.5] * 6)
    assert got["roc_auc"] == 0.5
    assert got["log_loss"] == pytest.approx(math.log(2))
    assert got["brier_score"] == pytest.approx(0.25)


def test_regressor_metrics_by_hand() -> None:
    got = quality_metrics("regressor", [1, 2, 3, 4], [1.0, 3.0, 5.0, 8.0])  # errors 0, 1, 2, 4
    assert got == pytest.approx({"rmse": math.sqrt((0 + 1 + 4 + 16) / 4), "mae": 7 / 4})


@pytest.mark.parametrize("model_type,y_true,y_score,message", [
    ("classifier", [1, 1, 1], [0.2, 0.5, 0.9], "has only class 1"),
    ("classifier", [0, 0], [0.2, 0.5], "has only class 0"),
    ("classifier", [0, 1, 1, 0], [0.2, np.nan, np.nan, 0.1], "2 NaN value"),
    ("regressor", [1.0, 2.0], [np.nan, 1.0], "1 NaN value"),
    ("classifier", [0, 1, 1], [0.2, 0.5], "same length"),
    ("classifier", [1], [0.5], "at least 2"),
    ("classifier", [0, 2, 1], [0.2, 0.5, 0.9], "must be 0/1, found ['2']"),
    ("classifier", [0, 1, 1], [0.2, 1.5, 0.9], "probabilities of class 1 in [0, 1]"),
])
def test_sets_that_cannot_be_scored(model_type: str, y_true: list[float], y_score: list[float],
                                    message: str) -> None:
    with pytest.raises(GoldenError) as info:
        quality_metrics(model_type, y_true, y_score)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_unknown_model_type() -> None:
    with pytest.raises(UnknownNameError, match="classifier, regressor"):
        quality_metrics("ranker", Y, P)  # type: ignore[arg-type]


# --- thresholds ----------------------------------------------------------------------------

def auc(threshold: float | None = None, **change: float) -> dict[str, Threshold]:
    return {"roc_auc": Threshold("roc_auc", threshold=threshold, greater_is_better=True, **change)}


def one(verdicts: tuple[ThresholdVerdict, ...]) -> ThresholdVerdict:
    assert len(verdicts) == 1
    return verdicts[0]


def test_absolute_threshold_pass_and_fail() -> None:
    ok = one(validate_quality(auc(0.7), {"roc_auc": 0.812}, None))
    assert ok == ThresholdVerdict("roc_auc", True, 0.812, None, "roc_auc 0.812 >= 0.700: ok")
    bad = one(validate_quality(auc(0.7), {"roc_auc": 0.5}, None))
    assert not bad.passed
    assert bad.message == "roc_auc 0.500 is below the threshold 0.700"
    edge = one(validate_quality(auc(0.7), {"roc_auc": 0.7}, None))
    assert edge.passed  # MLflow: >= for greater-is-better


def test_lower_is_better_threshold() -> None:
    spec = {"log_loss": Threshold("log_loss", threshold=0.5, greater_is_better=False)}
    assert one(validate_quality(spec, {"log_loss": 0.41}, None)).message == \
        "log_loss 0.410 <= 0.500: ok"
    bad = one(validate_quality(spec, {"log_loss": 0.61}, None))
    assert (bad.passed, bad.message) == (False, "log_loss 0.610 is above the threshold 0.500")


def test_min_absolute_change_against_a_baseline() -> None:
    spec = auc(0.7, min_absolute_change=0.01)
    ok = one(validate_quality(spec, {"roc_auc": 0.82}, {"roc_auc": 0.80}))
    assert ok.passed and ok.baseline == 0.80
    assert ok.message == "roc_auc 0.820 >= 0.700 and 0.820 >= baseline 0.800 + 0.01: ok"
    bad = one(validate_quality(spec, {"roc_auc": 0.805}, {"roc_auc": 0.80}))
    assert not bad.passed
    assert bad.message == ("roc_auc 0.805 is below baseline 0.800 + min_absolute_change 0.01 "
                           "= 0.810")


def test_min_relative_change_lower_is_better() -> None:
    spec = {"rmse": Threshold("rmse", min_relative_change=0.1, greater_is_better=False)}
    assert one(validate_quality(spec, {"rmse": 1.7}, {"rmse": 2.0})).passed  # 15% better
    bad = one(validate_quality(spec, {"rmse": 1.9}, {"rmse": 2.0}))  # 5% better only
    assert not bad.passed
    assert bad.message == ("rmse 1.900 is above baseline 2.000 - min_relative_change 10% of "
                           "|2.000| = 1.800")


def test_no_baseline_drops_the_change_criteria() -> None:
    spec = auc(0.7, min_absolute_change=0.05)
    first = one(validate_quality(spec, {"roc_auc": 0.75}, None))
    assert first.passed
    assert first.message == ("roc_auc 0.750 >= 0.700: ok (no baseline: min_absolute_change 0.05 "
                             "not applied; a first model is judged on absolute thresholds only)")
    # the same numbers with a baseline: 0.75 < 0.74 + 0.05
    assert not one(validate_quality(spec, {"roc_auc": 0.75}, {"roc_auc": 0.74})).passed
    only_change = one(validate_quality(auc(min_relative_change=0.1), {"roc_auc": 0.6}, None))
    assert only_change.passed
    assert "no absolute threshold" in only_change.message
    assert "min_relative_change 0.1 not applied" in only_change.message


def test_missing_metrics_fail() -> None:
    unknown = one(validate_quality({"f1": Threshold("f1", threshold=0.5)},
                                   {"roc_auc": 0.8, "log_loss": 0.4}, None))
    assert not unknown.passed
    assert unknown.message == "metric f1 was not computed (computed: log_loss, roc_auc)"
    no_base = one(validate_quality(auc(0.7, min_absolute_change=0.01), {"roc_auc": 0.8},
                                   {"log_loss": 0.4}))
    assert not no_base.passed and "baseline has no roc_auc" in no_base.message


def test_nan_values_fail_instead_of_raising() -> None:
    # MLflow's Decimal comparison would raise decimal.InvalidOperation on NaN
    bad = one(validate_quality(auc(0.7, min_absolute_change=0.01), {"roc_auc": math.nan},
                               {"roc_auc": 0.7}))
    assert (bad.passed, bad.message) == (False, "roc_auc: the candidate value is NaN")


def test_every_threshold_gets_its_own_verdict() -> None:
    spec = {**auc(0.7), "brier_score": Threshold("brier_score", threshold=0.2,
                                                 greater_is_better=False)}
    verdicts = validate_quality(spec, {"roc_auc": 0.9, "brier_score": 0.3}, None)
    assert [(v.metric, v.passed) for v in verdicts] == [("roc_auc", True), ("brier_score", False)]


def test_mlflow_stays_quiet(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        validate_quality(auc(0.7, min_relative_change=0.1), {"roc_auc": 0.8}, {"roc_auc": 0.0})
    assert not [r for r in caplog.records if r.name.startswith("mlflow")]


def test_threshold_to_mlflow_and_bad_thresholds() -> None:
    mt = Threshold("roc_auc", threshold=np.float64(0.7), min_absolute_change=np.float64(0.01),
                   greater_is_better=True).to_mlflow()
    assert isinstance(mt, MetricThreshold)
    assert (mt.threshold, mt.min_absolute_change, mt.min_relative_change, mt.greater_is_better) \
        == (0.7, 0.01, None, True)
    assert type(mt.threshold) is float  # MLflow rejects numpy floats
    with pytest.raises(SpecError) as info:
        Threshold("roc_auc", min_absolute_change=-0.1, min_relative_change=2.0)
    assert "min_absolute_change must be a number > 0" in str(info.value)
    assert "min_relative_change must be a number in [0, 1]" in str(info.value)  # both reported
    assert "thresholds.roc_auc" in str(info.value)
    with pytest.raises(SpecError, match="at least one of"):
        Threshold("roc_auc")
    with pytest.raises(SpecError, match="is for metric 'log_loss'"):
        validate_quality({"roc_auc": Threshold("log_loss", threshold=0.5)}, {}, None)
