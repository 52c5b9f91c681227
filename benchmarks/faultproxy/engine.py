"""Everything between the client's request and the answer, on one event loop.

In (an aiohttp request) -> out (the upstream's answer, maybe delayed, cut, failed or metered;
an injected error; or a dropped connection). The pure parts live beside it: `protocol`
(which call, error shapes), `batches` (what a fault cuts), `capacity` and `meter` (units and
buckets), `stats` (counters).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from benchmarks.faultproxy.batches import (
    count_unprocessed,
    fail_entries,
    hold_back_tables,
    merge_unprocessed,
    trim_batch,
)
from benchmarks.faultproxy.capacity import (
    CapacityKind,
    consumed_capacity,
    read_request_units,
    write_request_units,
)
from benchmarks.faultproxy.config import FaultConfig
from benchmarks.faultproxy.meter import Buckets, Clock, TokenBucket
from benchmarks.faultproxy.protocol import (
    DYNAMODB_TARGET_PREFIX,
    PTEE,
    READS,
    WRITES,
    Call,
    ErrorAnswer,
    JSONObject,
    Upstream,
    dumps,
    loads_object,
    parse_call,
    replace_body,
    request_id,
    tables_of,
)
from benchmarks.faultproxy.stats import Recorder

# Control endpoints (the prefix cannot collide with AWS: S3 bucket names cannot start with `_`).
CONTROL_PREFIX: Final = "/_faultproxy/"

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


class _Drop(Exception):
    """Close the client's connection without an answer."""


def _json_response(status: int, document: JSONObject) -> web.Response:
    return web.Response(
        status=status, body=dumps(document), headers={"Content-Type": "application/json"}
    )


