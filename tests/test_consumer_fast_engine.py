"""The consumer's fast engine: the bytes it sends are botocore's, its errors are botocore's, and
it behaves as the botocore engine does against the sandbox under throttling and latency."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from asynccopy.sandbox.accounts import DEST_ACCOUNT, REGION, SANDBOX_SECRET
from asynccopy.sandbox.seed import make_item
from benchmarks.faultproxy import FaultConfig, FaultProxy
from consumer.calls import BoundedClients
from consumer.config import ConsumerConfig, ConsumerEngine, WriteMode
from consumer.dead_letters import NoDeadLetterQueue
from consumer.engines import dynamodb_writes
from consumer.fast_dynamodb import FastDynamoDB, error_code_of, request_body
from consumer.handler import handle_batch
from consumer.item_writer import ItemWriter
from consumer.results import AllMessagesFailedError, BatchSummary
from consumer.retry import Deadline, writer_backoff
from consumer.table import KeySchema
from consumer.wire import Item, decode_body, decode_wire_body, encode_items
from consumer.writer import make_writer
from tests.consumer_helpers import (
    TABLE,
    FixedContext,
    assert_same_items,
    receive_event,
    scan_all,
    seed_and_send,
)
from tests.sandbox_helpers import Sandbox, hard_items

ENDPOINT = "http://127.0.0.1:9"  # never reached: both engines' sends are captured


class _Captured(Exception):
    def __init__(self, body: bytes, headers: Mapping[str, str]) -> None:
        self.body = body
        self.headers = headers


class _Reply:
    def __init__(self, status_code: int, document: Any) -> None:
        self.status_code = status_code
        self.content = json.dumps(document).encode()


class RecordingHttp:
    """URLLib3Session's `send`, recording the prepared request and answering `reply`."""

    def __init__(self, reply: _Reply | None = None) -> None:
        self.sent: list[Any] = []
        self.reply = reply or _Reply(200, {})

    def send(self, request: Any) -> _Reply:
        self.sent.append(request)
        return self.reply


def fast_client(http: RecordingHttp) -> FastDynamoDB:
    return FastDynamoDB(
        endpoint_url=ENDPOINT,
        region=REGION,
        credentials=Credentials(DEST_ACCOUNT, SANDBOX_SECRET),
        http=http,  # type: ignore[arg-type]
    )


def botocore_body(operation: str, request: Mapping[str, Any]) -> tuple[bytes, Mapping[str, str]]:
    """What botocore's client puts on the wire for `request`, caught before it is sent."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=DEST_ACCOUNT,
        aws_secret_access_key=SANDBOX_SECRET,
    )

    def capture(request: Any, **_: Any) -> None:
        raise _Captured(request.body, request.headers)

    client.meta.events.register("before-send.dynamodb.*", capture)
    with pytest.raises(_Captured) as caught:
        getattr(client, operation)(**request)
    return caught.value.body, caught.value.headers


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def fast_body(operation: str, request: Mapping[str, Any]) -> tuple[bytes, Mapping[str, str]]:
    http = RecordingHttp()
    getattr(fast_client(http), operation)(**request)
    (sent,) = http.sent
    return sent.body, sent.headers


def hard_values() -> list[Item]:
    """hard_items (38 digits, every byte, surrogates, controls, 300 KB) and more: empty strings
    and binaries, empty maps and lists, deep nesting, every set type, a seeded item."""
    nested: dict[str, Any] = {"S": "bottom"}
    for depth in range(20):
        nested = {"M": {f"level{depth}": {"L": [nested, {"N": "-0.0"}]}}}
    extra: Item = {
        "pk": {"S": "more"},
        "sk": {"B": b""},
        "empty_s": {"S": ""},
        "empty_b": {"B": b""},
        "empty_m": {"M": {}},
        "empty_l": {"L": []},
        "deep": nested,
        "sets": {
            "M": {
                "ss": {"SS": ["", "a", "\u00e9"]},
                "ns": {"NS": ["1E+125", "-1E-130", "0"]},
                "bs": {"BS": [b"", b"\x00", b"\xff" * 3]},
            }
        },
        "flags": {"L": [{"BOOL": True}, {"BOOL": False}, {"NULL": True}]},
        "unicode name \U0001f680 \u2028": {"S": "\U0001f680\u0000\ud7ff\ue000"},
    }
    seeded = make_item(7, item_bytes=1_000, rng=random.Random(3))
    return [*hard_items(), extra, {"pk": {"S": "seeded"}, "sk": {"B": b"s"}, **seeded}]


def test_batch_write_item_bodies_are_botocores_byte_for_byte() -> None:
    items = hard_values()
    request = {"RequestItems": {TABLE: [{"PutRequest": {"Item": item}} for item in items]}}
    fast, fast_headers = fast_body("batch_write_item", request)
    slow, slow_headers = botocore_body("batch_write_item", request)
    assert fast == slow
    assert fast.isascii()
    for header in ("X-Amz-Target", "Content-Type"):
        assert _text(fast_headers[header]) == _text(slow_headers[header])
    assert fast_headers["X-Amz-Target"] == "DynamoDB_20120810.BatchWriteItem"
    assert fast_headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")


@pytest.mark.parametrize("mode", ["overwrite", "skip-existing", "newer-wins:n"])
def test_conditional_put_bodies_are_botocores_byte_for_byte(mode: str) -> None:
    """The requests ItemWriter makes in each mode, sent by both engines."""
    version = {"n": {"N": "12345678901234567890123456789012345678"}}
    requests = put_requests(mode, [{**item, **version} for item in hard_values()])
    assert requests
    for request in requests:
        fast, fast_headers = fast_body("put_item", request)
        slow, _ = botocore_body("put_item", request)
        assert fast == slow
        assert fast_headers["X-Amz-Target"] == "DynamoDB_20120810.PutItem"


def test_items_decoded_for_the_fast_engine_are_sent_as_botocore_sends_them() -> None:
    """The fast engine joins each decoded item's text from the message (compact JSON) into the
    body: the same JSON as botocore's body for the items decode_body gives, for BatchWriteItem
    and for each mode's PutItem."""
    version = {"n": {"N": "12345678901234567890123456789012345678"}}
    # hard_values()[3], of 300 KB, would make the message too large for SQS.
    body = encode_items([{**item, **version} for item in hard_values() if len(str(item)) < 10**5])
    wire, client = decode_wire_body(body), decode_body(body)
    assert all(getattr(item, "encoded", None) for item in wire)
    fast, _ = fast_body("batch_write_item", {"RequestItems": {TABLE: puts(wire)}})
    slow, _ = botocore_body("batch_write_item", {"RequestItems": {TABLE: puts(client)}})
    assert fast.isascii()
    assert json.loads(fast) == json.loads(slow)
    for mode in ("overwrite", "skip-existing", "newer-wins:n"):
        for fast_request, slow_request in zip(
            put_requests(mode, wire), put_requests(mode, client), strict=True
        ):
            assert fast_request.keys() == slow_request.keys()
            fast, _ = fast_body("put_item", fast_request)
            slow, _ = botocore_body("put_item", slow_request)
            assert json.loads(fast) == json.loads(slow)


