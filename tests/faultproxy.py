"""A fault-injection reverse proxy in front of the sandbox: a test and benchmark tool.

Point a boto3 client's ``endpoint_url`` at the proxy; it forwards every request unchanged to
the upstream server (method, path and query, headers including ``Host`` and ``Authorization``,
body byte for byte) and hands back the upstream response (status, headers without hop-by-hop
ones, body). On the way it can do what real AWS does to a client under load:

* enforce a table's provisioned capacity with a token bucket per (account, table), reads and
  writes apart, answering ``ProvisionedThroughputExceededException`` while a bucket is in debt;
* answer ``ThrottlingException`` (400), 500 or 503, add latency, drop the connection before the
  request is forwarded (nothing applied) or after (applied, answer lost);
* forward only part of a ``BatchGetItem`` / ``BatchWriteItem`` and hand the rest back as
  ``UnprocessedKeys`` / ``UnprocessedItems``; fail part of a ``SendMessageBatch`` in ``Failed``;
* add the ``ConsumedCapacity`` real DynamoDB would report (ministack leaves it out of
  ``BatchGetItem`` and reports a flat 0.5/1 for ``GetItem`` whatever the item's size).

Usage::

    with FaultProxy(sandbox.endpoint_url, FaultConfig(seed=1)) as proxy:
        ddb = boto3.client("dynamodb", endpoint_url=proxy.url, ...)
        proxy.configure(table_read_capacity_rcu_per_s={"users": 100.0})
        ...
        proxy.stats().counters["capacity_exceeded"]

    python -m tests.faultproxy --upstream http://127.0.0.1:4566 --port 4567 --throttle-rate 0.1

Control endpoints (the prefix cannot collide with AWS: S3 bucket names cannot start with ``_``)::

    GET  /_faultproxy/health   {"ok": true}
    GET  /_faultproxy/stats    counters and consumed capacity as JSON
    POST /_faultproxy/reset    zero the counters and refill every bucket
    GET  /_faultproxy/config   the current FaultConfig as JSON
    POST /_faultproxy/config   {"throttle_rate": 0.5, ...}: changes, answered with the new config

Rules and limits:

* Only AWS JSON protocol calls (those with an ``X-Amz-Target`` header, e.g.
  ``DynamoDB_20120810.BatchGetItem`` or ``AmazonSQS.SendMessageBatch`` -- boto3 1.40.61 speaks
  the JSON protocol to SQS) get faults; anything else is forwarded untouched. The account is the
  access key id of the ``Credential=<AKID>/...`` in ``Authorization`` (the sandbox uses the
  12-digit account id as the key id).
* Every injected fault (latency, errors, drops, trims, failed entries) shares one scope:
  ``fault_accounts`` and ``fault_targets`` (empty means all). Capacity is per table instead.
  For differently scoped faults, run two proxies (one per client).
* Trimming a batch or failing entries rewrites the request body, which breaks its SigV4
  signature. That is fine here: ministack 1.5.33 checks signatures only when started with
  ``AUTH=true`` (``ministack/app.py``), and even then never for root keys such as the
  sandbox's 12-digit account ids (``caller_verified`` in ``ministack/core/iam_evaluator.py``);
  the sandbox server starts without ``AUTH``. Against real AWS the proxy must not rewrite.
* Costs follow the AWS rules (asynccopy.read.itemsize) but are computed from what the response
  shows: a ``ProjectionExpression`` or ``FilterExpression`` hides bytes DynamoDB bills for
  (a Query/Scan page is scaled up by ScannedCount/Count when both are known), a delete or an
  update costs 1 WCU, a put costs by the new item's size.
* The proxy charges a bucket after the response (the cost is only known then) and refuses new
  requests while the bucket is empty or in debt, so concurrent requests may overdraw it by
  their own cost, as DynamoDB's burst accounting does.
* Random choices come from one ``random.Random(seed)`` used in request order: with a seed and
  one request at a time, a run is reproducible.
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import contextlib
import json
import math
import random
import re
import signal
import sys
import threading
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType, TracebackType
from typing import Any, Final, Literal

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from asynccopy.read.itemsize import item_size_bytes, page_read_units, read_units

JSONObject = dict[str, Any]
Clock = Callable[[], float]
CapacityKind = Literal["read", "write"]

CONTROL_PREFIX: Final = "/_faultproxy/"
DYNAMODB_TARGET_PREFIX: Final = "DynamoDB_20120810."
SQS_TARGET_PREFIX: Final = "AmazonSQS."
WRITE_UNIT_BYTES: Final = 1024
DEFAULT_POOL_SIZE: Final = 128

_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "expect",
        "content-length",  # recomputed for the body actually sent
    }
)
_CREDENTIAL: Final = re.compile(r"Credential=([^/,\s]+)/")
_READS: Final = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
_WRITES: Final = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
_DDB_ERROR_NS: Final = "com.amazonaws.dynamodb.v20120810#"
_SQS_ERROR_NS: Final = "com.amazonaws.sqs#"
_THROTTLING_TYPE: Final = "com.amazon.coral.availability#ThrottlingException"

# ---- counters --------------------------------------------------------------------------------
# Every counter stats() reports, always present (zero until it happens).
COUNTERS: Final = (
    "requests",  # AWS calls seen (control endpoints excluded)
    "forwarded",  # requests sent upstream
    "upstream_errors",  # upstream unreachable: answered 502
    "delayed",  # requests given latency
    "dropped_requests",  # connection closed before forwarding
    "dropped_responses",  # forwarded, then the connection closed without the response
    "throttling_errors",  # ThrottlingException answered
    "errors_500",
    "errors_503",
    "capacity_exceeded",  # ProvisionedThroughputExceededException: a bucket in debt
    "batches_refused",  # ProvisionedThroughputExceededException: batch_keep_share 0
    "batches_trimmed",  # BatchGetItem/BatchWriteItem forwarded in part
    "unprocessed_keys",  # keys handed back in UnprocessedKeys
    "unprocessed_items",  # requests handed back in UnprocessedItems
    "send_batches_faulted",  # SendMessageBatch calls with injected Failed entries
    "failed_entries",  # entries failed with SenderFault false (InternalError)
    "sender_fault_entries",  # entries failed with SenderFault true
    "consumed_capacity_added",  # responses given a computed ConsumedCapacity
)


# ---- configuration ---------------------------------------------------------------------------
def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultConfig:
    """What the proxy does to requests. Rates are probabilities per request (0..1)."""

    seed: int | None = field(default=None, metadata=_help("random seed (reproducible runs)"))
    fault_accounts: frozenset[str] = field(
        default=frozenset(), metadata=_help("injected faults only for these accounts (all)")
    )
    fault_targets: frozenset[str] = field(
        default=frozenset(),
        metadata=_help(
            "injected faults only for these targets, e.g. BatchWriteItem or "
            "AmazonSQS.SendMessageBatch (all)"
        ),
    )
    latency_ms: float = field(default=0.0, metadata=_help("fixed latency added"))
    latency_jitter_ms: float = field(default=0.0, metadata=_help("uniform extra latency, up to"))
    throttle_rate: float = field(default=0.0, metadata=_help("answer ThrottlingException (400)"))
    error_500_rate: float = field(default=0.0, metadata=_help("answer 500 InternalServerError"))
    error_503_rate: float = field(default=0.0, metadata=_help("answer 503 ServiceUnavailable"))
    drop_request_rate: float = field(
        default=0.0, metadata=_help("close the connection before forwarding")
    )
    drop_response_rate: float = field(
        default=0.0, metadata=_help("forward, then close the connection without the response")
    )
    batch_trim_rate: float = field(
        default=0.0, metadata=_help("forward only part of a BatchGetItem/BatchWriteItem")
    )
    batch_keep_share: float = field(
        default=0.5,
        metadata=_help(
            "share of a trimmed batch forwarded (at least one); 0 answers "
            "ProvisionedThroughputExceededException"
        ),
    )
    send_batch_fault_rate: float = field(
        default=0.0, metadata=_help("fail entries of a SendMessageBatch")
    )
    send_batch_fail_share: float = field(
        default=0.5, metadata=_help("share of its entries failed with InternalError")
    )
    send_batch_sender_fault_share: float = field(
        default=0.0, metadata=_help("share of its entries failed with SenderFault true")
    )
    read_capacity_rcu_per_s: float | None = field(
        default=None, metadata=_help("provisioned reads of every table (unlimited)")
    )
    write_capacity_wcu_per_s: float | None = field(
        default=None, metadata=_help("provisioned writes of every table (unlimited)")
    )
    table_read_capacity_rcu_per_s: Mapping[str, float] = field(
        default_factory=dict,
        metadata=_help("[ACCOUNT/]TABLE=RCU: provisioned reads of one table"),
    )
    table_write_capacity_wcu_per_s: Mapping[str, float] = field(
        default_factory=dict,
        metadata=_help("[ACCOUNT/]TABLE=WCU: provisioned writes of one table"),
    )
    burst_s: float = field(
        default=1.0, metadata=_help("seconds of unused capacity a bucket keeps (AWS: 300)")
    )
    measure_capacity: bool = field(
        default=False,
        metadata=_help("count consumed units of every table, even unlimited ones"),
    )

    def __post_init__(self) -> None:
        for name in (
            "throttle_rate",
            "error_500_rate",
            "error_503_rate",
            "drop_request_rate",
            "drop_response_rate",
            "batch_trim_rate",
            "batch_keep_share",
            "send_batch_fault_rate",
            "send_batch_fail_share",
            "send_batch_sender_fault_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.send_batch_fail_share + self.send_batch_sender_fault_share > 1.0:
            raise ValueError(
                "send_batch_fail_share + send_batch_sender_fault_share must not exceed 1, got "
                f"{self.send_batch_fail_share} + {self.send_batch_sender_fault_share}"
            )
        for name in ("latency_ms", "latency_jitter_ms", "burst_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)!r}")
        for name in ("read_capacity_rcu_per_s", "write_capacity_wcu_per_s"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        for name in ("table_read_capacity_rcu_per_s", "table_write_capacity_wcu_per_s"):
            mapping = {str(k): float(v) for k, v in getattr(self, name).items()}
            for table, units in mapping.items():
                if units < 0:
                    raise ValueError(f"{name}[{table!r}] must not be negative, got {units!r}")
            object.__setattr__(self, name, MappingProxyType(mapping))
        for name in ("fault_accounts", "fault_targets"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))

    @property
    def injects_faults(self) -> bool:
        return any(
            getattr(self, name) > 0
            for name in (
                "latency_ms",
                "latency_jitter_ms",
                "throttle_rate",
                "error_500_rate",
                "error_503_rate",
                "drop_request_rate",
                "drop_response_rate",
                "batch_trim_rate",
                "send_batch_fault_rate",
            )
        )

    @property
    def limits_capacity(self) -> bool:
        return (
            self.read_capacity_rcu_per_s is not None
            or self.write_capacity_wcu_per_s is not None
            or bool(self.table_read_capacity_rcu_per_s)
            or bool(self.table_write_capacity_wcu_per_s)
        )

    def capacity_per_s(self, kind: CapacityKind, account: str, table: str) -> float | None:
        """The table's provisioned units per second: `account/table`, then `table`, then all."""
        if kind == "read":
            per_table, default = self.table_read_capacity_rcu_per_s, self.read_capacity_rcu_per_s
        else:
            per_table, default = self.table_write_capacity_wcu_per_s, self.write_capacity_wcu_per_s
        found = per_table.get(f"{account}/{table}")
        if found is None:
            found = per_table.get(table)
        return default if found is None else found

    def as_json(self) -> JSONObject:
        out: JSONObject = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[spec.name] = value
        return out

    @classmethod
    def coerce_changes(cls, changes: Mapping[str, Any]) -> JSONObject:
        """JSON changes (lists, objects) as keyword arguments for `replace`; rejects unknown."""
        kinds = {spec.name: str(spec.type) for spec in fields(cls)}
        out: JSONObject = {}
        for name, value in changes.items():
            kind = kinds.get(name)
            if kind is None:
                raise ValueError(f"unknown FaultConfig field {name!r}; known: {sorted(kinds)}")
            out[name] = _coerce(kind, name, value)
        return out


