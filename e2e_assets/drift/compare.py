"""``drift.compare``: per-column tests chosen by column kind, false-discovery control across
columns, and an effect-size floor so that huge samples do not flag negligible shifts.

Default selection (override per column with ``methods={"col": "psi"}``):

====================  ===================================  =====================================
column kind           test (p-value)                       effect size (floor)
====================  ===================================  =====================================
numeric (>5 values)   ``ks``                               normed ``wasserstein`` (0.1 std)
categorical           ``chi_square``                       ``tvd`` (0.05: 5% of the mass moved)
binary (<=2 values)   ``z_test``; ``fisher_exact`` if       ``tvd`` (0.05)
                      either sample has < 100 values
====================  ===================================  =====================================

Evidently switches from p-value tests to distances above 1,000 rows, so its verdict flips with
sample size. Here every sample size gets the same two-part rule: a column is drifted only if its
test is significant after Benjamini-Hochberg across all p-value columns (``fdr=False`` turns
that off) **and** its effect size reaches the floor. Small samples are protected by the test,
large ones by the floor. A distance method chosen explicitly is its own effect size: drifted
when it reaches its threshold.

Engines: by default the reference is prepared once (its quantile grid, deciles and category
counts, see ``prepared.py``) and kept in an in-process cache keyed by its content digest, so
``compare(reference_df, current_df)`` with a reference seen before reads only the current
batch; the statistics the prepared engine computes are within documented bounds of the exact
ones, the other tests run their exact function on the reference frame's values.
``exact=True`` runs every test's exact function on both frames instead.

Nulls are dropped before testing (a null burst is the expectations' job); a column empty on
either side is reported with ``note='empty'`` and never flagged. Categories of the current batch
that the reference lacks are named in ``note`` on every engine (in memory, prepared, SQL) and
weigh in the test and the effect size like any other; a two-proportion test (``z_test``,
``fisher_exact``) faced with a third category gives way to ``chi_square`` on the whole table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from e2e_assets.drift.parallel import map_threads
from e2e_assets.drift.prepared import (
    PreparedColumn,
    PreparedReference,
    category_counts,
    category_values,
    column_kind,
    numeric_values,
    prepare,
)
from e2e_assets.drift.prepared_engine import prepared_outcomes, read_current
from e2e_assets.drift.registry import METHODS, Outcome
from e2e_assets.errors import E2EAssetsError, UnknownNameError

DEFAULT_FLOORS = {"numeric": 0.1, "categorical": 0.05, "binary": 0.05}
# (kind, column, method, outcome, effect size, n reference, n current, note)
RawResult = tuple[str, str, str, Outcome, "float | None", int, int, str]
EFFECT_METHOD = {"numeric": "wasserstein", "categorical": "tvd", "binary": "tvd"}


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    effect_size: float | None
    adjusted_p_value: float | None = None
    effect_floor: float | None = None
    n_reference: int = 0
    n_current: int = 0
    note: str = ""


@dataclass(frozen=True)
class DriftReport:
    columns: list[ColumnDrift]
    alpha: float
    fdr: bool
    share_threshold: float
    reference_key: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def drift_share(self) -> float:
        return sum(c.drifted for c in self.columns) / len(self.columns) if self.columns else 0.0

    @property
    def drifted(self) -> bool:
        """Dataset-level verdict: at least ``share_threshold`` of the columns drifted."""
        return any(c.drifted for c in self.columns) and self.drift_share >= self.share_threshold

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.__dict__ for c in self.columns])


def default_method(kind: str, n_ref: int, n_cur: int) -> str:
    if kind == "numeric":
        return "ks"
    if kind == "binary":
        return "fisher_exact" if min(n_ref, n_cur) < 100 else "z_test"
    return "chi_square"


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """BH-adjusted p-values (same as scipy.stats.false_discovery_control(method='bh'))."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(adjusted)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def unseen_categories(kind: str, ref_categories: np.ndarray, cur_categories: np.ndarray
                      ) -> list[str]:
    """Categories of the current batch that the reference never had (none for numbers)."""
    if kind == "numeric":
        return []
    return sorted(set(map(str, cur_categories)) - set(map(str, ref_categories)))


