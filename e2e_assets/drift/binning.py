"""Bins shared by the exact and the fast path, so both give the same binned distances.

Numbers: the reference's deciles plus an overflow bin on each side,
``(-inf, min) [min, d1) ... [d9, max] (max, inf)``: mass that moves beyond the reference's range
shows up as such instead of being merged into the extreme deciles. Empty bins get ``EPS``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats
from scipy.spatial import distance

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


def _normed(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return r / r.sum(), c / c.sum()


def _hellinger(r: np.ndarray, c: np.ndarray) -> float:
    r, c = _normed(r, c)
    return float(np.sqrt(np.sum((np.sqrt(r) - np.sqrt(c)) ** 2)) / np.sqrt(2))


def _tvd(r: np.ndarray, c: np.ndarray) -> float:
    r, c = _normed(r, c)
    return float(0.5 * np.abs(r - c).sum())


# Distances between two share vectors (floored at EPS), used by the exact and the fast path.
SHARE_DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "psi": lambda r, c: float(np.sum((c - r) * np.log(c / r))),
    "jensen_shannon": lambda r, c: float(distance.jensenshannon(r, c)),
    "hellinger": _hellinger,
    "kl_div": lambda r, c: float(stats.entropy(r, c)),
    "tvd": _tvd,
}
