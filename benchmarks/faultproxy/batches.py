"""The fault plans that cut a request short: trimmed batches, held-back tables, failed entries.

In (a BatchGetItem / BatchWriteItem / SendMessageBatch request as JSON, a seeded random) ->
out (what is forwarded, and what goes back as UnprocessedKeys / UnprocessedItems / Failed).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from benchmarks.faultproxy.protocol import JSONObject


def share_count(count: int, share: float) -> int:
    """How many of `count` a share picks: rounded half up, at least one for any share > 0."""
    if share <= 0.0:
        return 0
    return min(count, max(1, math.floor(count * share + 0.5)))


def failed_entry(entry_id: Any, *, sender_fault: bool) -> JSONObject:
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


def hold_back_tables(document: JSONObject, tables: set[str]) -> JSONObject:
    """Take whole tables out of a batch request; what DynamoDB would hand back unprocessed."""
    request_items: JSONObject = document["RequestItems"]
    held = {table: request_items.pop(table) for table in list(request_items) if table in tables}
    return held


def trim_batch(
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


def merge_unprocessed(operation: str, into: JSONObject, more: JSONObject) -> JSONObject:
    merged = dict(into)
    for table, spec in more.items():
        if table not in merged:
            merged[table] = spec
        elif operation == "BatchGetItem":
            merged[table] = {**merged[table], "Keys": [*merged[table]["Keys"], *spec["Keys"]]}
        else:
            merged[table] = [*merged[table], *spec]
    return merged


def count_unprocessed(operation: str, unprocessed: JSONObject) -> int:
    if operation == "BatchGetItem":
        return sum(len(spec.get("Keys") or []) for spec in unprocessed.values())
    return sum(len(writes) for writes in unprocessed.values())


@dataclass(frozen=True, kw_only=True, slots=True)
class FailedEntries:
    """A SendMessageBatch cut by the plan: entries to forward, and `Failed` members to add."""

    kept: list[Any]
    failed: list[JSONObject]
    internal_count: int  # SenderFault false (InternalError): the sender should retry them
    sender_fault_count: int  # SenderFault true: the sender should not


def fail_entries(
    entries: list[Any], *, fail_share: float, sender_fault_share: float, rng: random.Random
) -> FailedEntries:
    """Fail a share of the entries with InternalError and another with SenderFault true."""
    count = len(entries)
    failing = share_count(count, fail_share)
    sender = min(count - failing, share_count(count, sender_fault_share))
    chosen = rng.sample(range(count), failing + sender)
    internal, by_sender = set(chosen[:failing]), set(chosen[failing:])
    failed: list[JSONObject] = []
    kept: list[Any] = []
    for index, entry in enumerate(entries):
        entry_id = entry.get("Id") if isinstance(entry, dict) else None
        if index in internal:
            failed.append(failed_entry(entry_id, sender_fault=False))
        elif index in by_sender:
            failed.append(failed_entry(entry_id, sender_fault=True))
        else:
            kept.append(entry)
    return FailedEntries(
        kept=kept, failed=failed, internal_count=len(internal), sender_fault_count=len(by_sender)
    )
