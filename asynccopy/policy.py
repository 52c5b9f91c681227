"""The least-privilege IAM policy the producer's role needs in the source account.

Cross-account sends need two grants: the queue policy in the destination account (see
deploy/template.yaml) *and* this identity policy in the source account.

`copy --wait` also counts the dead-letter queue's messages: it needs sqs:GetQueueAttributes
and sqs:GetQueueUrl on the dead-letter queue as well (the template's DeadLetterQueuePolicy
grants them on that side). The policy printed here names only the queue, whose URL it is
given; add a statement for the dead-letter queue's ARN (the stack's DeadLetterQueueUrl)
when you use --wait (docs/operations.md, "Waiting for the write side").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from asynccopy.errors import InputError
from asynccopy.send.queueurl import parse_queue_url

_TABLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[\w-]*):dynamodb:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):table/(?P<table>[\w.-]+)$"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProducerGrant:
    table_arn: str
    queue_url: str
    queue_region: str | None = None
    index_name: str | None = None  # copy --index: Query and Scan are authorised on its ARN
    skip_expired: bool = False  # copy --skip-expired reads the table's TTL attribute


def queue_arn_from_url(queue_url: str, *, region: str | None, partition: str = "aws") -> str:
    url = parse_queue_url(queue_url)
    if url is None:
        raise InputError(
            f"{queue_url!r} is not an SQS queue URL",
            hint="pass it as https://sqs.REGION.amazonaws.com/ACCOUNT/NAME",
        )
    queue_region = url.region or region
    if queue_region is None:
        raise InputError(f"cannot tell the region of {queue_url!r}", hint="pass --queue-region")
    return f"arn:{partition}:sqs:{queue_region}:{url.account}:{url.name}"


def producer_policy(grant: ProducerGrant) -> dict[str, Any]:
    """An IAM policy document for `asynccopy copy`, `--dry-run` and `bench` on one table."""
    table = _TABLE_ARN.match(grant.table_arn)
    if table is None:
        raise InputError(
            f"{grant.table_arn!r} is not a DynamoDB table ARN",
            hint="pass arn:aws:dynamodb:REGION:ACCOUNT:table/NAME",
        )
    queue_arn = queue_arn_from_url(
        grant.queue_url,
        region=grant.queue_region or table.group("region"),
        partition=table.group("partition"),
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadSourceTable",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeTable",
                    "dynamodb:BatchGetItem",
                    "dynamodb:Query",
                    "dynamodb:Scan",
                    *(["dynamodb:DescribeTimeToLive"] if grant.skip_expired else []),
                ],
                "Resource": _table_resources(grant),
            },
            {
                # GetQueueAttributes reads MaximumMessageSize once; without it asynccopy
                # falls back to 256 KiB messages.
                "Sid": "SendToDestinationQueue",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
                "Resource": queue_arn,
            },
        ],
    }


def _table_resources(grant: ProducerGrant) -> str | list[str]:
    """The table's ARN, and its index's: a Query or Scan with IndexName is authorised on
    TABLE_ARN/index/NAME, not on the table's ARN (DynamoDB's IAM resource types)."""
    if grant.index_name is None:
        return grant.table_arn
    return [grant.table_arn, f"{grant.table_arn}/index/{grant.index_name}"]


def render(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2)
