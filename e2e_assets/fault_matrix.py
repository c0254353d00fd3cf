"""The fault-detection matrix: which check catches each fault of the catalogue, and at which stage.

For a journey, one clean run (plus ``clean_runs - 1`` on 75% resamples of the source) and one
drill per injectable fault (``faults.INJECTABLE``, each at its default stage with its default
parameters) run through the core stage protocol in process, exactly as a run's stages and
checks do (:mod:`e2e_assets.fault_runs`). This module holds the values and the pure logic that
judges them: a fault is *caught* when any check failed (a stage that raised counts: it fails
closed), *at the right stage* when a check of the stage the registry names
(``FaultSpec.catch_stage``) failed. Any check failed by a clean run is a false alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from e2e_assets.faults import REGISTRY

STAGE_FAILED = "(stage raised)"  # the catcher named when a stage function raised


@dataclass(frozen=True)
class FailedCheck:
    """A check that did not pass in one run (or the stage that raised: ``STAGE_FAILED``)."""

    check: str
    stage: str
    kind: str
    severity: Literal["error", "warn"]
    blocking: bool  # a failed blocking error check: nothing downstream ran
    summary: str = ""

    def describe(self) -> str:
        return f"{self.check}@{self.stage}"


@dataclass(frozen=True)
class RunOutcome:
    """What one in-process run of the journey found: its failed checks, in stage order."""

    failed: tuple[FailedCheck, ...]
    blocked_at: str | None  # the stage a blocking check (or a raising stage) stopped
    wall_s: float

    @property
    def blocking(self) -> tuple[FailedCheck, ...]:
        return tuple(f for f in self.failed if f.blocking)


@dataclass(frozen=True)
class MatrixRow:
    """One drill: the fault, where it was injected, where it must be caught, what caught it."""

    fault: str
    injected_at: str
    expected_stage: str
    column: str | None
    caught_by: tuple[FailedCheck, ...]
    wall_s: float

    @property
    def caught(self) -> bool:
        return bool(self.caught_by)

    @property
    def right_stage(self) -> bool:
        return any(c.stage == self.expected_stage for c in self.caught_by)

    @property
    def severity(self) -> str:
        """How the catch at the right stage acts: 'blocking error', 'error' (non-blocking),
        'warn', or '-' when nothing caught it there."""
        there = [c for c in self.caught_by if c.stage == self.expected_stage]
        if any(c.blocking for c in there):
            return "blocking error"
        if any(c.severity == "error" for c in there):
            return "error"
        return "warn" if there else "-"


@dataclass(frozen=True)
class OutOfRunFault:
    """A fault of the catalogue that is not injected into a run, with where it is tested."""

    fault: str
    tested_in: str
    caught_by: str


@dataclass(frozen=True)
class FaultMatrix:
    journey: str
    rows: tuple[MatrixRow, ...]
    clean_runs: tuple[RunOutcome, ...]
    out_of_run: tuple[OutOfRunFault, ...]
    wall_s: float

    @property
    def false_alarms(self) -> int:
        """Checks failed by clean runs, summed over the clean runs."""
        return sum(len(r.failed) for r in self.clean_runs)

    @property
    def blocking_false_alarms(self) -> int:
        return sum(len(r.blocking) for r in self.clean_runs)

    @property
    def missed(self) -> tuple[MatrixRow, ...]:
        """Drills not caught at the stage the registry names."""
        return tuple(r for r in self.rows if not r.right_stage)

    @property
    def passed(self) -> bool:
        return not self.missed and not self.blocking_false_alarms

    def to_dict(self) -> dict[str, Any]:
        return {"journey": self.journey, "passed": self.passed, "wall_s": self.wall_s,
                "false_alarms": self.false_alarms,
                "blocking_false_alarms": self.blocking_false_alarms,
                "rows": [{**asdict(r), "caught": r.caught, "right_stage": r.right_stage,
                          "severity": r.severity} for r in self.rows],
                "clean_runs": [asdict(r) for r in self.clean_runs],
                "out_of_run": [asdict(f) for f in self.out_of_run]}


def matrix_row(fault: str, injected_at: str, outcome: RunOutcome, column: str | None = None,
               expected_stage: str | None = None) -> MatrixRow:
    """The row of one drill; the expected stage defaults to the registry's."""
    expected = expected_stage or REGISTRY[fault].catch_stage or injected_at
    return MatrixRow(fault=fault, injected_at=injected_at, expected_stage=expected,
                     column=column, caught_by=outcome.failed, wall_s=outcome.wall_s)


def out_of_run_faults() -> tuple[OutOfRunFault, ...]:
    """The catalogue's faults injected outside a run, with the test that injects each."""
    return tuple(OutOfRunFault(s.id, s.injection, s.caught_by) for s in REGISTRY.values()
                 if not s.injectable)


def render_matrix(matrix: FaultMatrix) -> str:
    """The fixed-width table (fault | injected at | caught by | right stage | severity), the
    false alarms of the clean runs and a verdict."""
    head = ("fault", "injected at", "caught by (check@stage)", "right stage", "severity")
    rows = [head] + [(r.fault, r.injected_at,
                      ", ".join(c.describe() for c in r.caught_by) or "NOT CAUGHT",
                      "yes" if r.right_stage else f"NO (expected {r.expected_stage})",
                      r.severity) for r in matrix.rows]
    title = (f"fault matrix {matrix.journey}: {len(matrix.rows)} drills, "
             f"{len(matrix.clean_runs)} clean run(s)")
    lines = [title, *_table(rows)]
    clean = ", ".join(f.describe() + (" (blocking)" if f.blocking else "")
                      for run in matrix.clean_runs for f in run.failed) or "none"
    lines.append(f"false alarms: {matrix.false_alarms} failed check(s) in "
                 f"{len(matrix.clean_runs)} clean run(s) ({clean})")
    if matrix.out_of_run:
        lines.append("tested outside a run: " + ", ".join(f.fault for f in matrix.out_of_run)
                     + " (docs/faults.md names each test)")
    missed = ", ".join(r.fault for r in matrix.missed)
    verdict = "PASSED" if matrix.passed else "FAILED"
    reasons = [f"not caught at the expected stage: {missed}"] if missed else []
    if matrix.blocking_false_alarms:
        reasons.append(f"{matrix.blocking_false_alarms} blocking check(s) failed a clean run")
    lines.append(f"{verdict} in {matrix.wall_s:.1f} s" + (": " + "; ".join(reasons)
                                                           if reasons else ""))
    return "\n".join(lines)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
           for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out
