"""The fast engine: signing, error mapping, checks, and the wire packer's bytes.

The HTTP side runs against a tiny aiohttp server on 127.0.0.1 (port 0) that answers from a
script, so every case is exact. The engine makes one attempt per call; retries are the one
retry policy's (asynccopy.retry), whose sleep is injected, so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import shutil
import socket
import ssl
import subprocess
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from botocore.session import get_session
from hypothesis import given
from hypothesis import strategies as st

from asynccopy import retry
from asynccopy.copy.stats import Stats
from asynccopy.engine import Crc32MismatchError
from asynccopy.engine.dynamodb import FastDynamoDB
from asynccopy.engine.signer import CredentialSource, sign
from asynccopy.engine.sqs import FastSqs
from asynccopy.engine.transport import (
    DYNAMODB,
    SQS,
    EngineError,
    JsonService,
    Route,
    Service,
    request_url,
    route_for,
)
from asynccopy.errors import InputError
from asynccopy.read.base import ReadContext
from asynccopy.read.itemsize import batch_get_read_units, item_size_bytes
from asynccopy.read.keyfile import BatchGetReader
from asynccopy.read.keys import key_digest
from asynccopy.read.limiter import UnlimitedLimiter
from asynccopy.retry import Backoff, RetryPolicy, call_with_retries
from asynccopy.send.packing import MessagePacker, wire_json
from asynccopy.send.sender import SqsSender
from consumer.wire import (
    WireItem,
    client_key,
    decode_body,
    encode_items,
    from_wire,
    item_json,
    key_to_text,
    to_wire,
)
from tests.hypothesis_profiles import examples
from tests.strategies import items

CREDENTIALS = ReadOnlyCredentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN"
)
FIXED_NOW = dt.datetime(2026, 1, 2, 3, 4, 5)


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: FIXED_NOW)


# -- signing ----------------------------------------------------------------------------------
def _botocore_request(service: str, operation: str, **params: Any) -> AWSRequest:
    """The request a real botocore client sends (stopped before it leaves)."""
    client = get_session().create_client(
        service,
        region_name="eu-west-1",
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        aws_session_token=CREDENTIALS.token,
    )
    captured: list[AWSRequest] = []

    def before_send(request: AWSRequest, **_: Any) -> AWSResponse:
        captured.append(request)
        return AWSResponse(request.url, 200, {}, None)

    client.meta.events.register("before-send", before_send)
    with pytest.raises(AttributeError):  # the stand-in response has no body to parse
        getattr(client, operation)(**params)
    return captured[0]


def _header(request: AWSRequest, name: str) -> str:
    value = request.headers[name]
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.mark.usefixtures("fixed_clock")
@pytest.mark.parametrize(
    ("service", "spec", "operation", "params"),
    [
        (
            "dynamodb",
            DYNAMODB,
            "batch_get_item",
            {"RequestItems": {"t": {"Keys": [{"k": {"B": b"\x00\xff"}}]}}},
        ),
        (
            "sqs",
            SQS,
            "send_message_batch",
            {
                "QueueUrl": "https://sqs.eu-west-1.amazonaws.com/1/q",
                "Entries": [{"Id": "0", "MessageBody": "x"}],
            },
        ),
    ],
)
def test_signature_is_the_one_botocore_makes(
    service: str, spec: Service, operation: str, params: dict[str, Any]
) -> None:
    expected = _botocore_request(service, operation, **params)
    target = _header(expected, "X-Amz-Target")
    assert target.startswith(spec.target_prefix + ".")
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"}
    headers.update(spec.extra_headers)
    signed = sign(
        CREDENTIALS,
        service=spec.signing_name,
        region="eu-west-1",
        url=request_url(f"https://{service}.eu-west-1.amazonaws.com"),
        headers=headers,
        body=expected.body,
    )
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        assert signed[name] == _header(expected, name), name


def test_credentials_are_reread_after_a_few_seconds() -> None:
    now = [0.0]
    calls: list[int] = []

    class Refreshing:
        async def get_frozen_credentials(self) -> ReadOnlyCredentials:
            calls.append(1)
            return ReadOnlyCredentials("AK", f"secret-{len(calls)}", None)

    class Session:
        async def get_credentials(self) -> Refreshing:
            return Refreshing()

    source = CredentialSource(Session(), refresh_s=5.0, clock=lambda: now[0])

    async def secrets() -> list[str]:
        seen = []
        for t in (0.0, 1.0, 4.9, 5.0, 6.0):
            now[0] = t
            seen.append((await source.frozen()).secret_key)
        return seen

    assert asyncio.run(secrets()) == ["secret-1"] * 3 + ["secret-2"] * 2


# -- a scripted server ------------------------------------------------------------------------
Reply = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


@dataclass
class Script:
    replies: list[Reply]
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append((dict(request.headers), body))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return await reply(request, body)


def json_reply(
    document: Any, *, status: int = 200, headers: dict[str, str] | None = None, crc: bool = True
) -> Reply:
    async def reply(_request: web.Request, _body: bytes) -> web.StreamResponse:
        raw = document if isinstance(document, bytes) else orjson.dumps(document)
        extra = dict(headers or {})
        if crc and "x-amz-crc32" not in extra:
            extra["x-amz-crc32"] = str(zlib.crc32(raw) & 0xFFFFFFFF)
        extra["x-amzn-RequestId"] = "req-1"
        return web.Response(body=raw, status=status, headers=extra)

    return reply


async def _drop(request: web.Request, _body: bytes) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()
    return web.Response()


class Fake:
    """The engine pointed at the script; `run` drives one coroutine against it.

    `endpoint` makes the URL the engine calls from the script's port (by default the script
    itself); `tls` serves the script over HTTPS with that context; `route` is the engine's
    route to the endpoint (by default, the one botocore would take); `credentials` replaces
    the session's credentials.
    """

    def __init__(
        self,
        script: Script,
        *,
        service: Service,
        endpoint: Callable[[int], str] = lambda port: f"http://127.0.0.1:{port}",
        tls: ssl.SSLContext | None = None,
        route: Callable[[int, str], Route] | None = None,
        credentials: Any = None,
    ) -> None:
        self.script = script
        self.service = service
        self.endpoint = endpoint
        self.tls = tls
        self.route = route
        self.credentials = credentials
        self.sleeps: list[float] = []

    def backoff(self, max_attempts: int) -> Backoff:
        """The one retry policy with `max_attempts`, its sleeps recorded in `sleeps`."""

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        return Backoff(
            policy=RetryPolicy(max_attempts=max_attempts),
            sleep=sleep,
            random=random.Random(1).random,
        )

    def run(self, use: Callable[[JsonService], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            app = web.Application()
            app.router.add_post("/{tail:.*}", self.script.handle)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.tls)
            await site.start()
            port = runner.addresses[0][1]
            endpoint_url = self.endpoint(port)

            class Session:
                async def get_credentials(self) -> Any:
                    class Frozen:
                        async def get_frozen_credentials(self) -> ReadOnlyCredentials:
                            return CREDENTIALS

                    return Frozen()

            from asynccopy.engine.transport import open_http

            try:
                async with open_http(connections=4, connect_timeout_s=5, read_timeout_s=5) as http:
                    service = JsonService(
                        http,
                        service=self.service,
                        region="eu-west-1",
                        endpoint_url=endpoint_url,
                        credentials=self.credentials or CredentialSource(Session()),
                        route=None if self.route is None else self.route(port, endpoint_url),
                    )
                    return await use(service)
            finally:
                await runner.cleanup()

        return asyncio.run(main())


@pytest.mark.usefixtures("fixed_clock")
def test_the_request_on_the_wire_is_signed_as_botocore_verifies_it() -> None:
    script = Script([json_reply({"Responses": {"t": []}, "UnprocessedKeys": {}})])
    fake = Fake(script, service=DYNAMODB)
    keys = [{"k": {"B": b"\x00\xff"}}]
    fake.run(lambda s: FastDynamoDB(s).batch_get_item(RequestItems={"t": {"Keys": keys}}))
    ((headers, body),) = script.seen
    assert orjson.loads(body) == {"RequestItems": {"t": {"Keys": [{"k": {"B": "AP8="}}]}}}
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.BatchGetItem"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    # Verify as the service does: the same canonical request, signed again, must agree.
    names = headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert names == ["content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target"]
    again = AWSRequest(
        method="POST",
        url=f"http://{headers['Host']}/",
        headers={n: headers[n] for n in headers if n.lower() in names and n.lower() != "host"},
        data=body,
    )
    SigV4Auth(CREDENTIALS, "dynamodb", "eu-west-1").add_auth(again)
    assert again.headers["Authorization"] == headers["Authorization"]


# -- errors -----------------------------------------------------------------------------------
def _call(service: JsonService) -> Awaitable[dict[str, Any]]:
    return service.call("BatchGetItem", b"{}")


def _retried(
    fake: Fake, max_attempts: int = 3
) -> Callable[[JsonService], Awaitable[dict[str, Any]]]:
    """`_call` retried by the one retry policy, as the producer's layers retry the engine."""
    backoff = fake.backoff(max_attempts)
    return lambda service: call_with_retries(partial(_call, service), backoff=backoff)


