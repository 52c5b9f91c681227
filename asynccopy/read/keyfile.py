"""Items named in a validated key file, read with BatchGetItem (<= 100 keys per call)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Any, Final

import anyio.to_thread

from asynccopy.copy.reasons import UNPROCESSED_KEYS, FailureCode, read_failure
from asynccopy.copy.stats import FailedKey
from asynccopy.errors import ReadError
from asynccopy.read.base import CostEstimator, KeyChunkPosition, Page, ReadContext, reported_rcu
from asynccopy.read.itemsize import (
    READ_UNIT_BYTES,
    batch_get_read_units,
    item_size_bytes,
    read_units,
)
from asynccopy.read.keys import KeyFilePlan, iter_keys, key_digest
from asynccopy.read.projection import Projection
from asynccopy.read.tables import KeySchema
from consumer.wire import Item, item_key

# Lines handed from the reading thread at a time: one thread hop per many keys, not per key.
_LINES_PER_HOP = 2_000

# The BatchGetItem API reference: a call "returns a partial result if the response size limit
# is exceeded [16 MB], the table's provisioned throughput is exceeded, more than 1MB per
# partition is requested, or an internal processing failure occurs" -- and "if none of the items
# can be processed due to insufficient provisioned throughput", the whole call fails with
# ProvisionedThroughputExceededException (counted in ReadContext.call). So UnprocessedKeys
# alone do not mean throttling. A size cut stops only when the next item would not fit, so it
# leaves at least the smaller limit (1 MB) less one largest item (400 KB) in the reply: a
# partial reply that returned less than that was not cut by size, and counts as throttled. One
# that returned more is taken as a size cut and not counted, even if the table was throttled
# too: lowering the rate on every big-item chunk would drive it to its floor, while a throttled
# table soon answers with a small partial reply or ProvisionedThroughputExceededException.
_RESPONSE_LIMIT_BYTES: Final = 1_000_000  # the per-partition limit; the 16 MB call limit is above
_MAX_ITEM_BYTES: Final = 400 * 1024
SIZE_CUT_MIN_BYTES: Final = _RESPONSE_LIMIT_BYTES - _MAX_ITEM_BYTES


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyChunk:
    keys: list[Item]
    position: KeyChunkPosition


async def chunk_keys(
    lines: Iterator[tuple[int, Item]], *, keys_per_chunk: int, after_line: int = 0
) -> AsyncGenerator[KeyChunk, None]:
    """Chunks of up to `keys_per_chunk` keys, the file read off the event loop.

    Chunk positions tile the file: each starts on the line after the previous chunk's last
    (the first after `after_line`), blank, comment and duplicate lines included, so that a
    checkpoint can tell which lines are done from the chunks alone.
    """
    pending: list[tuple[int, Item]] = []
    next_line = after_line + 1
    while True:
        block = await anyio.to_thread.run_sync(lambda: list(islice(lines, _LINES_PER_HOP)))
        pending.extend(block)
        while len(pending) >= keys_per_chunk or (pending and not block):
            chunk, pending = pending[:keys_per_chunk], pending[keys_per_chunk:]
            last_line = chunk[-1][0]
            yield KeyChunk(
                keys=[key for _, key in chunk],
                position=KeyChunkPosition(first_line=next_line, last_line=last_line),
            )
            next_line = last_line + 1
        if not block:
            return


def _size_bound(item: Item) -> int:
    """DynamoDB's measure of `item`; or, for an item the fast engine encoded in at most 4 KB of
    JSON (`WireItem.encoded`), that length: ASCII JSON is never shorter than DynamoDB's measure
    (names and values as UTF-8 or raw bytes, plus small overheads), so it rounds up to the same
    one unit without walking every attribute."""
    encoded: str | None = getattr(item, "encoded", None)
    if encoded is not None and len(encoded) <= READ_UNIT_BYTES:
        return len(encoded)
    return item_size_bytes(item)


def cut_by_size(items: list[Item]) -> bool:
    """Whether a partial BatchGetItem reply that returned `items` can be a response size cut
    rather than throttling (see SIZE_CUT_MIN_BYTES)."""
    total = 0
    for item in items:
        total += _size_bound(item)
        if total >= SIZE_CUT_MIN_BYTES:
            return True
    return False


class BatchGetReader:
    """Reads key chunks with BatchGetItem; UnprocessedKeys retried, then reported.

    Keys left unprocessed by throttling are retried with backoff, at most `max_attempts` calls;
    keys left by a response size cut are asked for again at once, as the next page.
    """

    def __init__(
        self,
        context: ReadContext,
        *,
        table: str,
        consistent_read: bool,
        average_item_bytes: int,
        projection: Projection | None = None,
    ) -> None:
        self._context = context
        self._table = table
        self._consistent = consistent_read
        self._projection = {} if projection is None else projection.arguments()
        self._estimator = CostEstimator(
            initial_rcu=read_units(average_item_bytes, consistent=consistent_read)
        )

    def _cost(self, reply: dict[str, Any], *, keys_asked: int) -> float:
        reported = reported_rcu(reply, self._table)
        if reported is not None:
            return reported
        items = reply.get("Responses", {}).get(self._table, [])
        unprocessed = len(reply.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", []))
        # A key that is not found still costs one read unit, as a GetItem would. With a
        # projection this under-counts: DynamoDB charges the full item, not what it returns.
        not_found = max(0, keys_asked - unprocessed - len(items))
        sizes = [_size_bound(item) for item in items] + [0] * not_found
        return batch_get_read_units(sizes, consistent=self._consistent)

    async def read(self, keys: list[Item]) -> tuple[list[Item], list[FailedKey]]:
        """The items found among `keys`, and the keys that could not be read."""
        context = self._context
        found: list[Item] = []
        pending = keys
        attempts = context.backoff.policy.max_attempts
        throttled = 0
        while True:
            asked = len(pending)
            try:
                reply, consumed = await context.call(
                    "BatchGetItem",
                    partial(
                        context.client.batch_get_item,
                        RequestItems={
                            self._table: {
                                "Keys": pending,
                                "ConsistentRead": self._consistent,
                                **self._projection,
                            }
                        },
                        ReturnConsumedCapacity="TOTAL",
                    ),
                    reserve_rcu=self._estimator.per_unit() * asked,
                    cost_rcu=partial(self._cost, keys_asked=asked),
                )
            except ReadError as exc:
                code = read_failure(exc.code)
                return found, [FailedKey(key=key, code=code, reason=exc.code) for key in pending]
            items = reply.get("Responses", {}).get(self._table, [])
            found.extend(items)
            unprocessed = reply.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            self._estimator.observe(units=asked - len(unprocessed), rcu=consumed)
            pending = unprocessed
            if not unprocessed:
                context.limiter.on_success()
                return found, []
            if len(unprocessed) < asked and cut_by_size(items):
                context.limiter.on_success()  # not throttled: the rest is the next page
                continue
            context.stats.record_throttle()
            context.limiter.on_throttle()
            throttled += 1
            if throttled == attempts:
                return found, [
                    FailedKey(key=key, code=FailureCode.THROTTLED, reason=UNPROCESSED_KEYS)
                    for key in pending
                ]
            context.stats.retries += 1
            await context.backoff.wait(throttled - 1)


class KeyFileSource:
    """Source: chunks of a key file, each read with BatchGetItem."""

    def __init__(
        self,
        reader: BatchGetReader,
        *,
        plan: KeyFilePlan,
        schema: KeySchema,
        keys_per_chunk: int,
        limit_keys: int | None = None,
        after_line: int = 0,
    ) -> None:
        self._reader = reader
        self._plan = plan
        self._schema = schema
        self._keys_per_chunk = keys_per_chunk
        self._limit = limit_keys
        self._after_line = after_line  # resuming: lines up to here are skipped unread

    def units(self) -> AsyncGenerator[KeyChunk, None]:
        lines = iter_keys(self._plan, schema=self._schema, after_line=self._after_line)
        if self._limit is not None:
            lines = islice(lines, self._limit)
        return chunk_keys(lines, keys_per_chunk=self._keys_per_chunk, after_line=self._after_line)

    async def pages(self, unit: KeyChunk) -> AsyncGenerator[Page, None]:
        items, failed = await self._reader.read(unit.keys)
        if len(items) + len(failed) == len(unit.keys):
            missing: list[Item] = []
        else:
            seen = {key_digest(item_key(item, self._schema.names)) for item in items}
            seen.update(key_digest(f.key) for f in failed)
            missing = [key for key in unit.keys if key_digest(key) not in seen]
        yield Page(items=items, position=unit.position, missing=missing, failed=failed)
