"""`asynccopy sandbox seed`: realistic items in the source account, an empty copy target and
its queues in the destination account.

The items use every DynamoDB type, including the values that broke the original recipe
(sets, binary, 38-digit numbers, empty strings, non-ASCII text). Each carries the attribute
`seededBy`, so that a second seed can tell its own items (and copies of them) from anyone
else's: it drops tables that hold only those, and refuses without `--replace` otherwise.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config

from asynccopy.errors import InputError
from asynccopy.read.itemsize import item_size_bytes
from asynccopy.sandbox.accounts import DEST_ACCOUNT, REGION, SANDBOX_SECRET, SOURCE_ACCOUNT
from consumer.wire import Item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

TABLE_NAME: Final = "users"
KEY_NAME: Final = "userid"
QUEUE_NAME: Final = "asynccopy-users"
DLQ_NAME: Final = "asynccopy-users-dlq"
MAX_RECEIVE_COUNT: Final = 5
# >= 6x the consumer's function timeout (30 s in the sandbox), per the Lambda SQS guidance.
VISIBILITY_TIMEOUT_S: Final = 180
BATCH_WRITE_MAX_ITEMS: Final = 25  # BatchWriteItem limit
SEED_MARK: Final = "seededBy"
SEED_MARK_VALUE: Final = "asynccopy sandbox seed"
# The source table's global secondary index (the users of one age), keys only: what
# `copy --query "age = :a" --index byAge` reads through, fetching each item whole. The
# destination table is made without it, as a table made by hand often is.
INDEX_NAME: Final = "byAge"
INDEX_KEY: Final = "age"

_NAMES: Final = ["Zoë", "Ólafur", "Łukasz", "美咲", "Анна", "José", "Nguyễn", "Siobhán", "Ṣadé"]
_WORDS: Final = ["café", "naïve", "über", "🚀", "🐍", "日本", "東京", "ß", "øre", "𝄞", "niño", ""]


@dataclass(frozen=True, kw_only=True, slots=True)
class SeedConfig:
    items: int = 10_000
    item_bytes: int = 1_000
    keys_out: Path = Path("keys.txt")
    random_seed: int = 20261126
    # Drop tables even when they hold items the seed did not write.
    replace: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class SeedResult:
    items_written: int
    table_name: str
    queue_url: str
    dlq_url: str
    keys_out: Path


def client(service: str, account: str, endpoint_url: str) -> Any:
    """A plain low-level boto3 client acting as `account` in the sandbox."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=account,
        aws_secret_access_key=SANDBOX_SECRET,
        config=Config(retries={"max_attempts": 10, "mode": "standard"}),
    )


