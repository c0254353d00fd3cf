"""The rule language: every operator, precedence, null semantics, and what it refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from e2e_assets.checks.expr import FUNCTIONS, ExpressionError, parse

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
