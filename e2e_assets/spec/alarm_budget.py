"""The journey's false-alarm budget, shared by its statistical checks when the spec loads.

A journey declares ``false_alarm_rate`` (default 1%): the probability it tolerates that a clean
run is blocked by chance. A check kind whose options test hypotheses at a significance level
``alpha`` (drift, joint drift, fairness, a statistical golden comparison, the challenger's
McNemar test; see ``Options.tests_hypotheses``) takes part:

* **Blocking** statistical checks share the budget. Each one without an explicit ``alpha`` gets
  ``(false_alarm_rate - explicit alphas) / unset`` (Bonferroni). By the union bound, the chance
  that any of them fails on a clean run is at most ``false_alarm_rate``. Within one check the
  columns are combined by Benjamini-Hochberg at the check's alpha, which controls the chance of
  any rejection at alpha when no column has drifted, so the bound holds per run.
* **Warning** statistical checks never block a run. Each one without an explicit ``alpha`` gets
  the whole ``false_alarm_rate`` as its own level: a clean run shows a spurious warning on at
  most that share of runs per warning check.

Explicit alphas on blocking checks that sum above the budget are a spec error naming the
checks. Checks that do not test hypotheses (rules, expectations, golden tolerances, latency) do
not draw on the budget; ``benchmarks/false_alarms.py`` measures the whole journey's rate on
clean resampled runs, all checks included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from e2e_assets.checks.base import ConfiguredCheck
from e2e_assets.errors import SpecError
from e2e_assets.spec.lines import line_for

Lines = Mapping[tuple[str, ...], int]


@dataclass(frozen=True)
class AlphaShare:
    """One statistical check's significance level and where it came from."""

    stage: str
    check: str
    alpha: float
    blocking: bool
    explicit: bool


def _statistical(check: ConfiguredCheck) -> bool:
    return bool(getattr(check.options, "tests_hypotheses", False))


def _explicit(check: ConfiguredCheck) -> bool:
    return "alpha" in check.spec.options  # set in the spec, not drawn from the budget


def share_alpha(checks: Mapping[str, tuple[ConfiguredCheck, ...]], false_alarm_rate: float, *,
                file: str = "", lines: Lines | None = None
                ) -> dict[str, tuple[ConfiguredCheck, ...]]:
    """``checks`` with every statistical check's unset ``alpha`` set from the budget."""
    statistical = [c for stage in checks.values() for c in stage if _statistical(c)]
    blocking = [c for c in statistical if c.blocking]
    explicit = sum(c.options.alpha for c in blocking if _explicit(c))
    unset = [c for c in blocking if not _explicit(c)]
    if explicit > false_alarm_rate or (unset and explicit >= false_alarm_rate):
        first = next(c for c in blocking if _explicit(c))
        loc = ("checks", first.stage, str(first.position), "options", "alpha")
        named = ", ".join(f"{c.stage}.{c.name}={c.options.alpha:g}" for c in blocking
                          if _explicit(c))
        raise SpecError(
            f"the blocking statistical checks' alphas ({named}) sum to {explicit:g}, which "
            f"leaves nothing of the journey's false_alarm_rate {false_alarm_rate:g} for "
            + (f"{len(unset)} more" if unset else "itself") + "; lower them, drop 'alpha' to "
            "share the budget, or raise false_alarm_rate", file=file, field=".".join(loc),
            line=line_for(loc, lines or {}))
    each = (false_alarm_rate - explicit) / len(unset) if unset else 0.0
    out: dict[str, tuple[ConfiguredCheck, ...]] = {}
    for stage, configured in checks.items():
        out[stage] = tuple(
            replace(c, options=c.options.model_copy(
                update={"alpha": each if c.blocking else false_alarm_rate}))
            if _statistical(c) and not _explicit(c) else c for c in configured)
    return out


def alpha_shares(checks: Mapping[str, tuple[ConfiguredCheck, ...]]) -> list[AlphaShare]:
    """Every statistical check's level, for reports and ``e2e-assets validate``."""
    return [AlphaShare(c.stage, c.name, float(c.options.alpha), c.blocking, _explicit(c))
            for stage in checks.values() for c in stage if _statistical(c)]
