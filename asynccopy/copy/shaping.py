"""Items that should not travel as read: replication attributes stripped, expired items skipped.

Legacy global tables (version 2017.11.29) add `aws:rep:deleting`, `aws:rep:updatetime` and
`aws:rep:updateregion` to every item; written into a table that is (or becomes) a global table
they break its replication, so they are stripped unless `--keep-replication-attributes`.
`--skip-expired` skips items whose TTL attribute is already in the past: DynamoDB marks an item
expired when "the epoch time value stored in the attribute is less than the current time", and
deletes it only later ("typically within two days"; UpdateTimeToLive, the API reference), so
reads still return it.

`--transform` (asynccopy/copy/transform.py) runs last, on what would otherwise be sent: an
item it rejects is failed by key, with the reason, in the page's `failed`.

`ShapedSource` wraps any Source; it counts per page, never per item.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from asynccopy.config import ItemShape
from asynccopy.copy.stats import FailedKey, Stats
from asynccopy.copy.transform import ItemRejected, Transform, wire_copy
from asynccopy.read.base import Page, Source
from asynccopy.read.tables import KeyAttribute
from asynccopy.send.packing import wire_json
from consumer.wire import Item, item_key

REPLICATION_PREFIX: Final = "aws:rep:"
# How the prefix looks in an item's wire JSON, as a name: a cheap test before looking at names.
_ENCODED_MARK: Final = '"aws:rep:'


def strip_replication_attributes(item: Item) -> bool:
    """Removes the `aws:rep:*` attributes from `item`; whether it had any. An item the fast
    engine already encoded is searched as text first, and encoded again only if changed."""
    encoded: str | None = getattr(item, "encoded", None)
    if encoded is not None and _ENCODED_MARK not in encoded:
        return False
    names = [name for name in item if name.startswith(REPLICATION_PREFIX)]
    if not names:
        return False
    for name in names:
        del item[name]
    if encoded is not None:
        item.encoded = wire_json(item)  # type: ignore[attr-defined]
    return True


@dataclass(frozen=True, kw_only=True, slots=True)
class Expiry:
    """Whether an item's TTL attribute (epoch seconds, a Number) is before `now_s()`."""

    attribute: str
    now_s: Callable[[], float]  # wall-clock time, injected

    def expired(self, item: Item, *, now_s: float) -> bool:
        value = item.get(self.attribute)
        # TTL ignores an attribute that is not a Number: such an item never expires.
        if not isinstance(value, dict) or not isinstance(value.get("N"), str):
            return False
        try:
            return Decimal(value["N"]) < Decimal(now_s)
        except InvalidOperation:
            return False


@dataclass(frozen=True, kw_only=True, slots=True)
class Shaping:
    strip_replication: bool = True
    expiry: Expiry | None = None
    transform: Transform | None = None
    keys: tuple[KeyAttribute, ...] = ()  # the table's, checked on what `transform` returns

    @classmethod
    def of(
        cls,
        shape: ItemShape,
        *,
        ttl_attribute: str | None,
        now_s: Callable[[], float],
        keys: tuple[KeyAttribute, ...] = (),
    ) -> Shaping:
        """What `copy`'s flags ask for; `ttl_attribute` is set when --skip-expired is."""
        expiry = None if ttl_attribute is None else Expiry(attribute=ttl_attribute, now_s=now_s)
        return cls(
            strip_replication=not shape.keep_replication_attributes,
            expiry=expiry,
            transform=shape.transform,
            keys=keys,
        )

    @property
    def active(self) -> bool:
        return self.strip_replication or self.expiry is not None or self.transform is not None


class ShapedSource:
    """Source: another source's pages, with `shaping` applied to their items."""

    def __init__(
        self,
        source: Source[Any],
        *,
        shaping: Shaping,
        stats: Stats,
        before: list[Item] | None = None,
    ) -> None:
        self._source = source
        self._shaping = shaping
        self._stats = stats
        # A dry run's: every item given to the transform, as given (it reads only --sample).
        self._before = before

    @classmethod
    def around(
        cls,
        source: Source[Any],
        *,
        shaping: Shaping,
        stats: Stats,
        before: list[Item] | None = None,
    ) -> Source[Any]:
        """`source` shaped, or `source` itself when there is nothing to do."""
        if not shaping.active:
            return source
        return cls(source, shaping=shaping, stats=stats, before=before)

    def units(self) -> AsyncGenerator[Any, None]:
        return self._source.units()

    async def pages(self, unit: Any) -> AsyncGenerator[Page, None]:
        async with contextlib.aclosing(self._source.pages(unit)) as pages:
            async for page in pages:
                yield self._shape(page)

    def _shape(self, page: Page) -> Page:
        expiry, strip = self._shaping.expiry, self._shaping.strip_replication
        now_s = expiry.now_s() if expiry is not None else 0.0
        kept: list[Item] = []
        stripped = 0
        for item in page.items:
            if expiry is not None and expiry.expired(item, now_s=now_s):
                continue
            if strip and strip_replication_attributes(item):
                stripped += 1
            kept.append(item)
        skipped = len(page.items) - len(kept)
        if skipped:
            self._stats.items_skipped_expired += skipped
            self._stats.record_read(items=skipped)  # read, and not sent: read is counted here
        self._stats.items_replication_attributes_stripped += stripped
        if self._shaping.transform is not None:
            return self._transform(page, kept, self._shaping.transform)
        if not skipped and not stripped:
            return page
        return Page(items=kept, position=page.position, missing=page.missing, failed=page.failed)

    def _transform(self, page: Page, items: list[Item], transform: Transform) -> Page:
        keys = self._shaping.keys
        names = [key.name for key in keys]
        sent: list[Item] = []
        failed: list[FailedKey] = []
        skipped = 0
        for item in items:
            if self._before is not None:
                self._before.append(wire_copy(item))
            try:
                result = transform.apply(item, keys=keys)
            except ItemRejected as rejected:
                key = item_key(item, names)
                failed.append(FailedKey(key=key, code=rejected.code, reason=rejected.reason))
                continue
            if result is None:
                skipped += 1
            else:
                sent.append(result)
        self._stats.items_transformed += len(sent)
        self._stats.items_skipped_by_transform += skipped
        if skipped or failed:
            self._stats.record_read(items=skipped + len(failed))  # read, and not sent
        return Page(
            items=sent, position=page.position, missing=page.missing, failed=page.failed + failed
        )
