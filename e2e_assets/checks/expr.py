"""A small, safe expression language for business rules over DataFrame rows.

Syntax is a whitelisted subset of Python expressions, evaluated column-wise with pandas:

- column names (plain ASCII identifiers) and literals (numbers, strings, True, False, None),
  lists/tuples of literals (``-1`` counts as a literal);
- arithmetic ``+ - * / %``, unary ``-``; comparisons ``== != < <= > >=``, ``in``, ``not in``,
  chained comparisons (``0 <= p <= 1``);
- ``and``, ``or``, ``not``, and ``A implies B`` (lowest precedence; ``not A or B``);
- the functions in :data:`FUNCTIONS` (``isnull``, ``notnull``, ``abs``, ``round``, ``lower``,
  ``upper``, ``between``, ``coalesce``, ``str_len``).

Null semantics: a comparison with a null operand is **false** (``!=`` and ``not in`` included),
so ``income > 0`` fails for a missing income; ``not`` negates the computed truth value; test nulls
explicitly with ``isnull(x)`` / ``notnull(x)``. Arithmetic with a null gives null.

The text is never passed to ``eval``. Anything outside the language is refused when the rule is
loaded, with an :class:`ExpressionError` (a ``ValueError``) that says what is wrong in plain words
and points at its column -- never a ``RecursionError``, ``MemoryError`` or traceback. Limits
(module constants, defined in :mod:`e2e_assets.checks.expr_limits`):

- :data:`MAX_EXPRESSION_CHARS` = 2,000 characters per rule, checked before anything parses it;
- :data:`MAX_DEPTH` = 50 levels of nesting (each ``+`` of a chain ``a + b + c``, each stacked
  ``not`` / unary ``-`` and each call or comparison inside another adds one), measured without
  recursion before the tree is walked;
- :data:`MAX_NODES` = 500 parts per rule (names, literals, list items, operations, calls);
- :data:`MAX_OPERANDS` = 100 operands in one ``and`` / ``or`` chain or one comparison chain;
- :data:`MAX_LITERAL_CHARS` = 1,000 characters per string literal;
- :data:`MAX_LIST_ITEMS` = 200 items per list/tuple literal;
- :data:`MAX_NUMBER` = 10**18: numeric literals must be finite and at most this in magnitude;
- :data:`MAX_ROUND_DIGITS` = 15: ``round(x, digits)`` needs an integer literal ``|digits| <= 15``.

Refused, each named in the message: ``#`` comments outside quotes (they would silently cut the
rule short; ``'A#1'`` is fine); non-ASCII identifiers (Python would NFKC-normalise full-width
``ｐ_default`` to ``p_default``; non-ASCII inside quotes is fine); control characters; calls of
anything but the named functions; lambdas, comprehensions, attribute access, subscripts, slices,
f-strings, ``:=``, starred expressions, dict/set literals, ``is`` / ``is not``, conditional
expressions, ``await`` / ``yield``; the operators ``** // @ & | ^ ~ << >>``; bytes, complex and
``...`` literals; lists holding anything but literals; and any operation whose result grows with
a constant: ``*`` and ``%`` need numbers on both sides (no ``'a' * 1000000000``, no
``[1, 2] * 100000000``, no ``'%9999999d' % 1``). That is decided by a small static type inference
(literals have kinds, columns are decided by the frame, operations and functions propagate kinds:
``('a' + 'b') * 3``, ``lower(x) * 2`` and ``coalesce(x, 'a') * 2`` are refused at load), and
checked again at evaluation for columns: ``*`` or ``%`` on a column that holds text raises
:class:`ExpressionError`. ``+`` of two strings is allowed (bounded by the rule's length).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from e2e_assets.checks.expr_limits import (
    MAX_DEPTH,
    MAX_EXPRESSION_CHARS,
    MAX_LIST_ITEMS,
    MAX_LITERAL_CHARS,
    MAX_NODES,
    MAX_NUMBER,
    MAX_OPERANDS,
    MAX_ROUND_DIGITS,
    Checker,
    ExpressionError,
    check_size,
    check_text,
    parse_part,
    scan_tokens,
)

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_EXPRESSION_CHARS", "MAX_LIST_ITEMS",
           "MAX_LITERAL_CHARS", "MAX_NODES", "MAX_NUMBER", "MAX_OPERANDS", "MAX_ROUND_DIGITS",
           "Expression", "ExpressionError", "parse"]


def _between(x: Any, lo: Any, hi: Any) -> Any:
    return (x >= lo) & (x <= hi) & pd.notna(x)


def _str(x: Any) -> Any:
    return x.astype("string") if isinstance(x, pd.Series) else str(x)


FUNCTIONS: Mapping[str, tuple[int, Callable[..., Any]]] = {
    "isnull": (1, lambda x: pd.isna(x)),
    "notnull": (1, lambda x: pd.notna(x)),
    "abs": (1, lambda x: abs(x)),
    "round": (2, lambda x, n: np.round(x, int(n))),
    "lower": (1, lambda x: _str(x).str.lower() if isinstance(x, pd.Series) else str(x).lower()),
    "upper": (1, lambda x: _str(x).str.upper() if isinstance(x, pd.Series) else str(x).upper()),
    "str_len": (1, lambda x: _str(x).str.len() if isinstance(x, pd.Series) else len(str(x))),
    "between": (3, _between),
    "coalesce": (2, lambda x, y: x.where(pd.notna(x), y) if isinstance(x, pd.Series) else
                 (y if pd.isna(x) else x)),
}

_ARITH: Mapping[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Mod: operator.mod}
_CMP: Mapping[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge}


@dataclass(frozen=True)
class Expression:
    """A parsed rule: evaluate with :meth:`evaluate`, inspect :attr:`columns`."""

    text: str
    tree: ast.expr
    columns: frozenset[str]

    def evaluate(self, df: pd.DataFrame) -> pd.Series:
        """Boolean Series (null-safe: never NA) aligned with ``df``."""
        missing = sorted(self.columns - set(map(str, df.columns)))
        if missing:
            raise KeyError(f"rule {self.text!r} uses columns {missing} that the frame does not "
                           f"have (it has {list(map(str, df.columns))[:20]})")
        value = _Evaluator(df, self.text).visit(self.tree)
        if not isinstance(value, pd.Series):
            value = pd.Series(value, index=df.index)
        return value.astype("boolean").fillna(False).astype(bool)


def parse(text: str) -> Expression:
    """Parse ``text``; raise :class:`ExpressionError` with the position of the first problem."""
    check_text(text)  # emptiness and length, before any tokenizer or parser sees the text
    split = scan_tokens(text)  # comments, non-ASCII names, a top-level 'implies'
    if split is None:
        trees = [parse_part(text, 0, len(text))]
    else:
        end = split + len("implies")
        if not text[:split].strip() or not text[end:].strip():
            raise ExpressionError(text, split + 1, "'implies' needs a condition on both sides")
        trees = [parse_part(text, 0, split), parse_part(text, end, len(text))]
    check_size(text, trees)  # iterative: depth and size are bounded before any recursion
    tree = trees[0]
    if len(trees) == 2:
        where: dict[str, int] = {"lineno": 1, "end_lineno": 1, "col_offset": trees[0].col_offset,
                                 "end_col_offset": trees[1].end_col_offset or 0}
        tree = ast.BoolOp(op=ast.Or(), values=[ast.UnaryOp(op=ast.Not(), operand=trees[0],
                                                           **where), trees[1]], **where)
    checker = Checker(text, {name: arity for name, (arity, _) in FUNCTIONS.items()})
    try:
        checker.check(tree)  # recursive, but the depth is bounded by now
    except RecursionError as exc:  # only if the caller's own stack is nearly exhausted
        raise ExpressionError(text, 1, "expression too deeply nested to check") from exc
    return Expression(text=text, tree=tree, columns=frozenset(checker.columns))


class _Evaluator(ast.NodeVisitor):
    def __init__(self, df: pd.DataFrame, text: str) -> None:
        self.df, self.text = df, text

    def visit_Name(self, node: ast.Name) -> Any:
        return self.df[node.id]

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_List(self, node: ast.List | ast.Tuple) -> Any:
        return [self.visit(e) for e in node.elts]

    def visit_Tuple(self, node: ast.Tuple) -> Any:
        return self.visit_List(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return ~_as_bool(value, self.df)
        return -value if isinstance(node.op, ast.USub) else value

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, (ast.Mult, ast.Mod)):  # text/list repetition or %-formatting
            for operand, value in ((node.left, left), (node.right, right)):
                if not _numeric(value):
                    what = (f"column {operand.id!r}" if isinstance(operand, ast.Name)
                            else "one side")
                    symbol = "*" if isinstance(node.op, ast.Mult) else "%"
                    raise ExpressionError(self.text, node.col_offset + 1, (
                        f"'{symbol}' needs numbers on both sides, but {what} holds "
                        f"non-numbers (dtype {getattr(value, 'dtype', type(value).__name__)}): "
                        "repeating or formatting text is not allowed"))
        return _ARITH[type(node.op)](left, right)

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        values = [_as_bool(self.visit(v), self.df) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out

    def visit_Compare(self, node: ast.Compare) -> Any:
        result = pd.Series(True, index=self.df.index)
        left = self.visit(node.left)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = self.visit(comp)
            if isinstance(op, (ast.In, ast.NotIn)):
                hit = (left.isin(right) if isinstance(left, pd.Series)
                       else pd.Series(left in right, index=self.df.index))
                value = hit if isinstance(op, ast.In) else ~hit
                pair = _as_bool(value, self.df) & _notnull(left, self.df)
            else:
                value = _CMP[type(op)](left, right)
                pair = (_as_bool(value, self.df) & _notnull(left, self.df)
                        & _notnull(right, self.df))
            result &= pair
            left = right
        return result

    def visit_Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name):  # the checker allows only named functions
            raise ExpressionError(self.text, 1,
                                  "only the named functions can be called")
        fn = FUNCTIONS[node.func.id][1]
        return fn(*[self.visit(a) for a in node.args])


_NUMERIC_OBJECTS = frozenset({"integer", "floating", "mixed-integer-float", "decimal", "boolean",
                              "empty"})


def _numeric(value: Any) -> bool:
    """Whether ``value`` (a column or a scalar) holds only numbers, so ``*`` / ``%`` are safe."""
    if not isinstance(value, pd.Series):
        return not isinstance(value, (str, bytes, list, tuple))
    if value.dtype.kind in "biufm":  # bool, (unsigned) integer, float, timedelta; nullable too
        return True
    return (value.dtype == object
            and pd.api.types.infer_dtype(value, skipna=True) in _NUMERIC_OBJECTS)


def _notnull(value: Any, df: pd.DataFrame) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.notna()
    return pd.Series(value is not None and not (isinstance(value, float) and np.isnan(value)),
                     index=df.index)


def _as_bool(value: Any, df: pd.DataFrame) -> pd.Series:
    if not isinstance(value, pd.Series):
        return pd.Series(bool(value), index=df.index)
    return value.astype("boolean").fillna(False).astype(bool)
