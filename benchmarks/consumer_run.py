"""The consumer handler fed real SQS messages, timed around `lambda_handler` calls only.

Run as a child process with the destination account's AWS_* variables and TABLE_NAME (and
WRITE_MODE, CONSUMER_ENGINE), as the Lambda runtime would set them:

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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Final

import boto3

from asynccopy.consume.events import RunnerContext, lambda_event
from consumer.wire import decode_body

RECEIVE_MAX_MESSAGES: Final = 10  # the event source mapping's default BatchSize
FUNCTION_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumerRunResult:
    invocations: int
    messages: int
    items: int
    messages_failed: int
    handler_s: float
    handler_cpu_s: float  # this process's CPU (every thread) inside lambda_handler
    # The same after the first invocation (the cold start: clients made, DescribeTable), so
    # that CPU per item is the steady state's.
    warm_cpu_s: float
    warm_items: int

    @property
    def items_per_s(self) -> float:
        return self.items / self.handler_s if self.handler_s > 0 else 0.0


def consume(*, queue_url: str, messages: int, quiet: bool = True) -> ConsumerRunResult:
    from consumer.handler import lambda_handler  # reads TABLE_NAME etc. on the first call

    sqs = boto3.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    invocations = done = items = failed = 0
    handler_s = handler_cpu_s = warm_cpu_s = 0.0
    warm_items = 0
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
        event = lambda_event(batch, queue_arn=queue_arn, region="us-east-1")
        # A fresh deadline per invocation, as Lambda gives each its own.
        context = RunnerContext(timeout_s=FUNCTION_TIMEOUT_S)
        log = io.StringIO()
        started = time.perf_counter()
        started_cpu = time.process_time()
        with contextlib.redirect_stdout(log) if quiet else contextlib.nullcontext():
            response = lambda_handler(event, context)
        cpu_s = time.process_time() - started_cpu
        handler_cpu_s += cpu_s
        handler_s += time.perf_counter() - started
        invocations += 1
        unwritten = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        written = [m for m in batch if m["MessageId"] not in unwritten]
        failed += len(unwritten)
        done += len(batch)
        written_items = sum(len(decode_body(m["Body"])) for m in written)
        items += written_items
        if invocations > 1:
            warm_cpu_s += cpu_s
            warm_items += written_items
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
        handler_cpu_s=handler_cpu_s,
        warm_cpu_s=warm_cpu_s,
        warm_items=warm_items,
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
