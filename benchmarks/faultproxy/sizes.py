"""Item sizes as DynamoDB counts them, from the item as it appears on the wire (JSON).

Written from the AWS page "DynamoDB item sizes and formats", not taken from asynccopy: this is
the checker, and it must not share code with what it checks.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html

In (wire AttributeValues: binary values as base64 text) -> out (bytes, an int).
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any, Final

# "Each List or Map element also requires 1 byte of overhead", and the List or Map itself
# "requires 3 bytes of overhead, regardless of its contents" (CapacityUnitCalculations.html).
CONTAINER_OVERHEAD_BYTES: Final = 3
ELEMENT_OVERHEAD_BYTES: Final = 1
# "The size of a null attribute or a Boolean attribute is (name) + (1 byte)."
NULL_OR_BOOLEAN_BYTES: Final = 1


def utf8_bytes(text: str) -> int:
    """Strings and names count their UTF-8 bytes."""
    # surrogatepass: a lone surrogate decoded from a JSON escape is measured, not a crash.
    return len(text.encode("utf-8", "surrogatepass"))


def significant_digit_count(number: str) -> int:
    """Digits of a number's mantissa, without sign, point, exponent, leading or trailing zeros
    ("Leading and trailing zeroes are trimmed")."""
    unsigned = number.lstrip("+-")
    for marker in ("e", "E"):
        unsigned = unsigned.split(marker, 1)[0]
    return len(unsigned.replace(".", "").strip("0"))


def number_bytes(number: str) -> int:
    """ "(1 byte per two significant digits) + (1 byte)": an odd digit takes a whole byte."""
    return (significant_digit_count(number) + 1) // 2 + 1


def binary_bytes(base64_text: str) -> int:
    """ "the value's raw byte length is used", not the length of its base64 text."""
    return len(binascii.a2b_base64(base64_text))


def value_bytes(value: Mapping[str, Any]) -> int:
    """The size of one wire AttributeValue (without its attribute name)."""
    ((tag, inner),) = value.items()
    if tag == "S":
        return utf8_bytes(inner)
    if tag == "N":
        return number_bytes(inner)
    if tag == "B":
        return binary_bytes(inner)
    # Sets: the doc gives no overhead for them; their elements are measured as scalars.
    if tag == "SS":
        return sum(utf8_bytes(element) for element in inner)
    if tag == "NS":
        return sum(number_bytes(element) for element in inner)
    if tag == "BS":
        return sum(binary_bytes(element) for element in inner)
    if tag in ("NULL", "BOOL"):
        return NULL_OR_BOOLEAN_BYTES
    if tag == "L":
        return CONTAINER_OVERHEAD_BYTES + sum(
            ELEMENT_OVERHEAD_BYTES + value_bytes(element) for element in inner
        )
    if tag == "M":
        return CONTAINER_OVERHEAD_BYTES + sum(
            ELEMENT_OVERHEAD_BYTES + utf8_bytes(name) + value_bytes(element)
            for name, element in inner.items()
        )
    raise ValueError(
        f"unknown AttributeValue type tag {tag!r}; expected S, N, B, SS, NS, BS, L, M, NULL or BOOL"
    )


def wire_item_size_bytes(item: Mapping[str, Any]) -> int:
    """The DynamoDB size of an item as it appears in JSON: names plus values, with overheads."""
    return sum(utf8_bytes(name) + value_bytes(value) for name, value in item.items())