def resolve_method(kind: str, col: str, method: str, ref_categories: np.ndarray,
                   unseen: Sequence[str]) -> tuple[str, str]:
    """The method that can answer, and a note on unseen categories.

    A binary-only test (two proportions) cannot compare three or more categories: when the
    current batch brings categories a two-valued reference lacks, chi-square on the whole table
    answers instead (for two categories it is the squared two-proportion z-test).
    """
    spec = METHODS[method]
    if kind not in spec.kinds:
        raise ValueError(f"drift method '{method}' does not accept {kind} column '{col}'; it "
                         f"accepts {sorted(spec.kinds)}")
    if not unseen:
        return method, ""
    shown = ", ".join(repr(u) for u in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
    note = f"unseen categories: {shown}"
    if spec.kinds == {"binary"} and len(set(map(str, ref_categories))) + len(unseen) > 2:
        return "chi_square", f"{note}; {method} needs two categories, chi_square used"
    return method, note


def _evaluate(col: str, kind: str, prepared: PreparedColumn | None, ref: pd.Series | None,
              cur: pd.Series, method: str | None) -> tuple[str, str, Outcome, float | None,
                                                           int, int, str]:
    """One column: the prepared engine when ``prepared`` is given (``ref``, if also given, serves
    the tests it lacks), else the exact functions on ``ref``."""
    current = read_current(kind, cur) if prepared is not None else None
    if prepared is not None:
        n_ref = prepared.n
    elif ref is not None:
        n_ref = int(ref.notna().sum())
    else:
        raise ValueError(f"column '{col}': neither a reference frame nor a prepared reference")
    n_cur = current.n if current is not None else int(cur.notna().sum())
    if n_cur == 0 or n_ref == 0:
        return col, method or "-", Outcome(float("nan"), None), None, n_ref, n_cur, "empty"
    method = method or default_method(kind, n_ref, n_cur)
    cur_counts = None
    if kind != "numeric":
        cur_counts = current.counts if current is not None else category_counts(cur)
    ref_cats: np.ndarray = np.array([], dtype=object)
    if kind != "numeric" and prepared is not None and prepared.categories is not None:
        ref_cats = prepared.categories
    elif kind != "numeric" and ref is not None:
        ref_cats = category_counts(ref).index.to_numpy(object)
    unseen = unseen_categories(kind, ref_cats, np.array([], dtype=object) if cur_counts is None
                               else cur_counts.index.to_numpy(object))
    method, note = resolve_method(kind, col, method, ref_cats, unseen)
    spec = METHODS[method]
    wanted = [method] + ([EFFECT_METHOD[kind]] if spec.score == "p_value" else [])
    if prepared is not None:
        results = prepared_outcomes(prepared, cur, wanted, current=current, reference=ref)
    else:
        values = numeric_values if kind == "numeric" else category_values
        results = {m: METHODS[m].fn(values(ref), values(cur)) for m in wanted}
    outcome = results[method]
    effect = results[wanted[-1]].statistic if spec.score == "p_value" else outcome.statistic
    return col, method, outcome, effect, n_ref, n_cur, note


def compare(reference: pd.DataFrame | PreparedReference, current: pd.DataFrame,
            columns: Sequence[str] | None = None, methods: Mapping[str, str] | None = None,
            alpha: float = 0.05, *, fdr: bool = True,
            effect_floor: float | Mapping[str, float] | None = None,
            share: float = 0.5, exact: bool = False) -> DriftReport:
    """Compare ``current`` with ``reference`` (a frame, or one made by :func:`prepare`).

    A reference frame is prepared on first sight and cached by its content digest (the same
    reference again, even an equal copy, is a cache hit); ``exact=True`` runs every test's exact
    function on both frames instead, as scipy would.
    """
    methods = dict(methods or {})
    prepared: PreparedReference | None = None
    ref_frame: pd.DataFrame | None = None
    if isinstance(reference, PreparedReference):
        if exact:
            raise E2EAssetsError(f"compare(exact=True) needs the reference frame, got the "
                                 f"prepared reference {reference.key!r}, which keeps a summary "
                                 f"only; pass the frame, or leave exact=False")
        prepared = reference
        available = set(prepared.columns)
    else:
        ref_frame = reference
        available = {str(c) for c in ref_frame.columns}
    cols = [str(c) for c in (columns or [c for c in current.columns if str(c) in available])]
    missing = [c for c in cols if c not in available or c not in current.columns]
    if missing:
        raise UnknownNameError(f"columns {missing} are not in both the reference and the "
                               f"current frame")
    for name, method in methods.items():
        METHODS[method]  # raises naming the registered methods
        if name not in cols:
            raise UnknownNameError(f"method override for unknown column {name!r}; columns: "
                                   f"{cols}")
    if ref_frame is not None and not exact:
        prepared = prepare(ref_frame, columns=cols)  # a cache hit for a reference seen before

    def one(col: str) -> RawResult:
        pc = prepared.columns[col] if prepared is not None else None
        if pc is not None:
            kind = pc.kind
        elif ref_frame is not None:
            kind = column_kind(ref_frame[col])
        else:
            raise UnknownNameError(f"column {col!r} is not in the prepared reference")
        return (kind, *_evaluate(col, kind, pc, None if ref_frame is None else ref_frame[col],
                                 current[col], methods.get(col)))

    raw = map_threads(one, cols)
    return assemble(raw, alpha=alpha, fdr=fdr, effect_floor=effect_floor, share=share,
                    key=prepared.key if prepared is not None else None)


def assemble(raw: Sequence[RawResult], *, alpha: float, fdr: bool,
             effect_floor: float | Mapping[str, float] | None, share: float,
             key: str | None) -> DriftReport:
    """Per-column outcomes (kind, column, method, outcome, effect, n_ref, n_cur, note) -> report:
    Benjamini-Hochberg across the p-value columns, then the effect floors."""
    floors = _floors(effect_floor)
    p_cols = [i for i, r in enumerate(raw) if r[3].p_value is not None]
    p_values = [float(raw[i][3].p_value or 0.0) for i in p_cols]  # not None: filtered above
    adjusted = dict(zip(p_cols, benjamini_hochberg(p_values) if fdr else p_values, strict=True))
    out = []
    for i, (kind, col, method, outcome, effect, n_ref, n_cur, note) in enumerate(raw):
        spec = METHODS.get(method)
        if note == "empty" or spec is None:
            out.append(ColumnDrift(col, kind, method, outcome.statistic, None, alpha, False, None,
                                   n_reference=n_ref, n_current=n_cur, note=note))
            continue
        if spec.score == "p_value":
            adj = float(adjusted[i])
            floor = floors[kind]
            drifted = adj < alpha and effect is not None and effect >= floor
            out.append(ColumnDrift(col, kind, method, outcome.statistic, outcome.p_value, alpha,
                                   bool(drifted), effect, adj, floor, n_ref, n_cur, note))
        else:
            out.append(ColumnDrift(col, kind, method, outcome.statistic, None, spec.threshold,
                                   spec.drifted(outcome), outcome.statistic,
                                   n_reference=n_ref, n_current=n_cur, note=note))
    return DriftReport(columns=out, alpha=alpha, fdr=fdr, share_threshold=share,
                       reference_key=key)


def _floors(effect_floor: float | Mapping[str, float] | None) -> dict[str, float]:
    if effect_floor is None:
        return dict(DEFAULT_FLOORS)
    if isinstance(effect_floor, (int, float)):
        return {k: float(effect_floor) for k in DEFAULT_FLOORS}
    return {**DEFAULT_FLOORS, **{k: float(v) for k, v in effect_floor.items()}}


def ks_asymptotic_pvalue(d: float, n: int, m: int) -> float:
    return float(stats.kstwo.sf(d, np.round(n * m / (n + m))))
