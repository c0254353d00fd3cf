"""The rule language: every operator, precedence, null semantics, and what it refuses."""

from __future__ import annotations

import ast
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from e2e_assets.checks import expr as expr_module
from e2e_assets.checks.expr import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPRESSION_CHARS,
    MAX_LIST_ITEMS,
    MAX_LITERAL_CHARS,
    MAX_NODES,
    MAX_NUMBER,
    MAX_OPERANDS,
    MAX_ROUND_DIGITS,
    ExpressionError,
    parse,
)

DF = pd.DataFrame({
    "decision": ["approve", "approve", "review", None],
    "income": [10.0, np.nan, 0.0, 5.0],
    "rate": [5.0, 9.0, 3.0, np.nan],
    "cap": [6.0, 8.0, 4.0, 1.0],
    "n": [1, 2, 3, 4],
})


def ev(text: str) -> list[bool]:
    return parse(text).evaluate(DF).tolist()


@pytest.mark.parametrize(("text", "expected"), [
    ("n == 2", [False, True, False, False]),
    ("n != 2", [True, False, True, True]),
    ("n < 2", [True, False, False, False]),
    ("n <= 2", [True, True, False, False]),
    ("n > 2", [False, False, True, True]),
    ("n >= 2", [False, True, True, True]),
    ("n in [1, 3]", [True, False, True, False]),
    ("n not in [1, 3]", [False, True, False, True]),
    ("n + 1 == 3", [False, True, False, False]),
    ("n - 1 == 0", [True, False, False, False]),
    ("n * 2 == 8", [False, False, False, True]),
    ("n / 2 == 1.5", [False, False, True, False]),
    ("n % 2 == 0", [False, True, False, True]),
    ("-n < -2", [False, False, True, True]),
    ("n > 1 and n < 4", [False, True, True, False]),
    ("n == 1 or n == 4", [True, False, False, True]),
    ("not n == 1", [False, True, True, True]),
    ("1 < n < 4", [False, True, True, False]),
    ("n == 1 implies rate == 5", [True, True, True, True]),
    ("n >= 2 implies cap > 3", [True, True, True, False]),
])
def test_every_operator(text: str, expected: list[bool]) -> None:
    assert ev(text) == expected


def test_precedence() -> None:
    # 'and' binds tighter than 'or'; arithmetic tighter than comparison; implies loosest.
    assert ev("n == 1 or n == 2 and n == 3") == [True, False, False, False]
    assert ev("(n == 1 or n == 2) and n == 3") == [False, False, False, False]
    assert ev("n + 1 * 2 == 3") == [True, False, False, False]
    assert ev("n == 4 or n == 3 implies n == 3") == [True, True, True, False]
    assert ev("n == 9 implies n == 1 or n == 2") == [True, True, True, True]


def test_null_semantics_comparisons_with_null_are_false() -> None:
    assert ev("income > 0") == [True, False, False, True]
    assert ev("income != 0") == [True, False, False, True]  # null != 0 is false too
    assert ev("decision in ['approve', 'review']") == [True, True, True, False]
    assert ev("decision not in ['approve']") == [False, False, True, False]
    assert ev("not (income > 0)") == [False, True, True, False]  # not negates the result
    assert ev("isnull(income)") == [False, True, False, False]
    assert ev("notnull(rate) and rate <= cap") == [True, False, True, False]
    assert ev("decision == 'approve' implies income > 0") == [True, False, True, True]


def test_functions() -> None:
    assert set(FUNCTIONS) == {"isnull", "notnull", "abs", "round", "lower", "upper", "between",
                              "coalesce", "str_len"}
    assert ev("abs(rate - cap) <= 1") == [True, True, True, False]
    assert ev("round(rate / 3, 1) == 1.7") == [True, False, False, False]
    assert ev("upper(decision) == 'REVIEW'") == [False, False, True, False]
    assert ev("lower(decision) == 'approve'") == [True, True, False, False]
    assert ev("str_len(decision) == 6") == [False, False, True, False]
    assert ev("between(rate, 3, 5)") == [True, False, True, False]
    assert ev("coalesce(income, -1) < 0") == [False, True, False, False]


