"""Item sizes and read-capacity costs, by DynamoDB's published rules.

Standard library only. The rules are those of the AWS "DynamoDB item sizes and formats" page:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from consumer.wire import AttributeValue, Item, significant_digits

READ_UNIT_BYTES: Final = 4096  # one strongly consistent read unit covers up to 4 KB
_EVENTUAL_FACTOR: Final = 0.5  # an eventually consistent read costs half


def _utf8_len(text: str) -> int:
    # surrogatepass so a malformed name is still measured instead of crashing a size estimate
    return len(text.encode("utf-8", "surrogatepass"))


def _number_size(number: str) -> int:
    # AWS: 1 byte per two significant digits, plus 1; leading and trailing zeros are trimmed.
    return (len(significant_digits(number)) + 1) // 2 + 1


def _binary_len(value: bytes | str) -> int:
    """Raw bytes of a binary value: `bytes` (client shape) or base64 text (wire shape)."""
    if isinstance(value, str):
        # Base64 holds 3 bytes per 4 characters, less one per "=" of padding.
        return len(value) * 3 // 4 - value.count("=", -2)
    return len(value)


def _value_size(value: AttributeValue) -> int:
    ((tag, inner),) = value.items()
    match tag:
        case "S":
            return _utf8_len(inner)
        case "N":
            return _number_size(inner)
        case "B":
            return _binary_len(inner)
        case "SS":
            return sum(_utf8_len(element) for element in inner)
        case "NS":
            return sum(_number_size(element) for element in inner)
        case "BS":
            return sum(_binary_len(element) for element in inner)
        case "NULL" | "BOOL":
            return 1
        case "L":
            # AWS: 3 bytes per List or Map, plus 1 byte per element.
            return 3 + sum(1 + _value_size(element) for element in inner)
        case "M":
            return 3 + sum(1 + _utf8_len(name) + _value_size(v) for name, v in inner.items())
    raise ValueError(
        f"unknown AttributeValue type tag {tag!r}; expected S, N, B, SS, NS, BS, L, M, NULL or BOOL"
    )


def value_size_bytes(value: AttributeValue) -> int:
    """One attribute value's size as DynamoDB counts it (its name not included)."""
    return _value_size(value)


def binary_length(value: bytes | str) -> int:
    """The raw bytes of a binary value, given as bytes or as base64 text."""
    return _binary_len(value)


def item_size_bytes(item: Item) -> int:
    """The item's size as DynamoDB counts it: attribute names plus values, with overheads."""
    return sum(_utf8_len(name) + _value_size(value) for name, value in item.items())


def read_units(size_bytes: int, *, consistent: bool) -> float:
    """Read units one GetItem of an item this size consumes (at least one 4 KB unit)."""
    blocks = max(1, -(-size_bytes // READ_UNIT_BYTES))
    # Read units are fractional (0.5 for an eventually consistent read): keep them as floats.
    return blocks * (1.0 if consistent else _EVENTUAL_FACTOR)


def pooled_read_units(size_bytes: float, *, consistent: bool) -> float:
    """Read units `size_bytes` of a Query or Scan page account for before the page total is
    rounded up: an item's share of a page, or a whole segment's estimate."""
    return size_bytes / READ_UNIT_BYTES * (1.0 if consistent else _EVENTUAL_FACTOR)


def batch_get_read_units(sizes: Iterable[int], *, consistent: bool) -> float:
    """Read units a BatchGetItem consumes: each item is rounded up to 4 KB on its own."""
    return sum((read_units(size, consistent=consistent) for size in sizes), 0.0)


def page_read_units(total_bytes: int, *, consistent: bool) -> float:
    """Read units a Query or Scan page consumes: the page total is rounded up to 4 KB once,
    and even an empty page costs the minimum of one unit."""
    return read_units(total_bytes, consistent=consistent)
