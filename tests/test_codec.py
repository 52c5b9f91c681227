from __future__ import annotations

import base64
import json
import random
import string
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccopy.send.packing import (
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_ENTRIES_PER_BATCH,
    MAX_ITEMS_PER_MESSAGE,
    BatchPacker,
    ItemTooLargeError,
    Message,
    MessagePacker,
    pack_batches,
)
from consumer.wire import (
    FORMAT_VERSION,
    CodecError,
    InvalidItemError,
    Item,
    MessageDecodeError,
    decode_body,
    encode_items,
    item_key,
    key_to_text,
)
from tests.hypothesis_profiles import examples
from tests.strategies import items

ENVELOPE = len('{"v":1,"items":[') + len("]}")
# Printable ASCII without the two characters JSON escapes, so padding costs one byte a character.
PADDING_ALPHABET = "".join(c for c in string.printable[:95] if c not in '"\\')


def is_printable_ascii(body: str) -> bool:
    return all(" " <= character <= "~" for character in body)


def item_json_len(item: Item) -> int:
    """Encoded size of an item holding only ASCII strings, computed independently of the codec."""
    return len(json.dumps(item, separators=(",", ":")))


def padded_item(number: int, json_len: int) -> Item:
    """An item whose encoded JSON is exactly `json_len` bytes, padded with incompressible text."""
    item: Item = {"userid": {"S": f"u{number:04d}"}, "pad": {"S": ""}}
    pad_len = json_len - item_json_len(item)
    assert pad_len >= 0
    item["pad"]["S"] = "".join(random.Random(number).choices(PADDING_ALPHABET, k=pad_len))
    return item


def keys_of(messages: list[Message]) -> list[list[str]]:
    return [[key["userid"]["S"] for key in message.keys] for message in messages]


@examples(500)
@given(st.lists(items(), max_size=4))
def test_round_trip_is_exact_and_sqs_safe(original: list[Item]) -> None:
    body = encode_items(original)

    assert is_printable_ascii(body)
    decoded = decode_body(body)
    assert decoded == original
    assert repr(decoded) == repr(original)  # same types and order too: bytes stay bytes, True True


@examples(100)
@given(st.lists(items(), max_size=30), st.integers(min_value=600, max_value=3000))
def test_packed_messages_hold_every_item_in_order_within_limits(
    original: list[Item], max_message_bytes: int
) -> None:
    packer = MessagePacker(key_names=["userid"], max_message_bytes=max_message_bytes, max_items=7)
    messages: list[Message] = []
    for item in original:
        try:
            messages += packer.add(item)
        except ItemTooLargeError:
            original = [kept for kept in original if kept is not item]
    messages += packer.flush()

    decoded = [item for message in messages for item in decode_body(message.body)]
    assert decoded == original
    assert [key for message in messages for key in message.keys] == [
        {"userid": item["userid"]} for item in original
    ]
    for message in messages:
        assert message.size_bytes == len(message.body) <= max_message_bytes
        assert is_printable_ascii(message.body)


def test_lone_surrogates_round_trip() -> None:
    item: Item = {"userid": {"S": "a\ud800b"}, "\udfff": {"SS": ["\udbff", "x"]}}

    body = encode_items([item])

    assert is_printable_ascii(body)
    assert decode_body(body) == [item]


def test_binary_travels_as_base64() -> None:
    body = encode_items([{"userid": {"S": "u"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b""]}}])

    assert body == '{"v":1,"items":[{"userid":{"S":"u"},"b":{"B":"AP8="},"bs":{"BS":[""]}}]}'


def test_compresses_a_compressible_body() -> None:
    many = [{"userid": {"S": f"u{n}"}, "text": {"S": "the same words " * 20}} for n in range(25)]
    plain_len = ENVELOPE + sum(item_json_len(item) for item in many) + len(many) - 1

    body = encode_items(many)

    assert body.startswith('{"v":1,"z":"')
    assert len(body) < plain_len
    assert is_printable_ascii(body)
    assert decode_body(body) == many


def test_leaves_an_incompressible_body_plain() -> None:
    item = padded_item(1, 500)

    body = encode_items([item])

    assert body == f'{{"v":1,"items":[{json.dumps(item, separators=(",", ":"))}]}}'
    assert decode_body(body) == [item]


def test_message_closes_at_max_items() -> None:
    packer = MessagePacker(key_names=["userid"])
    completed = [packer.add(padded_item(n, 40)) for n in range(MAX_ITEMS_PER_MESSAGE + 1)]

    assert completed[:-2] == [[]] * (MAX_ITEMS_PER_MESSAGE - 1)
    assert keys_of(completed[-2]) == [[f"u{n:04d}" for n in range(MAX_ITEMS_PER_MESSAGE)]]
    assert completed[-1] == []
    assert keys_of(packer.flush()) == [["u0025"]]
    assert packer.flush() == []


