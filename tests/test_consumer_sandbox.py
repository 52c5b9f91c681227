"""The handler fed REAL SQS messages received from the emulator, as the event source mapping
would hand them over, writing to the emulator's destination table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from consumer.config import ConsumerEngine
from consumer.contract import SqsEvent
from consumer.handler import handle_batch
from consumer.results import BatchSummary
from consumer.wire import Item
from tests.consumer_helpers import (
    FixedContext,
    assert_same_items,
    by_key,
    receive_event,
    scan_all,
    seed_and_send,
    writer_for,
)
from tests.sandbox_helpers import Sandbox

ITEMS = 250  # 10 messages: one Lambda batch


def deliver(
    sandbox: Sandbox, ev: SqsEvent, mode: str, engine: ConsumerEngine
) -> tuple[Any, BatchSummary]:
    summaries: list[BatchSummary] = []
    writer = writer_for(sandbox, mode, engine=engine)
    response = handle_batch(ev, FixedContext(30_000), writer=writer, on_summary=summaries.append)
    return response, summaries[0]


def put_all(sandbox: Sandbox, items: list[Item]) -> None:
    dest = sandbox.dest("dynamodb")
    for item in items:
        dest.put_item(TableName="users", Item=item)


@pytest.mark.parametrize("mode", ["overwrite", "skip-existing", "newer-wins:updatedAt"])
def test_delivering_the_same_messages_twice_leaves_the_destination_unchanged(
    sandbox: Sandbox, tmp_path: Path, consumer_engine: ConsumerEngine, mode: str
) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=ITEMS)
    ev = receive_event(sandbox, seeded, messages=10)

    response, first = deliver(sandbox, ev, mode, consumer_engine)
    assert response == {"batchItemFailures": []}
    assert (first.items_written, first.items_skipped) == (ITEMS, 0)
    after_first = scan_all(sandbox.dest("dynamodb"))
    assert_same_items(seeded.items, after_first)

    response, second = deliver(sandbox, ev, mode, consumer_engine)
    assert response == {"batchItemFailures": []}
    expected = (ITEMS, 0) if mode == "overwrite" else (0, ITEMS)
    assert (second.items_written, second.items_skipped) == expected
    assert_same_items(after_first, scan_all(sandbox.dest("dynamodb")))


def test_newer_wins_keeps_newer_destination_items_and_replaces_older_ones(
    sandbox: Sandbox, tmp_path: Path, consumer_engine: ConsumerEngine
) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=ITEMS)
    source = by_key(seeded.items)
    keys = sorted(source)
    newer = [
        {**source[k], "updatedAt": {"N": "1800000000000"}, "name": {"S": "kept"}} for k in keys[:30]
    ]
    older = [
        {**source[k], "updatedAt": {"N": "1600000000000"}, "name": {"S": "stale"}}
        for k in keys[30:50]
    ]
    put_all(sandbox, newer + older)

    response, summary = deliver(
        sandbox,
        receive_event(sandbox, seeded, messages=10),
        "newer-wins:updatedAt",
        consumer_engine,
    )

    assert response == {"batchItemFailures": []}
    assert (summary.items_written, summary.items_skipped, summary.items_failed) == (
        ITEMS - 30,
        30,
        0,
    )
    expected = {**source, **by_key(newer)}
    assert_same_items(list(expected.values()), scan_all(sandbox.dest("dynamodb")))


def test_skip_existing_keeps_every_existing_item(
    sandbox: Sandbox, tmp_path: Path, consumer_engine: ConsumerEngine
) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=ITEMS)
    source = by_key(seeded.items)
    existing = [
        {"userid": source[k]["userid"], "name": {"S": "already here"}} for k in sorted(source)[::5]
    ]
    put_all(sandbox, existing)

    response, summary = deliver(
        sandbox, receive_event(sandbox, seeded, messages=10), "skip-existing", consumer_engine
    )

    assert response == {"batchItemFailures": []}
    assert (summary.items_written, summary.items_skipped) == (ITEMS - len(existing), len(existing))
    expected = {**source, **by_key(existing)}
    assert_same_items(list(expected.values()), scan_all(sandbox.dest("dynamodb")))


def test_a_poison_message_fails_alone_and_the_rest_of_its_batch_is_written(
    sandbox: Sandbox, tmp_path: Path, consumer_engine: ConsumerEngine
) -> None:
    seeded = seed_and_send(
        sandbox, tmp_path, items=200, extra=['{"v":1,"items":[{"userid":{"Q":1}}]}']
    )
    ev = receive_event(sandbox, seeded, messages=9)
    (poison,) = [r["messageId"] for r in ev["Records"] if '"Q"' in r["body"]]
    record = ev["Records"][0]
    assert record.get("attributes", {})["ApproximateReceiveCount"] == "1"
    assert (record.get("eventSource"), record.get("eventSourceARN")) == (
        "aws:sqs",
        seeded.queue_arn,
    )

    response, summary = deliver(sandbox, ev, "overwrite", consumer_engine)

    assert response == {"batchItemFailures": [{"itemIdentifier": poison}]}
    assert "unknown type tag 'Q'" in (summary.failures[0].failure or "")
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))
