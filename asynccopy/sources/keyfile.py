"""Items named in a validated key file, read with BatchGetItem (<= 100 keys per call)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Any

import anyio.to_thread

from asynccopy.codec import Item, item_key
from asynccopy.errors import ReadError
from asynccopy.itemsize import READ_UNIT_BYTES, batch_get_read_units, item_size_bytes, read_units
from asynccopy.keys import KeyFilePlan, iter_keys, key_digest
from asynccopy.sources.base import CostEstimator, KeyChunkPosition, Page, ReadContext, reported_rcu
from asynccopy.stats import FailedKey
from asynccopy.tables import KeySchema

# Lines handed from the reading thread at a time: one thread hop per many keys, not per key.
_LINES_PER_HOP = 2_000


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


class BatchGetReader:
    """Reads key chunks with BatchGetItem; UnprocessedKeys retried with backoff, then reported."""

    def __init__(
        self,
        context: ReadContext,
        *,
        table: str,
        consistent_read: bool,
        average_item_bytes: int,
    ) -> None:
        self._context = context
        self._table = table
        self._consistent = consistent_read
        self._estimator = CostEstimator(
            initial_rcu=read_units(average_item_bytes, consistent=consistent_read)
        )

    def _cost(self, reply: dict[str, Any], *, keys_asked: int) -> float:
        reported = reported_rcu(reply, self._table)
        if reported is not None:
            return reported
        items = reply.get("Responses", {}).get(self._table, [])
        unprocessed = len(reply.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", []))
        # A key that is not found still costs one read unit, as a GetItem would.
        not_found = max(0, keys_asked - unprocessed - len(items))
        sizes = [_size_bound(item) for item in items] + [0] * not_found
        return batch_get_read_units(sizes, consistent=self._consistent)

    async def read(self, keys: list[Item]) -> tuple[list[Item], list[FailedKey]]:
        """The items found among `keys`, and the keys that could not be read."""
        context = self._context
        found: list[Item] = []
        pending = keys
        attempts = context.backoff.policy.max_attempts
        for attempt in range(attempts):
            asked = len(pending)
            try:
                reply, consumed = await context.call(
                    "BatchGetItem",
                    partial(
                        context.client.batch_get_item,
                        RequestItems={
                            self._table: {"Keys": pending, "ConsistentRead": self._consistent}
                        },
                        ReturnConsumedCapacity="TOTAL",
                    ),
                    reserve_rcu=self._estimator.per_unit() * asked,
                    cost_rcu=partial(self._cost, keys_asked=asked),
                )
            except ReadError as exc:
                return found, [FailedKey(key=key, reason=exc.code) for key in pending]
            found.extend(reply.get("Responses", {}).get(self._table, []))
            unprocessed = reply.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            self._estimator.observe(units=asked - len(unprocessed), rcu=consumed)
            if not unprocessed:
                context.limiter.on_success()
                return found, []
            # DynamoDB returns UnprocessedKeys when a call exceeds the table's throughput.
            context.stats.record_throttle()
            context.limiter.on_throttle()
            pending = unprocessed
            if attempt + 1 < attempts:
                context.stats.retries += 1
                await context.backoff.wait(attempt)
        return found, [FailedKey(key=key, reason="UnprocessedKeys") for key in pending]


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
