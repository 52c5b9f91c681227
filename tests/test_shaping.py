"""Replication attributes stripped and expired items skipped, with an injected clock."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio

from asynccopy.copy.shaping import Expiry, ShapedSource, Shaping, strip_replication_attributes
from asynccopy.copy.stats import Stats
from asynccopy.read.base import Page, ScanPosition
from asynccopy.send.packing import wire_json
from consumer.wire import Item, WireItem


def _wire(item: Item) -> WireItem:
    wire = WireItem(item)
    wire.encoded = wire_json(wire)
    return wire


def test_an_encoded_item_without_the_mark_is_left_as_it_is() -> None:
    wire = _wire({"userid": {"S": "u"}})
    wire.encoded = "sentinel: not re-encoded"  # no '"aws:rep:' in it: the names are not read
    wire["aws:rep:updateregion"] = {"S": "x"}
    assert strip_replication_attributes(wire) is False
    assert wire.encoded == "sentinel: not re-encoded"


def test_an_encoded_item_is_stripped_and_encoded_again() -> None:
    wire = _wire({"userid": {"S": "u"}, "aws:rep:deleting": {"BOOL": False}})
    assert strip_replication_attributes(wire) is True
    assert dict(wire) == {"userid": {"S": "u"}}
    assert wire.encoded == wire_json({"userid": {"S": "u"}})


def test_a_value_holding_the_prefix_is_not_an_attribute() -> None:
    wire = _wire({"userid": {"S": "u"}, "note": {"S": '"aws:rep:x'}})
    assert strip_replication_attributes(wire) is False
    assert "note" in wire


def test_expiry_compares_the_ttl_number_with_the_injected_clock() -> None:
    expiry = Expiry(attribute="ttl", now_s=lambda: 1_000.0)
    assert expiry.expired({"ttl": {"N": "999.5"}}, now_s=1_000.0)
    assert not expiry.expired({"ttl": {"N": "1000"}}, now_s=1_000.0)  # "less than" the time
    assert not expiry.expired({"ttl": {"S": "1"}}, now_s=1_000.0)  # not a Number: never expires
    assert not expiry.expired({}, now_s=1_000.0)


class _OnePage:
    def __init__(self, items: list[Item]) -> None:
        self._items = items

    async def units(self) -> AsyncGenerator[int, None]:
        yield 0

    async def pages(self, unit: int) -> AsyncGenerator[Page, None]:
        position = ScanPosition(segment=0, total_segments=1, last_evaluated_key=None)
        yield Page(items=self._items, position=position)


def test_the_shaped_source_counts_per_page() -> None:
    now = [2_000.0]
    items: list[Item] = [
        {"id": {"S": "a"}, "ttl": {"N": "1500"}},
        {"id": {"S": "b"}, "ttl": {"N": "2500"}, "aws:rep:updatetime": {"N": "1"}},
    ]
    stats = Stats()
    shaping = Shaping(expiry=Expiry(attribute="ttl", now_s=lambda: now[0]))
    source = ShapedSource(_OnePage(items), shaping=shaping, stats=stats)

    async def pages() -> list[Page]:
        return [page async for page in source.pages(0)]

    (page,) = anyio.run(pages)
    assert page.items == [{"id": {"S": "b"}, "ttl": {"N": "2500"}}]
    assert (stats.items_skipped_expired, stats.items_replication_attributes_stripped) == (1, 1)
    assert stats.items_read == 1  # the skipped item was read; the packer counts the other
