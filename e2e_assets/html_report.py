"""A self-contained static HTML report of journey runs, for people: one file, inline CSS, no
scripts and nothing fetched, so it opens anywhere, offline, from a CI artifact.

Per run: the verdict, the per-stage table (status, rows, wall time, checks), each failed check
with its summary and evidence tables (failing rows first), the latency and cohort tables when
those checks ran, reference-vs-current histograms (inline SVG) for the columns a drift check
found drifted, the checks that did not run, and the run's provenance (run id, model, drill).
Pure: built from :class:`e2e_assets.results.JourneyRun` values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from e2e_assets.evidence import HISTOGRAM_BINS as HISTOGRAM_TABLE
from e2e_assets.evidence import evidence_table, row_failed
from e2e_assets.results import CheckOutcome, JourneyRun, write_text_atomic

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d2733}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccd3da;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}
th,td{border:1px solid #ccd3da;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:.2em .7em;border-radius:4px;color:#fff;font-weight:600}
.passed{background:#1e7d32}.failed{background:#b3261e}.error{background:#8a4b00}
.bad td{background:#fdecea}.check{border-left:4px solid #b3261e;padding-left:1em;margin:1em 0}
.warn{border-left-color:#c77700}.muted{color:#5d6b78}code{font-size:12px}
.hists svg{margin:0 1em 1em 0;border:1px solid #eef1f4}
"""
# Check kinds whose tables are shown even when they passed: how fast, and how fair.
_ALWAYS_SHOWN = ("latency", "end_to_end_latency", "fairness")


