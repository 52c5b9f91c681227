"""The Lambda wire contract for an SQS trigger, named once.

See "Using Lambda with Amazon SQS" (event shape) and "Handling errors for an SQS event source"
(`ReportBatchItemFailures`: the function returns the messageIds it did not process).
"""

from __future__ import annotations

from typing import Any, NotRequired, Protocol, TypedDict


class SqsRecord(TypedDict):
    messageId: str
    receiptHandle: str
    body: str
    attributes: NotRequired[dict[str, str]]
    messageAttributes: NotRequired[dict[str, Any]]
    md5OfBody: NotRequired[str]
    eventSource: NotRequired[str]
    eventSourceARN: NotRequired[str]
    awsRegion: NotRequired[str]


class SqsEvent(TypedDict):
    Records: list[SqsRecord]


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


class LambdaContext(Protocol):
    """The one part of the Lambda context object the consumer uses."""

    def get_remaining_time_in_millis(self) -> int: ...
