"""The synchronous SQS client `status` and `dlq` call a queue with, from the credential flags.

The queue URL is checked first (a queue URL, not a FIFO queue), its region taken when the
flags name none, and the client sent where the URL says (asynccopy/send/queueurl.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from asynccopy.aws import AwsTarget, endpoint_for
from asynccopy.consume.clients import open_sync_session, sqs_client
from asynccopy.engine.transport import default_endpoint
from asynccopy.errors import InputError, TableNotFoundError
from asynccopy.retry import error_code
from asynccopy.send.queueurl import (
    QueueUrl,
    check_queue_url,
    endpoint_source,
    queue_endpoint,
    queue_target_for,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True, kw_only=True, slots=True)
class OpenedQueue:
    url: QueueUrl
    target: AwsTarget  # with the URL's region when the flags named none
    session: boto3.Session
    sqs: SQSClient


def open_queue(queue_url: str, target: AwsTarget) -> OpenedQueue:
    """The parsed URL and a client that calls its queue, or an InputError (exit 2)."""
    url = check_queue_url(queue_url)
    target = queue_target_for(url, explicit=target, inherited=AwsTarget())
    session = open_sync_session(target)
    client = sqs_client(session, target, connections=4)
    configured = endpoint_for(target, "sqs")
    resolved = client.meta.endpoint_url
    default = default_endpoint("sqs", client.meta.region_name)
    configured_by = None
    if configured is not None:
        configured_by = endpoint_source(target, target)
    elif resolved != default:
        configured_by = "the profile's endpoint_url"
    instead = queue_endpoint(url, resolved=resolved, default=default, configured_by=configured_by)
    if instead is not None:
        client = session.client("sqs", endpoint_url=instead, config=client.meta.config)
    return OpenedQueue(url=url, target=target, session=session, sqs=client)


def table_key_names(opened: OpenedQueue, table: str) -> list[str]:
    """The table's key attribute names, partition key first (DescribeTable)."""
    ddb: Any = opened.session.client(
        "dynamodb", endpoint_url=endpoint_for(opened.target, "dynamodb")
    )
    try:
        schema = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise TableNotFoundError(
                table=table,
                region=opened.session.region_name,
                hint="check --table: the destination table the dead letters were meant for",
            ) from exc
        raise InputError(
            f"cannot describe table {table!r}: {error_code(exc)}",
            hint="check --table and that your identity may call dynamodb:DescribeTable",
        ) from exc
    except BotoCoreError as exc:
        raise InputError(
            f"cannot describe table {table!r}: {error_code(exc)}",
            hint="check --endpoint-url, the region and the network",
        ) from exc
    ordered = sorted(schema, key=lambda part: part["KeyType"] != "HASH")
    return [str(part["AttributeName"]) for part in ordered]
