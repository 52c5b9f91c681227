"""The consumer's two DynamoDB engines, chosen by CONSUMER_ENGINE (`consume --engine`).

    fast      signed JSON straight from the message's items (consumer.fast_dynamodb): the default
    botocore  boto3's low-level client, the fallback

Both give the writers the same calls, shapes and errors, with one attempt per call on a client
whose timeouts end before the deadline (consumer.calls).
"""

from __future__ import annotations

from typing import Final, get_args

import boto3

from consumer.calls import BoundedClients, CallTimeouts, botocore_config
from consumer.config import ConsumerEngine
from consumer.fast_dynamodb import DynamoDBWrites, fast_clients

ENGINES: Final[tuple[ConsumerEngine, ...]] = get_args(ConsumerEngine)
DEFAULT_ENGINE: Final[ConsumerEngine] = "fast"


class NoCredentialsForFastEngineError(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "the fast engine found no AWS credentials in the session (give the function a role, "
            "or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; CONSUMER_ENGINE=botocore also works)"
        )


def dynamodb_writes(
    session: boto3.Session,
    *,
    engine: ConsumerEngine,
    endpoint_url: str | None,
    max_pool_connections: int,
) -> BoundedClients[DynamoDBWrites]:
    """The writers' DynamoDB clients for `engine`, from `session`'s credentials and region."""
    if engine == "fast":
        # A botocore client resolves the endpoint (an override, else the Region's) and region
        # exactly as the botocore engine would; it makes no call.
        probe = session.client("dynamodb", endpoint_url=endpoint_url)
        credentials = session.get_credentials()
        if credentials is None:
            raise NoCredentialsForFastEngineError()
        return fast_clients(
            endpoint_url=probe.meta.endpoint_url,
            region=probe.meta.region_name,
            credentials=credentials,
            max_pool_connections=max_pool_connections,
        )

    def make(timeouts: CallTimeouts) -> DynamoDBWrites:
        config = botocore_config(timeouts, max_pool_connections=max_pool_connections)
        client: DynamoDBWrites = session.client(
            "dynamodb", endpoint_url=endpoint_url, config=config
        )
        return client

    return BoundedClients(make)
