"""DynamoDB numbers as DynamoDB compares and limits them, exactly, on their text.

Standard library only, and no `decimal`: a number's value is its significant digits and a
power of ten, found by string operations, so nothing is ever rounded (a Decimal in the default
context keeps only 28 digits, and DynamoDB numbers have up to 38).

DynamoDB ("Data types", Number): up to 38 significant digits; a positive number from 1E-130 to
9.9999999999999999999999999999999999999E+125, a negative one from -9.99...E+125 to -1E-130, or
zero. Leading and trailing zeros are not significant, and numbers equal in value are the same
key: `-0` and `0`, `1.50` and `1.5`, `1e2` and `100`.
"""

from __future__ import annotations

import re
from typing import Final

MAX_SIGNIFICANT_DIGITS: Final = 38
# The exponent of the leading significant digit (as in 1.23E+5): DynamoDB's magnitude range.
MIN_LEADING_EXPONENT: Final = -130  # 1E-130
MAX_LEADING_EXPONENT: Final = 125  # 9.99...E+125
# An exponent written with more digits than this is far outside the range whatever the digits
# (a line cannot hold 10**18 of them); int() is not even tried on it (it caps at 4,300 digits).
_EXPONENT_DIGITS_LIMIT: Final = 18
RANGE_TEXT: Final = "0, or a magnitude from 1E-130 to below 1E+126"
_SHOWN_CHARACTERS: Final = 60

_NUMBER: Final = re.compile(
    r"(?P<sign>[+-]?)(?:(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]*))?|\.(?P<only>[0-9]+))"
    r"(?:[eE](?P<exponent>[+-]?[0-9]+))?"
)


def parse_number(text: str) -> tuple[bool, str, int] | None:
    """(negative, significant digits, exponent) with value = digits x 10**exponent, or None if
    `text` is not a number. Zero is (False, "", 0) however it is written."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    sign, whole, fraction, only, exponent_text = match.group(
        "sign", "whole", "fraction", "only", "exponent"
    )
    if only is not None:
        whole, fraction = "", only
    fraction = fraction or ""
    mantissa = (whole + fraction).lstrip("0")
    digits = mantissa.rstrip("0")
    if not digits:
        return False, "", 0
    exponent = len(mantissa) - len(digits) - len(fraction)
    if exponent_text:
        magnitude = exponent_text.lstrip("+-").lstrip("0")
        if len(magnitude) > _EXPONENT_DIGITS_LIMIT:
            huge = 10**_EXPONENT_DIGITS_LIMIT  # out of range: only its sign matters
            exponent += -huge if exponent_text.startswith("-") else huge
        else:
            exponent += int(exponent_text)
    return sign == "-", digits, exponent


def canonical_number(text: str) -> str:
    """One text per value: equal numbers, and only they, give equal texts ("-0" and "0",
    "1.50" and "1.5", "1e2" and "100" alike). Raises ValueError if `text` is not a number."""
    if text.isdecimal() and text.isascii():  # the usual key: a plain integer, made fast
        significant = text.lstrip("0")
        digits = significant.rstrip("0")
        return f"{digits}E{len(significant) - len(digits)}" if digits else "0"
    parsed = parse_number(text)
    if parsed is None:
        raise ValueError(f"{text!r} is not a number")
    negative, digits, exponent = parsed
    if not digits:
        return "0"
    return f"{'-' if negative else ''}{digits}E{exponent}"


def _shown(text: str) -> str:
    """`text` for a one-line message: a long one cut in the middle."""
    if len(text) <= _SHOWN_CHARACTERS:
        return text
    return f"{text[:24]}...{text[-12:]} ({len(text):,} characters)"


def number_problem(text: str) -> str | None:
    """Why DynamoDB cannot store `text` as a number, or None if it can."""
    parsed = parse_number(text)
    if parsed is None:
        return f"{_shown(text)!r} is not a number"
    _, digits, exponent = parsed
    if len(digits) > MAX_SIGNIFICANT_DIGITS:
        return (
            f"{_shown(text)} has {len(digits)} significant digits, more than the "
            f"{MAX_SIGNIFICANT_DIGITS} of a DynamoDB number"
        )
    if digits and not (MIN_LEADING_EXPONENT <= exponent + len(digits) - 1 <= MAX_LEADING_EXPONENT):
        return f"{_shown(text)} is outside the range of DynamoDB numbers ({RANGE_TEXT})"
    return None
