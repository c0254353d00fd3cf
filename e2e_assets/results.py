"""What a journey run produced, as plain values: per-stage rows/time/checks, exit code, report.

Pure (no Dagster): the orchestration layer fills these from the event log, the CLI prints them,
CI reads the JSON report.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from e2e_assets.errors import EXIT_CHECK_FAILED, EXIT_CONFIG, EXIT_OK


@dataclass(frozen=True)
class CheckOutcome:
    stage: str
    name: str
    passed: bool
    severity: str
    blocking: bool
    description: str = ""
    evaluated: bool = True  # False: its stage was blocked before the check's phase
    kind: str = ""
    metadata: dict[str, object] = field(default_factory=dict)  # its scalar metadata
    # its evidence tables (per-expectation, per-column, per-cohort rows), failing rows first
    tables: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.evaluated and not self.passed


@dataclass(frozen=True)
class StageResult:
    stage: str
    status: str  # materialized | failed | skipped
    rows_in: int | None = None
    rows_out: int | None = None
    wall_time_s: float | None = None
    data_digest: str | None = None

    def checks(self, outcomes: tuple[CheckOutcome, ...]) -> tuple[int, int]:
        mine = [c for c in outcomes if c.stage == self.stage and c.evaluated]
        return sum(c.passed for c in mine), sum(not c.passed for c in mine)


@dataclass(frozen=True)
class JourneyRun:
    journey: str
    run_id: str | None
    stages: tuple[StageResult, ...]
    checks: tuple[CheckOutcome, ...] = ()
    error: str | None = None
    error_exit_code: int | None = None  # the exit code the error's class carries
    model: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0
    problems: tuple[dict[str, object], ...] = ()  # every problem the dry run found
    unblessed_allowed: bool = False  # a drill served versions the gate has not blessed
    drill: tuple[str, ...] = ()  # faults injected on purpose: delivered to the shadow sink
    # The Dagster runs, one per stage that ran (``run_id`` is the first: it keys the hand-off).
    dagster_run_ids: tuple[str, ...] = ()

    @property
    def blocking_failures(self) -> tuple[CheckOutcome, ...]:
        """Failed checks that stop the journey: blocking and of severity error. A ``warn``
        check never blocks and never fails the run."""
        return tuple(c for c in self.checks
                     if c.failed and c.blocking and c.severity == "error")

    @property
    def exit_code(self) -> int:
        if self.error_exit_code is not None and self.error_exit_code != EXIT_OK:
            return self.error_exit_code
        if self.blocking_failures:
            return EXIT_CHECK_FAILED
        return EXIT_OK

    @property
    def status(self) -> str:
        return {EXIT_OK: "passed", EXIT_CHECK_FAILED: "failed", EXIT_CONFIG: "error"}[
            self.exit_code]

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "status": self.status, "exit_code": self.exit_code}


def _fmt(value: object, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def render_table(run: JourneyRun) -> str:
    """A fixed-width per-stage table followed by a one-line verdict."""
    if not run.stages:  # stopped before running: the message is all there is to say
        return f"journey {run.journey}: {run.status.upper()} (exit {run.exit_code}): {run.error}"
    head = ("stage", "status", "rows in", "rows out", "wall s", "checks ok", "checks failed")
    rows = [head]
    for s in run.stages:
        ok, bad = s.checks(run.checks)
        rows.append((s.stage, s.status, _fmt(s.rows_in), _fmt(s.rows_out),
                     _fmt(s.wall_time_s, ".3f"), str(ok), str(bad)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"journey {run.journey}  run {run.run_id or '-'}  model "
             f"{run.model.get('name', '-')} v{run.model.get('version', '-')} "
             f"@{run.model.get('alias', '-')}"]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(r, widths, strict=True))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    for c in run.checks:
        if c.failed:
            blocks = c.blocking and c.severity == "error"
            label = "FAILED blocking error" if blocks else (
                "FAILED warn" if c.severity == "warn" else "FAILED non-blocking error")
            lines.append(f"{label} check '{c.name}' on stage '{c.stage}': {c.description}")
    if run.unblessed_allowed:
        lines.append("DRILL: --allow-unblessed served versions the promotion gate has not "
                     "blessed (recorded in the run's tags and this report)")
    if run.drill:
        lines.append(f"DRILL: faults {', '.join(run.drill)} injected; delivered to the shadow "
                     f"sink, not the real one (tag e2e/drill)")
    verdict = f"{run.status.upper()} in {run.wall_time_s:.1f} s"
    if run.error:
        verdict += f": {run.error}"
    lines.append(verdict)
    return "\n".join(lines)


def write_json_atomic(data: object, path: Path) -> Path:
    return write_text_atomic(json.dumps(data, indent=2, sort_keys=True, default=str), path)


def write_text_atomic(text: str, path: Path) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename: a
    reader sees the old file or the whole new one, never half of it. Readable by all, as a file
    written with ``open`` would be (a temporary file is private to its owner)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# The JSON report's schema (docs/report.schema.json): a new field is a minor change; a field
# removed, renamed or retyped bumps the version.
REPORT_SCHEMA = "e2e-assets/report"
REPORT_SCHEMA_VERSION = 1


def report_dict(runs: list[JourneyRun]) -> dict[str, object]:
    """Every run's stages (rows, wall time), checks (with their scalar evidence), model and
    verdict, the total wall time and the exit code CI should use."""
    return {"schema": REPORT_SCHEMA, "schema_version": REPORT_SCHEMA_VERSION,
            "runs": [r.to_dict() for r in runs],
            "wall_time_s": round(sum(r.wall_time_s for r in runs), 3),
            "exit_code": max((r.exit_code for r in runs), default=0)}


def write_report(runs: list[JourneyRun], folder: Path, name: str = "latest") -> Path:
    """``<folder>/<name>.json``: :func:`report_dict`, written atomically."""
    return write_json_atomic(report_dict(runs), folder / f"{name}.json")
