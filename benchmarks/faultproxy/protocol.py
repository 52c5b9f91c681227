"""The AWS JSON protocol as the proxy sees it: which call a request is, and how AWS answers.

In (the request's headers and JSON body) -> out (a `Call`, the tables it touches, error
answers shaped like DynamoDB's and SQS's).
"""

from __future__ import annotations

import json
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from multidict import CIMultiDict

JSONObject = dict[str, Any]

DYNAMODB_TARGET_PREFIX: Final = "DynamoDB_20120810."
SQS_TARGET_PREFIX: Final = "AmazonSQS."
READS: Final = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
WRITES: Final = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)

_CREDENTIAL: Final = re.compile(r"Credential=([^/,\s]+)/")
_DDB_ERROR_NS: Final = "com.amazonaws.dynamodb.v20120810#"
_SQS_ERROR_NS: Final = "com.amazonaws.sqs#"
_THROTTLING_TYPE: Final = "com.amazon.coral.availability#ThrottlingException"

PTEE: Final = (
    "ProvisionedThroughputExceededException",
    "The level of configured provisioned throughput for the table was exceeded. Consider "
    "increasing your provisioning level with the UpdateTable API.",
)


@dataclass(frozen=True, slots=True)
class Call:
    target: str  # "DynamoDB_20120810.BatchGetItem"
    operation: str  # "BatchGetItem"
    account: str  # access key id
    dynamodb: bool
    sqs: bool


def parse_call(target: str, authorization: str) -> Call:
    """The call named by `X-Amz-Target`; the account is the SigV4 credential's key id."""
    found = _CREDENTIAL.search(authorization)
    return Call(
        target=target,
        operation=target.rpartition(".")[2],
        account=found.group(1) if found else "",
        dynamodb=target.startswith(DYNAMODB_TARGET_PREFIX),
        sqs=target.startswith(SQS_TARGET_PREFIX),
    )


@dataclass(slots=True)
class Upstream:
    """An answer to hand back: the upstream's, or one the proxy made."""

    status: int
    reason: str | None
    headers: CIMultiDict[str]
    body: bytes


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("ascii")


def loads_object(body: bytes) -> JSONObject | None:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def request_id() -> str:
    return str(uuid.uuid4())


def replace_body(upstream: Upstream, body: bytes, *, crc32: bool) -> None:
    upstream.body = body
    if crc32 or "x-amz-crc32" in upstream.headers:
        upstream.headers["x-amz-crc32"] = str(zlib.crc32(body))


def tables_of(operation: str, document: Mapping[str, Any]) -> list[str]:
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [str(t) for t in (document.get("RequestItems") or {})]
    if operation == "TransactWriteItems":
        return sorted(
            {
                str(spec.get("TableName", ""))
                for action in document.get("TransactItems") or []
                for spec in action.values()
            }
        )
    return [str(document.get("TableName", ""))]


class ErrorAnswer(Exception):
    """An AWS JSON error answered instead of forwarding."""

    def __init__(
        self, call: Call, status: int, code: str, message: str, *, extra: Any = None
    ) -> None:
        super().__init__(f"{status} {code}")
        self.call, self.status, self.code, self.message = call, status, code, message
        self.extra: dict[str, Any] = dict(extra or {})  # more members of the error body

    def upstream(self) -> Upstream:
        if self.code == "ThrottlingException":
            error_type = _THROTTLING_TYPE
        elif self.call.dynamodb:
            error_type = _DDB_ERROR_NS + self.code
        elif self.call.sqs:
            error_type = _SQS_ERROR_NS + self.code
        else:
            error_type = self.code
        body = dumps({"__type": error_type, "message": self.message, **self.extra})
        headers = CIMultiDict(
            {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id()}
        )
        if self.call.dynamodb:
            headers["x-amz-crc32"] = str(zlib.crc32(body))
        if self.call.sqs:
            fault = "Sender" if self.status < 500 else "Receiver"
            headers["x-amzn-query-error"] = f"{self.code};{fault}"
        return Upstream(status=self.status, reason=None, headers=headers, body=body)