def test_columns_are_collected_and_missing_ones_named() -> None:
    expr = parse("decision == 'approve' implies income > cap")
    assert expr.columns == {"decision", "income", "cap"}
    with pytest.raises(KeyError, match=r"uses columns \['nope'\]"):
        parse("nope > 1").evaluate(DF)


@pytest.mark.parametrize(("text", "message", "column"), [
    ("income.real > 0", "attribute access not allowed", 1),
    ("decision == 'a' implies income.__class__", "attribute access not allowed", 25),
    ("DF[0] > 1", "subscripts not allowed", 1),
    ("eval('1') == 1", "function 'eval' not allowed", 1),
    ("__import__('os')", "function '__import__' not allowed", 1),
    ("__class__ == 1", "dunder name '__class__' not allowed", 1),
    ("(lambda: 1)() == 1", "not allowed", 1),
    ("[x for x in n] == 1", "comprehensions not allowed", 1),
    ("n ** 2 > 1", "the ** operator not allowed", 1),
    ("n if n else 1", "conditional expressions not allowed", 1),
    ("n is None", "'is' not allowed", 1),
    ("n in cap", "'in' needs a list of literals", 6),
    ("abs(n, 2) > 1", "abs() takes 1 positional argument", 1),
    ("isnull > 1", "is a function", 1),
    ("n >", "syntax error", 4),  # the input ended where an operand was expected
    ("n > > 1", "syntax error", 5),
    ("implies n > 1", "needs a condition on both sides", 1),
    ("", "empty expression", 1),
])
def test_rejections_name_the_position(text: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionError) as err:
        parse(text)
    assert message in str(err.value)
    assert err.value.column == column