def html_report(runs: Sequence[JourneyRun], *, title: str = "e2e-assets report") -> str:
    """The whole HTML document for ``runs``."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = "".join(_run(run) for run in runs)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{escape(title)}</h1><p class=\"muted\">written {made}</p>{body}"
            f"</body></html>\n")


def write_html_report(runs: Sequence[JourneyRun], path: Path) -> Path:
    return write_text_atomic(html_report(runs), path)


def _run(run: JourneyRun) -> str:
    parts = [(f"<h2>{escape(run.journey)} <span class=\"verdict {run.status}\">"
              f"{run.status.upper()}</span> <span class=\"muted\">exit {run.exit_code}, "
              f"{run.wall_time_s:.1f} s</span></h2>")]
    if run.drill:
        parts.append(f"<p><b>Drill</b>: faults {escape(', '.join(run.drill))} injected on "
                     f"purpose; delivered to the shadow sink.</p>")
    if run.error:
        parts.append(f"<p class=\"check\"><b>Stopped</b>: {escape(run.error)}</p>")
    if run.stages:
        parts.append(_stages(run))
    failed = [c for c in run.checks if c.failed]
    parts.append(f"<h3>Failed checks ({len(failed)})</h3>" if failed
                 else "<h3>Failed checks</h3><p>none</p>")
    parts += [_check(c) for c in failed]
    shown = [c for c in run.checks if c.evaluated and c.passed and c.kind in _ALWAYS_SHOWN
             and c.tables]
    if shown:
        parts.append("<h3>Latency and cohorts</h3>")
        parts += [_check(c) for c in shown]
    never = [c for c in run.checks if not c.evaluated]
    if never:
        parts.append(f"<h3>Not evaluated ({len(never)})</h3><p class=\"muted\">These checks did "
                     f"not run because their stage, or one upstream, stopped first; they neither "
                     f"passed nor failed.</p>")
        parts.append(_table([{"stage": c.stage, "check": c.name, "why": c.description}
                             for c in never]))
    parts.append("<h3>Provenance</h3>")
    parts.append(_table([{"field": k, "value": v} for k, v in (
        ("run id", run.run_id or "none (stopped before the run)"),
        *((f"model {k}", v) for k, v in sorted(run.model.items())),
        ("checks evaluated", sum(c.evaluated for c in run.checks)),
        ("checks failed", len(failed)))]))
    return "".join(parts)


def _stages(run: JourneyRun) -> str:
    rows = []
    for stage in run.stages:
        ok, bad = stage.checks(run.checks)
        rows.append({"stage": stage.stage, "status": stage.status, "rows in": stage.rows_in,
                     "rows out": stage.rows_out,
                     "wall s": None if stage.wall_time_s is None
                     else round(stage.wall_time_s, 3),
                     "checks passed": ok, "checks failed": bad})
    return "<h3>Stages</h3>" + _table(rows, bad=lambda r: r["status"] in ("blocked", "failed"))


def _check(check: CheckOutcome) -> str:
    label = ("blocking error" if check.blocking and check.severity == "error"
             else check.severity)
    css = "check warn" if check.severity == "warn" or check.passed else "check"
    parts = [(f"<div class=\"{css}\"><p><b>{escape(check.name)}</b> on stage "
              f"<b>{escape(check.stage)}</b> <span class=\"muted\">({escape(check.kind)}, "
              f"{label})</span><br>{escape(check.description)}</p>")]
    if HISTOGRAM_TABLE in check.tables:
        parts.append("<p class=\"muted\">reference (grey) vs current (red), share of rows per "
                     "bin, for each drifted column</p>")
        parts.append(histograms_svg(check.tables[HISTOGRAM_TABLE]))
    for name, records in check.tables.items():
        if name != HISTOGRAM_TABLE:
            parts.append(f"<p class=\"muted\">{escape(name)}</p>")
            parts.append(_evidence(records))
    scalars = {k: v for k, v in check.metadata.items() if k not in ("kind", "histograms")}
    if scalars:
        parts.append(_table([{"field": k, "value": v} for k, v in sorted(scalars.items())]))
    parts.append("</div>")
    return "".join(parts)


def histograms_svg(bins: Sequence[Mapping[str, Any]]) -> str:
    """One inline SVG bar chart per column: reference and current shares side by side per
    bin (records as the drift check's ``histogram_bins``)."""
    columns: dict[str, list[Mapping[str, Any]]] = {}
    for row in bins:
        columns.setdefault(str(row["column"]), []).append(row)
    return "<div class=\"hists\">" + "".join(
        _histogram_svg(name, rows) for name, rows in columns.items()) + "</div>"


def _histogram_svg(column: str, rows: Sequence[Mapping[str, Any]]) -> str:
    width, height, pad = 360, 140, 18
    top = max([float(r["reference_share"]) for r in rows]
              + [float(r["current_share"]) for r in rows] + [1e-9])
    slot = (width - 2 * pad) / len(rows)
    bars = []
    for i, row in enumerate(rows):
        for j, (key, color) in enumerate((("reference_share", "#8a96a3"),
                                          ("current_share", "#b3261e"))):
            share = float(row[key])
            h = (height - 2 * pad) * share / top
            x = pad + i * slot + j * slot / 2
            bars.append(f"<rect x=\"{x:.1f}\" y=\"{height - pad - h:.1f}\" "
                        f"width=\"{max(slot / 2 - 1, 1):.1f}\" height=\"{h:.1f}\" "
                        f"fill=\"{color}\"><title>{escape(str(row['bin']))} "
                        f"{key.split('_')[0]}: {share:.1%}</title></rect>")
    first, last = escape(str(rows[0]["bin"])), escape(str(rows[-1]["bin"]))
    return (f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" "
            f"height=\"{height + 16}\" role=\"img\" aria-label=\"histogram of "
            f"{escape(column)}\"><text x=\"{pad}\" y=\"12\" font-size=\"12\" "
            f"font-weight=\"600\">{escape(column)}</text>{''.join(bars)}"
            f"<line x1=\"{pad}\" y1=\"{height - pad}\" x2=\"{width - pad}\" "
            f"y2=\"{height - pad}\" stroke=\"#5d6b78\"/>"
            f"<text x=\"{pad}\" y=\"{height + 8}\" font-size=\"10\" fill=\"#5d6b78\">"
            f"{first}</text><text x=\"{width - pad}\" y=\"{height + 8}\" font-size=\"10\" "
            f"fill=\"#5d6b78\" text-anchor=\"end\">{last}</text></svg>")


def _evidence(records: Sequence[Mapping[str, Any]]) -> str:
    table = evidence_table(records)
    return _table(list(table.rows), bad=row_failed)


def _table(rows: Sequence[Mapping[str, Any]], bad: Any = None) -> str:
    if not rows:
        return "<p class=\"muted\">(empty)</p>"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cls = " class=\"bad\"" if bad is not None and bad(row) else ""
        cells = "".join(_cell(row.get(c)) for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return "<td class=\"muted\">-</td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, (int, float)):
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        return f"<td class=\"num\">{text}</td>"
    return f"<td>{escape(str(value))}</td>"
