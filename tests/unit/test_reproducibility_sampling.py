"""Reproducibility re-runs a large batch on a seeded sample, says so, keeps its stated power,
and confirms a differing sample on the whole batch before it fails."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from e2e_assets.checks.reproducibility import rerun_matches, smallest_share_found

KEY = "request_id"


def batch(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({KEY: [f"r{i}" for i in range(rows)], "x": rng.normal(size=rows)})


class Stage:
    """A row-wise stage that records the sizes it was called on; ``flaky`` request ids get
    fresh noise on every call."""

    def __init__(self, flaky: frozenset[str] = frozenset(), batch_dependent: bool = False):
        self.flaky, self.batch_dependent, self.calls = flaky, batch_dependent, []  # type: ignore[var-annotated]
        self.rng = np.random.default_rng(1)

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.calls.append(len(frame))
        centre = frame["x"].mean() if self.batch_dependent else 0.0
        score = 2 * frame["x"].to_numpy() - centre
        noisy = frame[KEY].isin(self.flaky).to_numpy()
        score[noisy] += self.rng.normal(size=int(noisy.sum()))
        return pd.DataFrame({KEY: frame[KEY].to_numpy(), "score": score})


def check(source: pd.DataFrame, stage: Stage, sample_rows: int | None = 20_000):
    output = stage(source)
    stage.calls.clear()
    return rerun_matches(source, output, stage, key=KEY, abs_tolerance=0.0, rel_tolerance=0.0,
                         sample_rows=sample_rows, sample_size=5)


def test_the_stated_power_is_the_hand_computed_one() -> None:
    # 1 - (1 - p)^20000 = 0.99  =>  p = 1 - 0.01^(1/20000) = 1 - exp(ln 0.01 / 20000)
    assert smallest_share_found(20_000) == pytest.approx(1 - math.exp(-4.605170186 / 20_000))
    assert smallest_share_found(20_000) == pytest.approx(2.3023e-4, rel=1e-4)
    assert smallest_share_found(100) == pytest.approx(0.045007, rel=1e-4)


def test_a_large_deterministic_batch_passes_on_a_sample_and_says_so() -> None:
    stage = Stage()
    result = check(batch(100_000), stage)
    assert result.passed and stage.calls == [20_000]
    sampling = result.metadata["sampling"]
    assert sampling["sampled"] and sampling["sample_rows"] == 20_000
    assert sampling["batch_rows"] == 100_000 and "seeded sample of 20,000 of 100,000" in (
        result.summary)
    assert "0.023%" in result.summary


def test_a_small_batch_is_rerun_whole() -> None:
    stage = Stage()
    result = check(batch(5_000), stage)
    assert result.passed and stage.calls == [5_000]
    assert result.metadata["sampling"] == {"sampled": False, "batch_rows": 5_000}


def test_sampling_off_reruns_whole() -> None:
    stage = Stage()
    assert check(batch(50_000), stage, sample_rows=None).passed and stage.calls == [50_000]


def test_sparse_nondeterminism_is_found_and_confirmed_on_the_whole_batch() -> None:
    """100 flaky rows of 200,000 (0.05%, above the stated 0.023%)."""
    source = batch(200_000)
    flaky = frozenset(source[KEY].sample(100, random_state=3))
    stage = Stage(flaky)
    result = check(source, stage)
    assert not result.passed and stage.calls == [20_000, 200_000]
    assert result.metadata["sampling"]["sample_differed"]
    assert "differs on 100 of 200000 rows" in result.summary


def test_a_batch_dependent_stage_differs_on_a_sample_but_passes_whole() -> None:
    stage = Stage(batch_dependent=True)
    result = check(batch(100_000), stage)
    assert result.passed and stage.calls == [20_000, 100_000]
    assert result.metadata["sampling"]["sample_differed"]


def test_row_diffs_align_reordered_duplicated_and_one_sided_ids() -> None:
    """The vectorised alignment: a shuffled copy matches; a duplicated id counts as its first
    row; ids on one side only are listed sorted as text; samples name the right rows."""
    from e2e_assets.checks.frame_diff import compare_frames

    expected = pd.DataFrame({"id": [3, 1, 2, 10, 3], "v": ["c", "a", "b", "j", "dup"],
                             "p": [0.3, 0.1, 0.2, 1.0, 9.9]})
    assert compare_frames(expected, expected.sample(frac=1, random_state=0), key="id").passed
    actual = pd.DataFrame({"id": [2, 1, 4, 3, 11], "v": ["b", "z", "d", "c", "k"],
                           "p": [0.2, 0.1, 0.4, 0.3, 1.1]})
    result = compare_frames(expected, actual, key="id")
    assert not result.passed
    meta = result.metadata
    assert meta["rows_compared"] == 3 and meta["missing_sample"] == [10]
    assert meta["extra_sample"] == [11, 4]  # "11" < "4" as text
    assert result.samples == ({"id": 1, "column": "v", "expected": "a", "actual": "z"},)


def test_a_sample_size_below_one_is_refused_when_the_spec_loads() -> None:
    from pydantic import ValidationError

    from e2e_assets.checks.reproducibility import ReproducibilityOptions

    for bad in (0, -5):
        with pytest.raises(ValidationError, match="sample_rows"):
            ReproducibilityOptions(sample_rows=bad)
    assert ReproducibilityOptions(sample_rows=None).sample_rows is None
