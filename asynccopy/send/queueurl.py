"""What an SQS queue URL says, and whether the queue side's settings agree with it.

    https://sqs.eu-west-1.amazonaws.com/222222222222/orders   AWS: the region is in the host
    http://127.0.0.1:4566/222222222222/orders                 an emulator: no region in it

The queue client (not the URL) decides where SendMessageBatch goes: botocore posts every call
to the client's endpoint and only quotes the URL in the body. So, before anything is read:

    parse_queue_url     the URL names a queue (.../ACCOUNT/NAME), not a FIFO one
    queue_target_for    the queue side's region: --queue-region, else the URL's, else inherited;
                        refused when --queue-region or --queue-profile's region names another
    queue_endpoint      where the queue client calls: refused unless it is the URL's host:port
                        (or, both on AWS, the URL's region); with nothing configured and an AWS
                        URL, the URL's own host
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlsplit

import botocore.session
from botocore.exceptions import BotoCoreError

from asynccopy.aws import AwsTarget, endpoint_for
from asynccopy.engine.transport import default_endpoint
from asynccopy.errors import FifoQueueError, InputError

# /ACCOUNT/NAME on any host; the region where an AWS host names one: sqs.REGION.amazonaws.com,
# sqs-fips.REGION..., VPC endpoints (vpce-ID.sqs.REGION.vpce.amazonaws.com), an emulator that
# copies the form (sqs.REGION.localhost.localstack.cloud), the legacy REGION.queue.amazonaws.com.
_QUEUE_URL: Final = re.compile(
    r"^(?P<scheme>https?)://(?P<netloc>[^/?#]+)/(?P<account>\d{12})/(?P<name>[\w.-]{1,80})/?$"
)
_REGION: Final = r"(?P<region>[a-z]{2}(?:-[a-z0-9]+)+)"
_HOST_REGION: Final = re.compile(rf"(?:^|\.)sqs(?:-fips)?\.{_REGION}\.")
_LEGACY_HOST: Final = re.compile(rf"^(?:{_REGION}\.)?queue\.amazonaws\.com$")
_AWS_SUFFIXES: Final = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
_LEGACY_DEFAULT_REGION: Final = "us-east-1"  # queue.amazonaws.com
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueUrl:
    text: str
    scheme: str  # "http" or "https"
    host: str  # lower case
    port: int  # the scheme's default where the URL names none
    account: str
    name: str
    region: str | None  # None: the host names no region

    @property
    def aws(self) -> bool:
        return is_aws_host(self.host)

    @property
    def legacy(self) -> bool:
        return _LEGACY_HOST.match(self.host) is not None

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

    @property
    def origin(self) -> str:
        """scheme://host[:port], the form of an endpoint URL."""
        default = _DEFAULT_PORTS[self.scheme]
        return f"{self.scheme}://{self._netloc_host}" + (
            "" if self.port == default else f":{self.port}"
        )

    @property
    def where(self) -> str:
        return f"{self._netloc_host}:{self.port}"

    @property
    def _netloc_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address


def is_aws_host(host: str) -> bool:
    return host.endswith(_AWS_SUFFIXES)


def host_region(host: str) -> str | None:
    """The region an SQS host names (sqs.REGION., sqs-fips.REGION., REGION.queue.), if any."""
    legacy = _LEGACY_HOST.match(host)
    if legacy is not None:
        return legacy.group("region") or _LEGACY_DEFAULT_REGION
    match = _HOST_REGION.search(host)
    return None if match is None else match.group("region")


def _host_port(scheme: str, netloc: str) -> tuple[str, int] | None:
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if parts.hostname is None or parts.username is not None or parts.password is not None:
        return None
    return parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS[scheme]


def parse_queue_url(text: str) -> QueueUrl | None:
    """The parts of a queue URL, or None if `text` is not one."""
    match = _QUEUE_URL.match(text.strip())
    if match is None:
        return None
    scheme = match.group("scheme")
    host_port = _host_port(scheme, match.group("netloc"))
    if host_port is None:
        return None
    host, port = host_port
    return QueueUrl(
        text=text,
        scheme=scheme,
        host=host,
        port=port,
        account=match.group("account"),
        name=match.group("name"),
        region=host_region(host),
    )


def not_a_queue_url(text: str) -> InputError:
    return InputError(
        f"--queue-url {text!r} is not an SQS queue URL",
        hint="pass the URL `aws sqs get-queue-url` prints: "
        "https://sqs.REGION.amazonaws.com/ACCOUNT/NAME",
    )


def check_queue_url(text: str) -> QueueUrl:
    """The parsed URL of a standard queue, or an InputError (exit 2) saying what to fix."""
    url = parse_queue_url(text)
    if url is None:
        raise not_a_queue_url(text)
    if url.fifo:  # SQS requires a FIFO queue's name to end in .fifo, and no other's
        raise FifoQueueError(queue_url=text)
    return url


