"""The calls of `asynccopy schema`: read a table's definition at the source (DescribeTable,
DescribeTimeToLive: read-only), and create its copy at the destination (DescribeTable,
CreateTable, UpdateTimeToLive).

    read_definition(source client, table)       -> TableDefinition
    existing_table(dest client, name)            -> a table already there with the same key
                                                    (what it lacks of the source's), or None
    create_table(dest client, request, ...)      -> CreateTable, poll until it and every global
                                                    index are ACTIVE, then enable TTL

The clients and the sleep are injected: tests poll without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from asynccopy.errors import InputError, TableNotFoundError
from asynccopy.read.tables import client_region
from asynccopy.retry import Backoff, call_with_retries, error_code
from asynccopy.schema.definition import (
    TableDefinition,
    definition_from_description,
    key_signature,
    ttl_attribute_of,
)
from asynccopy.schema.errors import TableExistsError, TableNotActiveError

DEFAULT_POLL_S = 2.0
# A new table with indexes is ACTIVE within minutes; an index on a table with data can take
# much longer, but a table created here is empty.
DEFAULT_TIMEOUT_S = 1_800.0


async def _describe(client: Any, *, table: str, side: str) -> dict[str, Any] | None:
    """DescribeTable's `Table`, None if there is no such table, or an InputError."""
    try:
        reply = await call_with_retries(
            partial(client.describe_table, TableName=table), backoff=Backoff()
        )
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise InputError(
            f"cannot describe the {side} table {table!r}: {error_code(exc)}",
            hint=f"the {side} identity needs dynamodb:DescribeTable"
            + (
                " and DescribeTimeToLive"
                if side == "source"
                else ", CreateTable and UpdateTimeToLive"
            ),
        ) from exc
    except BotoCoreError as exc:
        raise InputError(
            f"cannot reach DynamoDB to describe the {side} table {table!r}: {error_code(exc)}",
            hint=f"check the {side} side's endpoint URL, region and the network",
        ) from exc
    found: dict[str, Any] = reply["Table"]
    return found


async def read_definition(client: Any, *, table: str) -> TableDefinition:
    """The source table's definition, its TTL attribute included; TableNotFoundError if absent."""
    described = await _describe(client, table=table, side="source")
    if described is None:
        raise TableNotFoundError(table=table, region=client_region(client))
    try:
        ttl = await call_with_retries(
            partial(client.describe_time_to_live, TableName=table), backoff=Backoff()
        )
    except (ClientError, BotoCoreError) as exc:
        raise InputError(
            f"cannot read the TTL setting of table {table!r}: {error_code(exc)}",
            hint="the source identity needs dynamodb:DescribeTimeToLive",
        ) from exc
    return definition_from_description(
        described, ttl_attribute=ttl_attribute_of(ttl.get("TimeToLiveDescription", {}))
    )


async def existing_table(
    client: Any, *, table: str, definition: TableDefinition
) -> list[str] | None:
    """None if the destination has no table `table`; if it has one with the key `definition`
    has, what it lacks of the definition (indexes by name, TTL) to say so; TableExistsError
    (exit 2) if it has one with another key."""
    described = await _describe(client, table=table, side="destination")
    if described is None:
        return None
    existing, wanted = key_signature(described), definition.key_signature()
    if existing != wanted:
        raise TableExistsError(table=table, existing=existing, wanted=wanted)
    lacks = []
    for kind, label in (("GlobalSecondaryIndexes", "global"), ("LocalSecondaryIndexes", "local")):
        there = {index["IndexName"] for index in described.get(kind, [])}
        missing = [
            i["IndexName"]
            for i in definition.create_input.get(kind, [])
            if i["IndexName"] not in there
        ]
        if missing:
            lacks.append(
                f"{label} {'index' if len(missing) == 1 else 'indexes'} {', '.join(missing)}"
            )
    if (
        definition.ttl_attribute is not None
        and await _ttl_of(client, table=table) != definition.ttl_attribute
    ):
        lacks.append(f"TTL on {definition.ttl_attribute!r}")
    return lacks


async def _ttl_of(client: Any, *, table: str) -> str | None:
    """The destination table's TTL attribute; None if off or not readable (not this
    command's permission to need: the note it serves is advice)."""
    try:
        reply = await call_with_retries(
            partial(client.describe_time_to_live, TableName=table), backoff=Backoff()
        )
    except (ClientError, BotoCoreError):
        return None
    return ttl_attribute_of(reply.get("TimeToLiveDescription", {}))


def _pending(described: dict[str, Any]) -> tuple[str, ...]:
    """What is not ACTIVE yet: the table, and each global index by name."""
    pending = [] if described.get("TableStatus") == "ACTIVE" else ["the table"]
    pending += [
        f"index {index['IndexName']!r}"
        for index in described.get("GlobalSecondaryIndexes", [])
        if index.get("IndexStatus", "ACTIVE") != "ACTIVE"
    ]
    return tuple(pending)


async def create_table(
    client: Any,
    request: dict[str, Any],
    *,
    ttl_attribute: str | None,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float] = time.monotonic,
    poll_s: float = DEFAULT_POLL_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> None:
    """CreateTable with `request`, wait until the table and its global indexes are ACTIVE
    (local indexes are built with the table), then enable TTL on `ttl_attribute`."""
    name = request["TableName"]
    try:
        await client.create_table(**request)
    except ClientError as exc:
        raise InputError(
            f"CreateTable {name!r} was refused: {error_code(exc)}: "
            f"{exc.response.get('Error', {}).get('Message', '')}".rstrip(": "),
            hint="the destination identity needs dynamodb:CreateTable; check the account's "
            "table quota and the printed definition (asynccopy schema --dry-run)",
        ) from exc
    started = clock()
    while True:
        described = await _describe(client, table=name, side="destination")
        pending = ("the table",) if described is None else _pending(described)
        if not pending:
            break
        waited = clock() - started
        if waited >= timeout_s:
            raise TableNotActiveError(table=name, waited_s=waited, pending=pending)
        await sleep(poll_s)
    if ttl_attribute is not None:
        # TTL is a separate call: CreateTable has no TimeToLiveSpecification (API_CreateTable),
        # and UpdateTimeToLive needs the table ACTIVE.
        await client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
        )