def test_a_request_error_is_the_client_error_botocore_raises_and_is_not_retried() -> None:
    error = {
        "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        "message": "no",
    }
    script = Script([json_reply(error, status=400)])
    fake = Fake(script, service=DYNAMODB)
    with pytest.raises(ClientError) as caught:
        fake.run(_retried(fake))
    exc = caught.value
    assert exc.operation_name == "BatchGetItem"
    assert exc.response["Error"] == {"Code": "ResourceNotFoundException", "Message": "no"}
    assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exc.response["ResponseMetadata"]["RequestId"] == "req-1"
    assert "ResourceNotFoundException" in str(exc)
    assert len(script.seen) == 1
    assert fake.sleeps == []
    assert not retry.is_retryable(exc)


_THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "slow down",
}


def test_the_engine_makes_one_attempt_per_call_and_leaves_retrying_to_the_policy() -> None:
    script = Script([json_reply(_THROTTLED, status=400), json_reply({"Items": []})])
    with pytest.raises(ClientError) as caught:
        Fake(script, service=DYNAMODB).run(_call)
    assert len(script.seen) == 1
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 0


def test_throttling_is_retried_by_the_one_policy_then_raised() -> None:
    script = Script([json_reply(_THROTTLED, status=400)])
    fake = Fake(script, service=DYNAMODB)
    with pytest.raises(ClientError) as caught:
        fake.run(_retried(fake, max_attempts=3))
    assert len(script.seen) == 3
    assert len(fake.sleeps) == 2
    policy = RetryPolicy()
    assert 0 <= fake.sleeps[0] <= policy.base_delay_s  # rand(0, 1) x base x 2^retry
    assert 0 <= fake.sleeps[1] <= policy.base_delay_s * 2
    assert retry.is_throttling(caught.value)
    assert retry.is_retryable(caught.value)