def _coerce(kind: str, name: str, value: Any) -> Any:
    if value is None and "None" in kind:
        return None
    if kind.startswith("frozenset"):
        items = value.split(",") if isinstance(value, str) else list(value)
        return frozenset(str(v).strip() for v in items if str(v).strip())
    if kind.startswith("Mapping"):
        if not isinstance(value, Mapping):
            raise ValueError(f"{name} must be an object of table -> units, got {value!r}")
        return {str(k): float(v) for k, v in value.items()}
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if kind.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


# ---- capacity accounting (pure) --------------------------------------------------------------
class TokenBucket:
    """Capacity units refilled at `rate_per_s`, holding at most `rate_per_s * burst_s`.

    Starts full. `charge` may take it into debt; `exhausted` is true while nothing is left.
    """

    def __init__(self, *, rate_per_s: float, burst_s: float, clock: Clock) -> None:
        self._clock = clock
        self._rate_per_s = rate_per_s
        self._burst_s = burst_s
        self._tokens = rate_per_s * burst_s
        self._at = clock()

    @property
    def rate_per_s(self) -> float:
        return self._rate_per_s

    @property
    def burst_s(self) -> float:
        return self._burst_s

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        capacity = self._rate_per_s * self._burst_s
        self._tokens = min(capacity, self._tokens + (now - self._at) * self._rate_per_s)
        self._at = now

    def exhausted(self) -> bool:
        return self.tokens <= 0.0

    def charge(self, units: float) -> None:
        self._refill()
        self._tokens -= units

    def reconfigure(self, *, rate_per_s: float, burst_s: float) -> None:
        self._refill()
        self._rate_per_s = rate_per_s
        self._burst_s = burst_s
        self._tokens = min(self._tokens, rate_per_s * burst_s)


