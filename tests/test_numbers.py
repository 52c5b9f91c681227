"""DynamoDB numbers compared and limited exactly, on their text, across their whole range."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccopy.read.keys import key_canonical
from asynccopy.read.numbers import canonical_number, number_problem, parse_number
from tests.hypothesis_profiles import examples
from tests.strategies import (
    NumberValue,
    neighbour,
    number_texts,
    number_values,
    storable,
)


def _decimal(value: NumberValue) -> Decimal:
    negative, digits, exponent = value
    return Decimal(f"{'-' if negative else ''}{digits or '0'}E{exponent}")


def _refused(text: str) -> bool:
    """Whether DynamoDB refuses `text`, told by Decimal (exact: no context is involved)."""
    number = Decimal(text)
    if number == 0:
        return False
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")
    return len(significant) > 38 or not -130 <= number.adjusted() <= 125


@st.composite
def _value_and_text(draw: st.DrawFn) -> tuple[NumberValue, str]:
    value = draw(number_values())
    return value, draw(number_texts(value))


@examples(1_000)
@given(_value_and_text())
def test_a_number_parses_to_its_value_however_it_is_written(
    value_and_text: tuple[NumberValue, str],
) -> None:
    value, text = value_and_text
    assert Decimal(text) == _decimal(value)  # the strategy writes what it means
    assert parse_number(text) == value
    assert number_problem(text) is None


@examples(1_000)
@given(st.data())
def test_equal_numbers_and_only_they_share_a_canonical_form(data: st.DataObject) -> None:
    value = data.draw(number_values(), label="value")
    other = data.draw(
        st.sampled_from(
            [value, neighbour(value, 1), neighbour(value, -1), (not value[0], *value[1:])]
        )
        | number_values(),
        label="other",
    )
    text = data.draw(number_texts(value), label="text")
    other_text = data.draw(number_texts(other), label="other text")
    same = Decimal(text) == Decimal(other_text)
    assert (canonical_number(text) == canonical_number(other_text)) == same


@examples(1_000)
@given(number_values(), st.sampled_from([1, -1]))
def test_numbers_that_differ_only_in_their_last_digit_are_distinct(
    value: NumberValue, step: int
) -> None:
    other = neighbour(value, step)
    assert canonical_number(_text(value)) != canonical_number(_text(other))
    # the keys too: the key file's de-duplication and the matching of items read
    assert key_canonical({"id": {"N": _text(value)}}) != key_canonical({"id": {"N": _text(other)}})


def _text(value: NumberValue) -> str:
    negative, digits, exponent = value
    return f"{'-' if negative else ''}{digits or '0'}E{exponent}"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("0", "-0"),
        ("0", "0.000E+99"),
        ("1.50", "1.5"),
        ("1e2", "100"),
        ("+100", "100.0"),
        (".5", "0.5"),
        ("12345678901234567890123456789012345678", "1.2345678901234567890123456789012345678E+37"),
    ],
)
def test_forms_of_one_value(one: str, other: str) -> None:
    assert canonical_number(one) == canonical_number(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # 29 and 38 significant digits: a 28-digit Decimal context rounds these together
        ("1.0000000000000000000000000001", "1.0000000000000000000000000002"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345679"),
        ("1E-130", "2E-130"),
        ("9." + "9" * 37 + "E+125", "9." + "9" * 36 + "8E+125"),
        ("-1", "1"),
    ],
)
def test_distinct_values(one: str, other: str) -> None:
    assert canonical_number(one) != canonical_number(other)


@st.composite
def _any_number_texts(draw: st.DrawFn) -> str:
    """Numbers DynamoDB stores and numbers just past its limits: 39-45 digits, the leading
    digit from 1E-200 to 9E+200."""
    size = draw(st.integers(1, 45))
    digits = draw(st.text("0123456789", min_size=size, max_size=size)).strip("0") or "1"
    leading = draw(st.integers(-200, 200) | st.sampled_from([-131, -130, 125, 126]))
    value = (draw(st.booleans()), digits, leading - (len(digits) - 1))
    return draw(number_texts(value))


@examples(1_000)
@given(_any_number_texts())
def test_refused_exactly_when_dynamodb_cannot_store_the_number(text: str) -> None:
    assert (number_problem(text) is not None) == _refused(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1e200", "1e200 is outside the range of DynamoDB numbers"),
        ("-1e200", "-1e200 is outside the range of DynamoDB numbers"),
        ("1e-200", "1e-200 is outside the range of DynamoDB numbers"),
        ("1E-131", "outside the range"),
        ("1E+126", "outside the range"),
        ("10E+125", "outside the range"),
        ("1" * 39, "has 39 significant digits, more than the 38 of a DynamoDB number"),
        ("0.1" + "0" * 37 + "1", "has 39 significant digits"),
        ("1e" + "9" * 5_000, "(5,002 characters) is outside the range"),
        ("abc", "'abc' is not a number"),
        ("NaN", "is not a number"),
        ("1_000", "is not a number"),
        (" 1", "is not a number"),
    ],
)
def test_numbers_dynamodb_cannot_store_are_refused(text: str, problem: str) -> None:
    refused = number_problem(text)
    assert refused is not None
    assert problem in refused


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-0",
        "0e999",
        "1E-130",
        "-1E-130",
        "9.9999999999999999999999999999999999999E+125",
        "-9.9999999999999999999999999999999999999E+125",
        "1" * 38 + "0" * 50,
        "0.000" + "1" * 38,
    ],
)
def test_numbers_at_the_limits_are_stored(text: str) -> None:
    assert number_problem(text) is None
    assert storable(parse_number(text) or (False, "x" * 99, 0))
