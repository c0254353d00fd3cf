"""The static HTML report: self-contained (no scripts, nothing fetched), the verdict, stages,
each failed check with its evidence table (failing rows first), what never ran, provenance."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from e2e_assets.html_report import html_report, write_html_report
from e2e_assets.results import CheckOutcome, JourneyRun, StageResult


class _Tables(HTMLParser):
    """Every table as rows of cell texts, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += attrs
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _run() -> JourneyRun:
    golden = CheckOutcome(
        "score", "golden", False, "error", True, "column 'p_default' differs <by 0.004>",
        kind="golden", metadata={"rows_compared": 500},
        tables={"columns": [{"column": "decision", "diverged": 0},
                            {"column": "p_default", "diverged": 500, "max_abs_diff": 0.004}]})
    latency = CheckOutcome("deliver", "end_to_end_latency", True, "error", True, "p50 40 ms",
                           kind="end_to_end_latency",
                           tables={"stages": [{"stage": "score", "p50_ms": 18.3}]})
    never = CheckOutcome("decide", "credit_policy", False, "error", True,
                         "not evaluated: stage 'decide' did not run", evaluated=False)
    return JourneyRun(
        journey="credit_approval", run_id="abc", wall_time_s=3.2,
        stages=(StageResult("features", "materialized", 1337, 1337, 0.017),
                StageResult("score", "blocked"), StageResult("decide", "skipped")),
        checks=(golden, latency, never), model={"name": "credit_approval", "version": "3"},
        drill=("precision_change@score[p_default]",))


def test_self_contained_with_verdict_stages_and_escaped_text() -> None:
    html = html_report([_run()])
    parsed = _Tables()
    parsed.feed(html)
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert not [v for k, v in parsed.attrs if k in ("src", "href")]  # nothing fetched
    assert re.search(r'class="verdict failed">FAILED<', html)
    assert "differs &lt;by 0.004&gt;" in html  # summaries are escaped, never markup
    stages = next(t for t in parsed.tables if t[0][0] == "stage" and "rows in" in t[0])
    assert stages[1][:4] == ["features", "materialized", "1337", "1337"]
    assert "precision_change@score[p_default]" in html


def test_a_failed_check_shows_its_evidence_failing_rows_first() -> None:
    parsed = _Tables()
    parsed.feed(html_report([_run()]))
    evidence = next(t for t in parsed.tables if t[0][:2] == ["column", "diverged"])
    assert evidence[1][:2] == ["p_default", "500"]  # the failing row first
    assert evidence[2][:2] == ["decision", "0"]
    latency = next(t for t in parsed.tables if t[0] == ["stage", "p50_ms"])
    assert latency[1] == ["score", "18.3"]  # latency tables shown though the check passed
    never = next(t for t in parsed.tables if t[0] == ["stage", "check", "why"])
    assert never[1][:2] == ["decide", "credit_policy"]


def test_written_atomically(tmp_path: Path) -> None:
    path = write_html_report([_run()], tmp_path / "r" / "credit.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.iterdir()] == ["credit.html"]


def test_drifted_columns_are_drawn_as_inline_svg_histograms() -> None:
    """Reference and current bars per bin, heights proportional to the shares: for the bin
    holding 50% of the reference and 10% of the current rows, the current bar is 1/5 as tall."""
    bins = [{"column": "income", "bin": "0..10", "reference_share": 0.5, "current_share": 0.1},
            {"column": "income", "bin": "10..20", "reference_share": 0.5, "current_share": 0.9},
            {"column": "home", "bin": "rent", "reference_share": 0.3, "current_share": 0.7}]
    drift = CheckOutcome("score", "score_drift", False, "error", True, "1 of 2 columns drifted",
                         kind="drift", metadata={"histograms": "| column | ... |"},
                         tables={"histogram_bins": bins,
                                 "columns": [{"column": "income", "drifted": True}]})
    html = html_report([JourneyRun(journey="j", run_id="r", stages=(), checks=(drift,))])
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL)
    assert len(svgs) == 2 and "histogram of income" in svgs[0] and "histogram of home" in svgs[1]
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svgs[0])]
    assert len(heights) == 4  # two bins, reference and current each
    ref_first, cur_first, ref_second, cur_second = heights
    assert cur_second == max(heights) and abs(cur_first / cur_second - 0.1 / 0.9) < 0.01
    assert abs(ref_first - ref_second) < 0.01
    assert "| column |" not in html  # the markdown twin is for Dagster, not this report
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
