"""AWS sessions the AWS CLI way: profile, region, endpoint URL, role to assume, `AWS_*` variables.

The standard credential chain is botocore's own; this module only adds the role assumption
and turns the chain's failures into one-line input errors. The session is the engine's:
aioboto3's for `--engine botocore`, botocore's own (asynccopy.botosession) for the fast
engine, which then never imports aioboto3 or aiobotocore.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from asynccopy.choices import Engine
from asynccopy.errors import AssumeRoleError, CredentialsError, ProfileNotFoundError
from asynccopy.retry import error_code

if TYPE_CHECKING:
    from botocore.config import Config

DEFAULT_REGION = "us-east-1"
# Attempts a client makes per call: one. asynccopy retries throttling, 5xx and lost connections
# itself (consumer/retry.py's one policy), so that the read-capacity limiter sees every throttle.
CLIENT_ATTEMPTS = 1
# Connections beyond the workers: DescribeTable, GetQueueAttributes and a spare.
EXTRA_CONNECTIONS = 2


@dataclass(frozen=True, kw_only=True, slots=True)
class AwsTarget:
    """Where and as whom to call AWS. None means: as the standard chain decides."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    role_arn: str | None = None

    def or_else(self, fallback: AwsTarget) -> AwsTarget:
        """Each unset field taken from `fallback` (the queue side defaults to the source side)."""
        return AwsTarget(
            profile=self.profile if self.profile is not None else fallback.profile,
            region=self.region if self.region is not None else fallback.region,
            endpoint_url=(
                self.endpoint_url if self.endpoint_url is not None else fallback.endpoint_url
            ),
            role_arn=self.role_arn if self.role_arn is not None else fallback.role_arn,
        )


def pool_connections(concurrency: int) -> int:
    """HTTP connections for `concurrency` workers: one each, plus EXTRA_CONNECTIONS."""
    return concurrency + EXTRA_CONNECTIONS


def client_config(*, concurrency: int, engine: Engine, connect_timeout_s: float = 10.0) -> Config:
    """A client's config for `concurrency` workers, for the sessions `engine` opens (aiobotocore's
    AioConfig for --engine botocore, botocore's Config for the fast engine): botocore's pool
    defaults to 10 connections, which caps real concurrency, so it is sized by pool_connections."""
    options: dict[str, Any] = {
        "max_pool_connections": pool_connections(concurrency),
        "connect_timeout": connect_timeout_s,
        "read_timeout": 60,
        # One attempt: asynccopy retries throttling, 5xx and lost connections itself (the one
        # policy, consumer/retry.py) with jittered backoff it can count. botocore's own retries
        # would hide throttling from the read-capacity limiter, which must slow down when
        # DynamoDB says so.
        "retries": {"total_max_attempts": CLIENT_ATTEMPTS, "mode": "standard"},
    }
    if engine is Engine.FAST:
        from botocore.config import Config

        return Config(**options)
    from aiobotocore.config import AioConfig  # imported when needed: `--help` stays quick

    return AioConfig(**options)


def session_ca_bundle(session: Any) -> str | None:
    """The CA bundle the session's clients verify TLS with: the profile's `ca_bundle`, or
    AWS_CA_BUNDLE (botocore's own lookup); None: botocore's default.

    `session` is a ThreadedSession (its botocore session is `core`) or a boto3/aioboto3
    session, which keeps its botocore session in `_session` and offers no public way to read a
    config variable; the fast engine needs this one to trust what the botocore clients trust.
    """
    core = getattr(session, "core", None) or getattr(session, "_session", None)
    if core is None:
        return None
    bundle = core.get_config_variable("ca_bundle")
    return bundle if isinstance(bundle, str) and bundle else None


def endpoint_for(target: AwsTarget, service: str) -> str | None:
    """`--endpoint-url` first, then `AWS_ENDPOINT_URL_<SERVICE>` and `AWS_ENDPOINT_URL`."""
    if target.endpoint_url:
        return target.endpoint_url
    return os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get(
        "AWS_ENDPOINT_URL"
    )


async def open_sessions(*targets: AwsTarget, engine: Engine = Engine.BOTOCORE) -> list[Any]:
    """A session per target for `engine` (see open_session); equal targets share one (one
    credential check, one role assumed)."""
    opened: dict[AwsTarget, Any] = {}
    for target in targets:
        if target not in opened:
            opened[target] = await open_session(target, engine=engine)
    return [opened[target] for target in targets]


def _new_session(
    engine: Engine,
    *,
    profile: str | None,
    region: str | None,
    credentials: tuple[str, str, str] | None = None,
) -> Any:
    """The fast engine's ThreadedSession, or (--engine botocore) an aioboto3.Session."""
    if engine is Engine.FAST:
        from asynccopy.botosession import ThreadedSession

        return ThreadedSession(profile=profile, region=region, credentials=credentials)
    import aioboto3  # imported for --engine botocore only: the fast engine never needs it

    if credentials is None:
        return aioboto3.Session(profile_name=profile, region_name=region)
    key_id, secret, token = credentials
    return aioboto3.Session(
        profile_name=profile,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


async def open_session(target: AwsTarget, *, engine: Engine = Engine.BOTOCORE) -> Any:
    """A session with working credentials for `target`, or an InputError saying what to fix.

    For the fast engine a ThreadedSession (botocore's, its calls in a worker thread), for
    --engine botocore an aioboto3.Session: both have the same `client`, `get_credentials` and
    `region_name`."""
    from botocore.exceptions import ProfileNotFound

    try:
        session = _new_session(engine, profile=target.profile, region=target.region)
    except ProfileNotFound as exc:
        raise ProfileNotFoundError(profile=target.profile) from exc
    if not session.region_name:
        session = _new_session(engine, profile=target.profile, region=DEFAULT_REGION)
    try:
        # aioboto3's get_credentials is a coroutine (its stubs declare it synchronous), and so
        # is ThreadedSession's.
        credentials = await cast(Awaitable[Any], session.get_credentials())
    except Exception as exc:  # botocore raises many kinds while resolving a profile
        raise CredentialsError(profile=target.profile, cause=type(exc).__name__) from exc
    if credentials is None:
        raise CredentialsError(profile=target.profile)
    if target.role_arn is None:
        return session
    return await _assume_role(session, target, engine=engine)


async def _assume_role(session: Any, target: AwsTarget, *, engine: Engine) -> Any:
    """Temporary credentials for `target.role_arn` (an hour by default; for longer runs use a
    profile with `role_arn` and `source_profile`, which botocore refreshes by itself)."""
    assert target.role_arn is not None
    try:
        async with session.client("sts", endpoint_url=endpoint_for(target, "sts")) as sts:
            reply: Any = await sts.assume_role(RoleArn=target.role_arn, RoleSessionName="asynccopy")
    except Exception as exc:
        raise AssumeRoleError(role_arn=target.role_arn, code=error_code(exc)) from exc
    creds = reply["Credentials"]
    # The same profile again, only its credentials replaced: its endpoint_url (a VPC or FIPS
    # endpoint, an emulator), ca_bundle, region and every other setting still apply.
    return _new_session(
        engine,
        profile=target.profile,
        region=session.region_name,
        credentials=(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]),
    )
