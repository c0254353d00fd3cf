"""A model stage's declared fallback: retry the model with backoff, then decide by rules.

A stage that serves a model may declare ``fallback:`` (:class:`~e2e_assets.spec.model.
FallbackSpec`). When loading its model fails or calling the stage with it raises, the stage
protocol (:func:`e2e_assets.protocol.run_stage_protocol`, the one caller) retries: attempt
``k`` (k >= 2) waits ``backoff_s * 2 ** (k - 2)`` seconds first, ``retries`` retries in all.
If every attempt failed, the fallback function decides those requests instead, on the same
input: ``fn(df, **params) -> DataFrame`` with the model stage's columns and every request id of
its input exactly once (no request lost; a fallback that loses or invents one is a broken
stage, :class:`StageError`).

``batch_rows`` splits the batch into chunks tried one by one, so a failure costs only its
chunk; without it the whole batch is one attempt. The fallback share is the rows the fallback
decided over the rows in. The ``fallback`` check (:mod:`e2e_assets.checks.fallback`, added
to every stage that declares one) reports it with every attempt and the reason, and fails
when it is above ``max_fallback_share``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from e2e_assets.errors import StageError
from e2e_assets.stages import call_stage_function, check_stage_output

if TYPE_CHECKING:
    from e2e_assets.spec.loader import Journey
    from e2e_assets.spec.model import FallbackSpec

log = logging.getLogger(__name__)


def fallback_key(stage: str) -> str:
    """The key of a stage's fallback function in ``Journey.functions``."""
    return f"{stage}:fallback"


@dataclass(frozen=True)
class Attempt:
    """One try of the model on one chunk: ``error`` None when it served."""

    chunk: int
    number: int  # 1 = the first try; 2.. = retries
    waited_s: float  # the backoff slept before it
    error: str | None = None

    def describe(self) -> str:
        wait = f" after {self.waited_s:g} s" if self.number > 1 else ""
        what = f"failed: {self.error}" if self.error else "served"
        return f"chunk {self.chunk} attempt {self.number}{wait}: {what}"


@dataclass(frozen=True)
class FallbackOutcome:
    """How a stage with a declared fallback served its batch."""

    rows: int
    fallback_rows: int
    max_share: float
    attempts: tuple[Attempt, ...] = ()
    model_loaded: bool = True

    @property
    def share(self) -> float:
        return self.fallback_rows / self.rows if self.rows else 0.0

    @property
    def retries(self) -> int:
        return sum(a.number > 1 for a in self.attempts)

    @property
    def failures(self) -> tuple[Attempt, ...]:
        return tuple(a for a in self.attempts if a.error is not None)

    @property
    def reason(self) -> str | None:
        """The last error the model raised (None: it never did)."""
        failed = self.failures
        return failed[-1].error if failed else None

    @property
    def within_bound(self) -> bool:
        return self.share <= self.max_share

    def facts(self) -> dict[str, Any]:
        """Scalar facts for the stage's record and its check's metadata."""
        return {"fallback_share": round(self.share, 6), "fallback_rows": self.fallback_rows,
                "rows": self.rows, "max_fallback_share": self.max_share,
                "model_attempts": len(self.attempts), "model_retries": self.retries,
                "model_failures": len(self.failures), "fallback_reason": self.reason or "none",
                "attempt_log": "; ".join(a.describe() for a in self.attempts) or "none"}

    def attempt_records(self) -> list[dict[str, Any]]:
        """Every try of the model, as evidence rows (the failed ones first in a report)."""
        return [{"chunk": a.chunk, "attempt": a.number, "waited_s": a.waited_s,
                 "passed": a.error is None, "error": a.error or ""} for a in self.attempts]


