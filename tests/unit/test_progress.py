"""Progress per stage: lines on a terminal, nothing when piped or --quiet."""

from __future__ import annotations

import argparse
import io

import pytest
from rich.console import Console

from e2e_assets import cli, progress


def test_terminal_progress_prints_a_line_per_finished_stage() -> None:
    out = io.StringIO()
    reporter = progress.TerminalProgress(Console(file=out, force_terminal=True, width=120,
                                                 color_system=None))
    with progress.reporting(reporter):
        progress.stage_started("credit_approval", "score")
        progress.stage_finished("credit_approval", "score", "materialized", 0.031, 11, 0)
        progress.stage_started("credit_approval", "decide")
        progress.stage_finished("credit_approval", "decide", "blocked", 0.004, 5, 1)
    lines = [line for line in out.getvalue().splitlines() if "checks" in line]
    assert "[credit_approval] score" in lines[0] and " ok " in lines[0]
    assert "0.031 s" in lines[0] and "checks 11 passed, 0 failed" in lines[0]
    assert "[credit_approval] decide" in lines[1] and "BLOCKED" in lines[1]
    # outside `reporting`, nothing is reported and nothing fails
    progress.stage_finished("credit_approval", "score", "materialized", 0.1, 1, 0)


def test_no_progress_when_piped_or_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli._progress(argparse.Namespace(quiet=False)) is None  # pytest's stderr: no tty
    assert cli._progress(argparse.Namespace(quiet=True)) is None
    cli._say("[credit_approval] dry run ...")
    cli._QUIET["on"] = False
    cli._say("[credit_approval] shown")
    assert capsys.readouterr().err == "[credit_approval] shown\n"
