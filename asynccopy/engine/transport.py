"""One AWS JSON-protocol call over a shared aiohttp session: sign, send, check, parse.

    JsonService.call(operation, body)        body: the request JSON, already encoded
        -> signer.sign (botocore's SigV4Auth)
        -> aiohttp POST <endpoint>/ with X-Amz-Target: <prefix>.<operation>
        -> x-amz-crc32 checked (DynamoDB)      mismatch or malformed: Crc32MismatchError
        -> 2xx: orjson.loads(body)
           else: botocore ClientError from the AWS JSON error body (`__type`, `message`)
        connection failures: botocore's EndpointConnectionError, ConnectTimeoutError,
        ReadTimeoutError or ConnectionClosedError
        anything else raised inside the engine: EngineError (a BotoCoreError, not retried)

Routes as botocore's: proxies from HTTP(S)_PROXY / NO_PROXY (botocore reads no proxy from a
profile), the CA bundle the session resolves (its profile's `ca_bundle`, AWS_CA_BUNDLE), never
credentials from ~/.netrc (aiohttp's trust_env would add them, and an Authorization header
beside them makes aiohttp refuse every request).

Errors are the ones a botocore client raises for the same response, so the one retry policy
(consumer.retry, through asynccopy.retry) classifies them unchanged. Each call is one attempt,
as for the botocore clients (asynccopy.aws.CLIENT_ATTEMPTS): the layers above retry it, so
that the read limiter sees every throttle.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import ssl
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import botocore
import orjson
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.httpsession import ProxyConfiguration, get_cert_path
from botocore.utils import get_environ_proxies

from asynccopy.engine.signer import CredentialSource, sign
from asynccopy.errors import InputError

JSON_1_0: Final = "application/x-amz-json-1.0"
_USER_AGENT: Final = (
    f"asynccopy-fast-engine botocore/{botocore.__version__} aiohttp/{aiohttp.__version__}"
)


class DamagedResponseError(HTTPClientError):
    """A 2xx response that is not the JSON object it must be: damaged on the way.

    An HTTPClientError, so the one retry policy (consumer.retry) retries the call.
    """

    fmt = "The response from {endpoint_url} is damaged: {error}"


class Crc32MismatchError(DamagedResponseError):
    """DynamoDB's x-amz-crc32 does not match the body, or is not a number."""

    fmt = "The response from {endpoint_url} fails its x-amz-crc32 check: {error}"


class EngineError(BotoCoreError):
    """An exception the fast engine did not expect (a bug, or a library refusing a request).

    A BotoCoreError, so the call fails as a call does: its keys or messages are named with the
    code `EngineError`, never a traceback. Not retried: the same request would fail again.
    The original exception is chained; only its type is in the message (it may quote headers).
    """

    fmt = "The fast engine failed on {operation}: {error}"


@contextlib.contextmanager
def failing_as_a_call(operation: str) -> Iterator[None]:
    """Lets botocore's errors through and turns any other exception into an EngineError."""
    try:
        yield
    except (BotoCoreError, ClientError):
        raise
    except Exception as exc:
        raise EngineError(operation=operation, error=type(exc).__name__) from exc


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    """What differs between the services the engine speaks to."""

    signing_name: str  # "dynamodb", "sqs"
    target_prefix: str  # X-Amz-Target: <prefix>.<Operation>
    extra_headers: tuple[tuple[str, str], ...] = ()
    check_crc32: bool = False


DYNAMODB: Final = Service(
    signing_name="dynamodb", target_prefix="DynamoDB_20120810", check_crc32=True
)
SQS: Final = Service(
    signing_name="sqs",
    target_prefix="AmazonSQS",
    # SQS speaks JSON but keeps its Query-protocol error codes, as botocore asks it to.
    extra_headers=(("x-amzn-query-mode", "true"),),
)


