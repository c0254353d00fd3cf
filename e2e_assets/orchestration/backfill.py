"""A backfill of a daily-partitioned journey: one ``e2e-assets run --partition DAY`` per day.

Each day is its own process and its own journey run (one Dagster run per stage, tagged with the
day), as the UI's partition backfill is one run per day: a day that fails blocks only itself,
and with ``E2E_EXECUTOR=celery`` the days' steps spread over the workers. Days are checked
against the journey's own partitions definition (the one its assets carry) before anything
runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, timedelta

from e2e_assets.errors import EXIT_CONFIG, SpecError
from e2e_assets.orchestration.checks import journey_partitions_def
from e2e_assets.spec import Journey

MAX_DAYS = 366
_VERDICTS = {0: "PASSED", 1: "FAILED", 2: "ERROR"}


@dataclass(frozen=True)
class DayResult:
    day: str
    exit_code: int
    wall_time_s: float
    journey: str

    @property
    def verdict(self) -> str:
        return _VERDICTS.get(self.exit_code, "ERROR")

    @property
    def report_name(self) -> str:
        return f"{self.journey}-{self.day}.json"


def _day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SpecError(f"expected a day YYYY-MM-DD, got {text!r}", field=flag) from None


def backfill_days(journey: Journey, start: str, end: str) -> list[str]:
    """The days ``start`` to ``end`` (both included), each a partition of ``journey``."""
    partitions = journey_partitions_def(journey)
    if journey.spec.partitions is None or partitions is None:
        raise SpecError(f"journey '{journey.name}' is not partitioned: a backfill needs "
                        f"'partitions: {{daily: {{start, column}}}}' in its spec",
                        file=str(journey.path), field="partitions")
    first, last = _day(start, "--from"), _day(end, "--to")
    if last < first:
        raise SpecError(f"--to {end} is before --from {start}; expected a range of days",
                        field="--to")
    if first < journey.spec.partitions.daily.start:
        raise SpecError(f"--from {start} is before the journey's first partition "
                        f"{journey.spec.partitions.daily.start} (partitions.daily.start)",
                        field="--from")
    if not partitions.has_partition_key(last.isoformat()):  # complete days only
        raise SpecError(f"--to {end} is not a complete partition: the last one is "
                        f"{partitions.get_last_partition_key()}", field="--to")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise SpecError(f"{count} days asked; at most {MAX_DAYS} per backfill", field="--to")
    return [(first + timedelta(days=i)).isoformat() for i in range(count)]


def run_backfill(journey: Journey, days: Sequence[str], *, parallel: int,
                 say: Callable[[str], None]) -> list[DayResult]:
    """Run each day as ``e2e-assets run <journey file> --partition DAY --quiet``, ``parallel``
    at a time, in this environment; the results in day order."""
    name = journey.name

    def one(day: str) -> DayResult:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "e2e_assets", "run", str(journey.path),
                               "--partition", day, "--quiet"], env=dict(os.environ),
                              capture_output=True, text=True, check=False)
        if proc.returncode == EXIT_CONFIG and proc.stderr.strip():
            say(f"[{name}] {day}: {proc.stderr.strip().splitlines()[-1]}")
        return DayResult(day, proc.returncode, time.perf_counter() - started, journey=name)

    results: dict[str, DayResult] = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {pool.submit(one, day): day for day in days}
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            results[result.day] = result
            say(f"[{name}] {result.day}: {result.verdict} (exit {result.exit_code}) in "
                f"{result.wall_time_s:.1f} s ({done}/{len(days)})")
    return [results[day] for day in days]