def _decoded(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A wire AttributeValue with B/BS as bytes, as asynccopy.read.itemsize measures them."""
    ((tag, inner),) = value.items()
    if tag == "B":
        return {"B": binascii.a2b_base64(inner)}
    if tag == "BS":
        return {"BS": [binascii.a2b_base64(v) for v in inner]}
    if tag == "L":
        return {"L": [_decoded(v) for v in inner]}
    if tag == "M":
        return {"M": {k: _decoded(v) for k, v in inner.items()}}
    return value


def wire_item_size_bytes(item: Mapping[str, Any]) -> int:
    """The DynamoDB size of an item as it appears in JSON (binary values in base64)."""
    return item_size_bytes({name: dict(_decoded(value)) for name, value in item.items()})


def write_units(size_bytes: int) -> float:
    """Write units one put of an item this size consumes (each 1 KB or part of it)."""
    return float(max(1, -(-size_bytes // WRITE_UNIT_BYTES)))


def get_item_read_units(request: Mapping[str, Any], response: Mapping[str, Any]) -> float:
    item = response.get("Item")
    size = wire_item_size_bytes(item) if item else 0
    return read_units(size, consistent=bool(request.get("ConsistentRead")))


def batch_get_read_units(
    request: Mapping[str, Any], response: Mapping[str, Any]
) -> dict[str, float]:
    """Units per table: each returned item rounded up to 4 KB, each missing key the minimum."""
    units: dict[str, float] = {}
    responses = response.get("Responses") or {}
    for table, spec in (request.get("RequestItems") or {}).items():
        consistent = bool(spec.get("ConsistentRead"))
        items = responses.get(table) or []
        missing = max(0, len(spec.get("Keys") or []) - len(items))
        total = sum(read_units(wire_item_size_bytes(i), consistent=consistent) for i in items)
        units[table] = total + missing * read_units(0, consistent=consistent)
    return units


def page_units(request: Mapping[str, Any], response: Mapping[str, Any]) -> float:
    """A Query/Scan page: the items' total rounded up once (scaled to ScannedCount)."""
    items = response.get("Items") or []
    total = sum(wire_item_size_bytes(i) for i in items)
    count, scanned = response.get("Count"), response.get("ScannedCount")
    if items and isinstance(count, int) and isinstance(scanned, int) and scanned > count > 0:
        total = math.ceil(total * scanned / count)
    return page_read_units(total, consistent=bool(request.get("ConsistentRead")))


def _write_request_units(write: Mapping[str, Any]) -> float:
    put = write.get("PutRequest")
    if put is not None:
        return write_units(wire_item_size_bytes(put.get("Item") or {}))
    return 1.0


def write_request_units(operation: str, request: Mapping[str, Any]) -> dict[str, float]:
    """Write units per table a write request consumes (see the module docstring's rules)."""
    if operation == "BatchWriteItem":
        return {
            table: sum(_write_request_units(w) for w in writes)
            for table, writes in (request.get("RequestItems") or {}).items()
        }
    if operation == "TransactWriteItems":
        units: dict[str, float] = {}
        for action in request.get("TransactItems") or []:
            for kind, spec in action.items():
                size = wire_item_size_bytes(spec.get("Item") or {}) if kind == "Put" else 0
                table = str(spec.get("TableName", ""))
                units[table] = units.get(table, 0.0) + 2.0 * write_units(size)
        return units
    table = str(request.get("TableName", ""))
    if operation == "PutItem":
        return {table: write_units(wire_item_size_bytes(request.get("Item") or {}))}
    return {table: 1.0}


def read_request_units(
    operation: str, request: Mapping[str, Any], response: Mapping[str, Any]
) -> dict[str, float]:
    if operation == "BatchGetItem":
        return batch_get_read_units(request, response)
    table = str(request.get("TableName", ""))
    if operation == "GetItem":
        return {table: get_item_read_units(request, response)}
    return {table: page_units(request, response)}


# ---- statistics ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class ProxyStats:
    """A snapshot: `counters` (every name in COUNTERS) and units consumed per `account/table`."""

    counters: Mapping[str, int]
    consumed_rcu: Mapping[str, float]
    consumed_wcu: Mapping[str, float]

    def as_json(self) -> JSONObject:
        return {
            "counters": dict(self.counters),
            "consumed_rcu": dict(self.consumed_rcu),
            "consumed_wcu": dict(self.consumed_wcu),
        }


class _Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._consumed: dict[CapacityKind, dict[str, float]] = {"read": {}, "write": {}}

    def bump(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counters[name] += by

    def consumed(self, kind: CapacityKind, key: str, units: float) -> None:
        with self._lock:
            table = self._consumed[kind]
            table[key] = table.get(key, 0.0) + units

    def snapshot(self) -> ProxyStats:
        with self._lock:
            return ProxyStats(
                counters=MappingProxyType(dict(self._counters)),
                consumed_rcu=MappingProxyType(dict(self._consumed["read"])),
                consumed_wcu=MappingProxyType(dict(self._consumed["write"])),
            )

    def reset(self) -> None:
        with self._lock:
            self._counters = dict.fromkeys(COUNTERS, 0)
            self._consumed = {"read": {}, "write": {}}


# ---- the request path ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Call:
    target: str  # "DynamoDB_20120810.BatchGetItem"
    operation: str  # "BatchGetItem"
    account: str  # access key id
    dynamodb: bool
    sqs: bool


@dataclass(slots=True)
class _Upstream:
    status: int
    reason: str | None
    headers: CIMultiDict[str]
    body: bytes


class _Drop(Exception):
    """Close the client's connection without an answer."""


def _dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("ascii")


def _loads_object(body: bytes) -> JSONObject | None:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _request_id() -> str:
    return str(uuid.uuid4())


class _Engine:
    """Everything between the client's request and the answer; runs on one event loop."""

    def __init__(
        self, upstream_url: str, config: FaultConfig, *, pool_size: int, clock: Clock
    ) -> None:
        self._upstream = upstream_url.rstrip("/")
        self._pool_size = pool_size
        self._clock = clock
        self._lock = threading.Lock()
        self._config = config
        self._rng = random.Random(config.seed)
        self._buckets: dict[tuple[CapacityKind, str, str], TokenBucket] = {}
        self.recorder = _Recorder()
        self._session: aiohttp.ClientSession | None = None

    # -- control (any thread) --
    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, changes: Mapping[str, Any]) -> FaultConfig:
        with self._lock:
            config = replace(self._config, **changes)
            if "seed" in changes:
                self._rng = random.Random(config.seed)
            self._config = config
            return config

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
        self.recorder.reset()

    # -- life cycle (the loop's thread) --
    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10.0),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- requests --
    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await self._control(request)
        body = await request.content.read()
        try:
            return await self._handle(request, body)
        except _ErrorAnswer as answer:
            return self._answer(answer.upstream())
        except _Drop:
            if request.transport is not None:
                request.transport.close()
            # Nothing can be written any more; aiohttp discards this answer.
            return web.Response(status=499)

    async def _handle(self, request: web.BaseRequest, body: bytes) -> web.StreamResponse:
        self.recorder.bump("requests")
        config = self._config
        target = request.headers.get("X-Amz-Target", "")
        plain = not (config.injects_faults or config.limits_capacity or config.measure_capacity)
        if not target or (
            plain
            and not (
                target.startswith(DYNAMODB_TARGET_PREFIX) and b"ReturnConsumedCapacity" in body
            )
        ):
            # The fast path: nothing to do but pass it on.
            return self._answer(await self._forward(request, body))
        call = self._call(request, target)
        faulty = config.injects_faults and self._in_scope(config, call)
        if faulty:
            await self._before(config, call)
        if call.dynamodb and (call.operation in _READS or call.operation in _WRITES):
            upstream = await self._dynamodb(request, body, config, call, faulty)
        elif call.sqs and faulty and call.operation == "SendMessageBatch":
            upstream = await self._send_message_batch(request, body, config)
        else:
            upstream = await self._forward(request, body)
        if faulty and self._chance(config.drop_response_rate):
            self.recorder.bump("dropped_responses")
            raise _Drop
        return self._answer(upstream)

    def _call(self, request: web.BaseRequest, target: str) -> _Call:
        found = _CREDENTIAL.search(request.headers.get("Authorization", ""))
        return _Call(
            target=target,
            operation=target.rpartition(".")[2],
            account=found.group(1) if found else "",
            dynamodb=target.startswith(DYNAMODB_TARGET_PREFIX),
            sqs=target.startswith(SQS_TARGET_PREFIX),
        )

    @staticmethod
    def _in_scope(config: FaultConfig, call: _Call) -> bool:
        if config.fault_accounts and call.account not in config.fault_accounts:
            return False
        return not config.fault_targets or bool(
            {call.target, call.operation} & config.fault_targets
        )

    def _chance(self, rate: float) -> bool:
        return rate > 0.0 and (rate >= 1.0 or self._rng.random() < rate)

    async def _before(self, config: FaultConfig, call: _Call) -> None:
        """Latency, then a drop or an error answer instead of forwarding."""
        delay_ms = config.latency_ms
        if config.latency_jitter_ms > 0:
            delay_ms += self._rng.uniform(0.0, config.latency_jitter_ms)
        if delay_ms > 0:
            self.recorder.bump("delayed")
            await asyncio.sleep(delay_ms / 1000.0)
        if self._chance(config.drop_request_rate):
            self.recorder.bump("dropped_requests")
            raise _Drop
        if self._chance(config.throttle_rate):
            self.recorder.bump("throttling_errors")
            raise _ErrorAnswer(call, 400, "ThrottlingException", "Rate exceeded")
        if self._chance(config.error_500_rate):
            self.recorder.bump("errors_500")
            code = "InternalServerError" if call.dynamodb else "InternalError"
            raise _ErrorAnswer(call, 500, code, "Internal server error (injected)")
        if self._chance(config.error_503_rate):
            self.recorder.bump("errors_503")
            raise _ErrorAnswer(call, 503, "ServiceUnavailable", "Service unavailable (injected)")

    async def _forward(
        self, request: web.BaseRequest, body: bytes, *, replaced: bool = False
    ) -> _Upstream:
        assert self._session is not None, "the engine is not open"
        headers = CIMultiDict(
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _HOP_BY_HOP
        )
        url = URL(self._upstream + request.raw_path, encoded=True)
        try:
            async with self._session.request(
                request.method,
                url,
                headers=headers,
                data=body if body or request.method not in ("GET", "HEAD") else None,
                allow_redirects=False,
            ) as response:
                payload = await response.read()
                self.recorder.bump("forwarded")
                return _Upstream(
                    status=response.status,
                    reason=response.reason,
                    headers=CIMultiDict(
                        (name, value)
                        for name, value in response.headers.items()
                        if name.lower() not in _HOP_BY_HOP
                    ),
                    body=payload,
                )
        except (aiohttp.ClientError, OSError) as exc:
            self.recorder.bump("upstream_errors")
            message = f"faultproxy: upstream {self._upstream} failed: {exc!r}"
            return _Upstream(
                status=502,
                reason="Bad Gateway",
                headers=CIMultiDict({"Content-Type": "text/plain; charset=utf-8"}),
                body=message.encode("utf-8"),
            )

    @staticmethod
    def _answer(upstream: _Upstream) -> web.Response:
        return web.Response(
            status=upstream.status,
            reason=upstream.reason,
            headers=upstream.headers,
            body=upstream.body,
        )

    # -- DynamoDB --
    def _bucket(
        self, config: FaultConfig, kind: CapacityKind, account: str, table: str
    ) -> TokenBucket | None:
        rate = config.capacity_per_s(kind, account, table)
        key = (kind, account, table)
        with self._lock:
            bucket = self._buckets.get(key)
            if rate is None:
                if bucket is not None:
                    del self._buckets[key]
                return None
            if bucket is None:
                bucket = TokenBucket(rate_per_s=rate, burst_s=config.burst_s, clock=self._clock)
                self._buckets[key] = bucket
            elif bucket.rate_per_s != rate or bucket.burst_s != config.burst_s:
                bucket.reconfigure(rate_per_s=rate, burst_s=config.burst_s)
            return bucket

    async def _dynamodb(
        self,
        request: web.BaseRequest,
        body: bytes,
        config: FaultConfig,
        call: _Call,
        faulty: bool,
    ) -> _Upstream:
        operation = call.operation
        batch = operation in ("BatchGetItem", "BatchWriteItem")
        trim = faulty and batch and self._chance(config.batch_trim_rate)
        wants_capacity = b"ReturnConsumedCapacity" in body
        if not (trim or wants_capacity or config.limits_capacity or config.measure_capacity):
            return await self._forward(request, body)
        document = _loads_object(body)
        if document is None:
            return await self._forward(request, body)
        kind: CapacityKind = "read" if operation in _READS else "write"
        tables = _tables_of(operation, document)
        in_debt = {
            table
            for table in tables
            if (bucket := self._bucket(config, kind, call.account, table)) is not None
            and bucket.exhausted()
        }
        held_back: JSONObject = {}
        if in_debt:
            if not batch or in_debt >= set(tables):
                self.recorder.bump("capacity_exceeded")
                # DynamoDB says why: ThrottlingReasons, one per table over its capacity.
                reasons = [
                    {
                        "reason": f"Table{kind.capitalize()}ProvisionedThroughputExceeded",
                        "resource": f"arn:aws:dynamodb:us-east-1:{call.account}:table/{table}",
                    }
                    for table in sorted(in_debt)
                ]
                raise _ErrorAnswer(call, 400, *_PTEE, extra={"ThrottlingReasons": reasons})
            # Real DynamoDB hands a throttled table's part back and serves the rest.
            held_back = _hold_back_tables(document, in_debt)
            self.recorder.bump("capacity_exceeded")
        if trim:
            if config.batch_keep_share <= 0.0:
                self.recorder.bump("batches_refused")
                raise _ErrorAnswer(call, 400, *_PTEE)
            trimmed = _trim_batch(operation, document, config.batch_keep_share, self._rng)
            if trimmed:
                self.recorder.bump("batches_trimmed")
                held_back = _merge_unprocessed(operation, held_back, trimmed)
        forward_body = _dumps(document) if held_back else body
        upstream = await self._forward(request, forward_body)
        if upstream.status != 200 or "Content-Encoding" in upstream.headers:
            return upstream
        response: JSONObject | None = None
        changed = False
        counts_units = (
            wants_capacity
            or config.measure_capacity
            or any(config.capacity_per_s(kind, call.account, t) is not None for t in tables)
        )
        if counts_units:
            if kind == "read":
                response = _loads_object(upstream.body)
                units = read_request_units(operation, document, response or {})
            else:
                units = write_request_units(operation, document)
            for table, used in units.items():
                bucket = self._bucket(config, kind, call.account, table)
                if bucket is not None:
                    bucket.charge(used)
                self.recorder.consumed(kind, f"{call.account}/{table}", used)
            capacity_mode = document.get("ReturnConsumedCapacity")
            if capacity_mode in ("TOTAL", "INDEXES"):
                response = response if response is not None else _loads_object(upstream.body)
                if response is not None and (kind == "read" or "ConsumedCapacity" not in response):
                    response["ConsumedCapacity"] = _consumed_capacity(
                        operation, units, kind, detailed=capacity_mode == "INDEXES"
                    )
                    self.recorder.bump("consumed_capacity_added")
                    changed = True
        if held_back:
            response = response if response is not None else _loads_object(upstream.body)
            if response is not None:
                name = "UnprocessedKeys" if operation == "BatchGetItem" else "UnprocessedItems"
                response[name] = _merge_unprocessed(operation, response.get(name) or {}, held_back)
                counter = "unprocessed_keys" if operation == "BatchGetItem" else "unprocessed_items"
                self.recorder.bump(counter, _count_unprocessed(operation, held_back))
                changed = True
        if changed and response is not None:
            _replace_body(upstream, _dumps(response), crc32=True)
        return upstream

    # -- SQS --
    async def _send_message_batch(
        self, request: web.BaseRequest, body: bytes, config: FaultConfig
    ) -> _Upstream:
        if not self._chance(config.send_batch_fault_rate):
            return await self._forward(request, body)
        document = _loads_object(body)
        entries = document.get("Entries") if document else None
        if document is None or not isinstance(entries, list) or not entries:
            return await self._forward(request, body)
        count = len(entries)
        failing = _share_count(count, config.send_batch_fail_share)
        sender = min(count - failing, _share_count(count, config.send_batch_sender_fault_share))
        chosen = self._rng.sample(range(count), failing + sender)
        internal, by_sender = set(chosen[:failing]), set(chosen[failing:])
        failed: list[JSONObject] = []
        kept: list[Any] = []
        for index, entry in enumerate(entries):
            entry_id = entry.get("Id") if isinstance(entry, dict) else None
            if index in internal:
                failed.append(_failed_entry(entry_id, sender_fault=False))
            elif index in by_sender:
                failed.append(_failed_entry(entry_id, sender_fault=True))
            else:
                kept.append(entry)
        self.recorder.bump("send_batches_faulted")
        self.recorder.bump("failed_entries", len(internal))
        self.recorder.bump("sender_fault_entries", len(by_sender))
        if not kept:
            return _Upstream(
                status=200,
                reason="OK",
                headers=CIMultiDict(
                    {
                        "Content-Type": "application/x-amz-json-1.0",
                        "x-amzn-RequestId": _request_id(),
                    }
                ),
                body=_dumps({"Successful": [], "Failed": failed}),
            )
        upstream = await self._forward(request, _dumps({**document, "Entries": kept}))
        response = _loads_object(upstream.body) if upstream.status == 200 else None
        if response is not None:
            response["Failed"] = [*(response.get("Failed") or []), *failed]
            response.setdefault("Successful", [])
            _replace_body(upstream, _dumps(response), crc32=False)
        return upstream

    # -- control endpoints --
    async def _control(self, request: web.BaseRequest) -> web.Response:
        action = request.path[len(CONTROL_PREFIX) :].strip("/")
        if action == "health" and request.method == "GET":
            return _json_response(200, {"ok": True})
        if action == "stats" and request.method == "GET":
            return _json_response(200, self.recorder.snapshot().as_json())
        if action == "reset" and request.method == "POST":
            self.reset()
            return _json_response(200, {"ok": True})
        if action == "config" and request.method == "GET":
            return _json_response(200, self._config.as_json())
        if action == "config" and request.method == "POST":
            changes = _loads_object(await request.content.read())
            if changes is None:
                return _json_response(400, {"error": "the body must be a JSON object"})
            try:
                config = self.configure(FaultConfig.coerce_changes(changes))
            except (TypeError, ValueError) as exc:
                return _json_response(400, {"error": str(exc)})
            return _json_response(200, config.as_json())
        return _json_response(404, {"error": f"no control endpoint {request.method} {action}"})


