"""BatchGetItem reading with a fake client: UnprocessedKeys retried, then reported by key."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError

from asynccopy.copy.stats import Stats
from asynccopy.read.base import KeyChunkPosition, ReadContext
from asynccopy.read.keyfile import BatchGetReader, KeyChunk, KeyFileSource
from asynccopy.read.keys import KeyFilePlan
from asynccopy.read.limiter import LimiterConfig, ReadCapacityLimiter
from asynccopy.read.tables import KeyAttribute, KeySchema
from asynccopy.retry import Backoff, RetryPolicy
from consumer.wire import Item

SCHEMA = KeySchema(partition=KeyAttribute(name="id", type="S"))


def key(n: int) -> Item:
    return {"id": {"S": f"k{n}"}}


def item(n: int) -> Item:
    return {"id": {"S": f"k{n}"}, "v": {"S": "x" * 100}}


class FakeDynamoDB:
    """Holds items k0..k(n-1); leaves `unprocessed_per_call` keys unprocessed for some calls."""

    def __init__(self, *, items: int, unprocessed: list[int], errors: list[str] | None = None):
        self.table = {f"k{n}": item(n) for n in range(items)}
        self.unprocessed = list(unprocessed)  # per call: how many keys to leave
        self.errors = list(errors or [])
        self.calls: list[list[str]] = []

    async def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
        request = kwargs["RequestItems"]["t"]
        assert kwargs["ReturnConsumedCapacity"] == "TOTAL"
        names = [k["id"]["S"] for k in request["Keys"]]
        self.calls.append(names)
        if self.errors:
            code = self.errors.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": "m"}}, "BatchGetItem")
        leave = self.unprocessed.pop(0) if self.unprocessed else 0
        served, left = names[: len(names) - leave], names[len(names) - leave :]
        reply: dict[str, Any] = {
            "Responses": {"t": [self.table[n] for n in served if n in self.table]}
        }
        if left:
            reply["UnprocessedKeys"] = {"t": {"Keys": [{"id": {"S": n}} for n in left]}}
        return reply


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_reader(
    client: FakeDynamoDB, *, attempts: int = 8
) -> tuple[BatchGetReader, Stats, Sleeps, ReadCapacityLimiter]:
    sleeps = Sleeps()
    stats = Stats()
    clock = [0.0]

    async def fake_sleep(seconds: float) -> None:
        clock[0] += seconds

    limiter = ReadCapacityLimiter(
        LimiterConfig(target_rcu_per_s=1000), clock=lambda: clock[0], sleep=fake_sleep
    )
    backoff = Backoff(
        policy=RetryPolicy(max_attempts=attempts), sleep=sleeps, random=random.Random(1).random
    )
    context = ReadContext(client=client, limiter=limiter, backoff=backoff, stats=stats)
    reader = BatchGetReader(context, table="t", consistent_read=False, average_item_bytes=100)
    return reader, stats, sleeps, limiter


def test_unprocessed_keys_are_retried_until_read() -> None:
    client = FakeDynamoDB(items=100, unprocessed=[30, 10])
    reader, stats, sleeps, limiter = make_reader(client)
    keys = [key(n) for n in range(100)]

    async def main() -> tuple[list[Item], list[Any]]:
        return await reader.read(keys)

    found, failed = anyio.run(main)
    assert sorted(i["id"]["S"] for i in found) == sorted(f"k{n}" for n in range(100))
    assert failed == []
    assert [len(c) for c in client.calls] == [100, 30, 10]
    assert stats.retries == 2
    assert stats.throttles == 2
    assert len(sleeps.delays) == 2
    assert 0 <= sleeps.delays[0] <= 0.05
    assert 0 <= sleeps.delays[1] <= 0.1
    assert limiter.effective_rcu_per_s < 1000  # throttling lowered the rate
    # no ConsumedCapacity in the reply: each item counted as 4 KB, eventually consistent
    assert stats.rcu_consumed == pytest.approx(50)


def test_keys_still_unprocessed_after_every_attempt_are_reported() -> None:
    client = FakeDynamoDB(items=10, unprocessed=[3] * 10)
    reader, _stats, sleeps, _ = make_reader(client, attempts=4)

    async def main() -> tuple[list[Item], list[Any]]:
        return await reader.read([key(n) for n in range(10)])

    found, failed = anyio.run(main)
    assert len(found) == 7 + 0  # the first call served 7; later calls left all 3
    assert [f.key for f in failed] == [key(7), key(8), key(9)]
    assert {f.reason for f in failed} == {"UnprocessedKeys"}
    assert len(client.calls) == 4
    assert len(sleeps.delays) == 3  # no sleep after the last attempt


def test_throttled_calls_are_retried_and_request_errors_are_not() -> None:
    client = FakeDynamoDB(
        items=5, unprocessed=[], errors=["ProvisionedThroughputExceededException"]
    )
    reader, stats, _, _ = make_reader(client)

    async def main() -> tuple[list[Item], list[Any]]:
        return await reader.read([key(n) for n in range(5)])

    found, failed = anyio.run(main)
    assert len(found) == 5
    assert failed == []
    assert stats.throttles == 1
    assert stats.retries == 1

    client = FakeDynamoDB(items=5, unprocessed=[], errors=["ValidationException"])
    reader, stats, _, _ = make_reader(client)
    found, failed = anyio.run(main)
    assert found == []
    assert [f.reason for f in failed] == ["ValidationException"] * 5
    assert len(client.calls) == 1


def test_missing_keys_are_found_per_page() -> None:
    client = FakeDynamoDB(items=3, unprocessed=[])
    reader, _, _, _ = make_reader(client)
    plan = KeyFilePlan(
        path=Path(os.devnull),
        display_name="keys",
        keys_total=3,
        lines_total=3,
        duplicate_lines=frozenset(),
    )
    source = KeyFileSource(reader, plan=plan, schema=SCHEMA, keys_per_chunk=100)
    chunk = KeyChunk(
        keys=[key(0), key(5), key(2)], position=KeyChunkPosition(first_line=1, last_line=3)
    )

    async def main() -> list[Any]:
        return [page async for page in source.pages(chunk)]

    (page,) = anyio.run(main)
    assert page.missing == [key(5)]
    assert len(page.items) == 2


# --- UnprocessedKeys are throttling only when the reply was not cut by size --------------------
# The BatchGetItem API reference's own example: 100 items of 300 KB come back as 52 items (so
# as not to exceed the 16 MB limit) and UnprocessedKeys for the rest.
RESPONSE_LIMIT_BYTES = 16_000_000
BIG_VALUE = "x" * (300 * 1024)  # one string shared by every item: 30 MB of items in 300 KB


class SizeLimitedDynamoDB:
    """Serves keys in order until the next item would pass `limit_bytes`; the rest unprocessed.

    `limit_bytes_per_call` replaces the limit for the first calls (a smaller cut, such as the
    1 MB per partition, or a throttled table serving just a few items).
    """

    def __init__(self, *, items: int, limit_bytes_per_call: list[int] | None = None) -> None:
        self.table = {f"k{n}": {"id": {"S": f"k{n}"}, "v": {"S": BIG_VALUE}} for n in range(items)}
        self.limits = list(limit_bytes_per_call or [])
        self.calls: list[int] = []

    async def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
        names = [k["id"]["S"] for k in kwargs["RequestItems"]["t"]["Keys"]]
        self.calls.append(len(names))
        limit = self.limits.pop(0) if self.limits else RESPONSE_LIMIT_BYTES
        served: list[Item] = []
        total = 0
        for name in names:
            size = len(name) + 2 + len(BIG_VALUE) + 1
            if served and total + size > limit:
                break
            served.append(self.table[name])
            total += size
        reply: dict[str, Any] = {"Responses": {"t": served}}
        left = names[len(served) :]
        if left:
            reply["UnprocessedKeys"] = {"t": {"Keys": [{"id": {"S": n}} for n in left]}}
        return reply


def read_all(reader: BatchGetReader, keys: list[Item]) -> tuple[list[Item], list[Any]]:
    async def main() -> tuple[list[Item], list[Any]]:
        return await reader.read(keys)

    return anyio.run(main)


def test_a_reply_cut_at_16_mb_is_read_on_without_slowing_down() -> None:
    client = SizeLimitedDynamoDB(items=100)
    reader, stats, sleeps, limiter = make_reader(client)

    found, failed = read_all(reader, [key(n) for n in range(100)])

    assert (len(found), failed) == (100, [])
    assert client.calls == [100, 48]  # 52 items of 300 KB fit in 16 MB, as AWS documents
    assert (stats.throttles, stats.retries, sleeps.delays) == (0, 0, [])
    assert limiter.effective_rcu_per_s == 1000  # not lowered: nothing was throttled


def test_a_reply_cut_at_1_mb_per_partition_is_not_throttling() -> None:
    client = SizeLimitedDynamoDB(items=30, limit_bytes_per_call=[1_000_000, 1_000_000])
    reader, stats, sleeps, limiter = make_reader(client)

    found, failed = read_all(reader, [key(n) for n in range(30)])

    assert (len(found), failed) == (30, [])
    assert client.calls == [30, 27, 24]  # 3 items of 300 KB per 1 MB
    assert (stats.throttles, sleeps.delays) == (0, [])
    assert limiter.effective_rcu_per_s == 1000


def test_a_partial_reply_well_under_the_size_limits_is_throttling() -> None:
    # One 300 KB item of 10: no size limit explains the rest left unprocessed.
    client = SizeLimitedDynamoDB(items=10, limit_bytes_per_call=[1])
    reader, stats, sleeps, limiter = make_reader(client)

    found, failed = read_all(reader, [key(n) for n in range(10)])

    assert (len(found), failed) == (10, [])
    assert client.calls == [10, 9]
    assert (stats.throttles, stats.retries, len(sleeps.delays)) == (1, 1, 1)
    assert limiter.effective_rcu_per_s < 1000
