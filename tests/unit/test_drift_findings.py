"""Findings of issue 13 on drift: unseen categories never crash (every engine), drift settings
checked at load and by the dry run, the reference cache keyed by the columns, and every
registered test working on the prepared reference a journey's drift check uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from scipy import stats

from e2e_assets import drift
from e2e_assets.checks import drift as drift_check
from e2e_assets.checks.base import StageCheckContext, get_kind
from e2e_assets.checks.drift import logged_frame
from e2e_assets.drift.prepared import _CACHE, FAST_METHODS
from e2e_assets.errors import E2EAssetsError, SpecError
from e2e_assets.frames import frame_digest, write_parquet_atomic
from e2e_assets.model_registry import (
    HOLDOUT_DIGEST_TAG,
    TRAINING_DIGEST_TAG,
    ResolvedModel,
    tracking,
)
from e2e_assets.spec import load_journey
from tests.helpers import journey_variant

VARS = {"E2E_DATABASE_URL": "sqlite://"}


# unseen categories -----------------------------------------------------------------------

def _on_every_engine(ref: pd.DataFrame, cur: pd.DataFrame,
                     methods: dict[str, str] | None = None) -> dict[str, drift.ColumnDrift]:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        ref.to_sql("ref", conn, index=False)
        cur.to_sql("cur", conn, index=False)
    _CACHE.clear()
    return {"exact": drift.compare(ref, cur, methods=methods, exact=True).columns[0],
            "plain": drift.compare(ref, cur, methods=methods).columns[0],
            "prepared": drift.compare(drift.prepare(ref), cur, methods=methods).columns[0],
            "sql": drift.compare_sql(engine, "ref", "cur", methods=methods).columns[0]}


@pytest.mark.parametrize("method", [None, "z_test", "fisher_exact"])
def test_unseen_category_of_a_two_valued_reference_is_reported_as_drift(method: str | None
                                                                        ) -> None:
    ref = pd.DataFrame({"d": ["a", "b"] * 100})
    cur = pd.DataFrame({"d": ["a", "b", "c"] * 100})
    methods = {"d": method} if method else None
    # Pearson chi-square on [[100, 100, 0], [100, 100, 100]], by hand: expected counts
    # [80, 80, 40] and [120, 120, 60]; 2*400/80 + 1600/40 + 2*400/120 + 1600/60 = 83.33...
    by_hand = 10 + 40 + 20 / 3 + 80 / 3
    p_by_hand = float(np.exp(-by_hand / 2))  # chi-square with 2 degrees of freedom
    for engine, col in _on_every_engine(ref, cur, methods=methods).items():
        assert col.method == "chi_square", engine
        assert "unseen categories: 'c'" in col.note, engine
        assert col.statistic == pytest.approx(by_hand), engine
        assert col.p_value == pytest.approx(p_by_hand, rel=1e-6), engine
        assert col.effect_size == pytest.approx(1 / 3, abs=1e-3), engine  # a third of the mass
        assert col.drifted, engine


def test_a_rare_unseen_category_is_reported_but_not_material() -> None:
    ref = pd.DataFrame({"d": ["a", "b", "e"] * 2000})
    cur = pd.DataFrame({"d": ["a", "b", "e"] * 2000 + ["new"]})
    for engine, col in _on_every_engine(ref, cur).items():
        assert col.note == "unseen categories: 'new'", engine
        assert not col.drifted, engine  # 1 row in 6,001: below the 5% floor


# settings checked at load and by the dry run ------------------------------------------------

def _score_drift(tmp_path: Path, options: str) -> Path:
    return journey_variant(tmp_path, replace={
        "options: {columns: [p_default], reference: holdout}": f"options: {{{options}}}"})


def test_misspelt_method_is_refused_at_load_naming_field_and_registered_names(
        tmp_path: Path) -> None:
    path = _score_drift(tmp_path, "columns: [p_default], reference: golden, "
                                  "methods: {p_default: kss}")
    with pytest.raises(SpecError) as err:
        load_journey(path, variables=VARS)
    assert err.value.field is not None and err.value.field.endswith(".options.methods.p_default")
    assert "'p_default': 'kss'" in str(err.value) and "'cramer_von_mises'" in str(err.value)


def test_dry_run_refuses_a_numbers_only_method_on_text() -> None:
    kind = get_kind("drift")
    options = drift_check.DriftOptions(methods={"home": "t_test", "age": "t_test"})
    ctx = StageCheckContext(journey=None, stage="features", input=None,  # type: ignore[arg-type]
                            output=pd.DataFrame({"home": ["rent", "owner"], "age": [30, 40]}))
    assert kind.dry_run is not None
    problems = kind.dry_run(ctx, options)
    assert [p["column"] for p in problems] == ["home"]
    assert "'t_test' accepts numeric columns only" in problems[0]["message"]


# the drift check: cache key and the prepared path -------------------------------------------

@pytest.fixture()
def drift_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StageCheckContext:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 2000), "y": rng.normal(0, 1, 2000),
                              "c": rng.choice(list("pqr"), 2000)})
    monkeypatch.setattr(drift_check, "reference_frame", lambda ctx, options: reference)
    current = pd.DataFrame({"request_id": range(1500), "x": rng.normal(0.5, 1, 1500),
                            "y": rng.normal(0, 1, 1500), "c": rng.choice(list("pqr"), 1500)})
    record = ResolvedModel("m", "champion", "1", "run", "models:/m/1")
    _CACHE.clear()
    return StageCheckContext(journey=load_journey(journey_variant(tmp_path), variables=VARS),
                             stage="features", input=None, output=current, record_model=record,
                             tracking_uri="sqlite://")


def test_two_drift_checks_with_different_columns_do_not_share_a_reference(
        drift_ctx: StageCheckContext) -> None:
    first = drift_check.check_drift(drift_ctx, drift_check.DriftOptions(columns=["x"]))
    second = drift_check.check_drift(drift_ctx, drift_check.DriftOptions(columns=["y", "c"]))
    assert [c["column"] for c in first.metadata["columns"]] == ["x"]
    assert [c["column"] for c in second.metadata["columns"]] == ["y", "c"]
    assert first.metadata["reference_key"] != second.metadata["reference_key"]
    assert not first.passed and second.passed  # x moved half a std, y and c did not


NUMERIC = sorted(m for m in drift.METHODS if "numeric" in drift.METHODS[m].kinds)
CATEGORICAL = sorted(m for m in drift.METHODS if "categorical" in drift.METHODS[m].kinds)


@pytest.mark.parametrize("method", NUMERIC)
def test_every_numeric_method_runs_in_the_drift_check(drift_ctx: StageCheckContext,
                                                      method: str) -> None:
    result = drift_check.check_drift(drift_ctx, drift_check.DriftOptions(
        columns=["x", "y"], methods={"x": method, "y": method}))
    by = {c["column"]: c for c in result.metadata["columns"]}
    assert by["x"]["method"] == method and by["x"]["drifted"]  # shifted by half a std
    assert not by["y"]["drifted"]


def test_prepared_path_gives_the_in_memory_statistic_and_scipy_values() -> None:
    rng = np.random.default_rng(9)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 600), "c": rng.choice(list("pqrs"), 600)})
    cur = pd.DataFrame({"x": rng.normal(0.2, 1.1, 500), "c": rng.choice(list("pqrst"), 500)})
    _CACHE.clear()
    prepared = drift.prepare(ref, keep_sample=True)
    for col, names in (("x", NUMERIC), ("c", CATEGORICAL)):
        for method in names:
            exact = drift.compare(ref, cur, columns=[col], methods={col: method},
                                  exact=True).columns[0]
            fast = drift.compare(prepared, cur, columns=[col], methods={col: method}).columns[0]
            if method in FAST_METHODS and col == "x":
                continue  # the grid's bounds are tested in test_drift_compare
            assert fast.statistic == pytest.approx(exact.statistic, rel=1e-12), method
            if exact.p_value is not None:  # None for a distance
                assert fast.p_value == pytest.approx(exact.p_value, rel=1e-12), method
    a, b = ref["x"].to_numpy(), cur["x"].to_numpy()
    known = {"cramer_von_mises": stats.cramervonmises_2samp(a, b).pvalue,
             "mann_whitney": stats.mannwhitneyu(a, b).pvalue,
             "t_test": stats.ttest_ind(a, b, equal_var=False).pvalue,
             "epps_singleton": stats.epps_singleton_2samp(a, b).pvalue}
    for method, p_value in known.items():
        res = drift.compare(prepared, cur, columns=["x"], methods={"x": method}).columns[0]
        assert res.p_value == pytest.approx(p_value, rel=1e-6), method
    energy = drift.compare(prepared, cur, columns=["x"], methods={"x": "energy_distance"})
    assert energy.columns[0].statistic == pytest.approx(
        stats.energy_distance(a / a.std(), b / a.std()), rel=1e-9)


# the reference data: logged at registration, verified against its version's digest ----------

def _logged_version(tmp_path: Path, frames: dict[str, pd.DataFrame], tags: dict[str, str]
                    ) -> tuple[str, ResolvedModel, Path]:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with tracking(uri):
        experiment = mlflow.create_experiment("t", artifact_location=(tmp_path / "a").as_uri())
        with mlflow.start_run(experiment_id=experiment) as run:
            for which, frame in frames.items():
                write_parquet_atomic(frame, tmp_path / f"{which}.parquet")
                mlflow.log_artifact(str(tmp_path / f"{which}.parquet"), artifact_path="data")
    model = ResolvedModel(name="m", alias="champion", version="1", run_id=run.info.run_id,
                          source="", tags=tuple(tags.items()))
    return uri, model, tmp_path / "a" / run.info.run_id / "artifacts" / "data"


def test_reference_data_edited_after_registration_is_refused(tmp_path: Path) -> None:
    training = pd.DataFrame({"age": [30, 40, 50], "home": ["rent", "own", "rent"]})
    holdout = training.assign(age=training["age"] + 1)
    uri, model, folder = _logged_version(
        tmp_path, {"training": training, "holdout": holdout},
        {TRAINING_DIGEST_TAG: frame_digest(training), HOLDOUT_DIGEST_TAG: frame_digest(holdout)})
    assert logged_frame(uri, model, "training").equals(training)
    assert logged_frame(uri, model, "holdout").equals(holdout)
    write_parquet_atomic(holdout.assign(age=holdout["age"] * 1000), folder / "holdout.parquet")
    with pytest.raises(E2EAssetsError, match="holdout data of models:/m/1 .* changed since it "
                                             "was registered"):
        logged_frame(uri, model, "holdout")


def test_holdout_reference_needs_holdout_logged(tmp_path: Path) -> None:
    training = pd.DataFrame({"age": [30, 40, 50]})
    uri, model, _ = _logged_version(tmp_path, {"training": training},
                                    {TRAINING_DIGEST_TAG: frame_digest(training)})
    with pytest.raises(E2EAssetsError, match=r"logged no held-out requests .*register_model\("
                                             r"\.\.\., holdout="):
        logged_frame(uri, model, "holdout")


def test_histogram_bins_share_rows_per_bin_by_hand() -> None:
    """Shares per bin over shared edges (1st..99th percentile of both samples, tails clipped
    into the end bins): counted by hand on small samples."""
    from e2e_assets.checks.drift import HISTOGRAM_BIN_COUNT as N_BINS
    from e2e_assets.checks.drift import histogram_bins

    ref = pd.DataFrame({"x": [0.0] * 50 + [100.0] * 50, "c": ["a"] * 75 + ["b"] * 25})
    cur = pd.DataFrame({"x": [0.0] * 10 + [100.0] * 90, "c": ["a"] * 25 + ["b"] * 75})
    rows = histogram_bins(ref, cur, ["x", "c"])
    x = [r for r in rows if r["column"] == "x"]
    assert len(x) == N_BINS
    assert (x[0]["reference_share"], x[0]["current_share"]) == (0.5, 0.1)
    assert (x[-1]["reference_share"], x[-1]["current_share"]) == (0.5, 0.9)
    assert all(r["reference_share"] == r["current_share"] == 0 for r in x[1:-1])
    c = {r["bin"]: (r["reference_share"], r["current_share"]) for r in rows if r["column"] == "c"}
    assert c == {"a": (0.75, 0.25), "b": (0.25, 0.75)}
