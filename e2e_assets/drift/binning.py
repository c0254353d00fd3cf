"""Bins shared by the exact and the fast path, so both give the same binned distances.

Numbers: the reference's deciles plus an overflow bin on each side,
``(-inf, min) [min, d1) ... [d9, max] (max, inf)``: mass that moves beyond the reference's range
shows up as such instead of being merged into the extreme deciles. Empty bins get ``EPS``.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-4
BINS = 10


def sorted_quantiles(sorted_values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """np.quantile's default (linear) on an already sorted array."""
    pos = probs * (len(sorted_values) - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bin_edges(sorted_ref: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Interior edges: the reference's quantiles, the last nudged up so its max is inside."""
    qs = sorted_quantiles(sorted_ref, np.linspace(0, 1, bins + 1))
    return np.unique(np.concatenate([qs[:-1], [np.nextafter(qs[-1], np.inf)]]))


def bin_counts(sorted_values: np.ndarray, interior_edges: np.ndarray) -> np.ndarray:
    """Counts in (-inf, e1), [e1, e2), ..., [ek, inf) of a sorted array."""
    cuts = np.searchsorted(sorted_values, interior_edges, side="left")
    return np.diff(np.concatenate([[0], cuts, [len(sorted_values)]]))


def shares(counts: np.ndarray) -> np.ndarray:
    return np.maximum(counts / max(int(counts.sum()), 1), EPS)
