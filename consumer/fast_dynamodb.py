"""The fast engine: DynamoDB's JSON API called directly, signed by botocore, sent by botocore's
own HTTP session; no serializer, no parser, no new dependency in the Lambda zip.

Items arrive as AttributeValue JSON and leave as AttributeValue JSON, so the request body is
the items dumped with the standard library's `json`, exactly as botocore's JSON serializer
dumps them (json.dumps' defaults: same key order, separators and ASCII escapes; B/BS bytes as
base64: a test compares the two bodies). An item decoded by consumer.wire.decode_wire_body is
not dumped again: its text in the message (compact JSON) is joined into the body as it is, so
such a body equals botocore's as JSON, not byte for byte. Of the response only what the writers
read is decoded:
UnprocessedItems, and for an error its `__type`, message and (ConditionalCheckFailedException
with ReturnValuesOnConditionCheckFailure=ALL_OLD) the Item.

`FastDynamoDB` offers the three calls the consumer makes, with botocore's keyword arguments,
return shapes and exceptions (a `ClientError` whose `response["Error"]["Code"]` is the
`__type`'s last part; a lost connection as botocore's own HTTPClientError subclasses), so the
writers, their retries, the deadline and per-message attribution are the same for both engines.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session
from botocore.utils import get_environ_proxies

from consumer.calls import BoundedClients, CallTimeouts
from consumer.wire import WireItem, from_wire

if TYPE_CHECKING:
    from botocore.credentials import Credentials

# DynamoDB's JSON protocol: "DynamoDB low-level API", the X-Amz-Target of each operation.
_TARGET_PREFIX: Final = "DynamoDB_20120810."
_CONTENT_TYPE: Final = "application/x-amz-json-1.0"
_SIGNING_NAME: Final = "dynamodb"
# What botocore's clients set (botocore/args.py): without TCP_NODELAY, URLLib3Session's default,
# a small request waits on Nagle's algorithm and the peer's delayed ACK, ~40 ms per call.
_SOCKET_OPTIONS: Final = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class DynamoDBWrites(Protocol):
    """The calls the consumer makes, as both a boto3 client and FastDynamoDB offer them."""

    def batch_write_item(self, *, RequestItems: Any) -> Any: ...

    def put_item(
        self,
        *,
        TableName: str,
        Item: Any,
        ConditionExpression: str = ...,
        ExpressionAttributeNames: Any = ...,
        ExpressionAttributeValues: Any = ...,
        ReturnValuesOnConditionCheckFailure: Any = ...,
    ) -> Any: ...

    def describe_table(self, *, TableName: str) -> Any: ...


def _bytes_as_base64(value: object) -> str:
    # botocore's JSON serializer writes blobs (B, BS) as base64 text.
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# botocore's JSONSerializer sends json.dumps(body): default separators (", " and ": "),
# ensure_ascii; the same here, so that both engines send the same bytes.
_ENCODER: Final = json.JSONEncoder(default=_bytes_as_base64)


def request_body(request: Mapping[str, Any]) -> bytes:
    """The body botocore's JSON serializer sends for `request` (its keyword arguments); an item
    that holds its wire JSON already (WireItem.encoded) is that text, not dumped again."""
    members = []
    for name, value in request.items():
        if name == "Item":
            text = _item_json(value)
        elif name == "RequestItems":
            text = _request_items_json(value)
        else:
            text = _ENCODER.encode(value)
        members.append(f"{_ENCODER.encode(name)}: {text}")
    return f"{{{', '.join(members)}}}".encode("ascii")


def _item_json(item: Any) -> str:
    encoded: str | None = getattr(item, "encoded", None) if type(item) is WireItem else None
    return _ENCODER.encode(item) if encoded is None else encoded


def _request_items_json(request_items: Mapping[str, Any]) -> str:
    """BatchWriteItem's RequestItems, as json.dumps writes it (", " and ": " between members)."""
    tables = []
    for table, requests in request_items.items():
        parts = []
        for request in requests:
            put = request.get("PutRequest") if isinstance(request, dict) else None
            if isinstance(put, dict) and len(request) == 1 and put.keys() == {"Item"}:
                parts.append(f'{{"PutRequest": {{"Item": {_item_json(put["Item"])}}}}}')
            else:
                parts.append(_ENCODER.encode(request))
        tables.append(f"{_ENCODER.encode(table)}: [{', '.join(parts)}]")
    return f"{{{', '.join(tables)}}}"


