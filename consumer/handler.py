"""The Lambda entry point for the SQS trigger, and the core it shares with the local runner.

Each message is decoded and written on its own: a bad or unwritten message never fails its
neighbours, and an item the table refuses for good goes to the dead-letter queue alone instead
of failing its message. The response names only the messages not fully written
(`ReportBatchItemFailures`); if every message failed, the handler raises instead, so the
event source mapping backs off.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3

from consumer.calls import BoundedClients, CallTimeouts, botocore_config
from consumer.config import ConsumerConfig
from consumer.contract import LambdaContext, PartialBatchResponse, SqsEvent
from consumer.dead_letters import DeadLetterQueue, DeadLetterSink, NoDeadLetterQueue
from consumer.engines import dynamodb_writes
from consumer.gc_tuning import settle_after_start
from consumer.message import DecodedMessage, decode_record
from consumer.metrics import InvocationMetrics
from consumer.results import AllMessagesFailedError, BatchSummary, MessageResult
from consumer.retry import Backoff, Deadline, writer_backoff
from consumer.throttles import ThrottleCounter, counting
from consumer.writer import Writer, make_writer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient


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
        message = decode_record(record, writer.schema, wire_items=writer.wire_items)
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


def _endpoint(environ: Mapping[str, str], service: str) -> str | None:
    """AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL, for emulators."""
    specific = environ.get(f"AWS_ENDPOINT_URL_{service.upper()}")
    return specific or environ.get("AWS_ENDPOINT_URL") or None  # "" means unset, as before


def dynamodb_clients(
    environ: Mapping[str, str], *, max_pool_connections: int
) -> BoundedClients[DynamoDBClient]:
    """Plain low-level clients (AttributeValues pass through untouched), one per timeout rung."""
    endpoint = _endpoint(environ, "dynamodb")

    def make(timeouts: CallTimeouts) -> DynamoDBClient:
        config = botocore_config(timeouts, max_pool_connections=max_pool_connections)
        client: DynamoDBClient = boto3.client("dynamodb", endpoint_url=endpoint, config=config)
        return client

    return BoundedClients(make)


def dead_letter_sink(
    config: ConsumerConfig, environ: Mapping[str, str], *, backoff: Backoff[None]
) -> DeadLetterSink:
    if config.dead_letter_queue_url is None:
        return NoDeadLetterQueue(
            "DEAD_LETTER_QUEUE_URL is not set (deploy/template.yaml sets it to the queue's "
            "dead-letter queue)"
        )
    endpoint = _endpoint(environ, "sqs")

    def make(timeouts: CallTimeouts) -> SQSClient:
        client: SQSClient = boto3.client(
            "sqs", endpoint_url=endpoint, config=botocore_config(timeouts, max_pool_connections=10)
        )
        return client

    return DeadLetterQueue(
        clients=BoundedClients(make), queue_url=config.dead_letter_queue_url, backoff=backoff
    )


_container: tuple[Writer, ConsumerConfig, ThrottleCounter] | None = None


def _container_writer(context: LambdaContext) -> tuple[Writer, ConsumerConfig, ThrottleCounter]:
    # Built once per execution environment: DescribeTable runs on the cold start only, within
    # the first invocation's deadline.
    global _container
    if _container is None:
        config = ConsumerConfig.from_env(os.environ)
        throttles = ThrottleCounter()
        clients = counting(
            dynamodb_writes(
                boto3.Session(),
                engine=config.engine,
                endpoint_url=_endpoint(os.environ, "dynamodb"),
                max_pool_connections=max(10, config.write_threads + 2),
            ),
            throttles,
        )
        backoff = writer_backoff()
        writer = make_writer(
            clients,
            config,
            backoff=backoff,
            dead_letters=dead_letter_sink(config, os.environ, backoff=backoff),
            deadline=Deadline.from_context(context, safety_margin_ms=config.safety_margin_ms),
        )
        _container = (writer, config, throttles)
        # Everything built above lives as long as the container: keep the collector off it.
        settle_after_start()
    return _container


def _print_log_and_metrics(
    config: ConsumerConfig, context: Any, throttles: ThrottleCounter, throttled_before: int
) -> Callable[[BatchSummary], None]:
    def on_summary(summary: BatchSummary) -> None:
        _print_log_line(summary)
        metrics = InvocationMetrics(
            summary=summary, throttled_calls=throttles.count - throttled_before
        )
        function_name = str(
            getattr(context, "function_name", "") or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        )
        line = metrics.emf_line(
            dimensions={"FunctionName": function_name, "Table": config.table_name},
            timestamp_ms=int(time.time() * 1000),
        )
        print(line, flush=True)  # CloudWatch Logs extracts the metrics from this line

    return on_summary


def lambda_handler(event: Any, context: Any) -> PartialBatchResponse:
    writer, config, throttles = _container_writer(context)
    return handle_batch(
        event,
        context,
        writer=writer,
        safety_margin_ms=config.safety_margin_ms,
        on_summary=_print_log_and_metrics(config, context, throttles, throttles.count),
    )