_PTEE: Final = (
    "ProvisionedThroughputExceededException",
    "The level of configured provisioned throughput for the table was exceeded. Consider "
    "increasing your provisioning level with the UpdateTable API.",
)


class _ErrorAnswer(Exception):
    """An AWS JSON error answered instead of forwarding."""

    def __init__(
        self, call: _Call, status: int, code: str, message: str, *, extra: Any = None
    ) -> None:
        super().__init__(f"{status} {code}")
        self.call, self.status, self.code, self.message = call, status, code, message
        self.extra: dict[str, Any] = dict(extra or {})  # more members of the error body

    def upstream(self) -> _Upstream:
        if self.code == "ThrottlingException":
            error_type = _THROTTLING_TYPE
        elif self.call.dynamodb:
            error_type = _DDB_ERROR_NS + self.code
        elif self.call.sqs:
            error_type = _SQS_ERROR_NS + self.code
        else:
            error_type = self.code
        body = _dumps({"__type": error_type, "message": self.message, **self.extra})
        headers = CIMultiDict(
            {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": _request_id()}
        )
        if self.call.dynamodb:
            headers["x-amz-crc32"] = str(zlib.crc32(body))
        if self.call.sqs:
            fault = "Sender" if self.status < 500 else "Receiver"
            headers["x-amzn-query-error"] = f"{self.code};{fault}"
        return _Upstream(status=self.status, reason=None, headers=headers, body=body)


def _json_response(status: int, document: JSONObject) -> web.Response:
    return web.Response(
        status=status, body=_dumps(document), headers={"Content-Type": "application/json"}
    )


def _replace_body(upstream: _Upstream, body: bytes, *, crc32: bool) -> None:
    upstream.body = body
    if crc32 or "x-amz-crc32" in upstream.headers:
        upstream.headers["x-amz-crc32"] = str(zlib.crc32(body))


def _share_count(count: int, share: float) -> int:
    """How many of `count` a share picks: rounded half up, at least one for any share > 0."""
    if share <= 0.0:
        return 0
    return min(count, max(1, math.floor(count * share + 0.5)))


def _failed_entry(entry_id: Any, *, sender_fault: bool) -> JSONObject:
    if sender_fault:
        return {
            "Id": entry_id,
            "SenderFault": True,
            "Code": "InvalidParameterValue",
            "Message": "Entry refused by faultproxy (injected sender fault)",
        }
    return {
        "Id": entry_id,
        "SenderFault": False,
        "Code": "InternalError",
        "Message": "Entry failed in faultproxy (injected service fault); retry it",
    }


def _tables_of(operation: str, document: Mapping[str, Any]) -> list[str]:
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


def _hold_back_tables(document: JSONObject, tables: set[str]) -> JSONObject:
    """Take whole tables out of a batch request; what DynamoDB would hand back unprocessed."""
    request_items: JSONObject = document["RequestItems"]
    held = {table: request_items.pop(table) for table in list(request_items) if table in tables}
    return held


def _trim_batch(
    operation: str, document: JSONObject, keep_share: float, rng: random.Random
) -> JSONObject:
    """Keep a share (at least one) of the batch's keys or writes; return the rest, unprocessed."""
    request_items: JSONObject = document.get("RequestItems") or {}
    members = "Keys" if operation == "BatchGetItem" else None
    slots: list[tuple[str, int]] = []
    for table, spec in request_items.items():
        entries = spec.get(members) if members else spec
        slots.extend((table, index) for index in range(len(entries or [])))
    if len(slots) <= 1:
        return {}
    keep = max(1, min(len(slots), math.floor(len(slots) * keep_share)))
    if keep == len(slots):
        return {}
    kept = set(rng.sample(range(len(slots)), keep))
    keep_by_table: dict[str, set[int]] = {}
    for position, (table, index) in enumerate(slots):
        if position in kept:
            keep_by_table.setdefault(table, set()).add(index)
    unprocessed: JSONObject = {}
    forwarded: JSONObject = {}
    for table, spec in request_items.items():
        entries = list((spec.get(members) if members else spec) or [])
        keeps = keep_by_table.get(table, set())
        stay = [e for i, e in enumerate(entries) if i in keeps]
        back = [e for i, e in enumerate(entries) if i not in keeps]
        if members:
            if stay:
                forwarded[table] = {**spec, members: stay}
            if back:
                unprocessed[table] = {**spec, members: back}
        else:
            if stay:
                forwarded[table] = stay
            if back:
                unprocessed[table] = back
    document["RequestItems"] = forwarded
    return unprocessed


def _merge_unprocessed(operation: str, into: JSONObject, more: JSONObject) -> JSONObject:
    merged = dict(into)
    for table, spec in more.items():
        if table not in merged:
            merged[table] = spec
        elif operation == "BatchGetItem":
            merged[table] = {**merged[table], "Keys": [*merged[table]["Keys"], *spec["Keys"]]}
        else:
            merged[table] = [*merged[table], *spec]
    return merged


def _count_unprocessed(operation: str, unprocessed: JSONObject) -> int:
    if operation == "BatchGetItem":
        return sum(len(spec.get("Keys") or []) for spec in unprocessed.values())
    return sum(len(writes) for writes in unprocessed.values())


def _consumed_capacity(
    operation: str, units: Mapping[str, float], kind: CapacityKind, *, detailed: bool
) -> JSONObject | list[JSONObject]:
    def one(table: str, used: float) -> JSONObject:
        entry: JSONObject = {"TableName": table, "CapacityUnits": used}
        entry["ReadCapacityUnits" if kind == "read" else "WriteCapacityUnits"] = used
        if detailed:
            entry["Table"] = {"CapacityUnits": used}
        return entry

    entries = [one(table, used) for table, used in units.items()]
    if operation in ("BatchGetItem", "BatchWriteItem", "TransactWriteItems"):
        return entries
    return entries[0]


# ---- serving ---------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def _serving(engine: _Engine, host: str, port: int) -> AsyncIterator[str]:
    await engine.open()
    server = web.Server(engine.handle, access_log=None)
    runner = web.ServerRunner(server, shutdown_timeout=1.0)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        yield f"http://{host}:{bound[1]}"
    finally:
        await runner.cleanup()
        await engine.close()


class FaultProxy:
    """The proxy on a background thread with its own event loop: `with FaultProxy(url) as p:`."""

    def __init__(
        self,
        upstream_url: str,
        config: FaultConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        pool_size: int = DEFAULT_POOL_SIZE,
        clock: Clock = time.monotonic,
        start_timeout_s: float = 10.0,
    ) -> None:
        self._engine = _Engine(
            upstream_url, config or FaultConfig(), pool_size=pool_size, clock=clock
        )
        self._host = host
        self._port = port
        self._start_timeout_s = start_timeout_s
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the proxy is not running; use `with FaultProxy(...) as proxy:`")
        return self._url

    @property
    def config(self) -> FaultConfig:
        return self._engine.config

    def configure(self, **changes: Any) -> FaultConfig:
        """Change the config at run time (thread-safe); returns the new config."""
        return self._engine.configure(changes)

    def stats(self) -> ProxyStats:
        return self._engine.recorder.snapshot()

    def reset(self) -> None:
        """Zero the counters and refill every capacity bucket."""
        self._engine.reset()

    def start(self) -> FaultProxy:
        if self._thread is not None:
            raise RuntimeError("the proxy is already started")
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout_s):
            raise RuntimeError(f"the proxy did not start within {self._start_timeout_s} s")
        if self._failure is not None:
            self._thread.join()
            raise RuntimeError(f"the proxy failed to start: {self._failure!r}") from self._failure
        return self

    def stop(self) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and thread.is_alive():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15.0)
        self._thread = None
        self._url = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with _serving(self._engine, self._host, self._port) as url:
            self._url = url
            self._ready.set()
            await self._stop.wait()


