"""Plain (synchronous) boto3 clients for the runner, from the AWS-CLI-style credential flags.

The consumer's handler is synchronous and uses low-level clients, so the runner does too:
AttributeValues pass through untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from asynccopy.aws import DEFAULT_REGION, AwsTarget, endpoint_for
from asynccopy.errors import AssumeRoleError, CredentialsError, ProfileNotFoundError
from asynccopy.retry import error_code
from consumer.calls import BoundedClients, CallTimeouts, botocore_config
from consumer.config import ConsumerEngine
from consumer.engines import dynamodb_writes
from consumer.fast_dynamodb import DynamoDBWrites

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def open_sync_session(target: AwsTarget) -> boto3.Session:
    """A session with working credentials for `target`, or an InputError saying what to fix."""
    try:
        session = boto3.Session(profile_name=target.profile, region_name=target.region)
    except ProfileNotFound as exc:
        raise ProfileNotFoundError(profile=target.profile) from exc
    if not session.region_name:
        session = boto3.Session(profile_name=target.profile, region_name=DEFAULT_REGION)
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise CredentialsError(profile=target.profile, cause=type(exc).__name__) from exc
    if credentials is None:
        raise CredentialsError(profile=target.profile)
    if target.role_arn is None:
        return session
    sts: Any = session.client("sts", endpoint_url=endpoint_for(target, "sts"))
    try:
        creds = sts.assume_role(RoleArn=target.role_arn, RoleSessionName="asynccopy-consume")[
            "Credentials"
        ]
    except (BotoCoreError, ClientError) as exc:
        raise AssumeRoleError(role_arn=target.role_arn, code=error_code(exc)) from exc
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=session.region_name,
    )


def _config(max_pool_connections: int) -> Config:
    # botocore's pool defaults to 10 connections, which caps real concurrency: size it.
    return Config(
        max_pool_connections=max_pool_connections,
        connect_timeout=10,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
    )


def sqs_client(session: boto3.Session, target: AwsTarget, *, connections: int) -> SQSClient:
    client: SQSClient = session.client(
        "sqs", endpoint_url=endpoint_for(target, "sqs"), config=_config(connections)
    )
    return client


def dynamodb_clients(
    session: boto3.Session, target: AwsTarget, *, connections: int, engine: ConsumerEngine
) -> BoundedClients[DynamoDBWrites]:
    """The writers' clients on `engine`: one attempt per call, timeouts that end before the
    deadline."""
    return dynamodb_writes(
        session,
        engine=engine,
        endpoint_url=endpoint_for(target, "dynamodb"),
        max_pool_connections=connections,
    )


def dead_letter_sqs_clients(session: boto3.Session, target: AwsTarget) -> BoundedClients[SQSClient]:
    """Clients that send rejected items to the dead-letter queue, bounded like the writers'."""
    endpoint = endpoint_for(target, "sqs")

    def make(timeouts: CallTimeouts) -> SQSClient:
        config = botocore_config(timeouts, max_pool_connections=10)
        client: SQSClient = session.client("sqs", endpoint_url=endpoint, config=config)
        return client

    return BoundedClients(make)
