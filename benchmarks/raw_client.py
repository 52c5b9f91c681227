"""The baseline asynccopy is measured against: the least code that does the same job.

BatchGetItem of 100 keys and SendMessageBatch of messages packed with asynccopy's own wire format,
`--concurrency` workers on plain aiobotocore clients: no limiter, no progress, no retries beyond
UnprocessedKeys and Failed entries, no accounting. Run as

    python -m benchmarks.raw_client --keys FILE --table T --queue-url URL --concurrency N

with the source account's AWS_* variables; prints one JSON summary whose `elapsed_s` runs from the
first call to the last reply, as `asynccopy copy --json` measures its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from asynccopy.send.packing import BatchPacker, Message, MessagePacker

KEYS_PER_BATCH_GET: Final = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class RawResult:
    items_selected: int
    items_read: int
    items_sent: int
    messages_sent: int
    batches_sent: int
    elapsed_s: float

    @property
    def items_per_s(self) -> float:
        return self.items_sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def read_keys(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _chunks(keys: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


@dataclass
class _Counts:
    items_read: int = 0
    items_sent: int = 0
    messages_sent: int = 0
    batches_sent: int = 0


async def _send(sqs: Any, queue_url: str, batch: list[Message], counts: _Counts) -> None:
    entries = [{"Id": str(i), "MessageBody": m.body} for i, m in enumerate(batch)]
    while entries:
        reply = await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        failed = {f["Id"] for f in reply.get("Failed", [])}
        entries = [e for e in entries if e["Id"] in failed]
    counts.batches_sent += 1
    counts.messages_sent += len(batch)
    counts.items_sent += sum(len(m.keys) for m in batch)


async def _worker(
    *,
    ddb: Any,
    sqs: Any,
    chunks: Iterator[Sequence[str]],
    table: str,
    key_name: str,
    queue_url: str,
    max_message_bytes: int,
    counts: _Counts,
) -> None:
    messages = MessagePacker(key_names=[key_name], max_message_bytes=max_message_bytes)
    batches = BatchPacker(max_batch_bytes=max_message_bytes)
    for chunk in chunks:  # a shared iterator: each worker takes the next chunk
        request: dict[str, Any] = {table: {"Keys": [{key_name: {"S": k}} for k in chunk]}}
        while request:
            reply = await ddb.batch_get_item(RequestItems=request)
            items = reply["Responses"].get(table, [])
            counts.items_read += len(items)
            for item in items:
                for message in messages.add(item):
                    for batch in batches.add(message):
                        await _send(sqs, queue_url, batch, counts)
            request = reply.get("UnprocessedKeys") or {}
    for message in messages.flush():
        for batch in batches.add(message):
            await _send(sqs, queue_url, batch, counts)
    for batch in batches.flush():
        await _send(sqs, queue_url, batch, counts)


async def copy_raw(
    *,
    keys: Sequence[str],
    table: str,
    key_name: str,
    queue_url: str,
    concurrency: int,
    endpoint_url: str | None = None,
) -> RawResult:
    """Copy the items of `keys` to the queue; the timing covers the calls only."""
    session = get_session()
    config = AioConfig(max_pool_connections=concurrency)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    async with (
        session.create_client(
            "dynamodb", region_name=region, endpoint_url=endpoint_url, config=config
        ) as ddb,
        session.create_client(
            "sqs", region_name=region, endpoint_url=endpoint_url, config=config
        ) as sqs,
    ):
        attributes = await sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["MaximumMessageSize"]
        )
        max_message_bytes = int(attributes["Attributes"]["MaximumMessageSize"])
        counts = _Counts()
        chunks = _chunks(keys, KEYS_PER_BATCH_GET)
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(
                    _worker(
                        ddb=ddb,
                        sqs=sqs,
                        chunks=chunks,
                        table=table,
                        key_name=key_name,
                        queue_url=queue_url,
                        max_message_bytes=max_message_bytes,
                        counts=counts,
                    )
                )
        elapsed_s = time.perf_counter() - started
    return RawResult(
        items_selected=len(keys),
        items_read=counts.items_read,
        items_sent=counts.items_sent,
        messages_sent=counts.messages_sent,
        batches_sent=counts.batches_sent,
        elapsed_s=elapsed_s,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.raw_client", description=__doc__)
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--key-name", default="userid")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--endpoint-url", default=None)
    args = parser.parse_args(argv)
    result = asyncio.run(
        copy_raw(
            keys=read_keys(args.keys),
            table=args.table,
            key_name=args.key_name,
            queue_url=args.queue_url,
            concurrency=args.concurrency,
            endpoint_url=args.endpoint_url,
        )
    )
    print(json.dumps({**asdict(result), "items_per_s": result.items_per_s}))


if __name__ == "__main__":
    main()