def error_code_of(type_: str) -> str:
    """'com.amazonaws.dynamodb.v20120810#ValidationException' -> 'ValidationException', the
    code botocore's JSON parser gives (it drops a ':...' suffix, then the '...#' prefix), so
    that consumer.errors classifies both engines' errors alike."""
    return type_.split(":", 1)[0].rpartition("#")[2]


class FastDynamoDB:
    """BatchWriteItem, PutItem and DescribeTable as signed JSON requests on one HTTP session."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        credentials: Credentials,
        http: URLLib3Session,
    ) -> None:
        self._url = endpoint_url
        self._region = region
        self._credentials = credentials
        self._http = http

    def batch_write_item(self, *, RequestItems: Any) -> dict[str, Any]:
        reply = self._call("BatchWriteItem", {"RequestItems": RequestItems})
        unprocessed = reply.get("UnprocessedItems") or {}
        # Rare (throttling): back to client shape (B as bytes), as botocore's parser gives them,
        # since a leftover item may be put alone or sent to the dead-letter queue.
        return {
            "UnprocessedItems": {
                table: [_client_request(request) for request in requests]
                for table, requests in unprocessed.items()
            }
        }

    def put_item(self, **request: Any) -> dict[str, Any]:
        self._call("PutItem", request)
        return {}

    def describe_table(self, *, TableName: str) -> dict[str, Any]:
        return self._call("DescribeTable", {"TableName": TableName})

    def _call(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        http_request = AWSRequest(
            method="POST",
            url=self._url,
            data=request_body(request),
            headers={"Content-Type": _CONTENT_TYPE, "X-Amz-Target": _TARGET_PREFIX + operation},
        )
        # Frozen per call, as botocore's RequestSigner does: refreshable credentials (a role's)
        # then never change between reading the key and the secret.
        frozen = self._credentials.get_frozen_credentials()
        SigV4Auth(frozen, _SIGNING_NAME, self._region).add_auth(http_request)
        response = self._http.send(http_request.prepare())
        content = response.content
        try:
            parsed: Any = json.loads(content) if content else {}
        except ValueError:
            parsed = None  # not DynamoDB's (a proxy's error page): the code is the status
        if response.status_code == 200 and isinstance(parsed, dict):
            return parsed
        raise _client_error(operation, response.status_code, parsed)


def _client_request(request: Any) -> Any:
    put = request.get("PutRequest") if isinstance(request, dict) else None
    if put is None or "Item" not in put:
        return request
    return {"PutRequest": {"Item": from_wire(put["Item"])}}


def _client_error(operation: str, status: int, parsed: Any) -> ClientError:
    """The ClientError botocore raises for this error response: the code from `__type`."""
    body = parsed if isinstance(parsed, dict) else {}
    # botocore: the status code as text when the body names no type.
    code = error_code_of(str(body.get("__type", ""))) or str(status)
    message = str(body.get("message", body.get("Message", "")))
    error: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    if isinstance(body.get("Item"), dict):
        error["Item"] = body["Item"]  # ALL_OLD on a failed condition (wire form: B as base64)
    return ClientError(error, operation)  # type: ignore[arg-type]


def fast_clients(
    *,
    endpoint_url: str,
    region: str,
    credentials: Credentials,
    max_pool_connections: int,
) -> BoundedClients[DynamoDBWrites]:
    """One FastDynamoDB per timeout rung: URLLib3Session fixes its timeouts when made, like a
    botocore client (consumer.calls). Proxies from the environment, as botocore's endpoint
    takes them."""
    proxies = get_environ_proxies(endpoint_url)

    def make(timeouts: CallTimeouts) -> DynamoDBWrites:
        http = URLLib3Session(
            proxies=proxies,
            # httpsession takes a (connect, read) pair, though its stub says int.
            timeout=(timeouts.connect_timeout_s, timeouts.read_timeout_s),  # type: ignore[arg-type]
            max_pool_connections=max_pool_connections,
            socket_options=_SOCKET_OPTIONS,  # type: ignore[arg-type]  # stub says list[str]
        )
        return FastDynamoDB(
            endpoint_url=endpoint_url, region=region, credentials=credentials, http=http
        )

    return BoundedClients(make, wire_items=True)
