"""Everything a copy checks before its first send: the queue URL (a standard queue, on the
host and in the region the queue side calls), the credentials of both sides, the table and its
key schema, the rate, the queue's MaximumMessageSize, and every line of a key file.

In: a CopyConfig. Out: the clients the copy calls (botocore's, or the fast engine's on the same
endpoints) and a `Prepared` record of what was found; an InputError (exit 2) otherwise.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import IO, Any

from botocore.exceptions import ClientError

from asynccopy.aws import client_config, endpoint_for, open_sessions, pool_connections
from asynccopy.config import CopyConfig, Engine, KeysSelection, ScanSelection
from asynccopy.engine import Endpoint, open_fast_clients
from asynccopy.errors import InputError
from asynccopy.read.keys import KeyFilePlan, enter_key_file
from asynccopy.read.rate import ResolvedRate
from asynccopy.read.tables import TableInfo, describe_table, resolve_table_rate
from asynccopy.retry import error_code
from asynccopy.schema.definition import ttl_attribute_of
from asynccopy.send.queueurl import check_queue_url, open_queue_client, queue_target_for
from asynccopy.send.sender import queue_max_message_bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class Prepared:
    table: TableInfo
    rate: ResolvedRate
    max_message_bytes: int
    key_plan: KeyFilePlan | None
    ttl_attribute: str | None = None  # --skip-expired: the table's TTL attribute


@dataclass(frozen=True, kw_only=True, slots=True)
class Clients:
    """botocore's clients for each side, and the sessions they came from."""

    ddb: Any
    sqs: Any
    source_session: Any
    queue_session: Any


async def open_clients(config: CopyConfig, stack: contextlib.AsyncExitStack) -> Clients:
    """botocore's DynamoDB and SQS clients, entered on `stack`, after the queue URL is checked.

    The queue URL first: a FIFO queue, or a URL the queue side's region or endpoint
    contradicts, is refused before any call.
    """
    queue_url = check_queue_url(config.queue_url)
    queue_target = queue_target_for(queue_url, explicit=config.queue, inherited=config.source)
    source_session, queue_session = await open_sessions(
        config.source, queue_target, engine=config.engine
    )
    pool = client_config(concurrency=config.concurrency, engine=config.engine)
    ddb = await stack.enter_async_context(
        source_session.client(
            "dynamodb", endpoint_url=endpoint_for(config.source, "dynamodb"), config=pool
        )
    )
    sqs = await open_queue_client(
        stack,
        queue_session,
        url=queue_url,
        target=queue_target,
        explicit=config.queue,
        config=pool,
    )
    return Clients(ddb=ddb, sqs=sqs, source_session=source_session, queue_session=queue_session)


async def per_item_clients(
    config: CopyConfig, stack: contextlib.AsyncExitStack, clients: Clients
) -> tuple[Any, Any]:
    """The calls made per item (reads, sends): on botocore's clients, or (`--engine fast`) on
    the fast engine, at the endpoints botocore resolved (flags, AWS_ENDPOINT_URL*, the
    profile's endpoint_url, the region's default), so both engines call the same place."""
    if config.engine is not Engine.FAST:
        return clients.ddb, clients.sqs
    fast = await stack.enter_async_context(
        open_fast_clients(
            source=Endpoint(
                session=clients.source_session, endpoint_url=clients.ddb.meta.endpoint_url
            ),
            queue=Endpoint(
                session=clients.queue_session, endpoint_url=clients.sqs.meta.endpoint_url
            ),
            connections=2 * pool_connections(config.concurrency),
        )
    )
    return fast.dynamodb, fast.sqs


async def prepare(
    config: CopyConfig,
    *,
    ddb: Any,
    sqs: Any,
    stack: contextlib.ExitStack,
    stdin: IO[bytes] | None,
) -> Prepared:
    """DescribeTable, the rate, the queue's MaximumMessageSize and the key file's plan."""
    table = await describe_table(ddb, table=config.table, region=config.source.region)
    index_name = getattr(config.selection, "index_name", None)
    if index_name is not None:
        table.index(index_name, consistent_read=config.consistent_read)
    rate = resolve_table_rate(config.rate, table)
    max_message_bytes = await queue_max_message_bytes(sqs, queue_url=config.queue_url)
    key_plan = None
    if isinstance(config.selection, KeysSelection):
        key_plan = await enter_key_file(
            stack, config.selection.path, schema=table.key_schema, stdin=stdin
        )
    ttl = await ttl_attribute(ddb, table=config.table) if config.shape.skip_expired else None
    return Prepared(
        table=table,
        rate=rate,
        max_message_bytes=max_message_bytes,
        key_plan=key_plan,
        ttl_attribute=ttl,
    )


async def ttl_attribute(ddb: Any, *, table: str) -> str:
    """The table's TTL attribute (DescribeTimeToLive), or an InputError: --skip-expired needs
    TTL on (or being turned on)."""
    try:
        reply = await ddb.describe_time_to_live(TableName=table)
    except ClientError as exc:
        raise InputError(
            f"--skip-expired: cannot describe the TTL of table {table!r}: {error_code(exc)}",
            hint="allow dynamodb:DescribeTimeToLive on the table, or drop --skip-expired",
        ) from None
    description = reply.get("TimeToLiveDescription", {})
    name = ttl_attribute_of(description)
    if name is None:
        status = description.get("TimeToLiveStatus", "DISABLED")
        raise InputError(
            f"--skip-expired: table {table!r} has no TTL attribute (TTL is {status})",
            hint="drop --skip-expired: without TTL no item expires",
        )
    return name


def items_selected(config: CopyConfig, prepared: Prepared) -> tuple[int | None, bool]:
    """How many items the selection holds, if known before reading, and whether exactly."""
    selection = config.selection
    if prepared.key_plan is not None:
        return prepared.key_plan.keys_total, True
    if isinstance(selection, ScanSelection) and not selection.filter_expression:
        return scan_estimate(selection, prepared.table), False
    return None, True  # a Query, or a filter: known only once read


def scan_estimate(selection: ScanSelection, table: TableInfo) -> int:
    """The items the chosen segments hold, from the table's ItemCount (refreshed about every
    six hours): an estimate, and for a filtered Scan an upper bound."""
    return table.item_count * len(selection.segments) // selection.total_segments
