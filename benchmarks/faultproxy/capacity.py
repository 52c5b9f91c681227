"""Capacity units a DynamoDB request consumes, from DynamoDB's documentation.

In (a request and its response, as JSON) -> out (units per table). Sizes come from
`benchmarks.faultproxy.sizes`; nothing here is imported from asynccopy, which this meters.

The rules ("DynamoDB read and write operations",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html):

* a strongly consistent read of up to 4 KB is one unit, an eventually consistent one half a
  unit; "Item sizes for reads are rounded up to the next 4 KB multiple";
* GetItem: the item's size rounded up to 4 KB; even a missing item costs the minimum;
* BatchGetItem: "processes each item in the batch as an individual GetItem request", so each
  item is rounded up on its own (1.5 KB + 6.5 KB costs 12 KB, not 8 KB);
* Query and Scan: the page is one read, "computes the total size of all items and then rounds
  up to the next 4 KB boundary"; Scan bills the items evaluated, not only those returned;
* a write of up to 1 KB is one unit; TransactWriteItems costs two units per 1 KB
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html).

What the proxy cannot see it approximates (it reads only the request and the response): an
update or a delete costs 1 WCU (DynamoDB bills the larger of the old and new item), a put costs
by the new item; a ProjectionExpression or FilterExpression hides bytes DynamoDB bills for, so a
Query/Scan page is scaled up by ScannedCount/Count when both are known.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final, Literal

from benchmarks.faultproxy.protocol import JSONObject
from benchmarks.faultproxy.sizes import wire_item_size_bytes

CapacityKind = Literal["read", "write"]

READ_UNIT_BYTES: Final = 4096  # 4 KB; "DynamoDB denotes 1 KB = 1024 bytes" (Constraints.html)
WRITE_UNIT_BYTES: Final = 1024
EVENTUALLY_CONSISTENT_SHARE: Final = 0.5  # "one-half read unit"
TRANSACTIONAL_FACTOR: Final = 2.0  # "two write units" per 1 KB in a transaction


def _blocks(size_bytes: int, block_bytes: int) -> int:
    """Whole blocks, rounded up, and at least one: even an empty read or write is billed."""
    return max(1, -(-size_bytes // block_bytes))


def read_units(size_bytes: int, *, consistent: bool) -> float:
    """One read of `size_bytes` (an item, or a whole Query/Scan page)."""
    share = 1.0 if consistent else EVENTUALLY_CONSISTENT_SHARE
    return _blocks(size_bytes, READ_UNIT_BYTES) * share


def write_units(size_bytes: int) -> float:
    """Write units one put of an item this size consumes (each 1 KB or part of it)."""
    return float(_blocks(size_bytes, WRITE_UNIT_BYTES))


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
    return read_units(total, consistent=bool(request.get("ConsistentRead")))


def _write_request_units(write: Mapping[str, Any]) -> float:
    put = write.get("PutRequest")
    if put is not None:
        return write_units(wire_item_size_bytes(put.get("Item") or {}))
    return 1.0


def write_request_units(operation: str, request: Mapping[str, Any]) -> dict[str, float]:
    """Write units per table a write request consumes (see the module docstring's rules)."""
    if operation == "BatchWriteItem":
        # "processes each item in the batch as an individual PutItem or DeleteItem request"
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
                units[table] = units.get(table, 0.0) + TRANSACTIONAL_FACTOR * write_units(size)
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


def consumed_capacity(
    operation: str, units: Mapping[str, float], kind: CapacityKind, *, detailed: bool
) -> JSONObject | list[JSONObject]:
    """The response's ConsumedCapacity member: a list for batch and transaction calls."""

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
