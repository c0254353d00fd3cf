"""Load-time limits and refusals for the rule language of :mod:`e2e_assets.checks.expr`.

The rules themselves are documented in that module's docstring. Everything here runs when a rule
is loaded and refuses with :class:`ExpressionError` (a ``ValueError``) naming the problem and its
column. The order matters: :func:`check_text` runs before any tokenizer or parser sees the text,
:func:`check_size` measures depth and size iteratively, and only then does the recursive
:class:`Checker` (and later the evaluator) walk the tree.
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

MAX_EXPRESSION_CHARS = 2_000  # characters in one rule (an ``expr`` or a ``where``)
MAX_DEPTH = 50  # nesting levels of the syntax tree (each chained + or stacked not/- adds one)
MAX_NODES = 500  # names, literals, list items, operations and calls in one rule
MAX_OPERANDS = 100  # operands of one and/or chain or one comparison chain
MAX_LITERAL_CHARS = 1_000  # characters in one string literal
MAX_LIST_ITEMS = 200  # items in one list/tuple literal
MAX_NUMBER = 10**18  # magnitude of a numeric literal (keeps integers within int64)
MAX_ROUND_DIGITS = 15  # |digits| in round(x, digits); digits must be an integer literal

# Kinds: what a subexpression can be. Booleans count as numbers (True * 'a' is 'a'); DATA is a
# column's value, known only from the frame (the evaluator checks it before '*' and '%').
TEXT, LIST, NUMBER, NONE, DATA = "text", "list", "number", "None", "column data"
Kinds = frozenset[str]
_SYMBOLS: Mapping[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
                                ast.Mod: "%"}
# Refusals read "<what> not allowed in rules at column N" (the README quotes that shape).
_BAD_OPERATORS: Mapping[type, str] = {
    ast.Pow: "the ** operator",
    ast.FloorDiv: "the // operator (floor division)",
    ast.MatMult: "the @ operator (matrix multiplication)",
    ast.BitAnd: "the & operator (bitwise and; use 'and')",
    ast.BitOr: "the | operator (bitwise or; use 'or')",
    ast.BitXor: "the ^ operator (bitwise xor)", ast.Invert: "the ~ operator (bitwise not; use 'not')",
    ast.LShift: "the << operator (bitwise shift)", ast.RShift: "the >> operator (bitwise shift)"}
_REFUSED: Mapping[type, str] = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Slice: "slices",
    ast.Lambda: "lambda expressions", ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.IfExp: "conditional expressions",
    ast.JoinedStr: "f-strings", ast.FormattedValue: "f-strings",
    ast.NamedExpr: "assignment expressions (:=, walrus)", ast.Starred: "starred expressions (*x)",
    ast.Dict: "dict literals", ast.Set: "set literals (use a list [...])", ast.Await: "'await'",
    ast.Yield: "'yield'", ast.YieldFrom: "'yield from'"}
_CALLEES: Mapping[type, str] = {
    ast.Lambda: "a lambda expression", ast.Attribute: "an attribute (a method)",
    ast.Subscript: "a subscript", ast.Call: "the result of another call",
    ast.Constant: "a literal", ast.List: "a list", ast.Tuple: "a tuple"}
_RESULTS: Mapping[str, Kinds] = {
    "isnull": frozenset({NUMBER}), "notnull": frozenset({NUMBER}), "between": frozenset({NUMBER}),
    "abs": frozenset({NUMBER}), "round": frozenset({NUMBER}), "str_len": frozenset({NUMBER}),
    "lower": frozenset({TEXT}), "upper": frozenset({TEXT})}
_UNCOUNTED = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)
_WINDOW = 100  # characters of the rule shown around the problem in an error message
_COMMENT = ("'#' comments are not allowed in rules: everything after '#' would be silently "
            "ignored (a '#' inside quotes, e.g. 'A#1', is fine)")


class ExpressionError(ValueError):
    """A rule expression is not in the language; carries the 1-based column of the problem."""

    def __init__(self, text: str, column: int, message: str) -> None:
        self.text, self.column, self.message = text, column, message
        at, start, shown = max(column - 1, 0), 0, text
        if len(text) > _WINDOW:  # a long rule: show the part around the column
            start = min(max(at - _WINDOW // 2, 0), len(text) - _WINDOW)
            head = "..." if start else ""
            tail = "..." if start + _WINDOW < len(text) else ""
            shown, start = head + text[start:start + _WINDOW] + tail, start - len(head)
        shown = "".join(c if c.isprintable() else " " for c in shown)
        super().__init__(f"{message} at column {column}\n    {shown}\n    {' ' * (at - start)}^")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.text, self.column, self.message)


def check_text(text: str) -> None:
    """Refuse empty, over-long or control-character text before anything parses it."""
    if not text or not text.strip():
        raise ExpressionError(text, 1, "empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(text, MAX_EXPRESSION_CHARS + 1, (
            f"expression is too long: {len(text):,} characters; the limit is "
            f"MAX_EXPRESSION_CHARS = {MAX_EXPRESSION_CHARS:,} characters per rule"))
    for i, ch in enumerate(text):
        if ch not in "\t\n" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise ExpressionError(text, i + 1, f"control character U+{ord(ch):04X} not allowed")


def scan_tokens(text: str) -> int | None:
    """Refuse comments and non-ASCII names; return the offset of a top-level ``implies``."""
    starts, depth, found = _line_starts(text), 0, None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind, string = tok.type, tok.string
            if kind == tokenize.ERRORTOKEN and string[:1] in ("'", '"'):
                break  # an unterminated string: the parser names it
            at = starts[min(tok.start[0], len(starts)) - 1] + tok.start[1]
            if kind == tokenize.COMMENT:
                raise ExpressionError(text, at + 1, _COMMENT)
            if kind == tokenize.NAME and not string.isascii():
                _non_ascii(text, at, string)
            if kind == tokenize.OP and string in ("(", "[", "{"):
                depth += 1
            elif kind == tokenize.OP and string in (")", "]", "}"):
                depth -= 1
            elif kind == tokenize.NAME and string == "implies" and depth == 0 and found is None:
                found = at
    except (tokenize.TokenError, SyntaxError, RecursionError, MemoryError):
        pass  # e.g. an unclosed bracket: the parser names the problem and its position
    return found


def parse_part(text: str, start: int, end: int) -> ast.expr:
    """Parse ``text[start:end]``; node positions become 0-based character offsets into ``text``."""
    part = text[start:end]
    source = part.strip()
    shift = start + len(part) - len(part.lstrip())
    lines, starts = source.split("\n"), _line_starts(source)
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        row = min(max(exc.lineno or 1, 1), len(lines))
        offset = exc.offset if exc.offset and exc.offset > 0 else len(lines[row - 1]) + 1
        raise ExpressionError(text, shift + starts[row - 1] + offset,
                              f"syntax error: {exc.msg}") from exc
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise ExpressionError(text, shift + 1, f"expression too deeply nested or too large to "
                                               f"parse ({type(exc).__name__})") from exc
    except ValueError as exc:
        raise ExpressionError(text, shift + 1, f"cannot parse: {exc}") from exc
    chars = [_char_offsets(line) for line in lines]  # UTF-8 byte offset -> character offset

    def absolute(row: int, col: int) -> int:
        row = min(max(row, 1), len(lines))
        return shift + starts[row - 1] + chars[row - 1][min(max(col, 0), len(chars[row - 1]) - 1)]

    quoted: list[tuple[int, int]] = []  # spans of literals: a '#' elsewhere starts a comment
    for node in ast.walk(tree):  # iterative
        if not isinstance(node, (ast.expr, ast.keyword, ast.arg)):
            continue
        first = absolute(node.lineno, node.col_offset)
        last = absolute(node.end_lineno or node.lineno, node.end_col_offset or node.col_offset)
        node.lineno, node.col_offset, node.end_lineno, node.end_col_offset = 1, first, 1, last
        if isinstance(node, ast.Name) and not text[first:last].isascii():
            _non_ascii(text, first, text[first:last])  # names the tokenizer did not see as names
        if isinstance(node, (ast.Constant, ast.JoinedStr)):
            quoted.append((first, last))
    for at in (i for i in range(start, end) if text[i] == "#"):  # second opinion on comments
        if not any(first <= at < last for first, last in quoted):
            raise ExpressionError(text, at + 1, _COMMENT)
    return tree


def check_size(text: str, trees: Iterable[ast.AST]) -> None:
    """Depth, node count, operands per chain and list length, measured without recursion."""
    count = 0
    for tree in trees:
        stack: list[tuple[ast.AST, int]] = [(tree, 1)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, _UNCOUNTED):
                continue
            count += 1
            column = getattr(node, "col_offset", 0) + 1
            if depth > MAX_DEPTH:
                raise ExpressionError(text, column, (
                    f"expression is nested too deeply: the limit is MAX_DEPTH = {MAX_DEPTH} "
                    "levels (each '+' of a chain like a + b + c, each stacked not / - and each "
                    "call inside another adds one)"))
            if count > MAX_NODES:
                raise ExpressionError(text, column, (
                    f"expression is too large: the limit is MAX_NODES = {MAX_NODES} nodes "
                    "(names, literals, list items, operations, calls); split it into rules"))
            operands, what = 0, ""
            if isinstance(node, ast.BoolOp):
                operands, what = len(node.values), "one 'and' / 'or' chain"
            elif isinstance(node, ast.Compare):
                operands, what = len(node.comparators) + 1, "one comparison chain"
            elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and (
                    len(node.elts) > MAX_LIST_ITEMS):
                raise ExpressionError(text, column, (
                    f"list literal is too long: {len(node.elts):,} items; the limit is "
                    f"MAX_LIST_ITEMS = {MAX_LIST_ITEMS:,} items"))
            if operands > MAX_OPERANDS:
                raise ExpressionError(text, column, (
                    f"too many operands: {operands} in {what}; the limit is "
                    f"MAX_OPERANDS = {MAX_OPERANDS}"))
            children = list(ast.iter_child_nodes(node))
            stack.extend((child, depth + 1) for child in reversed(children))


class Checker:
    """Walks a size-checked tree: whitelist, literal bounds, operand kinds; collects columns.

    Kinds are a tiny static type inference: literals have kinds, columns are :data:`DATA`, and
    operations propagate them, so that text or list repetition is refused however it is built.
    """

    def __init__(self, text: str, arities: Mapping[str, int]) -> None:
        self.text, self.arities = text, arities
        self.columns: set[str] = set()

    def fail(self, node: ast.AST, message: str) -> NoReturn:
        raise ExpressionError(self.text, getattr(node, "col_offset", 0) + 1, message)

    def check(self, node: ast.AST) -> Kinds:
        method = getattr(self, f"_{type(node).__name__}", None)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            self.fail(node, "slices not allowed in rules")
        if method is None:
            what = _REFUSED.get(type(node), f"{type(node).__name__} syntax")
            self.fail(node, f"{what} not allowed in rules")
        kinds: Kinds = method(node)
        return kinds

    def need_numbers(self, node: ast.AST, what: str, *sides: Kinds) -> None:
        bad = next((k for k in sides if k & {TEXT, LIST}), None)
        if bad is None:
            return
        found = ("may be " if bad - {TEXT, LIST} else "is ") + _nouns(bad & {TEXT, LIST})
        if what == "'*'":
            self.fail(node, f"'*' needs numbers on both sides, but one side {found}: repeating "
                            "text or lists is not allowed (the result grows with the number)")
        if what == "'%'":
            self.fail(node, f"'%' needs numbers on both sides, but one side {found} (on text "
                            "'%' is string formatting, which is not allowed)")
        self.fail(node, f"{what} needs numbers, but its operand {found}")

    def _Name(self, node: ast.Name) -> Kinds:
        if node.id.startswith("__"):
            self.fail(node, f"dunder name {node.id!r} not allowed in rules")
        if node.id in self.arities:
            self.fail(node, f"{node.id!r} is a function: call it, e.g. {node.id}(column)")
        self.columns.add(node.id)
        return frozenset({DATA})

    def _Constant(self, node: ast.Constant) -> Kinds:
        value = node.value
        if value is None:
            return frozenset({NONE})
        if isinstance(value, str):
            if len(value) > MAX_LITERAL_CHARS:
                self.fail(node, f"string literal is too long: {len(value):,} characters; the "
                                f"limit is MAX_LITERAL_CHARS = {MAX_LITERAL_CHARS:,} characters")
            return frozenset({TEXT})
        if isinstance(value, (bool, int, float)):
            if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > MAX_NUMBER:
                written = self.text[node.col_offset:node.end_col_offset or node.col_offset]
                self.fail(node, f"number {written[:30]}{'...' if len(written) > 30 else ''} is "
                                "out of range: numeric literals must be finite and at most "
                                f"MAX_NUMBER = {MAX_NUMBER:.0e} in magnitude")
            return frozenset({NUMBER})
        what = {bytes: "bytes literals (b'...')", complex: "complex numbers (1j)"}.get(
            type(value), "'...' (Ellipsis)")
        self.fail(node, f"{what} not allowed in rules")

    def _List(self, node: ast.List | ast.Tuple) -> Kinds:
        for item in node.elts:
            if not isinstance(_unsigned(item), ast.Constant):
                self.fail(item, "lists may only hold literals (numbers, strings, True, False, "
                                "None), e.g. ['a', 'b']")
            self.check(item)
        return frozenset({LIST})

    _Tuple = _List

    def _UnaryOp(self, node: ast.UnaryOp) -> Kinds:
        if isinstance(node.op, ast.Invert):
            self.fail(node, f"{_BAD_OPERATORS[ast.Invert]} not allowed in rules")
        kinds = self.check(node.operand)
        if isinstance(node.op, ast.Not):
            return frozenset({NUMBER})
        self.need_numbers(node, f"unary '{'-' if isinstance(node.op, ast.USub) else '+'}'", kinds)
        return kinds

    def _BinOp(self, node: ast.BinOp) -> Kinds:
        if type(node.op) not in _SYMBOLS:
            what = _BAD_OPERATORS.get(type(node.op), f"the {type(node.op).__name__} operator")
            self.fail(node, f"{what} not allowed in rules")
        left, right = self.check(node.left), self.check(node.right)
        symbol = _SYMBOLS[type(node.op)]
        if symbol != "+":
            self.need_numbers(node, f"'{symbol}'", left, right)
            return frozenset({NUMBER})
        if DATA not in left | right and not left & right:
            self.fail(node, f"'+' cannot join {_nouns(left)} and {_nouns(right)}")
        return left | right

    def _BoolOp(self, node: ast.BoolOp) -> Kinds:
        for value in node.values:
            self.check(value)
        return frozenset({NUMBER})

    def _Compare(self, node: ast.Compare) -> Kinds:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.Is, ast.IsNot)):
                self.fail(node, "'is' not allowed in rules (nor 'is not'); use isnull(x) / "
                                "notnull(x)")
            if isinstance(op, (ast.In, ast.NotIn)) and not isinstance(right, (ast.List,
                                                                              ast.Tuple)):
                self.fail(right, "'in' needs a list of literals, e.g. x in ['a', 'b']")
        for operand in (node.left, *node.comparators):
            self.check(operand)
        return frozenset({NUMBER})

    def _Call(self, node: ast.Call) -> Kinds:
        names = ", ".join(self.arities)
        if not isinstance(node.func, ast.Name):
            callee = _CALLEES.get(type(node.func), "something that is not a function name")
            self.fail(node, f"only the named functions can be called ({names}); found a call "
                            f"of {callee}, which is not allowed")
        name = node.func.id
        if name not in self.arities:
            self.fail(node, f"function {name!r} not allowed; only the named functions can be "
                            f"called ({names})")
        arity = self.arities[name]
        if node.keywords or len(node.args) != arity:
            self.fail(node, f"{name}() takes {arity} positional argument(s)")
        kinds = [self.check(arg) for arg in node.args]
        if name in ("abs", "round"):
            self.need_numbers(node.args[0], f"{name}()", kinds[0])
        if name == "round":
            digits = _unsigned(node.args[1])
            if not (isinstance(digits, ast.Constant) and type(digits.value) is int
                    and digits.value <= MAX_ROUND_DIGITS):
                self.fail(node.args[1], "round()'s digits must be a whole-number literal from "
                                        f"-{MAX_ROUND_DIGITS} to {MAX_ROUND_DIGITS} "
                                        f"(MAX_ROUND_DIGITS = {MAX_ROUND_DIGITS})")
        if name == "coalesce":
            return kinds[0] | kinds[1]
        return _RESULTS.get(name, frozenset({DATA}))


def _unsigned(node: ast.expr) -> ast.expr:
    """``-1`` and ``+1`` are literals too: the operand of a unary sign, else the node."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return node.operand
    return node


def _nouns(kinds: Kinds) -> str:
    names = {TEXT: "text", LIST: "a list", NUMBER: "a number", NONE: "None", DATA: "a column"}
    return " or ".join(names[k] for k in sorted(kinds))


def _non_ascii(text: str, at: int, written: str) -> NoReturn:
    normal = unicodedata.normalize("NFKC", written)
    reads = (f"; Python would read it as {normal!r}" if normal.isascii() else "")
    raise ExpressionError(text, at + 1, f"identifier {written!r} is not ASCII{reads}: names in "
                                        "rules must be plain ASCII (non-ASCII text belongs in "
                                        "quotes)")


def _line_starts(text: str) -> list[int]:
    return [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]


def _char_offsets(line: str) -> list[int]:
    out = [i for i, ch in enumerate(line) for _ in range(len(ch.encode("utf-8")))]
    return out + [len(line)]
