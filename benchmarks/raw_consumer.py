"""The baseline `asynccopy consume` is measured against: the least code that drains the queue.

`--concurrency` workers on plain aiobotocore clients, each: ReceiveMessage of 10, one
BatchWriteItem per message (a message holds at most 25 items, BatchWriteItem's limit),
UnprocessedItems retried until none are left, then DeleteMessageBatch of what was received.
No handler, no write modes, no dead-letter queue, no accounting beyond counts. Run as

    python -m benchmarks.raw_consumer --queue-url URL --table T [--until-empty | --items N]

with the destination account's AWS_* variables; prints one JSON summary whose `elapsed_s` runs
from the first receive to the last delete. It stops at the first empty receive with
`--until-empty`, once N items are written with `--items N`, or on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from consumer.wire import decode_body

RECEIVE_MAX_MESSAGES: Final = 10  # ReceiveMessage's limit
UNPROCESSED_BACKOFF_S: Final = 0.05


@dataclass(frozen=True, kw_only=True, slots=True)
class RawConsumeResult:
    messages: int
    items: int
    batch_writes: int
    unprocessed_retries: int
    elapsed_s: float  # first receive to last delete

    @property
    def items_per_s(self) -> float:
        return self.items / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class _Counts:
    messages: int = 0
    items: int = 0
    batch_writes: int = 0
    unprocessed_retries: int = 0
    first_receive_s: float | None = None
    last_delete_s: float = 0.0


async def _write(ddb: Any, table: str, items: list[Any], counts: _Counts) -> None:
    request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    while request:
        reply = await ddb.batch_write_item(RequestItems=request)
        counts.batch_writes += 1
        request = reply.get("UnprocessedItems") or {}
        if request:
            counts.unprocessed_retries += 1
            await asyncio.sleep(UNPROCESSED_BACKOFF_S)


async def _worker(
    *,
    sqs: Any,
    ddb: Any,
    queue_url: str,
    table: str,
    wait_s: int,
    until_empty: bool,
    target_items: int | None,
    stop: asyncio.Event,
    counts: _Counts,
) -> None:
    while not stop.is_set():
        reply = await sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=RECEIVE_MAX_MESSAGES, WaitTimeSeconds=wait_s
        )
        messages = reply.get("Messages", [])
        if not messages:
            if until_empty:
                return
            continue
        if counts.first_receive_s is None:
            counts.first_receive_s = time.perf_counter()
        for message in messages:
            items = decode_body(message["Body"])
            await _write(ddb, table, items, counts)
            counts.items += len(items)
        await sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        counts.messages += len(messages)
        counts.last_delete_s = time.perf_counter()
        if target_items is not None and counts.items >= target_items:
            stop.set()


async def consume_raw(
    *,
    queue_url: str,
    table: str,
    concurrency: int,
    wait_s: int = 1,
    until_empty: bool = False,
    target_items: int | None = None,
    endpoint_url: str | None = None,
) -> RawConsumeResult:
    session = get_session()
    config = AioConfig(max_pool_connections=concurrency)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    counts = _Counts()
    async with (
        session.create_client(
            "sqs", region_name=region, endpoint_url=endpoint_url, config=config
        ) as sqs,
        session.create_client(
            "dynamodb", region_name=region, endpoint_url=endpoint_url, config=config
        ) as ddb,
        asyncio.TaskGroup() as group,
    ):
        for _ in range(concurrency):
            group.create_task(
                _worker(
                    sqs=sqs,
                    ddb=ddb,
                    queue_url=queue_url,
                    table=table,
                    wait_s=wait_s,
                    until_empty=until_empty,
                    target_items=target_items,
                    stop=stop,
                    counts=counts,
                )
            )
    started = counts.first_receive_s
    return RawConsumeResult(
        messages=counts.messages,
        items=counts.items,
        batch_writes=counts.batch_writes,
        unprocessed_retries=counts.unprocessed_retries,
        elapsed_s=0.0 if started is None else counts.last_delete_s - started,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.raw_consumer", description=__doc__)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--wait-time-seconds", type=int, default=1)
    parser.add_argument("--until-empty", action="store_true")
    parser.add_argument("--items", type=int, default=None, help="stop once this many are written")
    parser.add_argument("--endpoint-url", default=None)
    args = parser.parse_args(argv)
    result = asyncio.run(
        consume_raw(
            queue_url=args.queue_url,
            table=args.table,
            concurrency=args.concurrency,
            wait_s=args.wait_time_seconds,
            until_empty=args.until_empty,
            target_items=args.items,
            endpoint_url=args.endpoint_url,
        )
    )
    print(json.dumps({**asdict(result), "items_per_s": result.items_per_s}))


if __name__ == "__main__":
    main()