def test_message_fills_exactly_to_the_byte_limit() -> None:
    limit = 1000
    first = padded_item(1, 400)
    second = padded_item(2, limit - ENVELOPE - 400 - 1)  # the 1 is the comma between them
    packer = MessagePacker(key_names=["userid"], max_message_bytes=limit)

    assert packer.add(first) == []
    assert packer.add(second) == []
    [full] = packer.add(padded_item(3, 50))

    assert full.keys == ({"userid": {"S": "u0001"}}, {"userid": {"S": "u0002"}})
    assert full.size_bytes == len(full.body) == limit
    assert keys_of(packer.flush()) == [["u0003"]]


def test_one_byte_over_the_limit_starts_a_new_message() -> None:
    limit = 1000
    packer = MessagePacker(key_names=["userid"], max_message_bytes=limit)

    assert packer.add(padded_item(1, 400)) == []
    completed = packer.add(padded_item(2, limit - ENVELOPE - 400 - 1 + 1))

    assert keys_of(completed) == [["u0001"]]
    assert keys_of(packer.flush()) == [["u0002"]]


def test_item_exactly_at_the_limit_fits_alone() -> None:
    packer = MessagePacker(key_names=["userid"], max_message_bytes=500)

    assert packer.add(padded_item(1, 500 - ENVELOPE)) == []
    [message] = packer.flush()

    assert message.size_bytes == 500


def test_item_too_large_names_key_and_size_and_packer_stays_usable() -> None:
    packer = MessagePacker(key_names=["userid"], max_message_bytes=500)
    packer.add(padded_item(1, 100))

    with pytest.raises(ItemTooLargeError) as caught:
        packer.add(padded_item(2, 500 - ENVELOPE + 1))

    assert caught.value.key == {"userid": {"S": "u0002"}}
    assert caught.value.size_bytes == 501
    assert caught.value.limit_bytes == 500
    assert '{"userid":{"S":"u0002"}}' in str(caught.value)
    assert "501 bytes" in str(caught.value)
    assert packer.add(padded_item(3, 100)) == []
    assert keys_of(packer.flush()) == [["u0001", "u0003"]]


def test_message_keys_use_every_key_attribute() -> None:
    item: Item = {"pk": {"S": "a"}, "sk": {"N": "7"}, "data": {"B": b"\x01"}}
    packer = MessagePacker(key_names=["pk", "sk"])
    packer.add(item)

    [message] = packer.flush()

    assert message.keys == ({"pk": {"S": "a"}, "sk": {"N": "7"}},)


def message_of_size(size: int) -> Message:
    return Message(body="x" * size, keys=(), size_bytes=size)


def test_batch_closes_at_max_entries() -> None:
    messages = [message_of_size(10) for _ in range(2 * MAX_ENTRIES_PER_BATCH + 1)]

    batches = list(pack_batches(messages))

    assert [len(batch) for batch in batches] == [10, 10, 1]
    assert [message for batch in batches for message in batch] == messages


def test_batch_bodies_sum_exactly_to_the_limit() -> None:
    batches = list(pack_batches(map(message_of_size, [100, 150, 1]), max_batch_bytes=250))

    assert [[m.size_bytes for m in batch] for batch in batches] == [[100, 150], [1]]


def test_batch_one_byte_over_the_limit_starts_a_new_batch() -> None:
    batches = list(pack_batches(map(message_of_size, [100, 151]), max_batch_bytes=250))

    assert [[m.size_bytes for m in batch] for batch in batches] == [[100], [151]]


def test_default_batch_limit_counts_the_sum_of_bodies() -> None:
    sizes = [DEFAULT_MAX_MESSAGE_BYTES // 4] * 4 + [1]

    batches = list(pack_batches(map(message_of_size, sizes)))

    assert [len(batch) for batch in batches] == [4, 1]


def test_batch_packer_streams_like_pack_batches() -> None:
    sizes = [random.Random(7).randrange(1, 120) for _ in range(60)]
    packer = BatchPacker(max_batch_bytes=300, max_entries=4)

    streamed = [batch for size in sizes for batch in packer.add(message_of_size(size))]
    streamed += packer.flush()

    assert streamed == list(
        pack_batches(map(message_of_size, sizes), max_batch_bytes=300, max_entries=4)
    )
    assert all(len(batch) <= 4 and sum(m.size_bytes for m in batch) <= 300 for batch in streamed)


def test_message_larger_than_a_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="max_batch_bytes"):
        list(pack_batches([message_of_size(300)], max_batch_bytes=250))


def z_body(payload: bytes) -> str:
    return json.dumps({"v": FORMAT_VERSION, "z": base64.b64encode(payload).decode()})


def item_body(attribute: object) -> str:
    return json.dumps({"v": 1, "items": [{"userid": {"S": "u"}, "a": attribute}]})