def puts(items: list[Any]) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": item}} for item in items]


def put_requests(mode: str, items: list[Any]) -> list[dict[str, Any]]:
    """The PutItem requests ItemWriter makes for `items` in `mode`."""
    requests: list[dict[str, Any]] = []

    class Recorder:
        def put_item(self, **request: Any) -> dict[str, Any]:
            requests.append(request)
            return {}

    schema = KeySchema(
        table_name=TABLE, partition_key="pk", sort_key="sk", key_types={"pk": "S", "sk": "B"}
    )
    writer = ItemWriter(
        clients=BoundedClients.fixed(Recorder()),  # type: ignore[arg-type]
        schema=schema,
        mode=WriteMode.parse(mode),
        backoff=writer_backoff(),
        dead_letters=NoDeadLetterQueue("none"),
    )
    for item in items:
        writer.put(item, Deadline(at_s=float("inf")))
    assert len(requests) == len(items)
    return requests


def test_request_body_writes_bytes_as_base64_and_escapes_to_ascii() -> None:
    body = request_body({"Item": {"b": {"B": b"\x00\xff"}, "s": {"S": "\u00e9\U0001f680"}}})
    assert body == b'{"Item": {"b": {"B": "AP8="}, "s": {"S": "\\u00e9\\ud83d\\ude80"}}}'


@pytest.mark.parametrize(
    ("type_", "code"),
    [
        ("com.amazonaws.dynamodb.v20120810#ValidationException", "ValidationException"),
        (
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "ProvisionedThroughputExceededException",
        ),
        ("com.amazon.coral.availability#ThrottlingException", "ThrottlingException"),
        ("ThrottlingException", "ThrottlingException"),
        (
            "com.amazon.coral.service#UnrecognizedClientException:http://internal.amazon.com/x",
            "UnrecognizedClientException",
        ),
    ],
)
def test_error_types_map_to_botocores_codes(type_: str, code: str) -> None:
    assert error_code_of(type_) == code
    http = RecordingHttp(_Reply(400, {"__type": type_, "message": "no"}))
    with pytest.raises(ClientError) as caught:
        fast_client(http).batch_write_item(RequestItems={TABLE: []})
    assert caught.value.response["Error"] == {"Code": code, "Message": "no"}
    assert caught.value.operation_name == "BatchWriteItem"