class Engine:
    """Everything between the client's request and the answer; runs on one event loop."""

    def __init__(
        self, upstream_url: str, config: FaultConfig, *, pool_size: int, clock: Clock
    ) -> None:
        self._upstream = upstream_url.rstrip("/")
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._config = config
        self._rng = random.Random(config.seed)
        self._buckets = Buckets(clock=clock)
        self.recorder = Recorder()
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
        except ErrorAnswer as answer:
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
        call = parse_call(target, request.headers.get("Authorization", ""))
        faulty = config.injects_faults and self._in_scope(config, call)
        if faulty:
            await self._before(config, call)
        if call.dynamodb and (call.operation in READS or call.operation in WRITES):
            upstream = await self._dynamodb(request, body, config, call, faulty)
        elif call.sqs and faulty and call.operation == "SendMessageBatch":
            upstream = await self._send_message_batch(request, body, config)
        else:
            upstream = await self._forward(request, body)
        if faulty and self._chance(config.drop_response_rate):
            self.recorder.bump("dropped_responses")
            raise _Drop
        return self._answer(upstream)

    @staticmethod
    def _in_scope(config: FaultConfig, call: Call) -> bool:
        if config.fault_accounts and call.account not in config.fault_accounts:
            return False
        return not config.fault_targets or bool(
            {call.target, call.operation} & config.fault_targets
        )

    def _chance(self, rate: float) -> bool:
        return rate > 0.0 and (rate >= 1.0 or self._rng.random() < rate)

    async def _before(self, config: FaultConfig, call: Call) -> None:
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
            raise ErrorAnswer(call, 400, "ThrottlingException", "Rate exceeded")
        if self._chance(config.error_500_rate):
            self.recorder.bump("errors_500")
            code = "InternalServerError" if call.dynamodb else "InternalError"
            raise ErrorAnswer(call, 500, code, "Internal server error (injected)")
        if self._chance(config.error_503_rate):
            self.recorder.bump("errors_503")
            raise ErrorAnswer(call, 503, "ServiceUnavailable", "Service unavailable (injected)")

    async def _forward(
        self, request: web.BaseRequest, body: bytes, *, replaced: bool = False
    ) -> Upstream:
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
                return Upstream(
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
            return Upstream(
                status=502,
                reason="Bad Gateway",
                headers=CIMultiDict({"Content-Type": "text/plain; charset=utf-8"}),
                body=message.encode("utf-8"),
            )

    @staticmethod
    def _answer(upstream: Upstream) -> web.Response:
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
        rate_per_s = config.capacity_per_s(kind, account, table)
        return self._buckets.get(
            kind, account, table, rate_per_s=rate_per_s, burst_s=config.burst_s
        )

    async def _dynamodb(
        self,
        request: web.BaseRequest,
        body: bytes,
        config: FaultConfig,
        call: Call,
        faulty: bool,
    ) -> Upstream:
        operation = call.operation
        batch = operation in ("BatchGetItem", "BatchWriteItem")
        trim = faulty and batch and self._chance(config.batch_trim_rate)
        wants_capacity = b"ReturnConsumedCapacity" in body
        if not (trim or wants_capacity or config.limits_capacity or config.measure_capacity):
            return await self._forward(request, body)
        document = loads_object(body)
        if document is None:
            return await self._forward(request, body)
        kind: CapacityKind = "read" if operation in READS else "write"
        tables = tables_of(operation, document)
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
                raise ErrorAnswer(call, 400, *PTEE, extra={"ThrottlingReasons": reasons})
            # Real DynamoDB hands a throttled table's part back and serves the rest.
            held_back = hold_back_tables(document, in_debt)
            self.recorder.bump("capacity_exceeded")
        if trim:
            if config.batch_keep_share <= 0.0:
                self.recorder.bump("batches_refused")
                raise ErrorAnswer(call, 400, *PTEE)
            trimmed = trim_batch(operation, document, config.batch_keep_share, self._rng)
            if trimmed:
                self.recorder.bump("batches_trimmed")
                held_back = merge_unprocessed(operation, held_back, trimmed)
        forward_body = dumps(document) if held_back else body
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
                response = loads_object(upstream.body)
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
                response = response if response is not None else loads_object(upstream.body)
                if response is not None and (kind == "read" or "ConsumedCapacity" not in response):
                    response["ConsumedCapacity"] = consumed_capacity(
                        operation, units, kind, detailed=capacity_mode == "INDEXES"
                    )
                    self.recorder.bump("consumed_capacity_added")
                    changed = True
        if held_back:
            response = response if response is not None else loads_object(upstream.body)
            if response is not None:
                name = "UnprocessedKeys" if operation == "BatchGetItem" else "UnprocessedItems"
                response[name] = merge_unprocessed(operation, response.get(name) or {}, held_back)
                counter = "unprocessed_keys" if operation == "BatchGetItem" else "unprocessed_items"
                self.recorder.bump(counter, count_unprocessed(operation, held_back))
                changed = True
        if changed and response is not None:
            replace_body(upstream, dumps(response), crc32=True)
        return upstream

    # -- SQS --
    async def _send_message_batch(
        self, request: web.BaseRequest, body: bytes, config: FaultConfig
    ) -> Upstream:
        if not self._chance(config.send_batch_fault_rate):
            return await self._forward(request, body)
        document = loads_object(body)
        entries = document.get("Entries") if document else None
        if document is None or not isinstance(entries, list) or not entries:
            return await self._forward(request, body)
        cut = fail_entries(
            entries,
            fail_share=config.send_batch_fail_share,
            sender_fault_share=config.send_batch_sender_fault_share,
            rng=self._rng,
        )
        self.recorder.bump("send_batches_faulted")
        self.recorder.bump("failed_entries", cut.internal_count)
        self.recorder.bump("sender_fault_entries", cut.sender_fault_count)
        if not cut.kept:
            return Upstream(
                status=200,
                reason="OK",
                headers=CIMultiDict(
                    {
                        "Content-Type": "application/x-amz-json-1.0",
                        "x-amzn-RequestId": request_id(),
                    }
                ),
                body=dumps({"Successful": [], "Failed": cut.failed}),
            )
        upstream = await self._forward(request, dumps({**document, "Entries": cut.kept}))
        response = loads_object(upstream.body) if upstream.status == 200 else None
        if response is not None:
            response["Failed"] = [*(response.get("Failed") or []), *cut.failed]
            response.setdefault("Successful", [])
            replace_body(upstream, dumps(response), crc32=False)
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
            changes = loads_object(await request.content.read())
            if changes is None:
                return _json_response(400, {"error": "the body must be a JSON object"})
            try:
                config = self.configure(FaultConfig.coerce_changes(changes))
            except (TypeError, ValueError) as exc:
                return _json_response(400, {"error": str(exc)})
            return _json_response(200, config.as_json())
        return _json_response(404, {"error": f"no control endpoint {request.method} {action}"})
