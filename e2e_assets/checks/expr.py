"""A small, safe expression language for business rules over DataFrame rows.

Syntax is a whitelisted subset of Python expressions, evaluated column-wise with pandas:

- column names and literals (numbers, strings, True, False, None), lists/tuples of literals;
- arithmetic ``+ - * / %``, unary ``-``; comparisons ``== != < <= > >=``, ``in``, ``not in``,
  chained comparisons (``0 <= p <= 1``);
- ``and``, ``or``, ``not``, and ``A implies B`` (lowest precedence; ``not A or B``);
- the functions in :data:`FUNCTIONS` (``isnull``, ``notnull``, ``abs``, ``round``, ``lower``,
  ``upper``, ``between``, ``coalesce``, ``str_len``).

Anything else (attribute access, subscripts, other calls, lambdas, comprehensions, dunder names)
is rejected when the rule is parsed, with its position; the text is never passed to ``eval``.

Null semantics: a comparison with a null operand is **false** (``!=`` and ``not in`` included),
so ``income > 0`` fails for a missing income; ``not`` negates the computed truth value; test nulls
explicitly with ``isnull(x)`` / ``notnull(x)``. Arithmetic with a null gives null.
"""

from __future__ import annotations

import ast
import io
import operator
import tokenize
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


class ExpressionError(ValueError):
    """A rule expression is not in the language; carries the 1-based column of the problem."""

    def __init__(self, text: str, column: int, message: str) -> None:
        self.text, self.column = text, column
        pointer = " " * (column - 1) + "^"
        super().__init__(f"{message} at column {column}\n    {text}\n    {pointer}")


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
        value = _Evaluator(df).visit(self.tree)
        if not isinstance(value, pd.Series):
            value = pd.Series(value, index=df.index)
        return value.astype("boolean").fillna(False).astype(bool)


def parse(text: str) -> Expression:
    """Parse ``text``; raise :class:`ExpressionError` with the position of the first problem."""
    if not text or not text.strip():
        raise ExpressionError(text, 1, "empty expression")
    left, right, offset = _split_implies(text)
    tree = _parse_part(text, left, 0)
    if right is not None:
        consequent = _parse_part(text, right, offset)
        tree = ast.BoolOp(op=ast.Or(), values=[ast.UnaryOp(op=ast.Not(), operand=tree),
                                                consequent])
    columns: set[str] = set()
    _Validator(text, columns).visit(tree)
    return Expression(text=text, tree=tree, columns=frozenset(columns))


def _split_implies(text: str) -> tuple[str, str | None, int]:
    """Split at the first top-level ``implies`` keyword (outside brackets)."""
    depth = 0
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise ExpressionError(text, len(text), f"cannot tokenize: {exc}") from exc
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.NAME and tok.string == "implies" and depth == 0:
            start, end = tok.start[1], tok.end[1]
            if not text[:start].strip() or not text[end:].strip():
                raise ExpressionError(text, start + 1, "'implies' needs a condition on both sides")
            return text[:start], text[end:], end
    return text, None, 0


def _parse_part(full: str, part: str, offset: int) -> ast.expr:
    stripped = part.lstrip()
    shift = offset + len(part) - len(stripped)
    try:
        tree = ast.parse(stripped.rstrip(), mode="eval").body
    except SyntaxError as exc:
        at = exc.offset or len(stripped.rstrip()) + 1  # 0: the input ended too early
        raise ExpressionError(full, shift + at, f"syntax error: {exc.msg}") from exc
    for node in ast.walk(tree):
        if hasattr(node, "col_offset"):
            node.col_offset += shift
    return tree


class _Validator(ast.NodeVisitor):
    def __init__(self, text: str, columns: set[str]) -> None:
        self.text, self.columns = text, columns

    def fail(self, node: ast.AST, message: str) -> None:
        raise ExpressionError(self.text, getattr(node, "col_offset", 0) + 1, message)

    def generic_visit(self, node: ast.AST) -> None:
        allowed = (ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
                   ast.BinOp, ast.Compare, ast.Constant, ast.List, ast.Tuple, ast.Load,
                   ast.In, ast.NotIn, *_ARITH, *_CMP)
        if not isinstance(node, allowed):
            what = {ast.Attribute: "attribute access", ast.Subscript: "subscripts",
                    ast.Lambda: "lambdas", ast.ListComp: "comprehensions",
                    ast.GeneratorExp: "comprehensions", ast.IfExp: "conditional expressions",
                    ast.Pow: "the ** operator"}.get(type(node), type(node).__name__)
            self.fail(node, f"{what} not allowed in rules")
        super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("__"):
            self.fail(node, f"dunder name {node.id!r} not allowed")
        if node.id in FUNCTIONS:
            self.fail(node, f"{node.id!r} is a function: call it, e.g. {node.id}(column)")
        self.columns.add(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else "this call"
            self.fail(node, f"function {name!r} not allowed; allowed: {sorted(FUNCTIONS)}")
        arity = FUNCTIONS[node.func.id][0]  # type: ignore[union-attr]
        if node.keywords or len(node.args) != arity:
            self.fail(node, f"{node.func.id}() takes {arity} positional argument(s)")  # type: ignore[union-attr]
        for arg in node.args:
            self.visit(arg)

    def visit_Compare(self, node: ast.Compare) -> None:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)) and not (
                    isinstance(right, (ast.List, ast.Tuple))
                    and all(isinstance(e, ast.Constant) for e in right.elts)):
                self.fail(right, "'in' needs a list of literals, e.g. x in ['a', 'b']")
            if isinstance(op, (ast.Is, ast.IsNot)):
                self.fail(node, "'is' not allowed; use isnull(x) / notnull(x)")
        self.generic_visit(node)


class _Evaluator(ast.NodeVisitor):
    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df

    def visit_Name(self, node: ast.Name) -> Any:
        return self.df[node.id]

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_List(self, node: ast.List) -> Any:
        return [self.visit(e) for e in node.elts]

    visit_Tuple = visit_List

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return ~_as_bool(value, self.df)
        return -value if isinstance(node.op, ast.USub) else value

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        return _ARITH[type(node.op)](self.visit(node.left), self.visit(node.right))

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
        fn = FUNCTIONS[node.func.id][1]  # type: ignore[union-attr]
        return fn(*[self.visit(a) for a in node.args])


def _notnull(value: Any, df: pd.DataFrame) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.notna()
    return pd.Series(value is not None and not (isinstance(value, float) and np.isnan(value)),
                     index=df.index)


def _as_bool(value: Any, df: pd.DataFrame) -> pd.Series:
    if not isinstance(value, pd.Series):
        return pd.Series(bool(value), index=df.index)
    return value.astype("boolean").fillna(False).astype(bool)
