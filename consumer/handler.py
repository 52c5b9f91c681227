"""The Lambda entry point for the SQS trigger, and the core it shares with the local runner.

Each message is decoded and written on its own: a bad or unwritten message never fails its
neighbours. The response names only the messages not fully written
(`ReportBatchItemFailures`); if every message failed, the handler raises instead, so the
event source mapping backs off.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from consumer.backoff import Deadline
from consumer.config import ConsumerConfig
from consumer.contract import LambdaContext, PartialBatchResponse, SqsEvent
from consumer.message import DecodedMessage, decode_record
from consumer.results import AllMessagesFailedError, BatchSummary, MessageResult
from consumer.writer import Writer, make_writer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _print_log_line(summary: BatchSummary) -> None:
    print(summary.log_line(), flush=True)  # stdout goes to CloudWatch Logs


def handle_batch(
    event: SqsEvent,
    context: LambdaContext,
    *,
    writer: Writer,
    safety_margin_ms: int = 5_000,
    on_summary: Callable[[BatchSummary], None] = _print_log_line,
    clock: Callable[[], float] = time.monotonic,
) -> PartialBatchResponse:
    """Write the batch's items; the messages not fully written, or AllMessagesFailedError."""
    started = clock()
    deadline = Deadline.from_context(context, safety_margin_ms=safety_margin_ms, clock=clock)
    results: dict[str, MessageResult] = {}
    decoded: list[DecodedMessage] = []
    order = [record["messageId"] for record in event["Records"]]
    for record in event["Records"]:
        message = decode_record(record, writer.schema)
        if isinstance(message, DecodedMessage):
            decoded.append(message)
        else:
            results[message.message_id] = MessageResult(
                message_id=message.message_id, failure=message.reason
            )
    for result in writer.write(decoded, deadline):
        results[result.message_id] = result
    ordered = [results[message_id] for message_id in order]
    summary = BatchSummary.of(ordered, duration_ms=round((clock() - started) * 1000))
    on_summary(summary)
    if summary.all_failed:
        raise AllMessagesFailedError(summary)
    return {"batchItemFailures": [{"itemIdentifier": r.message_id} for r in summary.failures]}


def dynamodb_client(environ: Mapping[str, str], *, max_pool_connections: int) -> DynamoDBClient:
    """A plain low-level client (AttributeValues pass through untouched), honouring
    AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL for emulators."""
    endpoint = environ.get("AWS_ENDPOINT_URL_DYNAMODB") or environ.get("AWS_ENDPOINT_URL")
    config = Config(
        # botocore's pool defaults to 10 connections: size it to the writer's threads.
        max_pool_connections=max_pool_connections,
        connect_timeout=5,
        read_timeout=20,
        # The writers retry throttling themselves, bounded by the invocation's deadline.
        retries={"max_attempts": 3, "mode": "standard"},
    )
    client: DynamoDBClient = boto3.client("dynamodb", endpoint_url=endpoint or None, config=config)
    return client


_container: tuple[Writer, ConsumerConfig] | None = None


def _container_writer() -> tuple[Writer, ConsumerConfig]:
    # Built once per execution environment: DescribeTable runs on the cold start only.
    global _container
    if _container is None:
        config = ConsumerConfig.from_env(os.environ)
        client = dynamodb_client(os.environ, max_pool_connections=max(10, config.write_threads + 2))
        _container = (make_writer(client, config), config)
    return _container


def lambda_handler(event: Any, context: Any) -> PartialBatchResponse:
    writer, config = _container_writer()
    return handle_batch(event, context, writer=writer, safety_margin_ms=config.safety_margin_ms)
