"""The seeded row samples that checks re-running a stage use on large batches (reproducibility
re-runs it, latency times it): the same rows for the same batch size, in batch order."""

from __future__ import annotations

import numpy as np
import pandas as pd

SAMPLE_SEED = 20240601


def sampled_positions(rows: int, sample_rows: int, seed: int = SAMPLE_SEED) -> np.ndarray:
    """``sample_rows`` of ``rows`` positions, drawn without replacement, in batch order."""
    return np.sort(np.random.default_rng(seed).choice(rows, sample_rows, replace=False))


def sample_of(frame: pd.DataFrame, sample_rows: int | None) -> pd.DataFrame:
    """``frame`` itself when it has at most ``sample_rows`` rows (or no limit), else a seeded
    sample of that many rows."""
    if not sample_rows or len(frame) <= sample_rows:
        return frame
    return frame.iloc[sampled_positions(len(frame), sample_rows)]
