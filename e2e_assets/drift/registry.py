"""The registry of drift tests: one small pure function per test, declared with its name, the
column kinds it accepts, whether its score is a p-value or a distance, and its default threshold.

Every function takes two 1-D arrays with nulls already removed (numbers as float64; categories as
objects) and returns a :class:`Outcome`. A p-value test signals drift when ``p < threshold``; a
distance signals drift when ``distance >= threshold``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from e2e_assets.errors import UnknownNameError

Kind = Literal["numeric", "categorical", "binary"]
Score = Literal["p_value", "distance"]


@dataclass(frozen=True)
class Outcome:
    statistic: float
    p_value: float | None = None


@dataclass(frozen=True)
class DriftMethod:
    name: str
    kinds: frozenset[str]
    score: Score
    threshold: float
    fn: Callable[[np.ndarray, np.ndarray], Outcome]
    description: str

    def drifted(self, outcome: Outcome, threshold: float | None = None) -> bool:
        t = self.threshold if threshold is None else threshold
        if self.score == "p_value":
            return outcome.p_value is not None and bool(outcome.p_value < t)
        return bool(np.isfinite(outcome.statistic) and outcome.statistic >= t)


_REGISTRY: dict[str, DriftMethod] = {}


class _Methods(Mapping[str, DriftMethod]):
    """Read-only view of the registry: iterate for names, index for the declaration."""

    def __getitem__(self, name: str) -> DriftMethod:
        try:
            return _REGISTRY[name]
        except KeyError:
            raise UnknownNameError(f"unknown drift method {name!r}; registered: "
                           f"{sorted(_REGISTRY)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(_REGISTRY))

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return f"METHODS({', '.join(self)})"


METHODS: Mapping[str, DriftMethod] = _Methods()


def register(name: str, *, kinds: tuple[str, ...], score: Score, threshold: float
             ) -> Callable[[Callable[[np.ndarray, np.ndarray], Outcome]],
                           Callable[[np.ndarray, np.ndarray], Outcome]]:
    def deco(fn: Callable[[np.ndarray, np.ndarray], Outcome]
             ) -> Callable[[np.ndarray, np.ndarray], Outcome]:
        doc = (fn.__doc__ or name).strip().splitlines()[0]
        _REGISTRY[name] = DriftMethod(name, frozenset(kinds), score, threshold, fn, doc)
        return fn

    return deco
