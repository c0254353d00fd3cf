"""Drift: a registry of statistical tests, ``compare`` with FDR control and an effect-size floor,
a prepared-reference fast path, and SQL pushdown. Pure: no Dagster here.

    from e2e_assets import drift
    report = drift.compare(reference_df, current_df, columns=None, methods=None, alpha=0.05)
    report.columns, report.drift_share, report.drifted
    drift.METHODS   # names of the registered tests
"""

from e2e_assets.drift import methods as _methods  # noqa: F401  (registers the built-ins)
from e2e_assets.drift.compare import (
    ColumnDrift,
    DriftReport,
    benjamini_hochberg,
    compare,
    default_method,
)
from e2e_assets.drift.prepared import PreparedReference, column_kind, prepare
from e2e_assets.drift.registry import METHODS, DriftMethod, Outcome, register
from e2e_assets.drift.sql import compare_sql

__all__ = ["METHODS", "ColumnDrift", "DriftMethod", "DriftReport", "Outcome",
           "PreparedReference", "benjamini_hochberg", "column_kind", "compare", "compare_sql",
           "default_method", "prepare", "register"]
