from __future__ import annotations

import base64

import pytest
from hypothesis import example, given

from asynccopy.read.itemsize import (
    batch_get_read_units,
    item_size_bytes,
    page_read_units,
    read_units,
)
from consumer.wire import AttributeValue, Item
from tests.hypothesis_profiles import examples
from tests.strategies import items


@pytest.mark.parametrize(
    ("item", "size"),
    [
        # AWS "Item sizes and formats": attribute name bytes + value bytes
        ({"name": {"S": "abc"}}, 4 + 3),
        ({"name": {"S": "é😀"}}, 4 + 2 + 4),  # UTF-8 bytes, not characters
        ({"n": {"N": "123"}}, 1 + 2 + 1),  # 1 byte per two significant digits, plus 1
        ({"n": {"N": "-0.000123"}}, 1 + 2 + 1),  # leading zeros and sign are not digits
        ({"n": {"N": "1000"}}, 1 + 1 + 1),  # trailing zeros are trimmed
        ({"n": {"N": "-1.5E+10"}}, 1 + 1 + 1),
        ({"n": {"N": "12345678901234567890123456789012345678"}}, 1 + 19 + 1),
        ({"b": {"B": b"\x00\xff\x00"}}, 1 + 3),  # raw bytes, not base64
        ({"b": {"B": b""}}, 1),
        ({"z": {"NULL": True}}, 1 + 1),
        ({"t": {"BOOL": False}}, 1 + 1),
        ({"ss": {"SS": ["a", "bc"]}}, 2 + 3),
        ({"ns": {"NS": ["1", "22", "333"]}}, 2 + 2 + 2 + 3),
        ({"bs": {"BS": [b"a", b"bc"]}}, 2 + 3),
        ({"m": {"M": {}}}, 1 + 3),  # List and Map: 3 bytes of overhead
        ({"l": {"L": []}}, 1 + 3),
        ({"l": {"L": [{"S": "ab"}, {"NULL": True}]}}, 1 + 3 + (1 + 2) + (1 + 1)),  # +1 per element
        ({"m": {"M": {"ab": {"S": "xyz"}}}}, 1 + 3 + (1 + 2 + 3)),  # nested names count
        (
            {"userid": {"S": "u1"}, "m": {"M": {"l": {"L": [{"M": {}}]}}}},
            (6 + 2) + (1 + 3 + (1 + 1 + 3 + (1 + 3))),
        ),
    ],
)
def test_item_size_follows_the_aws_rules(item: Item, size: int) -> None:
    assert item_size_bytes(item) == size


def _fewest_value_bytes(value: AttributeValue) -> int:
    """The fewest bytes a value can add to its name's: an S or B adds its own bytes, so an empty
    one adds none; a set, its elements' (a number is at least 1 byte); a number, NULL or BOOL
    at least 1; a list or a map its 3 bytes of overhead."""
    ((tag, inner),) = value.items()
    match tag:
        case "S":
            return len(inner.encode())
        case "B":
            return len(inner)
        case "SS":
            return sum(len(element.encode()) for element in inner)
        case "BS":
            return sum(len(element) for element in inner)
        case "NS":
            return len(inner)
        case "L" | "M":
            return 3
    return 1


@examples(100)
@given(items())
# Found by CI: an empty string adds only its name's bytes (9 <= 8 was asserted).
@example({"userid": {"S": "0"}, "0": {"S": ""}})
@example({"userid": {"S": "0"}, "0": {"B": b""}, "1": {"SS": [""]}})
def test_item_size_counts_at_least_every_attribute_name(item: Item) -> None:
    assert item_size_bytes(item) >= sum(
        len(name.encode()) + _fewest_value_bytes(value) for name, value in item.items()
    )
    # names counted once each: the item's size is its attributes' sizes added up
    assert item_size_bytes(item) == sum(
        item_size_bytes({name: value}) for name, value in item.items()
    )


@pytest.mark.parametrize(
    ("size", "consistent", "units"),
    [
        (0, True, 1.0),
        (0, False, 0.5),
        (1, True, 1.0),
        (4096, True, 1.0),
        (4096, False, 0.5),
        (4097, True, 2.0),
        (4097, False, 1.0),
        (400 * 1024, True, 100.0),
    ],
)
def test_read_units_round_up_to_4_kb(size: int, consistent: bool, units: float) -> None:
    assert read_units(size, consistent=consistent) == units


def test_batch_get_rounds_each_item_separately() -> None:
    assert batch_get_read_units([100, 4097, 10], consistent=True) == 1 + 2 + 1
    assert batch_get_read_units([100, 4097, 10], consistent=False) == 2.0
    assert batch_get_read_units([], consistent=True) == 0.0


def test_page_rounds_its_total_once() -> None:
    assert page_read_units(100 + 4097 + 10, consistent=True) == 2.0
    assert page_read_units(100 + 4097 + 10, consistent=False) == 1.0


def test_empty_page_costs_the_minimum_read() -> None:
    assert page_read_units(0, consistent=True) == 1.0
    assert page_read_units(0, consistent=False) == 0.5


@pytest.mark.parametrize("raw", [b"", b"a", b"ab", b"abc", b"abcd", bytes(range(256))])
def test_binary_counts_raw_bytes_in_client_and_wire_shape(raw: bytes) -> None:
    wire = base64.b64encode(raw).decode()
    assert item_size_bytes({"b": {"B": raw}}) == item_size_bytes({"b": {"B": wire}})
    assert item_size_bytes({"s": {"BS": [raw, b"x"]}}) == item_size_bytes(
        {"s": {"BS": [wire, "eA=="]}}
    )
