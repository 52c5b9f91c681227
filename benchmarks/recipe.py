"""The original recipe asynccopy replaces: one `get_item` then one `send_message` per key, in
sequence, on synchronous boto3 (its one-second sleep between items removed).

The body is one item in asynccopy's wire format, so both sides carry the same bytes; the
recipe's own `json.dumps` lost binary values and sets. Run as

    python -m benchmarks.recipe --keys FILE --table T --queue-url URL [--limit N]

with the source account's AWS_* variables; prints one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import boto3

from benchmarks.harness import read_keys
from consumer.wire import Item, encode_items


@dataclass(frozen=True, kw_only=True, slots=True)
class RecipeResult:
    items_selected: int
    items_sent: int
    items_missing: int
    elapsed_s: float

    @property
    def items_per_s(self) -> float:
        return self.items_sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def copy_recipe(
    *,
    keys: Sequence[str],
    table: str,
    key_name: str,
    queue_url: str,
    endpoint_url: str | None = None,
) -> RecipeResult:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    ddb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
    sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)
    sent = missing = 0
    started = time.perf_counter()
    for key in keys:
        reply = ddb.get_item(TableName=table, Key={key_name: {"S": key}})
        item = reply.get("Item")
        if item is None:
            missing += 1
            continue
        body = encode_items([cast(Item, item)])
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        sent += 1
    elapsed_s = time.perf_counter() - started
    return RecipeResult(
        items_selected=len(keys), items_sent=sent, items_missing=missing, elapsed_s=elapsed_s
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recipe", description=__doc__)
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--key-name", default="userid")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--limit", type=int, default=None, help="only the first N keys")
    parser.add_argument("--endpoint-url", default=None)
    args = parser.parse_args(argv)
    keys = read_keys(args.keys)
    result = copy_recipe(
        keys=keys[: args.limit] if args.limit is not None else keys,
        table=args.table,
        key_name=args.key_name,
        queue_url=args.queue_url,
        endpoint_url=args.endpoint_url,
    )
    print(json.dumps({**asdict(result), "items_per_s": result.items_per_s}))


if __name__ == "__main__":
    main()
