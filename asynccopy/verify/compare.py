"""Exact comparison of DynamoDB items as DynamoDB itself sees them, for verifying a copy.

Numbers are compared by value and sets without regard to order; nothing is ever converted,
so a difference the copy introduced cannot be hidden by rounding. Binary is compared as bytes,
given as bytes (client shape) or as base64 text (the fast engine's wire form), so an item read
on either engine compares equal to the same item read on the other.
"""

from __future__ import annotations

import base64
from decimal import Decimal

from consumer.wire import AttributeValue, Item


def _binary(value: object) -> object:
    """Bytes from base64 text (wire form); bytes and anything else as they are."""
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return value  # not base64: compared as given, so it differs from real bytes
    return value


def _tagged(value: AttributeValue) -> tuple[str, object]:
    ((tag, inner),) = value.items()
    return tag, inner


def values_equal(a: AttributeValue, b: AttributeValue) -> bool:
    """Whether two AttributeValues hold the same DynamoDB value."""
    tag, left = _tagged(a)
    other_tag, right = _tagged(b)
    if tag != other_tag:
        return False
    match tag, left, right:
        # Decimal of the string is exact: DynamoDB keeps up to 38 significant digits.
        case "N", str(), str():
            return Decimal(left) == Decimal(right)
        case "NS", list(), list():
            return {Decimal(n) for n in left} == {Decimal(n) for n in right}
        case "B", _, _:
            return _binary(left) == _binary(right)
        case "BS", list(), list():
            return {_binary(b) for b in left} == {_binary(b) for b in right}
        case "SS", list(), list():
            return set(left) == set(right)
        case "L", list(), list():
            return len(left) == len(right) and all(map(values_equal, left, right))
        case "M", dict(), dict():
            return items_equal(left, right)
    return type(left) is type(right) and left == right


def items_equal(a: Item, b: Item) -> bool:
    """Whether two items (or M values) have the same attribute names and equal values."""
    return a.keys() == b.keys() and all(values_equal(a[name], b[name]) for name in a)


def diff_items(a: Item, b: Item) -> list[str]:
    """Paths of the attributes that differ between `a`, the source's item, and `b`, the
    destination's, like `address.lines[2]`, for verify reports."""
    return _diff_maps(a, b, prefix="")


def _diff_maps(a: Item, b: Item, *, prefix: str) -> list[str]:
    paths: list[str] = []
    for name in [*a, *(name for name in b if name not in a)]:
        path = f"{prefix}.{name}" if prefix else name
        if name not in b:
            paths.append(f"{path} (only in the source)")
        elif name not in a:
            paths.append(f"{path} (only in the destination)")
        else:
            paths += _diff_values(a[name], b[name], path=path)
    return paths


def _diff_values(a: AttributeValue, b: AttributeValue, *, path: str) -> list[str]:
    tag, left = _tagged(a)
    other_tag, right = _tagged(b)
    if tag == other_tag == "M" and isinstance(left, dict) and isinstance(right, dict):
        return _diff_maps(left, right, prefix=path)
    if tag == other_tag == "L" and isinstance(left, list) and isinstance(right, list):
        paths: list[str] = []
        for index in range(max(len(left), len(right))):
            if index >= len(right):
                paths.append(f"{path}[{index}] (only in the source)")
            elif index >= len(left):
                paths.append(f"{path}[{index}] (only in the destination)")
            else:
                paths += _diff_values(left[index], right[index], path=f"{path}[{index}]")
        return paths
    return [] if values_equal(a, b) else [path]
