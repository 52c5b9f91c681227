"""Shared by the tests (no tests here): seeding, real messages sent and received, queue depths,
comparing tables."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from asynccopy.consume.events import lambda_event
from asynccopy.sandbox.accounts import DEST_ACCOUNT, REGION, SANDBOX_SECRET
from asynccopy.sandbox.seed import SeedConfig, SeedResult, seed
from asynccopy.verify.compare import items_equal
from consumer.calls import BoundedClients
from consumer.config import ConsumerConfig, ConsumerEngine, WriteMode
from consumer.contract import SqsEvent
from consumer.dead_letters import DeadLetterQueue
from consumer.engines import dynamodb_writes
from consumer.fast_dynamodb import DynamoDBWrites
from consumer.retry import writer_backoff
from consumer.wire import Item, decode_body, encode_items
from consumer.writer import Writer, make_writer
from tests.sandbox_helpers import Sandbox

TABLE = "users"
KEY = "userid"


@dataclass
class Seeded:
    queue_url: str
    dlq_url: str
    queue_arn: str
    items: list[Item]  # the source table's items, as scanned


class FixedContext:
    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def scan_all(client: Any, table: str = TABLE) -> list[Item]:
    return [
        item
        for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
    ]


def count_items(client: Any, table: str = TABLE) -> int:
    return sum(
        page["Count"]
        for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT")
    )


def bodies_for(items: Sequence[Item], per_message: int = 25) -> list[str]:
    return [encode_items(items[i : i + per_message]) for i in range(0, len(items), per_message)]


def send_bodies(sqs: Any, queue_url: str, bodies: Sequence[str]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(index), "MessageBody": body}
            for index, body in enumerate(bodies[start : start + 10])
        ]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        assert not response.get("Failed"), response["Failed"]


def seed_sandbox(
    sandbox: Sandbox, tmp_path: Path, *, items: int, item_bytes: int = 1_000
) -> SeedResult:
    """The source table filled, the destination table, queue and DLQ empty; keys in keys.txt."""
    result = seed(
        SeedConfig(items=items, item_bytes=item_bytes, keys_out=tmp_path / "keys.txt"),
        endpoint_url=sandbox.endpoint_url,
    )
    assert result.items_written == items
    return result


def seed_users(sandbox: Sandbox, tmp_path: Path, *, items: int) -> tuple[Path, str]:
    """`seed_sandbox`: what a copy needs, the key file and the queue URL."""
    result = seed_sandbox(sandbox, tmp_path, items=items)
    return result.keys_out, result.queue_url


def seed_source(sandbox: Sandbox, tmp_path: Path, *, items: int, item_bytes: int = 1_000) -> Seeded:
    """`seed_sandbox`, with the queue's ARN and the source items as scanned."""
    result = seed_sandbox(sandbox, tmp_path, items=items, item_bytes=item_bytes)
    sqs = sandbox.dest("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=result.queue_url, AttributeNames=["QueueArn"])
    return Seeded(
        queue_url=result.queue_url,
        dlq_url=result.dlq_url,
        queue_arn=arn["Attributes"]["QueueArn"],
        items=scan_all(sandbox.source("dynamodb")),
    )


def seed_and_send(
    sandbox: Sandbox, tmp_path: Path, *, items: int, extra: Sequence[str] = ()
) -> Seeded:
    seeded = seed_source(sandbox, tmp_path, items=items)
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, [*bodies_for(seeded.items), *extra])
    return seeded


def shorten_redrive(
    sandbox: Sandbox, seeded: Seeded, *, visibility_s: int, max_receives: int
) -> None:
    """Make a failing message reach the DLQ within seconds instead of 5 x 180 s."""
    sqs = sandbox.dest("sqs")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=seeded.dlq_url, AttributeNames=["QueueArn"])
    policy = (
        f'{{"deadLetterTargetArn":"{dlq_arn["Attributes"]["QueueArn"]}",'
        f'"maxReceiveCount":"{max_receives}"}}'
    )
    sqs.set_queue_attributes(
        QueueUrl=seeded.queue_url,
        Attributes={"VisibilityTimeout": str(visibility_s), "RedrivePolicy": policy},
    )


def receive_event(
    sandbox: Sandbox, seeded: Seeded, *, messages: int, timeout_s: float = 30
) -> SqsEvent:
    """Exactly `messages` real messages received from the queue, as Lambda would hand them over."""
    sqs = sandbox.dest("sqs")
    received: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    while len(received) < messages:
        assert time.monotonic() < deadline, f"received {len(received)} of {messages} messages"
        response = sqs.receive_message(
            QueueUrl=seeded.queue_url,
            MaxNumberOfMessages=min(10, messages - len(received)),
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
        )
        for message in response.get("Messages", []):
            received[message["MessageId"]] = message
    return lambda_event(list(received.values()), queue_arn=seeded.queue_arn, region="us-east-1")


def receive_bodies(sandbox: Sandbox, queue_url: str) -> list[str]:
    """The body of every message in the queue, each kept invisible for 10 minutes."""
    sqs = sandbox.dest("sqs")
    bodies: list[str] = []
    empty_polls = 0
    while empty_polls < 2:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=600
        ).get("Messages", [])
        empty_polls = 0 if messages else empty_polls + 1
        bodies += [message["Body"] for message in messages]
    return bodies


def received_items(sandbox: Sandbox, queue_url: str) -> list[Item]:
    """Every item in the queue's messages, duplicates included."""
    return [item for body in receive_bodies(sandbox, queue_url) for item in decode_body(body)]


def queue_counts(sandbox: Sandbox, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue."""
    attributes = sandbox.dest("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def engine_clients(sandbox: Sandbox, engine: ConsumerEngine) -> BoundedClients[DynamoDBWrites]:
    """The Lambda's DynamoDB clients on `engine`, as the destination account."""
    session = boto3.Session(
        aws_access_key_id=DEST_ACCOUNT, aws_secret_access_key=SANDBOX_SECRET, region_name=REGION
    )
    return dynamodb_writes(
        session, engine=engine, endpoint_url=sandbox.endpoint_url, max_pool_connections=20
    )


def writer_for(
    sandbox: Sandbox,
    mode: str = "overwrite",
    *,
    engine: ConsumerEngine,
    dead_letter_queue_url: str | None = None,
) -> Writer:
    """The handler's writer on the sandbox's destination, on `engine`; refused items go to
    `dead_letter_queue_url` if given, else fail their message."""
    config = ConsumerConfig(
        table_name=TABLE,
        write_mode=WriteMode.parse(mode),
        dead_letter_queue_url=dead_letter_queue_url,
    )
    dead_letters = None
    if dead_letter_queue_url is not None:
        dead_letters = DeadLetterQueue(
            clients=BoundedClients.fixed(sandbox.dest("sqs")),
            queue_url=dead_letter_queue_url,
            backoff=writer_backoff(),
        )
    return make_writer(engine_clients(sandbox, engine), config, dead_letters=dead_letters)


def by_key(items: Sequence[Item]) -> dict[str, Item]:
    return {item[KEY]["S"]: item for item in items}


def assert_same_items(expected: Sequence[Item], actual: Sequence[Item]) -> None:
    want, got = by_key(expected), by_key(actual)
    assert sorted(got) == sorted(want), f"{len(got)} items, expected {len(want)}"
    different = [key for key in want if not items_equal(want[key], got[key])]
    assert different == [], f"{len(different)} items differ, e.g. {different[:3]}"


def wait_for(predicate: Any, *, timeout_s: float, interval_s: float = 0.5, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(interval_s)
