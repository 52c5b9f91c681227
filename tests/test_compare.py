from __future__ import annotations

import random

import pytest
from hypothesis import given

from asynccopy.verify.compare import diff_items, items_equal, values_equal
from consumer.wire import AttributeValue, Item, decode_body, encode_items
from tests.hypothesis_profiles import examples
from tests.strategies import items


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"N": "1.50"}, {"N": "1.5"}),
        ({"N": "1E+2"}, {"N": "100"}),
        ({"N": "-0"}, {"N": "0"}),
        ({"N": "0.000123"}, {"N": "1.23e-4"}),
        ({"NS": ["1.5", "2"]}, {"NS": ["2.0", "1.50"]}),
        ({"SS": ["a", "b"]}, {"SS": ["b", "a"]}),
        ({"BS": [b"\x00", b"\x01"]}, {"BS": [b"\x01", b"\x00"]}),
        ({"B": b"\x00\xff"}, {"B": b"\x00\xff"}),
        ({"M": {"x": {"N": "1"}, "y": {"S": ""}}}, {"M": {"y": {"S": ""}, "x": {"N": "1.0"}}}),
        ({"L": [{"N": "1"}, {"L": []}]}, {"L": [{"N": "1.0"}, {"L": []}]}),
        ({"NULL": True}, {"NULL": True}),
    ],
)
def test_equal_values(a: AttributeValue, b: AttributeValue) -> None:
    assert values_equal(a, b)
    assert values_equal(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # 38 significant digits are kept, so the last one matters
        ({"N": "1"}, {"N": "1.0000000000000000000000000000000000001"}),
        ({"N": "1"}, {"S": "1"}),
        ({"S": "a"}, {"S": "A"}),
        ({"NS": ["1", "2"]}, {"NS": ["1"]}),
        ({"NS": ["1"]}, {"N": "1"}),
        ({"SS": ["a"]}, {"L": [{"S": "a"}]}),
        ({"L": [{"N": "1"}, {"N": "2"}]}, {"L": [{"N": "2"}, {"N": "1"}]}),  # lists keep order
        ({"L": [{"N": "1"}]}, {"L": [{"N": "1"}, {"N": "1"}]}),
        ({"M": {"x": {"N": "1"}}}, {"M": {"x": {"N": "1"}, "y": {"NULL": True}}}),
        ({"B": b"\x00"}, {"B": b"\x00\x00"}),
        ({"BOOL": True}, {"BOOL": False}),
        ({"BOOL": True}, {"NULL": True}),
    ],
)
def test_different_values(a: AttributeValue, b: AttributeValue) -> None:
    assert not values_equal(a, b)
    assert not values_equal(b, a)


def test_items_need_the_same_attributes() -> None:
    a: Item = {"userid": {"S": "u"}, "n": {"N": "1"}}

    assert items_equal(a, {"n": {"N": "1.0"}, "userid": {"S": "u"}})
    assert not items_equal(a, {"userid": {"S": "u"}})
    assert not items_equal(a, {"userid": {"S": "u"}, "n": {"N": "1"}, "x": {"NULL": True}})


def shuffled_sets(value: AttributeValue, rng: random.Random) -> AttributeValue:
    ((tag, inner),) = value.items()
    if tag in ("SS", "NS", "BS"):
        return {tag: rng.sample(inner, len(inner))}
    if tag == "L":
        return {"L": [shuffled_sets(element, rng) for element in inner]}
    if tag == "M":
        return {"M": {name: shuffled_sets(v, rng) for name, v in reversed(inner.items())}}
    return value


@examples(200)
@given(items())
def test_an_item_equals_its_copy_with_sets_reordered(item: Item) -> None:
    rng = random.Random(0)
    copy = {name: shuffled_sets(value, rng) for name, value in item.items()}

    assert items_equal(item, copy)
    assert items_equal(item, decode_body(encode_items([item]))[0])
    assert diff_items(item, copy) == []


def test_diff_names_each_differing_path() -> None:
    a: Item = {
        "userid": {"S": "u"},
        "n": {"N": "1.5"},
        "gone": {"NULL": True},
        "m": {"M": {"x": {"S": "a"}, "l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}}},
        "kind": {"S": "1"},
    }
    b: Item = {
        "userid": {"S": "u"},
        "n": {"N": "1.50"},
        "m": {"M": {"x": {"S": "b"}, "l": {"L": [{"N": "1"}, {"N": "9"}]}}},
        "kind": {"N": "1"},
        "new": {"BOOL": False},
    }

    assert diff_items(a, b) == [
        "gone (only in the source)",
        "m.x",
        "m.l[1]",
        "m.l[2] (only in the source)",
        "kind",
        "new (only in the destination)",
    ]
    assert diff_items(a, a) == []