def serve_with_fallback(journey: Journey, stage: str, df: pd.DataFrame,
                        load_model: Callable[[], Any], *,
                        sleep: Callable[[float], None] = time.sleep
                        ) -> tuple[pd.DataFrame, FallbackOutcome, Any]:
    """Run ``stage`` on ``df`` with its model (``load_model()``, called until it loads),
    retrying failures with backoff, then its fallback. Returns (output, outcome, the model or
    None if it never loaded). A stage that returns a malformed frame is not retried: that is
    the stage's bug, not the model's outage."""
    spec = _spec(journey, stage)
    fallback = journey.functions[fallback_key(stage)]
    attempts: list[Attempt] = []
    parts: list[pd.DataFrame] = []
    fallback_rows = 0
    model: Any = None
    loaded = False
    for index, chunk in enumerate(_chunks(df, spec.batch_rows), start=1):
        out = None
        for number in range(1, spec.retries + 2):
            wait = spec.backoff_s * 2 ** (number - 2) if number > 1 else 0.0
            if wait:
                sleep(wait)
            try:
                if not loaded:
                    model, loaded = load_model(), True
                raw = call_stage_function(journey, stage, chunk, model=model)
            except Exception as exc:  # noqa: BLE001 - whatever the model raised: retry, fall back
                attempts.append(Attempt(index, number, wait, _message(exc)))
                log.warning("%s/%s: %s", journey.name, stage, attempts[-1].describe())
                continue
            out = check_stage_output(journey, stage, raw)
            attempts.append(Attempt(index, number, wait))
            if number > 1:
                log.warning("%s/%s: %s", journey.name, stage, attempts[-1].describe())
            break
        if out is None:
            out = _run_fallback(journey, stage, spec, fallback, chunk)
            fallback_rows += len(chunk)
            log.warning("%s/%s: chunk %d (%d requests) decided by the fallback %s",
                        journey.name, stage, index, len(chunk), spec.function)
        parts.append(out)
    output = _joined(journey, stage, parts)
    outcome = FallbackOutcome(rows=len(df), fallback_rows=fallback_rows,
                              max_share=spec.max_fallback_share, attempts=tuple(attempts),
                              model_loaded=loaded)
    return output, outcome, model


def _spec(journey: Journey, stage: str) -> FallbackSpec:
    stage_spec = journey.spec.stage(stage)
    if stage_spec is None or stage_spec.fallback is None:
        raise StageError(journey.name, stage, "the stage declares no fallback")
    return stage_spec.fallback


def _chunks(df: pd.DataFrame, size: int | None) -> list[pd.DataFrame]:
    if size is None or len(df) <= size:
        return [df]
    return [df.iloc[i: i + size] for i in range(0, len(df), size)]


def _message(exc: BaseException) -> str:
    # run_stage's StageError already says "<function> raised <type>: ..."; the cause's type
    # and text are what tell a transient outage from a bug.
    cause = exc.__cause__ if isinstance(exc, StageError) and exc.__cause__ else exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def _run_fallback(journey: Journey, stage: str, spec: FallbackSpec, fn: Callable[..., Any],
                  chunk: pd.DataFrame) -> pd.DataFrame:
    try:
        out = fn(chunk, **spec.params)
    except Exception as exc:
        raise StageError(journey.name, stage, f"the model failed and its fallback "
                         f"{spec.function} raised {type(exc).__name__}: {exc}") from exc
    out = check_stage_output(journey, stage, out, name=f"fallback {spec.function}")
    rid = journey.spec.request_id
    expected, got = chunk[rid].value_counts(), out[rid].value_counts()
    if not expected.equals(got.reindex(expected.index)) or len(got) != len(expected):
        lost = sorted(set(expected.index) - set(got.index), key=str)[:5]
        extra = sorted(set(got.index) - set(expected.index), key=str)[:5]
        raise StageError(journey.name, stage, f"fallback {spec.function} must return every "
                         f"request id of its input exactly once; {len(out)} rows for "
                         f"{len(chunk)} requests (lost e.g. {lost}, unexpected e.g. {extra})")
    return out


def _joined(journey: Journey, stage: str, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The chunks in input order; model and fallback chunks must have the same columns."""
    if len(parts) == 1:
        return parts[0]
    columns = list(parts[0].columns)
    for part in parts[1:]:
        if set(part.columns) != set(columns):
            raise StageError(journey.name, stage, f"the fallback's columns differ from the "
                             f"model's: {sorted(map(str, part.columns))} vs "
                             f"{sorted(map(str, columns))}; a fallback must return the "
                             f"stage's columns")
    return pd.concat([p[columns] for p in parts], ignore_index=True)