async def serve(
    upstream_url: str,
    config: FaultConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    pool_size: int = DEFAULT_POOL_SIZE,
    on_ready: Callable[[str], None] = lambda _url: None,
) -> None:
    """Serve until SIGTERM or SIGINT (the standalone process)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    engine = _Engine(upstream_url, config, pool_size=pool_size, clock=time.monotonic)
    async with _serving(engine, host, port) as url:
        on_ready(url)
        await stop.wait()


# ---- command line ----------------------------------------------------------------------------
def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _split_pairs(values: Iterable[str], flag: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        table, sep, units = value.rpartition("=")
        if not sep or not table:
            raise ValueError(f"{flag} takes [ACCOUNT/]TABLE=UNITS, got {value!r}")
        out[table] = float(units)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.faultproxy",
        description="Fault-injection reverse proxy for the AWS sandbox.",
    )
    parser.add_argument("--upstream", required=True, help="upstream URL, e.g. the sandbox's")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    parser.add_argument("--pool-size", type=int, default=DEFAULT_POOL_SIZE)
    for spec in fields(FaultConfig):
        kind = str(spec.type)
        helptext = spec.metadata.get("help", "")
        flag = _flag(spec.name)
        if kind == "bool":
            parser.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=helptext)
        elif kind.startswith(("frozenset", "Mapping")):
            parser.add_argument(
                flag, action="append", default=argparse.SUPPRESS, help=f"{helptext}; repeatable"
            )
        elif kind.startswith("int"):
            parser.add_argument(flag, type=int, default=argparse.SUPPRESS, help=helptext)
        else:
            parser.add_argument(flag, type=float, default=argparse.SUPPRESS, help=helptext)
    return parser


def config_from_args(args: argparse.Namespace) -> FaultConfig:
    kinds = {spec.name: str(spec.type) for spec in fields(FaultConfig)}
    changes: JSONObject = {}
    for name, kind in kinds.items():
        if not hasattr(args, name):
            continue
        value = getattr(args, name)
        if kind.startswith("frozenset"):
            value = frozenset(p.strip() for v in value for p in v.split(",") if p.strip())
        elif kind.startswith("Mapping"):
            value = _split_pairs(value, _flag(name))
        changes[name] = value
    return FaultConfig(**changes)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))

    def ready(url: str) -> None:
        print(f"faultproxy: listening on {url}, forwarding to {args.upstream}", flush=True)

    try:
        asyncio.run(
            serve(
                args.upstream,
                config,
                host=args.host,
                port=args.port,
                pool_size=args.pool_size,
                on_ready=ready,
            )
        )
    except OSError as exc:
        print(f"faultproxy: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print("faultproxy: stopped", flush=True)
    return 0


__all__ = [
    "CONTROL_PREFIX",
    "COUNTERS",
    "FaultConfig",
    "FaultProxy",
    "ProxyStats",
    "TokenBucket",
    "build_parser",
    "main",
    "serve",
    "wire_item_size_bytes",
    "write_units",
]

if __name__ == "__main__":
    sys.exit(main())
