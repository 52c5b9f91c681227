"""SQS messages as the event source mapping hands them to Lambda, and a context with a deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from consumer.contract import SqsEvent, SqsRecord

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef


def lambda_event(messages: Sequence[MessageTypeDef], *, queue_arn: str, region: str) -> SqsEvent:
    records: list[SqsRecord] = []
    for message in messages:
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {str(k): v for k, v in message.get("Attributes", {}).items()},
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


class RunnerContext:
    """The parts of Lambda's context object a handler reads, with a deadline of our choosing."""

    function_name = "asynccopy-consume"
    function_version = "$LOCAL"
    memory_limit_in_mb = 0

    def __init__(self, *, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline_s = clock() + timeout_s
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline_s - self._clock()) * 1000))