def default_endpoint(service: str, region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{service}.{region}.{suffix}"


def request_url(endpoint_url: str) -> str:
    """Where botocore posts a JSON-protocol call: the endpoint's own path, or `/`."""
    parts = urlsplit(endpoint_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    """How requests to one endpoint travel: through which proxy, trusting which CAs."""

    ssl: ssl.SSLContext | bool = True  # True: aiohttp's default context (http:// needs none)
    # A user:password in the proxy URL is sent as Proxy-Authorization, as botocore does.
    proxy: str | None = None


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A context trusting `ca_bundle` (a file or a directory, as botocore accepts), or, like
    botocore without one, REQUESTS_CA_BUNDLE or the bundle botocore ships (certifi)."""
    cafile = ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or str(get_cert_path(True))
    try:
        if os.path.isdir(cafile):
            return ssl.create_default_context(capath=cafile)
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:  # ssl.SSLError is an OSError; named for the reader
        raise InputError(
            f"cannot load the CA bundle {cafile}: {exc.strerror or type(exc).__name__}",
            hint="fix ca_bundle in the AWS profile, AWS_CA_BUNDLE or REQUESTS_CA_BUNDLE",
        ) from exc


def route_for(endpoint_url: str, *, ca_bundle: str | None = None) -> Route:
    """The route botocore would take to `endpoint_url`: proxies from the environment only
    (botocore.endpoint reads none from the config files), NO_PROXY honoured."""
    proxy = ProxyConfiguration(proxies=get_environ_proxies(endpoint_url)).proxy_url_for(
        endpoint_url
    )
    secure = urlsplit(endpoint_url).scheme == "https"
    return Route(ssl=tls_context(ca_bundle) if secure else True, proxy=proxy or None)


def open_http(
    *, connections: int, connect_timeout_s: float, read_timeout_s: float
) -> aiohttp.ClientSession:
    """The shared session: a pool of `connections` and botocore's timeouts. Proxies and CA
    bundles are per endpoint (`Route`): the source and the queue may differ in both."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        trust_env=False,  # it would read ~/.netrc; proxies come from route_for instead
        auto_decompress=False,
        skip_auto_headers=("Accept",),
    )


def client_error(
    status: int, headers: Mapping[str, str], body: bytes, operation: str
) -> ClientError:
    """The ClientError botocore's JSON parser builds from an AWS JSON error response."""
    error: dict[str, Any] = {"Message": "", "Code": ""}
    extra: dict[str, Any] = {}
    stripped = body.strip()
    if status >= 500 and (not stripped or stripped.startswith(b"<html>")):
        error = {"Code": str(status), "Message": http.client.responses.get(status, "")}
    else:
        parsed: Any
        try:
            parsed = orjson.loads(body) if stripped else {}
        except orjson.JSONDecodeError:
            parsed = {"message": body.decode("utf-8", "replace")}
        if not isinstance(parsed, dict):
            parsed = {"message": str(parsed)}
        error["Message"] = parsed.get("message", parsed.get("Message", ""))
        # DynamoDB's throttling errors say why (botocore puts the member beside "Error").
        if isinstance(parsed.get("ThrottlingReasons"), list):
            extra["ThrottlingReasons"] = parsed["ThrottlingReasons"]
        code = str(parsed.get("__type", str(status)))
        code = code.split(":", 1)[0] if ":" in code else code
        code = code.rsplit("#", 1)[1] if "#" in code else code
        query_error = headers.get("x-amzn-query-error")
        if query_error is not None:
            parts = query_error.split(";")
            if len(parts) == 2 and parts[0]:
                error["QueryErrorCode"] = code
                error["Type"] = parts[1]
                code = parts[0]
        error["Code"] = code
    metadata: dict[str, Any] = {
        "HTTPStatusCode": status,
        "HTTPHeaders": {name.lower(): value for name, value in headers.items()},
        "RetryAttempts": 0,  # one attempt per call
    }
    request_id = headers.get("x-amzn-requestid")
    if request_id is not None:
        metadata["RequestId"] = request_id
    response: Any = {"Error": error, "ResponseMetadata": metadata, **extra}
    return ClientError(response, operation)


class JsonService:
    """Calls one service at one endpoint; `call` returns the parsed reply or raises."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        service: Service,
        region: str,
        endpoint_url: str,
        credentials: CredentialSource,
        route: Route | None = None,
    ) -> None:
        self._http = http
        self._service = service
        self._region = region
        self._url = request_url(endpoint_url)
        self._route = route if route is not None else route_for(endpoint_url)
        self._credentials = credentials

    async def call(self, operation: str, body: bytes) -> dict[str, Any]:
        """The parsed reply, or a botocore error (ClientError or a BotoCoreError) and no other.

        One attempt: the callers retry through the one retry policy (asynccopy.retry)."""
        with failing_as_a_call(operation):
            return await self._attempt(operation, body)

    async def _attempt(self, operation: str, body: bytes) -> dict[str, Any]:
        service = self._service
        unsigned = {
            "X-Amz-Target": f"{service.target_prefix}.{operation}",
            "Content-Type": JSON_1_0,
            **dict(service.extra_headers),
        }
        credentials = await self._credentials.frozen()
        headers = sign(
            credentials,
            service=service.signing_name,
            region=self._region,
            url=self._url,
            headers=unsigned,
            body=body,
        )
        headers["User-Agent"] = _USER_AGENT
        headers["Accept-Encoding"] = "identity"
        url = self._url
        route = self._route
        try:
            async with self._http.post(
                url,
                data=body,
                headers=headers,
                ssl=route.ssl,
                proxy=route.proxy,
            ) as response:
                content = await response.read()
                status = response.status
                reply_headers = response.headers
        except aiohttp.ClientConnectorError as exc:
            raise EndpointConnectionError(endpoint_url=url, error=exc) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise ConnectTimeoutError(endpoint_url=url, error=exc) from exc
        except TimeoutError as exc:  # aiohttp's read timeouts are TimeoutErrors too
            raise ReadTimeoutError(endpoint_url=url, error=exc) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionClosedError(endpoint_url=url) from exc
        if service.check_crc32:
            expected = reply_headers.get("x-amz-crc32")
            if expected is not None:
                actual = zlib.crc32(content) & 0xFFFFFFFF
                # A header that is not a decimal number was damaged as surely as a wrong one.
                if not (expected.isascii() and expected.isdigit()) or int(expected) != actual:
                    raise Crc32MismatchError(
                        endpoint_url=url, error=f"expected {expected!r}, got {actual}"
                    )
        if status >= 300:
            raise client_error(status, reply_headers, content, operation)
        try:
            parsed = orjson.loads(content) if content else {}
        except orjson.JSONDecodeError as exc:
            raise DamagedResponseError(endpoint_url=url, error=f"not JSON ({exc})") from exc
        if not isinstance(parsed, dict):
            raise DamagedResponseError(endpoint_url=url, error="not a JSON object")
        parsed["ResponseMetadata"] = {
            "RequestId": reply_headers.get("x-amzn-requestid", ""),
            "HTTPStatusCode": status,
            "RetryAttempts": 0,
        }
        return parsed
