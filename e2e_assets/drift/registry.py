"""The registry of drift tests: one small pure function per test, declared with its name, the
column kinds it accepts, whether its score is a p-value or a distance, its default threshold and
the engines that compute it:

- ``exact``: the function itself on both samples' values (every test has it);
- ``prepared``: from a prepared reference's summary (quantile grid, deciles, category counts),
  see :mod:`.prepared`; a test without it runs its exact function on the reference's values;
- ``sql``: from aggregates a database computes, see :mod:`.sql`.

The engines' name lists (``prepared.FAST_METHODS``, ``sql.SQL_METHODS``) are views of this
registry, never lists of their own.

Every function takes two 1-D arrays with nulls already removed (numbers as float64; categories as
objects) and returns a :class:`Outcome`. A p-value test signals drift when ``p < threshold``; a
distance signals drift when ``distance >= threshold``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Literal

import numpy as np

from e2e_assets.errors import E2EAssetsError, UnknownNameError

Kind = Literal["numeric", "categorical", "binary"]
Score = Literal["p_value", "distance"]
Engine = Literal["exact", "prepared", "sql"]
ENGINES: tuple[Engine, ...] = ("exact", "prepared", "sql")


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
    engines: frozenset[str] = frozenset({"exact"})

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


class _WithEngine(AbstractSet[str]):
    """Read-only, live view of the names of the registered tests that have one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _names(self) -> list[str]:
        return sorted(n for n, m in _REGISTRY.items() if self.engine in m.engines)

    def __contains__(self, name: object) -> bool:
        method = _REGISTRY.get(name) if isinstance(name, str) else None
        return method is not None and self.engine in method.engines

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return f"methods_with_engine({self.engine!r})({', '.join(self)})"


def methods_with_engine(engine: Engine) -> AbstractSet[str]:
    """The names of the registered tests that declare ``engine`` (a live view: a test
    registered later shows up in it)."""
    if engine not in ENGINES:
        raise UnknownNameError(f"unknown drift engine {engine!r}; engines: {list(ENGINES)}")
    return _WithEngine(engine)


def _checked_engines(name: str, engines: Iterable[str]) -> frozenset[str]:
    declared = frozenset(engines)
    unknown = sorted(declared - set(ENGINES))
    if unknown:
        raise UnknownNameError(f"drift method {name!r} declares unknown engines {unknown}; "
                               f"engines: {list(ENGINES)}")
    if "exact" not in declared:
        raise E2EAssetsError(f"drift method {name!r} declares engines {sorted(declared)} "
                             f"without 'exact': the registered function is its exact engine; "
                             f"expected engines=('exact', ...)")
    return declared


def register(name: str, *, kinds: tuple[str, ...], score: Score, threshold: float,
             engines: tuple[Engine, ...] = ("exact",)
             ) -> Callable[[Callable[[np.ndarray, np.ndarray], Outcome]],
                           Callable[[np.ndarray, np.ndarray], Outcome]]:
    """Register the decorated function as the ``exact`` engine of test ``name``; ``engines``
    also names the other engines that compute it (``prepared``, ``sql``)."""
    declared = _checked_engines(name, engines)

    def deco(fn: Callable[[np.ndarray, np.ndarray], Outcome]
             ) -> Callable[[np.ndarray, np.ndarray], Outcome]:
        doc = (fn.__doc__ or name).strip().splitlines()[0]
        _REGISTRY[name] = DriftMethod(name, frozenset(kinds), score, threshold, fn, doc,
                                      declared)
        return fn

    return deco
