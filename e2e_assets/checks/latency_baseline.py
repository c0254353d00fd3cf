"""The recorded latency baseline both latency checks judge regressions against, and the machine
calibration that keeps a busy machine from looking like a slow stage.

The baseline lives beside the hand-off store, ``<home>/storage/<journey>/latency.json``:
``{key: [entry, ...]}``, newest last, where ``key`` is a stage name or :data:`END_TO_END`, and an
entry is ``{"version": "<model>:<version>" or null, <measure>: float, ...}``: a stage's ms per
1,000 requests (``ms_per_1k``), or the journey's request-batch percentiles (``p50_ms``...). An
entry records which model versions served when it was timed, so a regression is judged against
the **champion's** timings: in a gate run, a challenger is held to what the champion it would
replace was measured at. A file written before versions were recorded holds bare numbers; they
read as entries of an unknown version.

A loaded machine slows every stage at once. So each recorded timing comes with a calibration:
the time of a fixed CPU workload (a sort and an interpreted loop, fastest of 3) under
:data:`CALIBRATION`, and a breach is judged against the expected time scaled by the machine's
slowdown now, the calibration now over the recorded median (never below 1).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from e2e_assets.handoff import file_lock
from e2e_assets.home import Home
from e2e_assets.results import write_json_atomic

CALIBRATION = "__calibration_ms"  # not a stage name: those start with a letter
END_TO_END = "__end_to_end"


@dataclass(frozen=True)
class Baseline:
    """The recorded values of one measure a regression is judged against, and whose they are:
    ``of`` says 'champion credit_approval:3', or why the timings of any version were used."""

    values: tuple[float, ...]
    of: str

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def regression_budget(expected_ms: float, factor: float, floor_ms: float) -> float:
    """A timing regresses above ``factor`` times what was expected, or ``floor_ms`` more, which
    ever is larger: the factor catches a stage grown several times slower, the floor keeps
    scheduler noise on a fast stage from firing."""
    return max(factor * expected_ms, expected_ms + floor_ms)


def regression_breach(what: str, judged_ms: float, budget_ms: float, expected_ms: float,
                      runs: int, median_of: str, slowdown: float, factor: float,
                      floor_ms: float) -> str:
    """A breach of :func:`regression_budget`, with how the budget was reached."""
    return (f"{what} {judged_ms:.1f} ms, over its regression budget of {budget_ms:.1f} ms: "
            f"{expected_ms:.1f} ms expected from the median of {runs} passing runs "
            f"({median_of})"
            + (f", times the machine's slowdown {slowdown:.2f}" if slowdown > 1 else "")
            + f", times factor={factor:g} or plus floor_ms={floor_ms:g}, whichever is larger")


def baseline_file(journey: str) -> Path:
    return Home.from_env().storage / journey / "latency.json"


def read_entries(path: Path, key: str) -> list[dict[str, Any]]:
    """The entries recorded under ``key``, oldest first; none if the file is absent."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
        return [_entry(v) for v in data.get(key, [])]
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"latency baseline {path} is not a JSON object of stage -> list of "
                         f"timings ({exc}); delete it to start a new baseline") from None


def _entry(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    return {"version": None, "ms_per_1k": float(value)}  # written before versions were kept


def read_baseline(path: Path, key: str, measure: str = "ms_per_1k") -> list[float]:
    """Every recorded value of ``measure`` under ``key``, whatever version served, oldest
    first."""
    return [float(e[measure]) for e in read_entries(path, key) if measure in e]


def champion_baseline(path: Path, key: str, measure: str, champion: str | None,
                      history: int) -> Baseline:
    """The newest ``history`` values of ``measure`` recorded while ``champion`` served; if it
    has none (a champion not timed yet, or no model), those of any version, and says so."""
    entries = [e for e in read_entries(path, key) if measure in e]
    own = [e for e in entries if champion is not None and e.get("version") == champion]
    if own:
        return Baseline(tuple(float(e[measure]) for e in own[-history:]),
                        f"champion {champion}")
    why = ("no model" if champion is None
           else f"none recorded yet for champion {champion}")
    return Baseline(tuple(float(e[measure]) for e in entries[-history:]),
                    f"any version ({why})")


def record_entry(path: Path, key: str, entry: Mapping[str, Any], keep: int,
                 calibration: float | None = None) -> None:
    """Append one entry under ``key``, keeping the newest ``keep`` (of any version: an old
    champion's timings age out), and the machine calibration measured with it."""
    with file_lock(path.with_name(".latency.lock")):
        data = json.loads(path.read_text()) if path.exists() else {}
        data[key] = [*data.get(key, []), dict(entry)][-keep:]
        if calibration is not None:
            data[CALIBRATION] = [*data.get(CALIBRATION, []), round(calibration, 4)][-20:]
        write_json_atomic(data, path)


def record_timing(path: Path, stage: str, cost: float, keep: int,
                  calibration: float | None = None, version: str | None = None) -> None:
    """Append one stage timing (ms per 1,000 requests) served by ``version``."""
    record_entry(path, stage, {"version": version, "ms_per_1k": round(cost, 6)}, keep,
                 calibration)


def calibration_ms(repeat: int = 3) -> float:
    """The fastest of ``repeat`` timings (ms) of a fixed CPU workload: a numpy sort and an
    interpreted loop, as a stage's vectorised and Python parts would feel a busy machine."""
    import numpy as np

    values = np.random.default_rng(0).random(100_000)
    best = float("inf")
    for _ in range(repeat):
        started = perf_counter()
        np.sort(values)
        sum(i * i for i in range(20_000))
        best = min(best, perf_counter() - started)
    return best * 1000


def machine_slowdown(recorded: Sequence[float], now_ms: float) -> float:
    """How many times slower the machine is now than when the baseline was recorded (>= 1;
    1 without a recorded calibration)."""
    return max(1.0, now_ms / statistics.median(recorded)) if recorded else 1.0


def slowdown_now(path: Path) -> tuple[float, float]:
    """(the calibration measured now, the machine's slowdown since the baseline)."""
    now = calibration_ms()
    return now, machine_slowdown(read_calibrations(path), now)


def read_calibrations(path: Path) -> list[float]:
    """The machine calibrations (ms) recorded with the baseline, oldest first."""
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    return [float(v) for v in data.get(CALIBRATION, [])] if isinstance(data, dict) else []
