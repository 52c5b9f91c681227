"""The consumer handler fed real SQS messages, timed around `lambda_handler` calls only.

Run as a child process with the destination account's AWS_* variables and TABLE_NAME, as the
Lambda runtime would set them:

    python -m benchmarks.consumer_run --queue-url URL --messages N

Receives up to 10 messages at a time, hands them to `consumer.handler.lambda_handler` as the SQS
event source mapping would, deletes what it reports written, and prints one JSON summary.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import boto3

from asynccopy.codec import decode_body

RECEIVE_MAX_MESSAGES: Final = 10  # the event source mapping's default BatchSize
FUNCTION_TIMEOUT_MS: Final = 60_000


class _Context:
    """The part of the Lambda context the handler reads: a fresh deadline per invocation."""

    def __init__(self, timeout_ms: int) -> None:
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumerRunResult:
    invocations: int
    messages: int
    items: int
    messages_failed: int
    handler_s: float

    @property
    def items_per_s(self) -> float:
        return self.items / self.handler_s if self.handler_s > 0 else 0.0


def _event(messages: Sequence[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def consume(*, queue_url: str, messages: int, quiet: bool = True) -> ConsumerRunResult:
    from consumer.handler import lambda_handler  # reads TABLE_NAME etc. on the first call

    sqs = boto3.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    invocations = done = items = failed = 0
    handler_s = 0.0
    empty_polls = 0
    while done < messages and empty_polls < 3:
        reply = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=RECEIVE_MAX_MESSAGES,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        )
        batch = reply.get("Messages", [])
        if not batch:
            empty_polls += 1
            continue
        empty_polls = 0
        event = _event(batch, queue_arn)
        log = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(log) if quiet else contextlib.nullcontext():
            response = lambda_handler(event, _Context(FUNCTION_TIMEOUT_MS))
        handler_s += time.perf_counter() - started
        invocations += 1
        unwritten = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        written = [m for m in batch if m["MessageId"] not in unwritten]
        failed += len(unwritten)
        done += len(batch)
        items += sum(len(decode_body(m["Body"])) for m in written)
        if written:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(written)
                ],
            )
    return ConsumerRunResult(
        invocations=invocations,
        messages=done,
        items=items,
        messages_failed=failed,
        handler_s=handler_s,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consumer_run", description=__doc__)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--messages", type=int, required=True)
    args = parser.parse_args(argv)
    result = consume(queue_url=args.queue_url, messages=args.messages)
    print(json.dumps({**asdict(result), "items_per_s": result.items_per_s}))


if __name__ == "__main__":
    main()