def make_item(index: int, *, item_bytes: int, rng: random.Random) -> Item:
    """One deterministic, realistic item of about `item_bytes` bytes."""
    name = f"{rng.choice(_NAMES)} {rng.choice(_WORDS)} #{index}"
    item: Item = {
        KEY_NAME: {"S": f"user-{index:07d}"},
        SEED_MARK: {"S": SEED_MARK_VALUE},
        "name": {"S": name},
        "nickname": {"S": ""},
        "age": {"N": str(rng.randint(18, 99))},
        "balance": {"N": f"{rng.randint(-10_000, 10_000)}.{rng.randint(0, 99):02d}"},
        "rating": {"N": "12.5"},
        "big": {"N": "".join(rng.choice("123456789") for _ in range(38))},
        "tiny": {"N": f"-{rng.randint(1, 9)}.{rng.randint(0, 9)}E-{rng.randint(10, 120)}"},
        "huge": {"N": f"{rng.randint(1, 9)}.{rng.randint(10, 99)}E+{rng.randint(10, 120)}"},
        "updatedAt": {"N": str(1_700_000_000_000 + index)},
        "avatar": {"B": rng.randbytes(rng.randint(0, 48))},
        "tags": {"SS": sorted({rng.choice(_WORDS) or "none" for _ in range(4)})},
        "scores": {"NS": sorted({str(rng.randint(-500, 500)) for _ in range(5)} | {"0.25"})},
        "keys": {"BS": [bytes([0, 255, i]) + rng.randbytes(4) for i in range(3)]},
        "active": {"BOOL": index % 2 == 0},
        "deleted": {"NULL": True},
        "history": {
            "L": [
                {"S": rng.choice(_WORDS)},
                {"N": str(rng.randint(0, 10**6))},
                {"BOOL": False},
                {"NULL": True},
                {"L": [{"S": "nested"}, {"B": b"\x00\x01"}]},
            ]
        },
        "profile": {
            "M": {
                "address": {
                    "M": {
                        "city": {"S": rng.choice(["Zürich", "São Paulo", "Kraków", "Montréal"])},
                        "geo": {"M": {"lat": {"N": "47.3769"}, "lon": {"N": "-8.5417"}}},
                    }
                },
                "emails": {"SS": [f"u{index}@example.com", f"alt{index}@example.org"]},
                "empty": {"M": {}},
                "list": {"L": []},
            }
        },
    }
    shortfall = item_bytes - item_size_bytes(item) - len("bio")
    if shortfall > 0:
        text = "Lorem ipsum dolor sit amet — ünïcödé ✓ "
        bio = (text * (shortfall // len(text.encode()) + 1)).encode()[:shortfall]
        item["bio"] = {"S": bio.decode("utf-8", errors="ignore")}
    return item


def generate_items(config: SeedConfig) -> Iterator[Item]:
    for index in range(config.items):
        yield make_item(
            index, item_bytes=config.item_bytes, rng=random.Random(config.random_seed + index)
        )


def seed(
    config: SeedConfig, *, endpoint_url: str, say: Callable[[str], None] = lambda _line: None
) -> SeedResult:
    """(Re)create the source table with `config.items` items and the destination's resources.

    Refuses (InputError, nothing dropped) when a table to drop holds items the seed did not
    write, unless `config.replace`."""
    source: DynamoDBClient = client("dynamodb", SOURCE_ACCOUNT, endpoint_url)
    dest: DynamoDBClient = client("dynamodb", DEST_ACCOUNT, endpoint_url)
    sqs: SQSClient = client("sqs", DEST_ACCOUNT, endpoint_url)
    tables = ((source, SOURCE_ACCOUNT), (dest, DEST_ACCOUNT))
    existing = {account: _census(ddb) for ddb, account in tables}
    for account, census in existing.items():
        if census is not None and census[1] and not config.replace:
            raise InputError(
                f"table {TABLE_NAME!r} in account {account} holds {census[1]} of {census[0]}"
                " items the seed did not write",
                hint="pass --replace to drop it anyway; nothing was changed",
            )
    for ddb, account in tables:
        census = existing[account]
        if census is not None:
            say(f"seed: dropping table {TABLE_NAME!r} in account {account} ({census[0]} items)")
        _recreate_table(ddb, index=account == SOURCE_ACCOUNT)
    written = 0
    config.keys_out.parent.mkdir(parents=True, exist_ok=True)
    with config.keys_out.open("w", encoding="utf-8") as keys:
        batch: list[Item] = []
        for item in generate_items(config):
            batch.append(item)
            keys.write(item[KEY_NAME]["S"] + "\n")
            if len(batch) == BATCH_WRITE_MAX_ITEMS:
                written += _write_batch(source, batch)
                batch = []
        if batch:
            written += _write_batch(source, batch)
    queue_url, dlq_url = _recreate_queues(sqs, say)
    return SeedResult(
        items_written=written,
        table_name=TABLE_NAME,
        queue_url=queue_url,
        dlq_url=dlq_url,
        keys_out=config.keys_out,
    )


def _census(ddb: DynamoDBClient) -> tuple[int, int] | None:
    """(items, items without the seed's mark) of the table, or None if it does not exist."""
    if TABLE_NAME not in ddb.list_tables()["TableNames"]:
        return None
    total = foreign = 0
    for page in ddb.get_paginator("scan").paginate(
        TableName=TABLE_NAME,
        ProjectionExpression="#k, #m",
        ExpressionAttributeNames={"#k": KEY_NAME, "#m": SEED_MARK},
    ):
        for item in page["Items"]:
            total += 1
            foreign += item.get(SEED_MARK) != {"S": SEED_MARK_VALUE}
    return total, foreign


def _recreate_table(ddb: DynamoDBClient, *, index: bool) -> None:
    if TABLE_NAME in ddb.list_tables()["TableNames"]:
        ddb.delete_table(TableName=TABLE_NAME)
    attributes: Any = [{"AttributeName": KEY_NAME, "AttributeType": "S"}]
    indexed: Any = {}
    if index:
        attributes.append({"AttributeName": INDEX_KEY, "AttributeType": "N"})
        indexed["GlobalSecondaryIndexes"] = [
            {
                "IndexName": INDEX_NAME,
                "KeySchema": [{"AttributeName": INDEX_KEY, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ]
    ddb.create_table(
        TableName=TABLE_NAME,
        KeySchema=[{"AttributeName": KEY_NAME, "KeyType": "HASH"}],
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        **indexed,
    )
    ddb.get_waiter("table_exists").wait(TableName=TABLE_NAME, WaiterConfig={"Delay": 1})


def _write_batch(ddb: DynamoDBClient, items: list[Item]) -> int:
    requests: Any = [{"PutRequest": {"Item": item}} for item in items]
    for attempt in range(20):
        response = ddb.batch_write_item(RequestItems={TABLE_NAME: requests})
        requests = response.get("UnprocessedItems", {}).get(TABLE_NAME, [])
        if not requests:
            return len(items)
        time.sleep(min(2.0, 0.05 * 2**attempt))
    raise RuntimeError(f"seed: {len(requests)} items stayed unprocessed")


def _recreate_queues(sqs: SQSClient, say: Callable[[str], None]) -> tuple[str, str]:
    for name in (QUEUE_NAME, DLQ_NAME):
        existing = sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
        for url in existing:
            if url.rsplit("/", 1)[-1] == name:
                say(f"seed: dropping queue {name} in account {DEST_ACCOUNT}")
                sqs.delete_queue(QueueUrl=url)
    dlq_url = sqs.create_queue(QueueName=DLQ_NAME)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=QUEUE_NAME,
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
            "MaximumMessageSize": str(1_048_576),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    # Cross-account sends need the queue policy *and* the sender's IAM policy to allow them.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowSourceAccountProducer",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE_ACCOUNT}:root"},
                "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
                "Resource": queue_arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    return queue_url, dlq_url
