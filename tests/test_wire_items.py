"""decode_wire_body, the fast engine's decode: the same bodies accepted and refused as by
decode_body, the same values exactly (B as canonical base64 text), and each item's own text
kept only where it says exactly what was validated."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccopy.sandbox.seed import make_item
from asynccopy.send.packing import MessagePacker
from consumer.calls import BoundedClients
from consumer.config import WriteMode
from consumer.dead_letters import NoDeadLetterQueue
from consumer.item_writer import ItemWriter
from consumer.retry import writer_backoff
from consumer.table import KeySchema
from consumer.versions import Verdict, newer_wins
from consumer.wire import (
    Item,
    MessageDecodeError,
    WireItem,
    decode_body,
    decode_wire_body,
    encode_items,
    from_wire,
    item_json,
    to_wire,
)
from tests.hypothesis_profiles import examples
from tests.strategies import items
from tests.test_codec import MALFORMED_BODIES


def encoded(item: WireItem) -> str | None:
    return getattr(item, "encoded", None)


def assert_exact(wire: list[WireItem], body: str) -> None:
    """`wire` holds exactly decode_body's items, and each kept text parses to its item."""
    assert all(type(item) is WireItem for item in wire)
    clients = decode_body(body)
    assert [from_wire(item) for item in wire] == clients
    assert wire == [to_wire(item) for item in clients]  # canonical base64, numbers as sent
    for item in wire:
        text = encoded(item)
        if text is not None:
            assert json.loads(text) == item
            assert text.isascii()


@examples(500)
@given(st.lists(items(), max_size=4))
def test_wire_decode_is_decode_body_in_wire_form(original: list[Item]) -> None:
    body = encode_items(original)
    wire = decode_wire_body(body)
    assert [from_wire(item) for item in wire] == original
    assert_exact(wire, body)


@examples(50)
@given(st.lists(items(), min_size=1, max_size=25), st.booleans())
def test_compressed_and_plain_bodies_keep_each_items_text(
    original: list[Item], compressible: bool
) -> None:
    if compressible:
        original = [{**item, "pad": {"S": "the same words " * 20}} for item in original]
    body = encode_items(original)
    assert body.startswith('{"v":1,"z":"') or not compressible
    wire = decode_wire_body(body)
    assert_exact(wire, body)


def test_the_benchmark_items_keep_their_text_and_every_value() -> None:
    """The seeded items (38-digit, tiny and huge numbers, binary, every set type, non-ASCII
    text) as the producer packs them: every item's text is kept, and it is the item's."""
    packer = MessagePacker(key_names=["userid"])
    rng = random.Random(5)
    bodies = [
        m.body for i in range(60) for m in packer.add(make_item(i, item_bytes=1_000, rng=rng))
    ]
    bodies += [m.body for m in packer.flush()]
    assert any(body.startswith('{"v":1,"z":"') for body in bodies)
    for body in bodies:
        wire = decode_wire_body(body)
        assert all(encoded(item) is not None for item in wire)
        assert_exact(wire, body)
        assert ",".join(item_json(item) for item in wire) in body or '"z"' in body


def compact(body: str) -> str | None:
    try:
        return json.dumps(json.loads(body), separators=(",", ":"))
    except (ValueError, RecursionError):
        return None


