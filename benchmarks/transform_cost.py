"""What `copy --transform` costs per item (issue 14): the producer's shaping of fast-engine items
(`WireItem`s with their message text already made) with an identity transform, against the same
items with none. In process, no sandbox: the transform's cost is CPU only (parse the item's wire
JSON, call the function, check the result, encode it again).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Final

from asynccopy.copy.shaping import ShapedSource, Shaping
from asynccopy.copy.stats import Stats
from asynccopy.copy.transform import Transform
from asynccopy.read.base import Page, ScanPosition
from asynccopy.read.tables import KeyAttribute
from asynccopy.sandbox.seed import make_item
from asynccopy.send.packing import wire_json
from consumer.wire import Item, WireItem, to_wire

KEYS: Final = (KeyAttribute(name="userid", type="S"),)
PAGE_ITEMS: Final = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class TransformCost:
    items: int
    item_bytes: int
    plain_us_per_item: float  # shaping without a transform (aws:rep:* stripping only)
    transform_us_per_item: float  # with an identity transform

    @property
    def added_us_per_item(self) -> float:
        return self.transform_us_per_item - self.plain_us_per_item


def _identity(item: dict[str, Any]) -> dict[str, Any]:
    return item


def _pages(items: int, item_bytes: int) -> list[Page]:
    position = ScanPosition(segment=0, total_segments=1, last_evaluated_key=None)
    wires: list[Item] = []
    for index in range(items):
        wire = WireItem(to_wire(make_item(index, item_bytes=item_bytes, rng=random.Random(index))))
        wire.encoded = wire_json(wire)
        wires.append(wire)
    return [
        Page(items=wires[start : start + PAGE_ITEMS], position=position)
        for start in range(0, items, PAGE_ITEMS)
    ]


def _us_per_item(shaping: Shaping, pages: list[Page], items: int) -> float:
    source = ShapedSource(_NoSource(), shaping=shaping, stats=Stats())
    started = time.perf_counter()
    for page in pages:
        source._shape(page)  # the per-page step itself, without an event loop
    return (time.perf_counter() - started) / items * 1e6


class _NoSource:
    def units(self) -> Any:
        raise NotImplementedError

    def pages(self, unit: Any) -> Any:
        raise NotImplementedError


def run_transform_cost(*, items: int, item_bytes: int) -> TransformCost:
    pages = _pages(items, item_bytes)
    plain = _us_per_item(Shaping(), pages, items)
    transform = Transform(spec="bench:identity", function=_identity)
    shaped = _us_per_item(Shaping(transform=transform, keys=KEYS), pages, items)
    return TransformCost(
        items=items,
        item_bytes=item_bytes,
        plain_us_per_item=plain,
        transform_us_per_item=shaped,
    )
