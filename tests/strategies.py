"""Hypothesis strategies for arbitrary DynamoDB items in the boto3 client shape."""

from __future__ import annotations

from hypothesis import strategies as st

from asynccopy.codec import AttributeValue, Item

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
