"""The fault proxy's own size and capacity arithmetic, against examples worked from the docs.

Sizes: "DynamoDB item sizes and formats",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
Units: "DynamoDB read and write operations",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
The docs' "KB" is 1,024 bytes ("DynamoDB denotes 1 KB = 1024 bytes", Constraints.html).
"""

from __future__ import annotations

import ast
import base64
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from asynccopy.read.itemsize import item_size_bytes
from benchmarks.faultproxy.capacity import (
    batch_get_read_units,
    page_units,
    read_request_units,
    read_units,
    write_request_units,
    write_units,
)
from benchmarks.faultproxy.sizes import wire_item_size_bytes
from consumer.wire import AttributeValue, Item
from tests.hypothesis_profiles import examples
from tests.strategies import items

KB = 1024
PACKAGE = Path(__file__).resolve().parents[1] / "benchmarks" / "faultproxy"


def _item_of_size(size_bytes: int) -> dict[str, Any]:
    """An item of exactly `size_bytes`: the name "p" (1 byte) and a string of the rest."""
    return {"p": {"S": "x" * (size_bytes - 1)}}


# ---- item sizes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("item", "size", "worked"),
    [
        # "(UTF-8 bytes of attribute name) + (UTF-8 bytes)": 2 + 3
        ({"id": {"S": "abc"}}, 5, "string"),
        # "é" is 2 bytes in UTF-8, "€" 3: 1 + 5
        ({"n": {"S": "é€"}}, 6, "multi-byte string"),
        # significant digits 12345 (trailing zeros trimmed): ceil(5 / 2) + 1 = 4, plus 1 for "n"
        ({"n": {"N": "123.4500"}}, 5, "number with trailing zeros"),
        # -0.00120 has the significant digits 12: 2 / 2 + 1 = 2, plus 1
        ({"n": {"N": "-0.00120"}}, 3, "number with leading zeros"),
        # 1.5E+10: the exponent is not a digit of the mantissa 15: 2 / 2 + 1 = 2, plus 1
        ({"n": {"N": "1.5E+10"}}, 3, "number with an exponent"),
        # 38 significant digits: 19 + 1 = 20, plus 1
        ({"n": {"N": "9" * 38}}, 21, "38 digits"),
        # "the value's raw byte length is used": "AAECAw==" is 4 raw bytes, plus 1
        ({"b": {"B": "AAECAw=="}}, 5, "binary as raw bytes"),
        # "null attribute or a Boolean attribute is (name) + (1 byte)"
        ({"x": {"NULL": True}, "y": {"BOOL": False}}, 4, "null and boolean"),
        # an empty List or Map is "(name) + (3 bytes)"
        ({"l": {"L": []}, "m": {"M": {}}}, 8, "empty list and map"),
        # 3 bytes for the List, 1 per element: 1 + 3 + (1 + 1) + (1 + 2)
        ({"l": {"L": [{"S": "a"}, {"N": "1"}]}}, 9, "list"),
        # 3 for the Map, per element 1 + name + value: 1 + 3 + (1 + 1 + 1)
        ({"m": {"M": {"k": {"BOOL": True}}}}, 7, "map"),
        # sets: the elements summed ("ab" + "c"), binary sets as raw bytes (2 + 1)
        ({"s": {"SS": ["ab", "c"]}, "t": {"BS": ["AAE=", "AA=="]}}, 8, "sets"),
        # NS: "7" is 1 digit -> 2 bytes; "100" trims to the digit 1 -> 2 bytes: 1 + 2 + 2
        ({"s": {"NS": ["7", "100"]}}, 5, "number set"),
        # 12 345 678 901 is 11 digits -> 6 + 1 = 7 bytes, plus 1
        ({"n": {"N": "12345678901"}}, 8, "odd digit count"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_item_size_follows_the_documented_rules(
    item: dict[str, Any], size: int, worked: str
) -> None:
    assert wire_item_size_bytes(item) == size, worked


def test_binary_size_is_the_decoded_length_not_the_base64_length() -> None:
    raw = bytes(range(256)) * 4
    item = {"b": {"B": base64.b64encode(raw).decode()}}
    assert wire_item_size_bytes(item) == 1 + len(raw)


def _on_the_wire(value: AttributeValue) -> dict[str, Any]:
    ((tag, inner),) = value.items()
    if tag == "B":
        return {"B": base64.b64encode(inner).decode()}
    if tag == "BS":
        return {"BS": [base64.b64encode(element).decode() for element in inner]}
    if tag == "L":
        return {"L": [_on_the_wire(element) for element in inner]}
    if tag == "M":
        return {"M": {name: _on_the_wire(element) for name, element in inner.items()}}
    return dict(value)


@examples(200)
@given(items())
def test_the_proxy_and_asynccopy_measure_items_alike(item: Item) -> None:
    # Two implementations written apart from the same page: each one checks the other.
    wire = {name: _on_the_wire(value) for name, value in item.items()}
    assert wire_item_size_bytes(wire) == item_size_bytes(item)


def test_an_unknown_type_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown AttributeValue type tag 'X'"):
        wire_item_size_bytes({"a": {"X": "1"}})


# ---- read units -------------------------------------------------------------------------------
def test_reads_round_each_item_up_to_4_kb() -> None:
    # "reading a 3,500-byte item consumes the same throughput as reading a 4 KB item"
    assert read_units(3500, consistent=True) == read_units(4 * KB, consistent=True) == 1.0
    # "if your item size is 8 KB, you require 2 read units ... eventually consistent ... 1"
    assert read_units(8 * KB, consistent=True) == 2.0
    assert read_units(8 * KB, consistent=False) == 1.0
    # GetItem: "If you read a 10 KB item, DynamoDB rounds the item size to 12 KB"
    assert read_units(10 * KB, consistent=True) == 3.0
    assert read_units(10 * KB, consistent=False) == 1.5
    # even nothing read costs the minimum
    assert read_units(0, consistent=False) == 0.5


def test_get_item_costs_its_items_rounded_size() -> None:
    request = {"TableName": "t", "Key": {"p": {"S": "k"}}, "ConsistentRead": True}
    found = {"Item": _item_of_size(10 * KB)}
    assert read_request_units("GetItem", request, found) == {"t": 3.0}
    assert read_request_units("GetItem", {**request, "ConsistentRead": False}, {}) == {"t": 0.5}


def test_batch_get_item_rounds_each_item_on_its_own() -> None:
    # "BatchGetItem reads a 1.5 KB item and a 6.5 KB item, DynamoDB calculates the size as
    # 12 KB (4 KB + 8 KB). DynamoDB doesn't calculate the size as 8 KB (1.5 KB + 6.5 KB)."
    keys = [{"p": {"S": "a"}}, {"p": {"S": "b"}}]
    request = {"RequestItems": {"t": {"Keys": keys, "ConsistentRead": True}}}
    response = {"Responses": {"t": [_item_of_size(1536), _item_of_size(6656)]}}
    assert batch_get_read_units(request, response) == {"t": 3.0}
    eventual = {"RequestItems": {"t": {"Keys": keys}}}
    assert batch_get_read_units(eventual, response) == {"t": 1.5}


def test_batch_get_item_charges_a_missing_key_the_minimum() -> None:
    keys = [{"p": {"S": "a"}}, {"p": {"S": "gone"}}]
    request = {"RequestItems": {"t": {"Keys": keys}}}
    response = {"Responses": {"t": [_item_of_size(100)]}}
    assert batch_get_read_units(request, response) == {"t": 1.0}


def test_query_adds_up_the_page_then_rounds_once() -> None:
    # "your query returns 10 items whose combined size is 40.8 KB. DynamoDB rounds the item
    # size for the operation to 44 KB": 11 units strongly consistent, 5.5 eventually
    items = [_item_of_size(4178)] * 9 + [_item_of_size(41779 - 9 * 4178)]
    assert sum(wire_item_size_bytes(i) for i in items) == 41779  # 40.8 KB
    response = {"Items": items, "Count": 10, "ScannedCount": 10}
    assert page_units({"TableName": "t", "ConsistentRead": True}, response) == 11.0
    assert page_units({"TableName": "t"}, response) == 5.5
    # "If a query returns 1500 items of 64 bytes each, the cumulative size is 96 KB" (96,000
    # bytes): 24 units of 4,096 bytes, where rounding each item would have cost 1,500
    small = {"Items": [_item_of_size(64)] * 1500, "Count": 1500, "ScannedCount": 1500}
    assert page_units({"TableName": "t", "ConsistentRead": True}, small) == 24.0


def test_scan_bills_the_items_evaluated_not_only_those_returned() -> None:
    # "DynamoDB considers the size of the items that are evaluated, not the size of the items
    # returned": 2 of 8 items kept by a filter, 3 KB each, is 24 KB evaluated: 6 units
    response = {"Items": [_item_of_size(3 * KB)] * 2, "Count": 2, "ScannedCount": 8}
    assert read_request_units("Scan", {"TableName": "t", "ConsistentRead": True}, response) == {
        "t": 6.0
    }


def test_an_empty_page_costs_the_minimum() -> None:
    response = {"Items": [], "Count": 0, "ScannedCount": 0}
    assert page_units({"TableName": "t"}, response) == 0.5


# ---- write units ------------------------------------------------------------------------------
def test_writes_round_each_item_up_to_1_kb() -> None:
    assert write_units(1) == write_units(KB) == 1.0
    assert write_units(KB + 1) == 2.0
    # "BatchWriteItem writes a 500-byte item and a 3.5 KB item, DynamoDB calculates the size
    # as 5 KB (1 KB + 4 KB), not 4 KB (500 bytes + 3.5 KB)"
    request = {
        "RequestItems": {
            "t": [
                {"PutRequest": {"Item": _item_of_size(500)}},
                {"PutRequest": {"Item": _item_of_size(3584)}},
            ]
        }
    }
    assert write_request_units("BatchWriteItem", request) == {"t": 5.0}


def test_a_put_costs_by_its_item_and_a_transaction_twice() -> None:
    put = {"TableName": "t", "Item": _item_of_size(2 * KB + 1)}
    assert write_request_units("PutItem", put) == {"t": 3.0}
    transact = {"TransactItems": [{"Put": put}, {"Delete": {"TableName": "u", "Key": {}}}]}
    assert write_request_units("TransactWriteItems", transact) == {"t": 6.0, "u": 2.0}


# ---- independence -----------------------------------------------------------------------------
def test_the_proxy_shares_no_code_with_what_it_checks() -> None:
    imported: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module)
    own = {name.split(".")[0] for name in imported}
    assert not own & {"asynccopy", "consumer", "tests"}, sorted(imported)