def test_never_evaluates_text_as_python(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec must never be called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert ev("n > 2") == [False, False, True, True]


# --- hardening: limits and refusals (each refused at load with a plain ExpressionError) ----------

ROOT = Path(__file__).resolve().parents[2]


def refused(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as err:
        parse(text)
    return err.value


@pytest.mark.parametrize(("text", "message"), [
    # the findings: repetition of text or lists grows with a constant
    ("'a' * 1000000000 != decision", "'*' needs numbers on both sides, but one side is text"),
    ("[1, 2] * 100000000 == p_default", "one side is a list"),
    ("decision != 1000000000 * 'a'", "one side is text"),
    ("(1, 2) * 3 == n", "one side is a list"),
    ("str_len('a' * 10**15) > 1", "not allowed"),
    ("str_len('a' * 1000000000000000) > 1", "repeating text or lists is not allowed"),
    # repetition built from literals in any shape
    ("('a' + 'b') * 3 == decision", "one side is text"),
    ("3 * ('a' + 'b' + 'c') == decision", "one side is text"),
    ("True * 'a' == decision", "one side is text"),
    ("lower(decision) * 2 == decision", "one side is text"),
    ("upper('a') * n == decision", "one side is text"),
    ("coalesce(decision, 'a') * 2 == decision", "one side may be text"),
    ("coalesce([1], n) * 2 == n", "one side may be a list"),
    ("n * ('a' + 'b') * n == decision", "one side is text"),
    ("-(-'a') == decision", "unary '-' needs numbers, but its operand is text"),
    ("+'a' == decision", "unary '+' needs numbers"),
    # % on text is string formatting ('%999999999d' % 1 is a gigabyte)
    ("'%999999999d' % 1 == decision", "on text '%' is string formatting"),
    ("'%s' % n == decision", "'%' needs numbers on both sides"),
    ("'a' - 'b' == decision", "'-' needs numbers"),
    ("[1] / 2 == n", "'/' needs numbers"),
    ("'a' + 1 == decision", "'+' cannot join text and a number"),
    ("[1] + 'a' == decision", "'+' cannot join a list and text"),
    ("abs('a') > 1", "abs() needs numbers"),
])
def test_operations_whose_result_grows_with_a_constant_are_refused(text: str,
                                                                    message: str) -> None:
    assert message in str(refused(text))


def test_string_concatenation_and_numeric_arithmetic_stay_allowed() -> None:
    assert ev("decision == 'app' + 'rove'") == [True, True, False, False]
    assert ev("lower(decision) + 'x' == 'reviewx'") == [False, False, True, False]
    assert ev("n * 2 * 2 == 16") == [False, False, False, True]
    assert ev("(n + 1) * (n - 1) == 3") == [False, True, False, False]
    assert ev("str_len(decision) * 2 == 12") == [False, False, True, False]
    assert ev("n % 2 * 3 == 3") == [True, False, True, False]
    assert ev("(income > 0) * 1 == 1") == [True, False, False, True]


def test_repetition_of_text_columns_is_refused_at_evaluation() -> None:
    # column kinds are only known from the frame: '*' and '%' check them before computing
    frame = pd.DataFrame({"s": ["ab", None], "k": [3, 4], "o": pd.Series([1, None], dtype=object),
                          "t": pd.Series(["x", "y"], dtype="string")})
    for text in ("s * 1000000000 == 'a'", "k * s == 'a'", "s % 5 == 'a'", "t * 2 == 'a'",
                 "(s + s) * 2 == 'a'"):
        with pytest.raises(ExpressionError, match="needs numbers on both sides") as err:
            parse(text).evaluate(frame)
        assert err.value.column == 1
    with pytest.raises(ExpressionError, match="but column 's' holds non-numbers"):
        parse("s * 2 == 'a'").evaluate(frame)
    assert parse("k * 2 == 6").evaluate(frame).tolist() == [True, False]
    assert parse("o * 2 == 2").evaluate(frame).tolist() == [True, False]  # numbers in objects


@pytest.mark.parametrize(("text", "message", "column"), [
    ("decision == '" + "a" * (MAX_LITERAL_CHARS + 1) + "'",
     (f"string literal is too long: {MAX_LITERAL_CHARS + 1:,} characters; the limit is "
      f"MAX_LITERAL_CHARS = {MAX_LITERAL_CHARS:,} characters"), 13),
    ("n in [" + ", ".join(["1"] * (MAX_LIST_ITEMS + 1)) + "]",
     (f"list literal is too long: {MAX_LIST_ITEMS + 1:,} items; the limit is MAX_LIST_ITEMS = "
      f"{MAX_LIST_ITEMS:,} items"), 6),
    ("n in (" + ", ".join(["'a'"] * (MAX_LIST_ITEMS + 1)) + ")", "MAX_LIST_ITEMS =", 6),
    (f"n < {MAX_NUMBER + 1}", "at most MAX_NUMBER = 1e+18 in magnitude", 5),
    (f"n < -{MAX_NUMBER * 10}", "MAX_NUMBER =", 6),
    ("n < 1e999", "numeric literals must be finite", 5),
    ("n < 1e300", "MAX_NUMBER =", 5),
    ("n in [1, 1e999]", "MAX_NUMBER =", 10),
    ("round(rate, 1000000000) == 1", f"(MAX_ROUND_DIGITS = {MAX_ROUND_DIGITS})", 13),
    (f"round(rate, {MAX_ROUND_DIGITS + 1}) == 1", "(MAX_ROUND_DIGITS", 13),
    (f"round(rate, -{MAX_ROUND_DIGITS + 1}) == 1", "(MAX_ROUND_DIGITS", 13),
    ("round(rate, n) == 1", "round()'s digits must be a whole-number literal", 13),
    ("round(rate, 1.5) == 1", "whole-number literal", 13),
    ("round(rate, True) == 1", "whole-number literal", 13),
    ("round(rate, 10**9) == 1", "the ** operator not allowed", 13),
])
def test_literals_are_bounded(text: str, message: str, column: int) -> None:
    err = refused(text)
    assert message in str(err)
    assert err.column == column


def test_literals_at_their_limits_are_accepted() -> None:
    parse("decision == '" + "a" * MAX_LITERAL_CHARS + "'")
    parse("n in [" + ", ".join(["1"] * MAX_LIST_ITEMS) + "]")
    parse(f"n < {MAX_NUMBER} and n > -{MAX_NUMBER} and n < 1e18 and n > 1e-300")
    assert ev(f"round(rate, {MAX_ROUND_DIGITS}) == 5 or round(rate, -{MAX_ROUND_DIGITS}) == 0"
              ) == [True, True, True, False]
    assert ev("n in [-1, 2, +3]") == [False, True, True, False]
    assert ev("round(n * 10, -1) == 20") == [False, True, False, False]


def test_lists_hold_only_literals() -> None:
    err = refused("n in [1, cap]")
    assert "lists may only hold literals" in str(err) and err.column == 10
    assert "lists may only hold literals" in str(refused("n in [[1], [2]]"))
    assert "lists may only hold literals" in str(refused("n in [1 + 1]"))


def test_expression_length_is_limited_before_parsing() -> None:
    assert parse("n == 1" + " " * (MAX_EXPRESSION_CHARS - 6)).columns == {"n"}
    err = refused("n == 1" + " " * (MAX_EXPRESSION_CHARS - 5))
    assert ("expression is too long: 2,001 characters; the limit is MAX_EXPRESSION_CHARS = "
            f"{MAX_EXPRESSION_CHARS:,} characters" in str(err))
    assert err.column == MAX_EXPRESSION_CHARS + 1
    long_or = " or ".join(["n == 1"] * 10_200)  # ~102,000 characters: was 6 s per evaluation
    err = refused(long_or)
    assert "expression is too long" in str(err)
    assert len(str(err)) < 1_000  # the message shows an excerpt, not the whole rule


def test_depth_is_limited() -> None:
    assert ev("not " * (MAX_DEPTH - 2) + "n == 1") == [True, False, False, False]  # 50 levels
    for text in ("not " * MAX_DEPTH + "n", "-" * MAX_DEPTH + "n > 1",
                 "n" + " + 0" * MAX_DEPTH + " > 1", "abs(" * MAX_DEPTH + "n" + ")" * MAX_DEPTH,
                 "n == 1 implies " + "not " * MAX_DEPTH + "n"):
        err = refused(text)
        assert f"nested too deeply: the limit is MAX_DEPTH = {MAX_DEPTH} levels" in str(err)
    assert refused("not " * MAX_DEPTH + "n").column == 4 * MAX_DEPTH + 1  # the 51st level


def test_operands_per_chain_are_limited() -> None:
    parse(" or ".join(["n == 1"] * MAX_OPERANDS))
    parse("<".join(["n"] * MAX_OPERANDS))
    err = refused(" or ".join(["n"] * (MAX_OPERANDS + 1)))
    assert f"too many operands: {MAX_OPERANDS + 1} in one 'and' / 'or' chain" in str(err)
    assert f"the limit is MAX_OPERANDS = {MAX_OPERANDS}" in str(err)
    err = refused("<".join(["n"] * (MAX_OPERANDS + 1)))
    assert "in one comparison chain" in str(err) and "MAX_OPERANDS =" in str(err)


def test_node_count_is_limited() -> None:
    chain = "(" + "<".join(["n"] * 40) + ")"  # 41 nodes, 82 characters
    parse(" and ".join([chain] * 12))  # 493 nodes
    err = refused(" and ".join([chain] * 13))
    assert f"too large: the limit is MAX_NODES = {MAX_NODES} nodes" in str(err)
    err = refused(" and ".join([chain] * 7) + " implies " + " and ".join([chain] * 6))
    assert "MAX_NODES =" in str(err)  # both sides of 'implies' count


GIANT = {
    "repeat_text": "'a' * 1000000000 != decision",
    "repeat_list": "[1, 2] * 100000000 == p_default",
    "str_len_power": "str_len('a' * 10**15) > 0",
    "long_or": " or ".join(["decision == 'approve'"] * 5_000),
    "nested_not_1000": "not " * 1_000 + "x",
    "unary_minus_100000": "-" * 100_000 + "x",
    "plus_chain_8000": " + ".join(["x"] * 8_000) + " > 0",
    "plus_zero_400": "x" + " + 0" * 400 + " > 0",
    "parens_100000": "(" * 100_000 + "x" + ")" * 100_000,
    "megabyte": "x == 1 and " * 100_000 + "x == 1",
    "megabyte_literal": "x == '" + "a" * 1_000_000 + "'",
    "megabyte_number": "x < " + "9" * 1_000_000,
    "huge_list": "x in [" + "1, " * 1_000_000 + "1]",
    "comment": "decision != 'approve' # implies income > 0",
    "full_width": "ｐ_default > 0",
    "lambda_call": "(lambda: 1)()",
}
_SIZE = MAX_EXPRESSION_CHARS
WITHIN_LENGTH = {  # adversarial nestings that fit the length limit: the parser must cope
    "not": "not " * (_SIZE // 4 - 1) + "x",
    "minus": "-" * (_SIZE - 1) + "x",
    "invert": "~" * (_SIZE - 1) + "x",
    "plus_chain": "+".join(["x"] * (_SIZE // 2)),
    "power_chain": "**".join(["x"] * (_SIZE // 3)),
    "compare_chain": "<".join(["x"] * (_SIZE // 2)),
    "and_chain": " and ".join(["x"] * (_SIZE // 6)),
    "parens": "(" * (_SIZE // 2 - 1) + "x" + ")" * (_SIZE // 2 - 1),
    "lists": "[" * (_SIZE // 2 - 1) + "]" * (_SIZE // 2 - 1),
    "calls": "abs(" * (_SIZE // 5) + "x" + ")" * (_SIZE // 5),
    "attributes": "x" + ".a" * (_SIZE // 2 - 1),
    "subscripts": "x" + "[0]" * (_SIZE // 3 - 1),
    "call_chain": "x" + "()" * (_SIZE // 2 - 1),
    "lambdas": "lambda:" * (_SIZE // 7 - 1) + "x",
    "ternaries": "x if x else " * (_SIZE // 12 - 1) + "x",
    "walrus": "(y:=" * (_SIZE // 5 - 1) + "x" + ")" * (_SIZE // 5 - 1),
    "implies_chain": " implies ".join(["x"] * (_SIZE // 10)),
    "strings": "x == " + "'a' + " * (_SIZE // 6 - 2) + "'a'",
    "fstrings": "f'{" * (_SIZE // 6) + "x" + "}'" * (_SIZE // 6),
    "mixed": "-(not " * (_SIZE // 7) + "x" + ")" * (_SIZE // 7),
    "list_of_lists": "x in [" + "[1]," * (_SIZE // 4 - 2) + "]",
    "deep_in_implies": "x implies " + "-" * (_SIZE - 12) + "x",
}


@pytest.mark.parametrize("text", [*GIANT.values(), *WITHIN_LENGTH.values()],
                         ids=[*GIANT, *WITHIN_LENGTH])
def test_refusals_are_fast_and_never_crash(text: str) -> None:
    started = time.perf_counter()
    try:
        parse(text)
    except ExpressionError as exc:  # anything else (RecursionError, MemoryError) fails the test
        assert str(exc)
    else:
        pytest.fail(f"accepted: {text[:60]!r}")
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("error", [RecursionError, MemoryError, OverflowError])
def test_parser_crashes_become_expression_errors(monkeypatch: pytest.MonkeyPatch,
                                                 error: type[Exception]) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise error()

    monkeypatch.setattr(ast, "parse", crash)
    err = refused("n > 1")
    assert f"too deeply nested or too large to parse ({error.__name__})" in str(err)


def test_comments_are_refused_but_hash_in_quotes_is_fine() -> None:
    err = refused("decision != 'approve' # implies income > 0")
    assert "'#' comments are not allowed in rules" in str(err)
    assert err.column == 23
    assert refused("n > 1 #").column == 7
    assert refused("(n > 1 or\n n < 0) # note").column == 19
    assert refused("decision == 'a#' and n > 1 # x").column == 28
    frame = pd.DataFrame({"code": ["A#1", "B", None]})
    assert parse("code == 'A#1'").evaluate(frame).tolist() == [True, False, False]
    assert parse('code in ["A#1", "#"] implies code != "#"').evaluate(frame).tolist() == [
        True, True, True]


def test_non_ascii_identifiers_are_refused_but_non_ascii_text_is_fine() -> None:
    err = refused("ｐ_default > 0.5")
    assert "identifier 'ｐ_default' is not ASCII" in str(err)
    assert "Python would read it as 'p_default'" in str(err)
    assert err.column == 1
    err = refused("decision == 'é' and ｉｎｃｏｍｅ > 0")
    assert "'ｉｎｃｏｍｅ'" in str(err) and "'income'" in str(err) and err.column == 21
    err = refused("n > 1 implies ａｂｓ(n) > 0")
    assert "'ａｂｓ'" in str(err) and "'abs'" in str(err) and err.column == 15
    err = refused("℘ > 1")  # not a word character for tokenize, still an identifier for Python
    assert "identifier '℘' is not ASCII" in str(err) and err.column == 1
    assert "identifier 'ｉｍｐｌｉｅｓ' is not ASCII" in str(refused("n ｉｍｐｌｉｅｓ n"))
    frame = pd.DataFrame({"city": ["Zürich", "東京", None]})
    assert parse("city in ['Zürich', '東京']").evaluate(frame).tolist() == [True, True, False]
    assert parse("city == '東京' implies str_len(city) == 2").evaluate(frame).tolist() == [
        True, True, True]
    assert parse("(city == 'Zürich' or\n   city == '東京')").evaluate(frame).tolist() == [
        True, True, False]


def test_positions_count_characters_not_bytes() -> None:
    assert refused("decision == 'é€' and n.real").column == 22
    assert refused("(decision == '東京'\n and n ** 2)").column == 24


@pytest.mark.parametrize(("text", "message", "column"), [
    ("(lambda: 1)() == 1", ("only the named functions can be called (isnull, notnull, abs, "
                            "round, lower, upper, str_len, between, coalesce); found a call of "
                            "a lambda expression"), 1),
    ("n.bit_length() > 1", "found a call of an attribute (a method)", 1),
    ("abs(n)(1) > 1", "found a call of the result of another call", 1),
    ("'x'() > 1", "found a call of a literal", 1),
    ("lambda: 1", "lambda expressions not allowed in rules", 1),
    ("[x for x in n] == 1", "comprehensions not allowed in rules", 1),
    ("{x for x in n} == 1", "comprehensions not allowed in rules", 1),
    ("{x: 1 for x in n} == 1", "comprehensions not allowed in rules", 1),
    ("abs(x for x in n) == 1", "comprehensions not allowed in rules", 4),
    ("n.real > 0", "attribute access not allowed in rules", 1),
    ("n[0] > 1", "subscripts not allowed in rules", 1),
    ("f'{n}' == '1'", "f-strings not allowed in rules", 1),
    ("(m := n) > 1", "assignment expressions (:=, walrus) not allowed in rules", 2),
    ("n[1:2] > 1", "slices not allowed in rules", 1),
    ("abs(*n) > 1", "starred expressions (*x) not allowed in rules", 5),
    ("n == {1: 2}", "dict literals not allowed in rules", 6),
    ("n == {1, 2}", "set literals (use a list [...]) not allowed in rules", 6),
    ("n in {1, 2}", "'in' needs a list of literals", 6),
    ("n is None", "'is' not allowed in rules", 1),
    ("n is not None", "'is' not allowed in rules", 1),
    ("n > 1 and n & 1", "the & operator (bitwise and; use 'and') not allowed in rules", 11),
    ("n | 1", "the | operator (bitwise or; use 'or') not allowed in rules", 1),
    ("n ^ 1", "the ^ operator (bitwise xor) not allowed in rules", 1),
    ("~n", "the ~ operator (bitwise not; use 'not') not allowed in rules", 1),
    ("n << 1 > 1", "the << operator (bitwise shift) not allowed in rules", 1),
    ("n >> 1 > 1", "the >> operator (bitwise shift) not allowed in rules", 1),
    ("n // 2 == 1", "the // operator (floor division) not allowed in rules", 1),
    ("n ** 2 > 1", "the ** operator not allowed in rules", 1),
    ("n @ n > 1", "the @ operator (matrix multiplication) not allowed in rules", 1),
    ("n if n else 1", "conditional expressions not allowed in rules", 1),
    ("await n", "'await' not allowed in rules", 1),
    ("(yield n)", "'yield' not allowed in rules", 2),
    ("b'x' == n", "bytes literals (b'...') not allowed in rules", 1),
    ("n == 1j", "complex numbers (1j) not allowed in rules", 6),
    ("n == ...", "'...' (Ellipsis) not allowed in rules", 6),
    ("n\x00 > 1", "control character U+0000 not allowed", 2),
    ("eval('1') == 1", "function 'eval' not allowed; only the named functions can be called", 1),
])
def test_refusals_are_plain_words_with_the_column(text: str, message: str, column: int) -> None:
    err = refused(text)
    assert message in str(err)
    assert err.column == column
    assert "this call" not in str(err) and "ast." not in str(err)


def test_error_survives_pickling() -> None:
    err = refused("n.real")
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) and copy.column == err.column


def _reference_rules() -> list[str]:
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("kind") == "rules":
                for rule in (node.get("options") or {}).get("rules", []):
                    texts.extend(rule[k] for k in ("expr", "where") if rule.get(k))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted([*ROOT.glob("pipelines/*/journey.yaml"),
                        *ROOT.glob("tests/journeys/*/journey.yaml")]):
        walk(yaml.safe_load(path.read_text()))
    return texts


REFERENCE_FRAME = pd.DataFrame({
    "decision": ["approve", "review", "decline", "offer", "refer", None],
    "records": ["yes", "no", "yes", None, "no", "yes"],
    "state": ["NY", "CA", "NY", "NY", None, "TX"],
    "grade": ["A", "B", "G", "A", None, "C"],
    "pricing_reason": ["MODEL", "CAP", "MODEL", None, "MODEL", "FLOOR"],
    "fraud_flag": [False, True, False, True, False, False],
    "offer": [True, False, True, False, True, False],
})


def test_reference_rules_still_parse_and_evaluate() -> None:
    texts = _reference_rules() + [  # and the README's examples
        "decision == 'approve' implies income > 0", "offered_rate <= 25.0", "state == 'NY'",
        "pricing_reason == 'MODEL'", "offer implies p_churn > 0.5"]
    assert len(texts) >= 20
    for text in texts:
        expression = parse(text)
        frame = REFERENCE_FRAME.copy()
        for column in expression.columns - set(frame.columns):  # numeric by default
            frame[column] = [0.1, 0.6, np.nan, 30.0, 0.0, 0.3]
        result = expression.evaluate(frame)
        assert result.dtype == bool and len(result) == len(frame), text
    frame = REFERENCE_FRAME.assign(income=[1.0, 0, 0, 0, 0, 0], p_default=[0.1, 0.2, 0.9, 0.6,
                                                                          0.5, np.nan])
    assert parse("decision == 'approve' implies income > 0").evaluate(frame).all()
    assert parse("p_default >= 0.5 implies decision == 'decline'").evaluate(frame).tolist() == [
        True, True, True, False, False, True]


def test_the_limits_are_documented() -> None:
    doc = expr_module.__doc__ or ""
    for name, value in [("MAX_EXPRESSION_CHARS", f"{MAX_EXPRESSION_CHARS:,}"),
                        ("MAX_DEPTH", str(MAX_DEPTH)), ("MAX_NODES", str(MAX_NODES)),
                        ("MAX_OPERANDS", str(MAX_OPERANDS)),
                        ("MAX_LITERAL_CHARS", f"{MAX_LITERAL_CHARS:,}"),
                        ("MAX_LIST_ITEMS", str(MAX_LIST_ITEMS)),
                        ("MAX_ROUND_DIGITS", str(MAX_ROUND_DIGITS))]:
        assert f":data:`{name}` = {value}" in doc
