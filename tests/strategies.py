"""Hypothesis strategies for arbitrary DynamoDB items in the boto3 client shape."""

from __future__ import annotations

from hypothesis import strategies as st

from consumer.wire import AttributeValue, Item

# Characters SQS rejects in a raw body (it allows only #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
# #x10000-#x10FFFF) yet DynamoDB stores, plus astral ones that need surrogate pairs when escaped.
_AWKWARD_CHARACTERS = [
    "\x00",
    "\x01",
    "\x1f",
    "\x7f",
    "\ufffe",
    "\uffff",
    "\u2028",
    "😀",
    "\U0010ffff",
]

# Lone surrogates (category Cs) are left out: DynamoDB strings must be valid UTF-8.
_characters = st.characters(exclude_categories=["Cs"]) | st.sampled_from(_AWKWARD_CHARACTERS)
texts = st.text(_characters, max_size=12)
attribute_names = st.text(_characters, min_size=1, max_size=8)
binaries = st.binary(max_size=24)

_NOTABLE_NUMBERS = [
    "0",
    "-1.5E+10",
    "0.000123",
    "12345678901234567890123456789012345678",  # DynamoDB keeps 38 significant digits
    "-9.9999999999999999999999999999999999999E+125",  # largest magnitude DynamoDB allows
    "1E-130",  # smallest positive DynamoDB allows
]


@st.composite
def _number_parts(draw: st.DrawFn) -> tuple[tuple[str, str, int], str]:
    """(value identity, text): 0.<digits> x 10^exponent, written in one of several styles."""
    digits = draw(st.text("0123456789", min_size=1, max_size=38)).strip("0")
    if not digits:
        return ("", "", 0), draw(st.sampled_from(["0", "0.0", "-0"]))
    sign = draw(st.sampled_from(["", "-"]))
    exponent = draw(st.integers(min_value=-20, max_value=40))
    if draw(st.booleans()):
        e = draw(st.sampled_from("eE"))
        text = (
            f"{digits[0]}.{digits[1:]}{e}{exponent - 1:+d}"
            if digits[1:]
            else f"{digits}{e}{exponent - 1:+d}"
        )
    elif exponent <= 0:
        text = f"0.{'0' * -exponent}{digits}"
    elif exponent >= len(digits):
        text = digits + "0" * (exponent - len(digits))
    else:
        text = f"{digits[:exponent]}.{digits[exponent:]}"
    return (sign, digits, exponent), sign + text


numbers = _number_parts().map(lambda parts: parts[1]) | st.sampled_from(_NOTABLE_NUMBERS)


def _tagged(tag: str, values: st.SearchStrategy[object]) -> st.SearchStrategy[AttributeValue]:
    return values.map(lambda value: {tag: value})


scalars: st.SearchStrategy[AttributeValue] = st.one_of(
    _tagged("S", texts),
    _tagged("N", numbers),
    _tagged("B", binaries),
    _tagged("NULL", st.just(True)),
    _tagged("BOOL", st.booleans()),
    _tagged("SS", st.lists(texts, min_size=1, max_size=4, unique=True)),
    _tagged("BS", st.lists(binaries, min_size=1, max_size=4, unique=True)),
    # unique by value, as DynamoDB rejects a set holding both "1.5" and "1.50"
    _tagged(
        "NS",
        st.lists(_number_parts(), min_size=1, max_size=4, unique_by=lambda parts: parts[0]).map(
            lambda parts: [text for _, text in parts]
        ),
    ),
)


def attribute_values(max_depth: int = 3) -> st.SearchStrategy[AttributeValue]:
    """Any AttributeValue, with L and M nested up to `max_depth` levels."""
    if max_depth <= 0:
        return scalars
    child = attribute_values(max_depth - 1)
    return (
        scalars
        | _tagged("L", st.lists(child, max_size=3))
        | _tagged("M", st.dictionaries(attribute_names, child, max_size=3))
    )


def items(key_name: str = "userid", *, max_depth: int = 3) -> st.SearchStrategy[Item]:
    """Any item whose key attribute `key_name` is a non-empty S."""
    key = _tagged("S", st.text(_characters, min_size=1, max_size=12))
    others = st.dictionaries(
        attribute_names.filter(lambda name: name != key_name),
        attribute_values(max_depth),
        max_size=5,
    )
    return st.builds(lambda key_value, rest: {key_name: key_value, **rest}, key, others)


# ---- DynamoDB numbers across their whole range ----------------------------------------------
# A number's value as (negative, significant digits without leading or trailing zeros, exponent):
# digits x 10**exponent. DynamoDB: up to 38 digits, the leading one at 10**-130 to 10**125.
NumberValue = tuple[bool, str, int]
ZERO: NumberValue = (False, "", 0)


@st.composite
def number_values(draw: st.DrawFn, *, max_digits: int = 38) -> NumberValue:
    """Any number DynamoDB can store, its leading digit anywhere from 1E-130 to 9E+125."""
    if draw(st.integers(0, 15)) == 0:
        return ZERO
    size = draw(st.integers(1, max_digits))
    middle = draw(st.text("0123456789", min_size=max(0, size - 2), max_size=max(0, size - 2)))
    first = draw(st.sampled_from("123456789"))
    last = draw(st.sampled_from("123456789"))
    digits = first if size == 1 else first + middle + last
    leading = draw(st.integers(-130, 125) | st.sampled_from([-130, 125, 0, -1]))
    return draw(st.booleans()), digits, leading - (len(digits) - 1)


def neighbour(value: NumberValue, step: int) -> NumberValue:
    """The value whose last significant digit is `step` more (a pair that differs only there)."""
    negative, digits, exponent = value
    if not digits:
        return step < 0, "1", 0
    number = int(digits) + step
    if number <= 0:
        return ZERO
    text = str(number).rstrip("0")
    return negative, text, exponent + (len(str(number)) - len(text))


def storable(value: NumberValue) -> bool:
    """Whether DynamoDB can store `value` (up to 38 digits, 1E-130 <= |value| < 1E+126)."""
    _, digits, exponent = value
    return not digits or (len(digits) <= 38 and -130 <= exponent + len(digits) - 1 <= 125)


@st.composite
def number_texts(draw: st.DrawFn, value: NumberValue) -> str:
    """`value` written any way DynamoDB reads a number: sign, extra leading and trailing zeros,
    the point anywhere, an exponent or none, `e` or `E`; zero as `0`, `-0`, `0.00E5`..."""
    negative, digits, exponent = value
    if not digits:
        sign = draw(st.sampled_from(["", "-", "+"]))
        mantissa = draw(st.sampled_from(["0", "0.0", "00", "0.000", "000.0"]))
        suffix = draw(st.sampled_from(["", "e0", "E+5", "e-130", "E126"]))
        return sign + mantissa + suffix
    sign = "-" if negative else draw(st.sampled_from(["", "+"]))
    trailing = draw(st.integers(0, 3))
    mantissa = digits + "0" * trailing
    point = draw(st.integers(0, len(mantissa)))  # digits before the point
    # mantissa[:point].mantissa[point:] x 10**written == digits x 10**exponent
    written = exponent - trailing + (len(mantissa) - point)
    leading_zeros = "0" * draw(st.integers(0, 2))
    before, after = leading_zeros + mantissa[:point], mantissa[point:]
    text = f"{before or '0'}.{after}" if after else before
    if written != 0 or draw(st.booleans()):
        e = draw(st.sampled_from("eE"))
        plus = "+" if written >= 0 and draw(st.booleans()) else ""
        text += f"{e}{plus}{written}"
    return sign + text