MALFORMED_BODIES = {
    "not JSON": "{",
    "deeply nested JSON": '{"v":1,"items":' + "[" * 100_000,
    "not an object": "[]",
    "no version": '{"items":[]}',
    "unknown version": '{"v":2,"items":[]}',
    "boolean version": '{"v":true,"items":[]}',
    "neither items nor z": '{"v":1}',
    "both items and z": '{"v":1,"items":[],"z":""}',
    "extra field": '{"v":1,"items":[],"x":1}',
    "items not a list": '{"v":1,"items":{}}',
    "item not an object": '{"v":1,"items":[1]}',
    "z not text": '{"v":1,"z":5}',
    "z bad base64": '{"v":1,"z":"!!!!"}',
    "z bad zlib": z_body(b"definitely not zlib"),
    "z truncated zlib": z_body(zlib.compress(b"[]" * 100)[:-3]),
    "z not JSON": z_body(zlib.compress(b"[{")),
    "z not a list": z_body(zlib.compress(b"{}")),
    "z inflates too far": z_body(zlib.compress(b"[" + b" " * 2_000_000 + b"]")),
    "empty AttributeValue": item_body({}),
    "two tags": item_body({"S": "x", "N": "1"}),
    "invalid tag": item_body({"X": "1"}),
    "lowercase tag": item_body({"s": "x"}),
    "S not text": item_body({"S": 1}),
    "N not text": item_body({"N": 1}),
    "N not a number": item_body({"N": "abc"}),
    "N empty": item_body({"N": ""}),
    "N dangling exponent": item_body({"N": "1e"}),
    "N non-ASCII digit": item_body({"N": "\u0661"}),
    "B bad base64": item_body({"B": "!!"}),
    "B not text": item_body({"B": 1}),
    "BS bad base64": item_body({"BS": ["AA==", "!"]}),
    "NULL false": item_body({"NULL": False}),
    "BOOL not bool": item_body({"BOOL": "true"}),
    "SS empty": item_body({"SS": []}),
    "NS empty": item_body({"NS": []}),
    "BS empty": item_body({"BS": []}),
    "SS not a list": item_body({"SS": "x"}),
    "SS element not text": item_body({"SS": ["x", 1]}),
    "NS element not a number": item_body({"NS": ["1", "one"]}),
    "L not a list": item_body({"L": {}}),
    "M not a map": item_body({"M": []}),
    "nested invalid value": item_body({"M": {"b": {"L": [{"N": "1"}, {"Q": 1}]}}}),
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_malformed_body_raises_message_decode_error(body: str) -> None:
    with pytest.raises(MessageDecodeError) as caught:
        decode_body(body)

    assert caught.value.reason
    assert caught.value.reason in str(caught.value)
    assert isinstance(caught.value, CodecError | ValueError)


def test_decode_error_names_the_versions_it_knows() -> None:
    with pytest.raises(MessageDecodeError, match=r"version 2; this codec knows versions 1"):
        decode_body('{"v":2,"items":[]}')


def test_decode_error_gives_the_attribute_path() -> None:
    with pytest.raises(MessageDecodeError, match=r"item 0, attribute a\.b\[1\]: unknown type tag"):
        decode_body(MALFORMED_BODIES["nested invalid value"])


@pytest.mark.parametrize(
    ("attribute", "path"),
    [
        ({"S": b"bytes"}, "a"),
        ({"B": "text"}, "a"),
        ({"NS": ["1", "x"]}, "a"),
        ({"M": {"b": {"L": [{"N": "1"}, {"N": "1,5"}]}}}, "a.b[1]"),
        ({"SS": set("x")}, "a"),
    ],
)
def test_encode_rejects_an_invalid_item(attribute: dict[str, object], path: str) -> None:
    with pytest.raises(InvalidItemError) as caught:
        encode_items([{"userid": {"S": "u"}, "a": attribute}])

    assert caught.value.path == path
    assert path in str(caught.value)


def test_item_key_requires_every_key_attribute() -> None:
    item: Item = {"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"BOOL": True}}

    assert item_key(item, ["pk", "sk"]) == {"pk": {"S": "a"}, "sk": {"N": "1"}}
    with pytest.raises(InvalidItemError, match="sort"):
        item_key(item, ["pk", "sort"])


def test_key_to_text_is_one_stable_line_in_wire_form() -> None:
    forward: Item = {"pk": {"S": "line\nbreak é"}, "sk": {"B": b"\x00\xff"}}
    backward: Item = {"sk": {"B": b"\x00\xff"}, "pk": {"S": "line\nbreak é"}}

    text = key_to_text(forward)

    assert text == key_to_text(backward)
    assert text == '{"pk":{"S":"line\\nbreak \\u00e9"},"sk":{"B":"AP8="}}'
