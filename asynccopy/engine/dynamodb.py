"""The DynamoDB calls made per item, with the method names and keywords of a botocore client.

Replies have the botocore client's shape with one difference: items are `WireItem`s
(consumer/wire.py), the AttributeValue JSON as DynamoDB sent it (B and BS as base64 text),
never walked value by value.
Keys that flow back into asynccopy's bookkeeping are in client shape (B as bytes): the
UnprocessedKeys and LastEvaluatedKey, and the key attributes of the items BatchGetItem returns
(so that `keys.key_digest` matches them with the keys asked for).

Each item BatchGetItem returns is encoded for its message here (`WireItem.encoded`), once: the
packer reuses the text, and where the service reports no ConsumedCapacity, the reader's cost
fallback (asynccopy.read.keyfile) uses its length to bound the item's size.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from asynccopy.engine.transport import JsonService, failing_as_a_call
from asynccopy.send.packing import wire_json
from consumer.wire import WireItem, client_key


def _default(value: object) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(request: Mapping[str, Any]) -> bytes:
    """A request body: client-shape values (bytes) written in wire form (base64)."""
    return orjson.dumps(request, default=_default)


def _binary_key_names(table_request: Any) -> tuple[str, ...]:
    """The key attributes of type B in one table's BatchGetItem request (all keys alike)."""
    keys = table_request.get("Keys") if isinstance(table_request, Mapping) else None
    if not keys:
        return ()
    return tuple(name for name, value in keys[0].items() if "B" in value)


def _found(item: dict[str, Any], binary_keys: tuple[str, ...]) -> WireItem:
    wire = WireItem(item)
    for name in binary_keys:
        value = wire.get(name)
        if value is not None and isinstance(value.get("B"), str):
            wire[name] = {"B": base64.b64decode(value["B"])}
    wire.encoded = wire_json(wire)
    return wire


class FastDynamoDB:
    """BatchGetItem, Query and Scan on the fast engine."""

    def __init__(self, service: JsonService) -> None:
        self._service = service

    async def batch_get_item(self, **request: Any) -> dict[str, Any]:
        with failing_as_a_call("BatchGetItem"):
            return await self._batch_get_item(request)

    async def _batch_get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        reply = await self._service.call("BatchGetItem", dumps(request))
        asked = request.get("RequestItems", {})
        responses = reply.get("Responses")
        if responses:
            for table, items in responses.items():
                binary_keys = _binary_key_names(asked.get(table))
                responses[table] = [_found(item, binary_keys) for item in items]
        unprocessed = reply.get("UnprocessedKeys")
        if unprocessed:
            for entry in unprocessed.values():
                entry["Keys"] = [client_key(key) for key in entry.get("Keys", [])]
        return reply

    async def query(self, **request: Any) -> dict[str, Any]:
        return await self._page("Query", request)

    async def scan(self, **request: Any) -> dict[str, Any]:
        return await self._page("Scan", request)

    async def _page(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        with failing_as_a_call(operation):
            return await self._parse_page(operation, request)

    async def _parse_page(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        reply = await self._service.call(operation, dumps(request))
        items = reply.get("Items")
        if items:
            reply["Items"] = [WireItem(item) for item in items]
        last_key = reply.get("LastEvaluatedKey")
        if last_key:
            reply["LastEvaluatedKey"] = client_key(last_key)
        return reply