MALFORMED = {
    **MALFORMED_BODIES,
    **{
        f"{name}, compact": text
        for name, body in MALFORMED_BODIES.items()
        if (text := compact(body)) is not None and text != body
    },
    "items then more": '{"v":1,"items":[{"k":{"S":"a"}}]},"x":[1]}',
    "two arrays": '{"v":1,"items":[{"k":{"S":"a"}}][{"k":{"S":"b"}}]}',
    "trailing comma": '{"v":1,"items":[{"k":{"S":"a"}},]}',
    "z then more": '{"v":1,"z":"eJyLjgUAARUAuQ==","x":"y"}',
    "NS element not text": '{"v":1,"items":[{"k":{"NS":["1",2]}}]}',
    "BS element not text": '{"v":1,"items":[{"k":{"BS":["AA==",2]}}]}',
    "NULL not true": '{"v":1,"items":[{"k":{"NULL":1}}]}',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_body_fails_as_decode_body_says(body: str) -> None:
    with pytest.raises(MessageDecodeError) as slow:
        decode_body(body)
    with pytest.raises(MessageDecodeError) as fast:
        decode_wire_body(body)
    assert str(fast.value) == str(slow.value)


def plain(*items: str) -> str:
    return '{"v":1,"items":[' + ",".join(items) + "]}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # b64decode takes "AB==" for b"\x00"; what is sent is b64encode's "AA==".
        (plain('{"k":{"S":"a"},"b":{"B":"AB=="}}'), {"k": {"S": "a"}, "b": {"B": "AA=="}}),
        (plain('{"k":{"S":"a"},"b":{"BS":["AAAA==","AP8="]}}'), None),
        # Named twice: json.loads keeps the last, and so must what is sent.
        (plain('{"k":{"S":"a"},"a":{"S":"x"},"a":{"N":"1"}}'), {"k": {"S": "a"}, "a": {"N": "1"}}),
        (plain('{"k":{"S":"a"},"a":{"N":"x","N":"1"}}'), {"k": {"S": "a"}, "a": {"N": "1"}}),
        (plain('{"k":{"S":"a"},"a":{"M":{"x":{"S":"1"},"x":{"S":"2"}}}}'), None),
        # White space before a colon could hide a key named twice from the count.
        (
            plain('{"k" :{"S":"a"},"a":{"S":"\\":"},"a":{"S":"y"}}'),
            {"k": {"S": "a"}, "a": {"S": "y"}},
        ),
        (plain('{"k":{"S":"a\\":"}}'), {"k": {"S": 'a":'}}),
        (plain('{"k":{"S":"\\u00e9"}}'.replace("\\u00e9", "\u00e9")), {"k": {"S": "\u00e9"}}),
    ],
)
def test_a_text_that_says_more_than_its_item_is_not_sent(
    body: str, expected: dict[str, Any] | None
) -> None:
    (item,) = decode_wire_body(body)
    assert encoded(item) is None
    if expected is not None:
        assert item == expected
    assert_exact([item], body)


def test_a_wire_item_is_encoded_as_it_is_for_the_dead_letter_queue() -> None:
    (item,) = decode_wire_body(plain('{"k":{"S":"a"},"b":{"B":"AP8="}}'))
    assert encode_items([item]) == plain('{"k":{"S":"a"},"b":{"B":"AP8="}}')
    bare = WireItem({"k": {"S": "a"}, "b": {"B": "AP8="}})
    assert encode_items([bare]) == encode_items([{"k": {"S": "a"}, "b": {"B": b"\x00\xff"}}])


@pytest.mark.parametrize(
    ("incoming", "existing", "verdict"),
    [
        (b"\x01\x00", b"\x00\xff", Verdict.WRITE),  # unsigned bytes
        (b"\x7f", b"\x80", Verdict.SKIP),
        (b"\x80", b"\x80", Verdict.SKIP),
        (b"\x80\x00", b"\x80", Verdict.WRITE),
    ],
)
def test_newer_wins_compares_a_wire_form_binary_version_as_its_bytes(
    incoming: bytes, existing: bytes, verdict: Verdict
) -> None:
    """The fast engine's items hold B as base64 text; the destination's item comes back with
    bytes (or text): the verdict is the one for the bytes."""
    client_item: Item = {"k": {"S": "a"}, "v": {"B": incoming}}
    (wire_item,) = decode_wire_body(encode_items([client_item]))
    for old in ({"v": {"B": existing}}, to_wire({"v": {"B": existing}})):
        assert newer_wins(wire_item, old, "v").verdict is verdict
        assert newer_wins(client_item, old, "v").verdict is verdict


def test_a_rejected_wire_item_is_named_by_its_key_as_a_client_item_is() -> None:
    schema = KeySchema(
        table_name="t", partition_key="k", sort_key="s", key_types={"k": "S", "s": "B"}
    )
    writer = ItemWriter(
        clients=BoundedClients.fixed(object()),  # type: ignore[arg-type]
        schema=schema,
        mode=WriteMode.parse("overwrite"),
        backoff=writer_backoff(),
        dead_letters=NoDeadLetterQueue("none"),
    )
    client_item: Item = {"k": {"S": "a"}, "s": {"B": b"\x00\xff"}, "x": {"N": "1"}}
    (wire_item,) = decode_wire_body(encode_items([client_item]))
    assert writer.key_text(wire_item) == writer.key_text(client_item)
    assert writer.key_text(wire_item) == '{"k":{"S":"a"},"s":{"B":"AP8="}}'
