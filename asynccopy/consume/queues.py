"""The dead-letter queue of the queue being consumed, found from its redrive policy.

The Lambda is told its dead-letter queue (DEAD_LETTER_QUEUE_URL); the local runner, like the
event source mapping, sees only the queue, so it reads the queue's RedrivePolicy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from asynccopy.errors import InputError
from asynccopy.retry import error_code

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True, kw_only=True, slots=True)
class DeadLetterTarget:
    url: str | None
    why_none: str = ""  # when url is None: why no dead-letter queue is known


def find_dead_letter_queue(sqs: SQSClient, queue_url: str) -> DeadLetterTarget:
    """The URL of `queue_url`'s dead-letter queue, or why there is none to use."""
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]
    except (BotoCoreError, ClientError) as exc:
        raise InputError(
            f"cannot read queue {queue_url}: {error_code(exc)}",
            hint="check --queue-url, the region and your credentials",
        ) from exc
    policy = attributes.get("RedrivePolicy")
    if not policy:
        return DeadLetterTarget(url=None, why_none=f"queue {queue_url} has no redrive policy")
    try:
        arn = str(json.loads(policy)["deadLetterTargetArn"])
        # arn:<partition>:sqs:<region>:<account>:<name>
        _, _, _, _, account, name = arn.split(":", 5)
    except (ValueError, KeyError, TypeError):
        return DeadLetterTarget(
            url=None, why_none=f"queue {queue_url} has a redrive policy without a usable ARN"
        )
    try:
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    except (BotoCoreError, ClientError) as exc:
        return DeadLetterTarget(
            url=None,
            why_none=f"its dead-letter queue {arn} cannot be found ({error_code(exc)})",
        )
    return DeadLetterTarget(url=url)