def test_a_failed_condition_carries_the_old_item_and_a_5xx_without_body_has_a_code() -> None:
    old = {"pk": {"S": "a"}, "v": {"N": "3"}, "b": {"B": "AP8="}}
    failed = {
        "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "Message": "The conditional request failed",
        "Item": old,
    }
    with pytest.raises(ClientError) as caught:
        fast_client(RecordingHttp(_Reply(400, failed))).put_item(TableName=TABLE, Item={})
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert caught.value.response["Item"] == old  # type: ignore[typeddict-item]

    http = RecordingHttp(_Reply(503, {}))
    http.reply.content = b""
    with pytest.raises(ClientError) as caught:
        fast_client(http).put_item(TableName=TABLE, Item={})
    assert caught.value.response["Error"]["Code"] == "503"

    http = RecordingHttp(_Reply(502, {}))
    http.reply.content = b"<html>Bad Gateway</html>"
    with pytest.raises(ClientError) as caught:
        fast_client(http).batch_write_item(RequestItems={TABLE: []})
    assert caught.value.response["Error"]["Code"] == "502"


def test_unprocessed_items_come_back_in_client_shape() -> None:
    leftover = {"pk": {"S": "a"}, "b": {"B": "AP8="}, "bs": {"BS": ["AA=="]}}
    reply = _Reply(200, {"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": leftover}}]}})
    response = fast_client(RecordingHttp(reply)).batch_write_item(RequestItems={TABLE: []})
    (request,) = response["UnprocessedItems"][TABLE]
    assert request["PutRequest"]["Item"] == {
        "pk": {"S": "a"},
        "b": {"B": b"\x00\xff"},
        "bs": {"BS": [b"\x00"]},
    }
    done = fast_client(RecordingHttp(_Reply(200, {"UnprocessedItems": {}})))
    assert done.batch_write_item(RequestItems={TABLE: []}) == {"UnprocessedItems": {}}


def test_an_unknown_engine_is_a_config_error_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="CONSUMER_ENGINE='turbo': expected fast or botocore"):
        ConsumerConfig.from_env({"TABLE_NAME": "t", "CONSUMER_ENGINE": "turbo"})
    assert ConsumerConfig.from_env({"TABLE_NAME": "t"}).engine == "fast"
    assert ConsumerConfig.from_env({"TABLE_NAME": "t", "CONSUMER_ENGINE": "botocore"}).engine == (
        "botocore"
    )


def _proxied_writer(engine: ConsumerEngine, proxy_url: str, mode: str) -> Any:
    session = boto3.Session(
        aws_access_key_id=DEST_ACCOUNT, aws_secret_access_key=SANDBOX_SECRET, region_name=REGION
    )
    clients = dynamodb_writes(
        session, engine=engine, endpoint_url=proxy_url, max_pool_connections=20
    )
    return make_writer(clients, ConsumerConfig(table_name=TABLE, write_mode=WriteMode.parse(mode)))


@pytest.mark.parametrize("mode", ["overwrite", "skip-existing"])
def test_throttling_and_trimmed_batches_are_retried_until_every_item_is_written(
    sandbox: Sandbox, tmp_path: Path, consumer_engine: ConsumerEngine, mode: str
) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=100)
    ev = receive_event(sandbox, seeded, messages=4)
    faults = FaultConfig(
        seed=3,
        throttle_rate=0.3,
        error_500_rate=0.1,
        batch_trim_rate=0.5,
        batch_keep_share=0.5,
        fault_targets=frozenset({"BatchWriteItem", "PutItem"}),
    )
    with FaultProxy(sandbox.endpoint_url, faults) as proxy:
        summaries: list[BatchSummary] = []
        response = handle_batch(
            ev,
            FixedContext(30_000),
            writer=_proxied_writer(consumer_engine, proxy.url, mode),
            on_summary=summaries.append,
        )
        stats = proxy.stats().counters
    assert response == {"batchItemFailures": []}
    (summary,) = summaries
    assert summary.items_written == 100
    assert summary.retries > 0
    assert sum(stats.values()) > 0
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))


def test_the_fast_engine_times_out_a_slow_table_before_the_deadline(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """As test_consumer_deadline's botocore case: URLLib3Session's timeouts come from the time
    left, so a call answering after 2 s with 1.5 s left fails its message in time."""
    seeded = seed_and_send(sandbox, tmp_path, items=5)
    ev = receive_event(sandbox, seeded, messages=1)
    slow = FaultConfig(latency_ms=2_000, fault_targets=frozenset({"BatchWriteItem"}))
    with FaultProxy(sandbox.endpoint_url, slow) as proxy:
        summaries: list[BatchSummary] = []
        with pytest.raises(AllMessagesFailedError):
            handle_batch(
                ev,
                FixedContext(remaining_ms=1_500),
                writer=_proxied_writer("fast", proxy.url, "overwrite"),
                safety_margin_ms=0,
                on_summary=summaries.append,
            )
    (summary,) = summaries
    (failed,) = summary.failures
    assert "ReadTimeoutError" in (failed.failure or "") or "deadline" in (failed.failure or "")
    assert summary.items_written == 0
