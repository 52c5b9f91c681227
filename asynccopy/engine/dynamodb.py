"""The DynamoDB calls made per item, with the method names and keywords of a botocore client.

Replies have the botocore client's shape with one difference: items are `codec.WireItem`s, the
AttributeValue JSON as DynamoDB sent it (B and BS as base64 text), never walked value by value.
Keys that flow back into asynccopy's bookkeeping are in client shape (B as bytes): the
UnprocessedKeys and LastEvaluatedKey, and the key attributes of the items BatchGetItem returns
(so that `keys.key_digest` matches them with the keys asked for).

Each item BatchGetItem returns is encoded for its message here (`WireItem.encoded`), once: the
packer reuses the text, and its length bounds the item's size. Where ConsumedCapacity was asked
for and the service sent none (the sandbox emulator leaves it out of BatchGetItem; DynamoDB
always sends it), it is filled in by the rules asynccopy.sources.keyfile falls back on (each
item rounded up to 4 KB, a key not found costs one unit) with the same result, without walking
every attribute: an item whose JSON is at most 4 KB is surely at most 4 KB to DynamoDB.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from asynccopy.codec import WireItem, client_key, from_wire, wire_json
from asynccopy.engine.transport import JsonService
from asynccopy.itemsize import READ_UNIT_BYTES, item_size_bytes, read_units


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


def _item_read_units(item: WireItem, *, consistent: bool) -> float:
    # The ASCII JSON of an item is never shorter than DynamoDB's measure of it (names and
    # values as UTF-8 or raw bytes, plus small overheads): at most 4 KB of JSON is one unit.
    if len(item.encoded) <= READ_UNIT_BYTES:
        return read_units(0, consistent=consistent)
    return read_units(item_size_bytes(from_wire(item)), consistent=consistent)


def _batch_get_capacity(asked: Mapping[str, Any], reply: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ConsumedCapacity of a BatchGetItem reply that lacks it, table by table."""
    capacity = []
    responses = reply.get("Responses") or {}
    unprocessed = reply.get("UnprocessedKeys") or {}
    for table, table_request in asked.items():
        consistent = bool(table_request.get("ConsistentRead", False))
        items = responses.get(table, [])
        left = len(unprocessed.get(table, {}).get("Keys", []))
        not_found = max(0, len(table_request.get("Keys", [])) - left - len(items))
        units = sum((_item_read_units(item, consistent=consistent) for item in items), 0.0)
        units += not_found * read_units(0, consistent=consistent)
        capacity.append({"TableName": table, "CapacityUnits": units})
    return capacity


class FastDynamoDB:
    """BatchGetItem, Query and Scan on the fast engine."""

    def __init__(self, service: JsonService) -> None:
        self._service = service

    async def batch_get_item(self, **request: Any) -> dict[str, Any]:
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
        wants_capacity = request.get("ReturnConsumedCapacity", "NONE") != "NONE"
        if wants_capacity and "ConsumedCapacity" not in reply:
            reply["ConsumedCapacity"] = _batch_get_capacity(asked, reply)
        return reply

    async def query(self, **request: Any) -> dict[str, Any]:
        return await self._page("Query", request)

    async def scan(self, **request: Any) -> dict[str, Any]:
        return await self._page("Scan", request)

    async def _page(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        reply = await self._service.call(operation, dumps(request))
        items = reply.get("Items")
        if items:
            reply["Items"] = [WireItem(item) for item in items]
        last_key = reply.get("LastEvaluatedKey")
        if last_key:
            reply["LastEvaluatedKey"] = client_key(last_key)
        return reply