def profile_region(profile: str) -> str | None:
    """The region the profile itself sets (not AWS_REGION or a default); None if it sets none
    or does not exist (opening its session then says so)."""
    try:
        config = botocore.session.Session(profile=profile).get_scoped_config()
    except BotoCoreError:
        return None
    region = config.get("region")
    return region if isinstance(region, str) and region else None


def _region_mismatch(url: QueueUrl, *, other: str, named_by: str, hint: str) -> InputError:
    return InputError(
        f"--queue-url {url.text} is in region {url.region}, but {named_by} says {other}",
        hint=hint,
    )


def queue_target_for(url: QueueUrl, *, explicit: AwsTarget, inherited: AwsTarget) -> AwsTarget:
    """The queue side's target: its own flags, else the source side's, with the URL's region.

    A region given for the queue side (--queue-region, or the region of --queue-profile) must
    be the URL's; a region merely inherited (the source side's, AWS_REGION) yields to it.
    """
    target = explicit.or_else(inherited)
    if url.region is None:
        return target
    if explicit.region is not None:
        if explicit.region != url.region:
            raise _region_mismatch(
                url,
                other=explicit.region,
                named_by="--queue-region",
                hint=f"pass --queue-region {url.region}, or the URL of the queue you mean",
            )
        return target
    if explicit.profile is not None:
        region = profile_region(explicit.profile)
        if region is not None and region != url.region:
            raise _region_mismatch(
                url,
                other=region,
                named_by=f"--queue-profile {explicit.profile}",
                hint=f"pass --queue-region {url.region} to override the profile's region, or "
                "the URL of the queue you mean",
            )
    return replace(target, region=url.region)


def endpoint_origin(endpoint_url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an endpoint URL, or None if it is not http(s)://host[:port]."""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in _DEFAULT_PORTS:
        return None
    host_port = _host_port(parts.scheme, parts.netloc)
    return None if host_port is None else (parts.scheme, *host_port)


def endpoint_source(target: AwsTarget, explicit: AwsTarget) -> str:
    """Which setting chose the queue client's endpoint, for the error message."""
    if explicit.endpoint_url:
        return "--queue-endpoint-url"
    if target.endpoint_url:
        return "--endpoint-url"
    for name in ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"):
        if os.environ.get(name):
            return name
    return "the profile's endpoint_url"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def same_host(a: str, b: str) -> bool:
    """Whether two host names reach the same server: equal, or both this machine's loopback
    (an emulator's queue URLs may say localhost where its endpoint says 127.0.0.1)."""
    return a == b or (_loopback(a) and _loopback(b))


def queue_endpoint(
    url: QueueUrl, *, resolved: str, default: str, configured_by: str | None
) -> str | None:
    """The endpoint the queue client must call instead of `resolved`, or None to keep it.

    `resolved` is the endpoint botocore resolved for the queue client, `default` the one it
    resolves when nothing is configured (the region's), `configured_by` names the setting that
    chose `resolved` (None: nothing did, it is the default). Raises an InputError when the
    client would send somewhere the URL does not name.
    """
    origin = endpoint_origin(resolved)
    if origin is not None and origin[2] == url.port and same_host(origin[1], url.host):
        return None
    if configured_by is None and resolved == default and url.aws:
        # Nothing chose another endpoint: an AWS URL's own host is where the queue lives
        # (a VPC endpoint, say); the legacy queue.amazonaws.com hosts take the region's.
        return None if url.legacy else url.origin
    if origin is not None and url.aws and is_aws_host(origin[1]):
        # Two AWS hosts (a FIPS or VPC endpoint for a standard URL): an SQS endpoint in the
        # same region will do; another service's (an --endpoint-url for DynamoDB) will not.
        called = host_region(origin[1])
        if called is not None and url.region in (None, called):
            return None
    source = "the region's default" if configured_by is None else f"set by {configured_by}"
    raise InputError(
        f"--queue-url {url.text} is on {url.where}, but the queue's calls would go to "
        f"{resolved}, {source}",
        hint=f"pass --queue-endpoint-url {url.origin} to send there, or the URL of the queue "
        "on that endpoint",
    )


async def open_queue_client(
    stack: contextlib.AsyncExitStack,
    session: Any,  # an aioboto3.Session for `target`
    *,
    url: QueueUrl,
    target: AwsTarget,
    explicit: AwsTarget,
    config: Any,
) -> Any:
    """The SQS client for the queue at `url`, calling where `url` says (see queue_endpoint);
    entered on `stack`. `explicit` is what the queue side's own flags set."""
    configured = endpoint_for(target, "sqs")
    client = await stack.enter_async_context(
        session.client("sqs", endpoint_url=configured, config=config)
    )
    resolved = client.meta.endpoint_url
    default = default_endpoint("sqs", client.meta.region_name)
    configured_by = None
    if configured is not None:
        configured_by = endpoint_source(target, explicit)
    elif resolved != default:
        configured_by = "the profile's endpoint_url"
    instead = queue_endpoint(url, resolved=resolved, default=default, configured_by=configured_by)
    if instead is None:
        return client
    return await stack.enter_async_context(
        session.client("sqs", endpoint_url=instead, config=config)
    )
