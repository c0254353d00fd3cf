"""Progress of a run, stage by stage, for whoever watches: the CLI on a terminal.

The stage protocol reports each stage's start and outcome to the reporter installed for the
current context (:func:`reporting`); without one, nothing is reported. Runs execute in the
calling thread (Dagster's in-process executor), so a context variable reaches them.
:class:`TerminalProgress` prints one line per finished stage with rich, and a spinner naming
the stage that runs, only on a terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol

from rich.markup import escape


class ProgressReporter(Protocol):
    def stage_started(self, journey: str, stage: str) -> None: ...

    def stage_finished(self, journey: str, stage: str, status: str, wall_s: float | None,
                       checks_passed: int, checks_failed: int) -> None: ...


_REPORTER: ContextVar[ProgressReporter | None] = ContextVar("e2e_progress", default=None)


@contextlib.contextmanager
def reporting(reporter: ProgressReporter | None) -> Iterator[None]:
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def stage_started(journey: str, stage: str) -> None:
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter.stage_started(journey, stage)


def stage_finished(journey: str, stage: str, status: str, wall_s: float | None,
                   checks_passed: int, checks_failed: int) -> None:
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter.stage_finished(journey, stage, status, wall_s, checks_passed, checks_failed)


class TerminalProgress:
    """Per-stage lines on a rich console (stderr), with a spinner while a stage runs."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._status: Any = None

    def stage_started(self, journey: str, stage: str) -> None:
        self._stop()
        self._status = self.console.status(escape(f"[{journey}] {stage} ..."))
        self._status.start()

    def stage_finished(self, journey: str, stage: str, status: str, wall_s: float | None,
                       checks_passed: int, checks_failed: int) -> None:
        self._stop()
        ok = status == "materialized" and not checks_failed
        mark = "[green]ok[/green]" if ok else (
            "[yellow]warn[/yellow]" if status == "materialized" else "[red]BLOCKED[/red]")
        took = f"{wall_s:.3f} s" if wall_s is not None else "-"
        self.console.print(f"{escape(f'[{journey}]')} {stage:<10} {mark:<6} {took:>9}  checks "
                           f"{checks_passed} passed, {checks_failed} failed",
                           highlight=False, markup=True)

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