def test_a_5xx_then_success_returns_the_reply() -> None:
    html = b"<html><body>Service Unavailable</body></html>"
    script = Script([json_reply(html, status=503, crc=False), json_reply({"Items": []})])
    fake = Fake(script, service=DYNAMODB)
    reply = fake.run(_retried(fake))
    assert reply["Items"] == []
    assert len(script.seen) == 2
    assert len(fake.sleeps) == 1


def test_a_generic_5xx_body_gets_the_status_as_its_code() -> None:
    html = b"<html><body>Bad Gateway</body></html>"
    with pytest.raises(ClientError) as caught:
        Fake(Script([json_reply(html, status=502, crc=False)]), service=DYNAMODB).run(_call)
    assert caught.value.response["Error"] == {"Code": "502", "Message": "Bad Gateway"}
    assert retry.is_retryable(caught.value)


def test_sqs_query_compatible_error_codes_are_used() -> None:
    error = {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "gone"}
    query_error = {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"}
    script = Script([json_reply(error, status=400, headers=query_error, crc=False)])
    with pytest.raises(ClientError) as caught:
        Fake(script, service=SQS).run(
            lambda s: FastSqs(s).send_message_batch(QueueUrl="q", Entries=[])
        )
    error_part = caught.value.response["Error"]
    assert error_part["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error_part["QueryErrorCode"] == "QueueDoesNotExist"
    assert error_part["Type"] == "Sender"
    headers, body = script.seen[0]
    assert headers["X-Amz-Target"] == "AmazonSQS.SendMessageBatch"
    assert headers["x-amzn-query-mode"] == "true"
    assert orjson.loads(body) == {"QueueUrl": "q", "Entries": []}


def test_a_bad_crc32_is_retried_and_then_a_retryable_error() -> None:
    bad = json_reply({"Items": []}, headers={"x-amz-crc32": "1"})
    script = Script([bad, json_reply({"Items": [], "Count": 0})])
    fake = Fake(script, service=DYNAMODB)
    assert fake.run(_retried(fake))["Count"] == 0
    with pytest.raises(Crc32MismatchError) as caught:
        Fake(Script([bad]), service=DYNAMODB).run(_call)
    assert retry.is_retryable(caught.value)


@pytest.mark.parametrize("header", ["abc", "", "-1", "0x1f", "1.5", " 7"])
def test_a_malformed_crc32_header_is_a_damaged_response_and_retried(header: str) -> None:
    bad = json_reply({"Items": []}, headers={"x-amz-crc32": header})
    script = Script([bad, json_reply({"Items": [], "Count": 0})])
    fake = Fake(script, service=DYNAMODB)
    assert fake.run(_retried(fake))["Count"] == 0
    assert len(script.seen) == 2
    with pytest.raises(Crc32MismatchError) as caught:
        Fake(Script([bad]), service=DYNAMODB).run(_call)
    assert retry.is_retryable(caught.value)


class _BrokenCredentials:
    """Stands for any bug inside the engine: an exception botocore never raises."""

    async def frozen(self) -> ReadOnlyCredentials:
        raise RuntimeError("a bug inside the engine")


async def _no_sleep(_: float) -> None:
    return None


def test_an_unexpected_exception_inside_the_engine_is_a_failed_call_not_retried() -> None:
    script = Script([json_reply({"Items": []})])
    fake = Fake(script, service=DYNAMODB, credentials=_BrokenCredentials())
    with pytest.raises(EngineError) as caught:
        fake.run(_retried(fake))
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "RuntimeError" in str(caught.value)
    assert not retry.is_retryable(caught.value)
    assert script.seen == []
    assert fake.sleeps == []


def test_an_engine_failure_ends_as_keys_and_messages_named_not_a_traceback() -> None:
    # A reply the engine cannot take apart (a found item that is not an object) ...
    reply = json_reply({"Responses": {"t": [1]}, "UnprocessedKeys": {}})
    keys = [{"k": {"S": "a"}}, {"k": {"S": "b"}}]

    def read(service: JsonService) -> Any:
        context = ReadContext(
            client=FastDynamoDB(service),
            limiter=UnlimitedLimiter(),
            backoff=Backoff(sleep=_no_sleep),
            stats=Stats(),
        )
        reader = BatchGetReader(context, table="t", consistent_read=False, average_item_bytes=1)
        return reader.read(keys)

    found, failed = Fake(Script([reply]), service=DYNAMODB).run(read)
    assert found == []
    assert [(f.key, f.reason) for f in failed] == [(key, "EngineError") for key in keys]

    # ... and a send that fails inside the engine: its messages fail, named by their keys.
    (message,) = MessagePacker(key_names=["k"], max_items=1).add({"k": {"S": "a"}})

    def send(service: JsonService) -> Any:
        sender = SqsSender(FastSqs(service), queue_url="q", backoff=Backoff(sleep=_no_sleep))
        return sender.send([message])

    script = Script([json_reply({"Successful": []}, crc=False)])
    result = Fake(script, service=SQS, credentials=_BrokenCredentials()).run(send)
    assert result.sent == ()
    assert [(f.message.keys, f.code) for f in result.failed] == [(message.keys, "EngineError")]


def test_netrc_credentials_are_never_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n", encoding="ascii")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    script = Script([json_reply({"Items": [], "Count": 0})])
    assert Fake(script, service=DYNAMODB).run(_call)["Count"] == 0
    ((headers, _),) = script.seen
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 ")


def _via_proxy(monkeypatch: pytest.MonkeyPatch) -> Callable[[int, str], Route]:
    """HTTP_PROXY (with a user and password) set to the script: the proxy the engine must use."""

    def route(port: int, endpoint_url: str) -> Route:
        monkeypatch.setenv("HTTP_PROXY", f"http://proxy%20user:pa%40ss@127.0.0.1:{port}")
        return route_for(endpoint_url)

    return route


def test_proxies_come_from_the_environment_as_botocore_takes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "NO_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    script = Script([json_reply({"Items": [], "Count": 0})])
    fake = Fake(
        script,
        service=DYNAMODB,
        endpoint=lambda _port: "http://dynamodb.invalid:8000",  # reachable only by the proxy
        route=_via_proxy(monkeypatch),
    )
    assert fake.run(_call)["Count"] == 0
    ((headers, _),) = script.seen
    assert headers["Host"] == "dynamodb.invalid:8000"
    assert headers["Proxy-Authorization"] == "Basic cHJveHkgdXNlcjpwYUBzcw=="  # proxy user:pa@ss
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 ")

    monkeypatch.setenv("NO_PROXY", "dynamodb.invalid")
    assert route_for("http://dynamodb.invalid:8000").proxy is None
    monkeypatch.delenv("NO_PROXY")
    assert route_for("https://dynamodb.invalid").proxy is None  # HTTPS_PROXY is not set


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"),
            *("ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_profiles_ca_bundle_is_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aioboto3

    from asynccopy.aws import session_ca_bundle

    cert, key = _self_signed(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    config = tmp_path / "config"
    config.write_text(f"[profile private-ca]\nca_bundle = {cert}\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    bundle = session_ca_bundle(aioboto3.Session(profile_name="private-ca"))
    assert bundle == str(cert)

    def https(port: int) -> str:
        return f"https://127.0.0.1:{port}"

    script = Script([json_reply({"Items": [], "Count": 0})])
    trusting = Fake(
        script,
        service=DYNAMODB,
        endpoint=https,
        tls=server,
        route=lambda _port, url: route_for(url, ca_bundle=bundle),
    )
    assert trusting.run(_call)["Count"] == 0
    # Without the bundle the certificate is not trusted: a failed connection, no reply.
    doubting = Fake(Script([json_reply({})]), service=DYNAMODB, endpoint=https, tls=server)
    with pytest.raises(EndpointConnectionError):
        doubting.run(_call)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
    assert session_ca_bundle(aioboto3.Session()) == str(cert)
    with pytest.raises(InputError, match="cannot load the CA bundle"):
        route_for("https://127.0.0.1", ca_bundle=str(tmp_path / "nope.pem"))


def test_a_dropped_connection_is_botocores_connection_error() -> None:
    script = Script([_drop])
    fake = Fake(script, service=DYNAMODB)
    with pytest.raises(ConnectionClosedError) as caught:
        fake.run(_retried(fake, max_attempts=2))
    assert len(script.seen) == 2
    assert retry.is_retryable(caught.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_refused_connection_is_an_endpoint_connection_error() -> None:
    from asynccopy.engine.transport import open_http

    async def main() -> None:
        class Session:
            async def get_credentials(self) -> Any:
                class Frozen:
                    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
                        return CREDENTIALS

                return Frozen()

        async with open_http(connections=1, connect_timeout_s=2, read_timeout_s=2) as http:
            service = JsonService(
                http,
                service=DYNAMODB,
                region="eu-west-1",
                endpoint_url=f"http://127.0.0.1:{_closed_port()}",
                credentials=CredentialSource(Session()),
            )
            await service.call("Scan", b"{}")

    with pytest.raises(EndpointConnectionError) as caught:
        asyncio.run(main())
    assert retry.is_retryable(caught.value)


# -- DynamoDB replies -------------------------------------------------------------------------
def metered(reply: dict[str, Any], *, keys_asked: int, consistent: bool) -> float:
    """The RCU BatchGetReader charges for `reply` when the service reports none."""
    reader = BatchGetReader(
        ReadContext(client=None, limiter=UnlimitedLimiter(), backoff=Backoff(), stats=Stats()),
        table="t",
        consistent_read=consistent,
        average_item_bytes=100,
    )
    return reader._cost(reply, keys_asked=keys_asked)


def test_batch_get_keeps_items_as_wire_json_and_keys_in_client_shape() -> None:
    found = {"k": {"B": "AP8="}, "v": {"B": "AQI="}, "n": {"N": "1"}}
    reply = {
        "Responses": {"t": [found]},
        "UnprocessedKeys": {"t": {"Keys": [{"k": {"B": "Ag=="}}], "ConsistentRead": True}},
    }
    script = Script([json_reply(reply)])
    keys = [{"k": {"B": b"\x00\xff"}}, {"k": {"B": b"\x02"}}, {"k": {"B": b"\x03"}}]
    got = Fake(script, service=DYNAMODB).run(
        lambda s: FastDynamoDB(s).batch_get_item(
            RequestItems={"t": {"Keys": keys, "ConsistentRead": True}},
            ReturnConsumedCapacity="TOTAL",
        )
    )
    (item,) = got["Responses"]["t"]
    assert type(item) is WireItem
    assert item == {"k": {"B": b"\x00\xff"}, "v": {"B": "AQI="}, "n": {"N": "1"}}
    assert key_digest({"k": item["k"]}) == key_digest(keys[0])
    assert got["UnprocessedKeys"]["t"]["Keys"] == [{"k": {"B": b"\x02"}}]
    # The emulator sent no ConsumedCapacity: the reader's fallback meters the wire item as it
    # would the client-shape item (and a key not found as one unit).
    client_item = from_wire(item)
    expected = batch_get_read_units([item_size_bytes(client_item), 0], consistent=True)
    assert "ConsumedCapacity" not in got
    assert metered(got, keys_asked=3, consistent=True) == expected
    assert encode_items([client_item]) == encode_items([from_wire(to_wire(client_item))])


def test_batch_get_capacity_of_large_items_is_measured_not_bounded() -> None:
    big = {"k": {"S": "a"}, "blob": {"B": "QUFB" * 3000}}  # 9,000 bytes: three 4 KB units
    script = Script([json_reply({"Responses": {"t": [big]}})])
    got = Fake(script, service=DYNAMODB).run(
        lambda s: FastDynamoDB(s).batch_get_item(
            RequestItems={"t": {"Keys": [{"k": {"S": "a"}}]}}, ReturnConsumedCapacity="TOTAL"
        )
    )
    assert metered(got, keys_asked=1, consistent=False) == 1.5


def test_reported_capacity_is_left_alone_and_pages_keep_their_last_key() -> None:
    reply = {
        "Items": [{"k": {"S": "a"}}],
        "LastEvaluatedKey": {"k": {"B": "AP8="}},
        "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 7.0},
    }
    script = Script([json_reply(reply)])
    got = Fake(script, service=DYNAMODB).run(
        lambda s: FastDynamoDB(s).scan(
            TableName="t", ExclusiveStartKey={"k": {"B": b"\x01"}}, ReturnConsumedCapacity="TOTAL"
        )
    )
    assert got["ConsumedCapacity"] == {"TableName": "t", "CapacityUnits": 7.0}
    assert got["LastEvaluatedKey"] == {"k": {"B": b"\x00\xff"}}
    assert type(got["Items"][0]) is WireItem
    headers, body = script.seen[0]
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.Scan"
    assert orjson.loads(body)["ExclusiveStartKey"] == {"k": {"B": "AQ=="}}


# -- the wire packer --------------------------------------------------------------------------
def _as_received(item: dict[str, Any]) -> WireItem:
    """What the engine makes of an item DynamoDB sends: its JSON parsed by orjson."""
    return WireItem(orjson.loads(json.dumps(to_wire(item))))


@examples(300)
@given(items())
def test_wire_encoding_is_byte_identical_to_the_client_encoding(item: dict[str, Any]) -> None:
    assert wire_json(_as_received(item)) == item_json(item)
    assert wire_json(to_wire(item)) == item_json(item)


@examples(100)
@given(st.lists(items(), min_size=1, max_size=30))
def test_messages_from_wire_items_equal_messages_from_client_items(
    batch: list[dict[str, Any]],
) -> None:
    def pack(source: list[Any]) -> list[Any]:
        packer = MessagePacker(key_names=["userid"], max_message_bytes=4_000, max_items=7)
        out = []
        for item in source:
            out += packer.add(item)
        return out + packer.flush()

    # Every item fits alone: larger ones are the ItemTooLargeError path, the same for both.
    batch = [item for item in batch if len(encode_items([item])) < 4_000]
    client = pack(batch)
    wire = pack([_as_received(item) for item in batch])
    assert wire == client
    assert [decode_body(m.body) for m in wire] == [decode_body(m.body) for m in client]


@pytest.mark.parametrize(
    "text",
    [
        "\x7f",
        "\\",
        "\\x41 é",
        '\\"é',
        "é\\\\",
        "😀\\U0001f600",
        "\ufffe\uffff\u2028\x00\x01\x1f",
        "\U0010ffff" * 3,
        "plain",
    ],
)
def test_escaping_edge_cases(text: str) -> None:
    item = {"userid": {"S": text}, "m": {"M": {text: {"SS": [text, text + "x"]}}}}
    assert wire_json(_as_received(item)) == item_json(item)


def test_binary_keys_become_bytes_in_messages() -> None:
    packer = MessagePacker(key_names=["k"], max_items=1)
    (message,) = packer.add(WireItem({"k": {"B": "AP8="}, "v": {"S": "x"}}))
    assert message.keys == ({"k": {"B": b"\x00\xff"}},)
    assert key_to_text(message.keys[0]) == '{"k":{"B":"AP8="}}'
    assert client_key({"k": {"B": b"\x01"}}) == {"k": {"B": b"\x01"}}


def test_all_byte_values_and_large_numbers_survive() -> None:
    item = {
        "userid": {"S": "\U0001f600\ufffe\u0001"},
        "all": {"B": bytes(range(256))},
        "n": {"N": "12345678901234567890123456789012345678"},
        "ns": {"NS": ["-9.9999999999999999999999999999999999999E+125", "1E-130"]},
    }
    received = _as_received(item)
    assert wire_json(received) == item_json(item)
    packer = MessagePacker(key_names=["userid"])
    assert packer.add(received) == []
    (message,) = packer.flush()
    assert message.body == encode_items([item])
    assert decode_body(message.body) == [item]
