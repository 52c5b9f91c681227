"""The fast engine: the calls made per item, signed by botocore and sent on one aiohttp session.

    open_fast_clients(...)  ->  FastClients(dynamodb=FastDynamoDB, sqs=FastSqs)
        dynamodb.py   batch_get_item / query / scan   (items stay wire JSON: consumer.wire.WireItem)
        sqs.py        send_message_batch
        transport.py  JsonService: sign, POST, x-amz-crc32, orjson, botocore errors (one attempt:
                      the callers retry through consumer.retry's one policy);
                      Route: the proxy and CA bundle botocore would use for an endpoint
        signer.py     CredentialSource (the session's credentials), sign (botocore SigV4Auth)

Their methods take the keywords the botocore clients take and return replies of the same
shape, so the sources and the sender use either engine unchanged. The few other calls a
command makes (DescribeTable, DescribeTimeToLive, GetQueueAttributes, STS) go through
botocore's own clients in a worker thread (asynccopy.botosession), whose session also gives
the credentials: with this engine, nothing imports aioboto3 or aiobotocore.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from asynccopy.aws import session_ca_bundle
from asynccopy.engine.dynamodb import FastDynamoDB
from asynccopy.engine.signer import CredentialSource
from asynccopy.engine.sqs import FastSqs
from asynccopy.engine.transport import (
    DYNAMODB,
    SQS,
    Crc32MismatchError,
    EngineError,
    JsonService,
    default_endpoint,
    open_http,
    route_for,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Endpoint:
    """One side of a copy: the session to sign as, and where to send."""

    session: Any  # a ThreadedSession (asynccopy.botosession) whose region_name is set
    endpoint_url: str | None  # None: the service's default for the session's region


@dataclass(frozen=True, kw_only=True, slots=True)
class FastClients:
    dynamodb: FastDynamoDB
    sqs: FastSqs


@contextlib.asynccontextmanager
async def open_fast_clients(
    *,
    source: Endpoint,
    queue: Endpoint,
    connections: int,
    connect_timeout_s: float = 10.0,
    read_timeout_s: float = 60.0,
) -> AsyncIterator[FastClients]:
    """Both clients on one aiohttp session of `connections` connections, closed on exit."""
    ddb_region = source.session.region_name
    sqs_region = queue.session.region_name
    ddb_url = source.endpoint_url or default_endpoint("dynamodb", ddb_region)
    sqs_url = queue.endpoint_url or default_endpoint("sqs", sqs_region)
    # Each side through the proxy and with the CA bundle its botocore client uses.
    ddb_route = route_for(ddb_url, ca_bundle=session_ca_bundle(source.session))
    sqs_route = (
        ddb_route
        if sqs_url == ddb_url and queue.session is source.session
        else route_for(sqs_url, ca_bundle=session_ca_bundle(queue.session))
    )
    http = open_http(
        connections=connections,
        connect_timeout_s=connect_timeout_s,
        read_timeout_s=read_timeout_s,
    )
    async with http:
        source_credentials = CredentialSource(source.session)
        queue_credentials = (
            source_credentials
            if queue.session is source.session
            else CredentialSource(queue.session)
        )
        yield FastClients(
            dynamodb=FastDynamoDB(
                JsonService(
                    http,
                    service=DYNAMODB,
                    region=ddb_region,
                    endpoint_url=ddb_url,
                    credentials=source_credentials,
                    route=ddb_route,
                )
            ),
            sqs=FastSqs(
                JsonService(
                    http,
                    service=SQS,
                    region=sqs_region,
                    endpoint_url=sqs_url,
                    credentials=queue_credentials,
                    route=sqs_route,
                )
            ),
        )


__all__ = [
    "Crc32MismatchError",
    "Endpoint",
    "EngineError",
    "FastClients",
    "FastDynamoDB",
    "FastSqs",
    "open_fast_clients",
]
