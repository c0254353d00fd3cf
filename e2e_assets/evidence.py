"""A check's evidence as tables: lists of records (per-expectation results, per-column diffs,
drift columns, cohorts, failing samples) with typed columns and the failing rows first.

Pure: the Dagster layer turns an :class:`EvidenceTable` into ``MetadataValue.table``; reports
render the same tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The drift check's table of reference vs current shares per bin of each drifted column.
HISTOGRAM_BINS = "histogram_bins"

# Keys that say a row failed, and the value meaning it did.
_FAILED_WHEN: tuple[tuple[str, Any], ...] = (
    ("success", False), ("passed", False), ("drifted", True), ("flagged", True),
    ("violated", True), ("breached", True))
_FAILED_WHEN_POSITIVE = ("diverged", "unexpected_count", "violations")


@dataclass(frozen=True)
class EvidenceTable:
    columns: tuple[tuple[str, str], ...]  # (name, type: bool | int | float | string)
    rows: tuple[Mapping[str, Any], ...]


def is_records(value: Any) -> bool:
    """A non-empty list of mappings: a table."""
    return (isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and bool(value)
            and all(isinstance(v, Mapping) for v in value))


def row_failed(row: Mapping[str, Any]) -> bool:
    """A row that says it failed; a row with a verdict of its own (success, passed) is judged
    by it alone: an expectation that passed within its ``mostly`` has unexpected values, and
    did not fail."""
    if any(key in row and row[key] == bad for key, bad in _FAILED_WHEN):
        return True
    if "success" in row or "passed" in row:
        return False
    return any(isinstance(row.get(k), (int, float)) and not isinstance(row.get(k), bool)
               and row[k] > 0 for k in _FAILED_WHEN_POSITIVE)


def evidence_table(records: Sequence[Mapping[str, Any]]) -> EvidenceTable:
    """Columns in order of first appearance, each typed by its values; failing rows first
    (stable: otherwise in the check's order); nested values as compact JSON text."""
    names: list[str] = []
    for record in records:
        names += [str(k) for k in record if str(k) not in names]
    ordered = sorted(records, key=lambda r: not row_failed(r))
    rows = tuple({name: _cell(record.get(name)) for name in names} for record in ordered)
    return EvidenceTable(tuple((n, _type([r[n] for r in rows])) for n in names), rows)


def _cell(value: Any) -> Any:
    if type(value).__module__ == "numpy":  # Dagster stores only Python values
        value = value.item() if getattr(value, "ndim", None) == 0 else value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, default=str, sort_keys=True)


def _type(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       for v in present):
        return "float"
    return "string"
