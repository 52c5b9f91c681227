"""`asynccopy verify`: read the selected items from the source and the destination, and compare.

    source.units() -> [unit stream] -> checkers x concurrency
        each checker: a source page -> BatchGetItem of its keys at the destination -> compare

Both sides are read under their own read-capacity budget, resolved like `copy`'s `--rate`
against each table's capacity, and both through the engine `copy` uses (`--engine`, fast by
default), so that verify reads as fast as the copy did. Items are compared exactly
(compare.py): numbers as numbers, sets as sets, binary by bytes (the fast engine keeps B as
the base64 text DynamoDB sent; keys are compared in client shape). A key listed in a key
file but absent from the source is not a difference (it was never there to copy); it is
counted on its own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from rich.console import Console

from asynccopy.aws import (
    client_config,
    endpoint_for,
    open_sessions,
    pool_connections,
)
from asynccopy.config import (
    BATCH_GET_MAX_KEYS,
    Engine,
    KeysSelection,
)
from asynccopy.copy.pipeline import read_pages
from asynccopy.copy.progress import ProgressConfig, ProgressMode, show_progress
from asynccopy.copy.shaping import ShapedSource, Shaping
from asynccopy.copy.stats import Stats
from asynccopy.engine import Endpoint, open_fast_clients
from asynccopy.errors import AsyncCopyError
from asynccopy.read.base import Page, ReadContext
from asynccopy.read.factory import build_source
from asynccopy.read.keyfile import BatchGetReader
from asynccopy.read.keys import KeyFilePlan, enter_key_file, key_digest
from asynccopy.read.limiter import Limiter, make_limiter
from asynccopy.read.rate import ResolvedRate
from asynccopy.read.tables import TableInfo, resolve_table_rate
from asynccopy.retry import Backoff
from asynccopy.verify.compare import diff_items
from asynccopy.verify.config import VerifyConfig as VerifyConfig
from asynccopy.verify.result import Difference, Tally, VerifyResult
from asynccopy.verify.tables import describe_both
from consumer.wire import Item, client_key, item_key, key_to_text


class _VerifyView:
    """One line of progress from the tally and both sides' counters."""

    def __init__(
        self,
        tally: Tally,
        source: Stats,
        dest: Stats,
        *,
        total: int | None,
        started_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._tally = tally
        self._source = source
        self._dest = dest
        self._total = total
        self._started_s = started_s
        self._clock = clock

    def line(self) -> str:
        tally = self._tally
        elapsed = max(1e-9, self._clock() - self._started_s)
        total = "?" if self._total is None else f"{self._total:,}"
        return (
            f"compared {tally.compared:,}/{total} · identical {tally.identical:,}"
            f" · missing {tally.missing:,} · different {tally.different:,}"
            f" | source {self._source.rcu_consumed / elapsed:,.1f} RCU/s"
            f" · destination {self._dest.rcu_consumed / elapsed:,.1f} RCU/s"
            f" | retries {self._source.retries + self._dest.retries:,}"
        )


class _Checker:
    """Compares the source items of a page with the destination's, one BatchGetItem at a time."""

    def __init__(
        self, reader: BatchGetReader, *, key_names: tuple[str, ...], tally: Tally, shown: int
    ) -> None:
        self._reader = reader
        self._key_names = key_names
        self._tally = tally
        self._shown = shown

    async def check(self, page: Page) -> None:
        tally = self._tally
        tally.absent_from_source += len(page.missing)
        self._unreadable([failed.key for failed in page.failed])
        for start in range(0, len(page.items), BATCH_GET_MAX_KEYS):
            sources = page.items[start : start + BATCH_GET_MAX_KEYS]
            # Client shape (B as bytes): a Scan on the fast engine keeps B keys as base64 text.
            keys = [client_key(item_key(item, self._key_names)) for item in sources]
            found, failed = await self._reader.read(keys)
            unreadable = {key_digest(f.key) for f in failed}
            self._unreadable([f.key for f in failed])
            at_dest = {
                key_digest(client_key(item_key(item, self._key_names))): item for item in found
            }
            for key, item in zip(keys, sources, strict=True):
                digest = key_digest(key)
                if digest in unreadable:
                    continue
                tally.compared += 1
                copy = at_dest.get(digest)
                if copy is None:
                    tally.missing += 1
                    if len(tally.missing_keys) < self._shown:
                        tally.missing_keys.append(key_to_text(key))
                    continue
                paths = diff_items(item, copy)
                if not paths:
                    tally.identical += 1
                    continue
                tally.different += 1
                if len(tally.differences) < self._shown:
                    tally.differences.append(
                        Difference(key=key_to_text(key), attributes=tuple(paths))
                    )

    def _unreadable(self, keys: list[Item]) -> None:
        tally = self._tally
        tally.unreadable += len(keys)
        room = self._shown - len(tally.unreadable_keys)
        tally.unreadable_keys.extend(key_to_text(key) for key in keys[: max(0, room)])


async def _fast_dynamodb(
    stack: contextlib.AsyncExitStack, session: Any, botocore_client: Any, *, concurrency: int
) -> Any:
    """The fast engine's DynamoDB client, at the endpoint botocore resolved for `session`."""
    endpoint = Endpoint(session=session, endpoint_url=botocore_client.meta.endpoint_url)
    fast = await stack.enter_async_context(
        # No queue: only the DynamoDB client is used.
        open_fast_clients(
            source=endpoint, queue=endpoint, connections=pool_connections(concurrency)
        )
    )
    return fast.dynamodb


@dataclass(frozen=True, kw_only=True, slots=True)
class _Sides:
    """Both sides once checked: their tables, rates, and the clients that read per item."""

    source_table: TableInfo
    dest_table: TableInfo
    source_rate: ResolvedRate
    dest_rate: ResolvedRate
    source_reads: Any
    dest_reads: Any
    key_plan: KeyFilePlan | None


async def _open_sides(
    config: VerifyConfig, stack: contextlib.ExitStack, stack_async: contextlib.AsyncExitStack
) -> _Sides:
    dest_target = config.dest_target
    source_session, dest_session = await open_sessions(
        config.source, dest_target, engine=config.engine
    )
    pool = client_config(concurrency=config.concurrency, engine=config.engine)
    source_ddb = await stack_async.enter_async_context(
        source_session.client(
            "dynamodb", endpoint_url=endpoint_for(config.source, "dynamodb"), config=pool
        )
    )
    dest_ddb = await stack_async.enter_async_context(
        dest_session.client(
            "dynamodb", endpoint_url=endpoint_for(dest_target, "dynamodb"), config=pool
        )
    )
    # The reads per item: on the botocore clients, or on the fast engine as `copy`.
    source_reads: Any = source_ddb
    dest_reads: Any = dest_ddb
    if config.engine is Engine.FAST:
        source_reads = await _fast_dynamodb(
            stack_async, source_session, source_ddb, concurrency=config.concurrency
        )
        dest_reads = await _fast_dynamodb(
            stack_async, dest_session, dest_ddb, concurrency=config.concurrency
        )
    source_table, dest_table = await describe_both(
        config,
        source_ddb=source_ddb,
        dest_ddb=dest_ddb,
        source_session=source_session,
        dest_session=dest_session,
    )
    source_rate = resolve_table_rate(config.rate, source_table, side="source")
    dest_rate = resolve_table_rate(config.rate, dest_table, side="destination")
    key_plan = None
    if isinstance(config.selection, KeysSelection):
        key_plan = await enter_key_file(
            stack, config.selection.path, schema=source_table.key_schema
        )
    return _Sides(
        source_table=source_table,
        dest_table=dest_table,
        source_rate=source_rate,
        dest_rate=dest_rate,
        source_reads=source_reads,
        dest_reads=dest_reads,
        key_plan=key_plan,
    )


def _result(
    sides: _Sides, tally: Tally, *, source: Stats, dest: Stats, elapsed_s: float
) -> VerifyResult:
    key_plan = sides.key_plan
    return VerifyResult(
        table=sides.source_table.name,
        dest_table=sides.dest_table.name,
        items_compared=tally.compared,
        items_identical=tally.identical,
        items_missing=tally.missing,
        items_different=tally.different,
        items_unreadable=tally.unreadable,
        keys_absent_from_source=tally.absent_from_source,
        missing_keys=tuple(tally.missing_keys),
        differences=tuple(tally.differences),
        unreadable_keys=tuple(tally.unreadable_keys),
        rcu_source=source.rcu_consumed,
        rcu_dest=dest.rcu_consumed,
        elapsed_s=elapsed_s,
        keys_duplicate=0 if key_plan is None else key_plan.keys_duplicate,
        first_duplicate=None if key_plan is None else key_plan.first_duplicate,
    )


async def _compare(
    config: VerifyConfig,
    sides: _Sides,
    *,
    console: Console,
    progress: ProgressMode,
    clock: Callable[[], float],
) -> VerifyResult:
    """Reads the selection at the source and compares it page by page with the destination."""
    backoff = Backoff(policy=config.retry)
    source_stats, dest_stats = Stats(), Stats()
    source_limiter: Limiter = make_limiter(sides.source_rate.rcu_per_s, clock=clock)
    source_context = ReadContext(
        client=sides.source_reads, limiter=source_limiter, backoff=backoff, stats=source_stats
    )
    dest_context = ReadContext(
        client=sides.dest_reads,
        limiter=make_limiter(sides.dest_rate.rcu_per_s, clock=clock),
        backoff=backoff,
        stats=dest_stats,
    )
    source = build_source(
        config.selection,
        context=source_context,
        table=sides.source_table,
        key_plan=sides.key_plan,
        consistent_read=config.consistent_read,
        rate_rcu_per_s=sides.source_rate.rcu_per_s,
        projection=config.projection,
    )
    if config.transform is not None:
        # What the copy sent, not what the source holds: an item the function skips was never
        # copied (not compared), one it rejects failed the copy too (counted unreadable).
        shaping = Shaping(
            strip_replication=False,
            transform=config.transform,
            keys=sides.source_table.key_schema.attributes,
        )
        source = ShapedSource(source, shaping=shaping, stats=source_stats)
    tally = Tally()
    checker = _Checker(
        BatchGetReader(
            dest_context,
            table=sides.dest_table.name,
            consistent_read=config.consistent_read,
            average_item_bytes=sides.dest_table.average_item_bytes,
            projection=(
                None
                if config.projection is None
                else config.projection.with_keys(sides.dest_table.key_schema.names)
            ),
        ),
        key_names=sides.source_table.key_schema.names,
        tally=tally,
        shown=config.keys_shown,
    )
    total = sides.key_plan.keys_total if sides.key_plan is not None else None
    started = clock()
    view = _VerifyView(tally, source_stats, dest_stats, total=total, started_s=started, clock=clock)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(
                partial(show_progress, console=console, config=ProgressConfig(mode=progress)),
                view,
            )
            await read_pages(
                source, checker.check, readers=config.concurrency, unit_buffer=config.concurrency
            )
            group.cancel_scope.cancel()
    except* AsyncCopyError as errors:
        raise errors.exceptions[0] from None
    return _result(sides, tally, source=source_stats, dest=dest_stats, elapsed_s=clock() - started)


async def verify(
    config: VerifyConfig,
    *,
    console: Console | None = None,
    progress: ProgressMode = ProgressMode.OFF,
    clock: Callable[[], float] = time.monotonic,
) -> VerifyResult:
    """Compare the selected items; raises InputError (exit 2) for bad input."""
    console = console or Console(stderr=True)
    with contextlib.ExitStack() as stack:
        async with contextlib.AsyncExitStack() as stack_async:
            sides = await _open_sides(config, stack, stack_async)
            return await _compare(config, sides, console=console, progress=progress, clock=clock)
