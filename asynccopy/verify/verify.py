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
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from rich.console import Console

from asynccopy.aws import (
    AwsTarget,
    client_config,
    endpoint_for,
    open_sessions,
    pool_connections,
)
from asynccopy.config import (
    BATCH_GET_MAX_KEYS,
    DEFAULT_CONCURRENCY,
    Engine,
    KeysSelection,
    Selection,
)
from asynccopy.copy.pipeline import read_pages
from asynccopy.copy.progress import ProgressConfig, ProgressMode, show_progress
from asynccopy.copy.stats import Stats
from asynccopy.engine import Endpoint, open_fast_clients
from asynccopy.errors import AsyncCopyError, ExitCode, InputError
from asynccopy.read.base import Page, ReadContext
from asynccopy.read.factory import build_source
from asynccopy.read.keyfile import BatchGetReader
from asynccopy.read.keys import describe_duplicates, duplicates_json, enter_key_file, key_digest
from asynccopy.read.limiter import Limiter, make_limiter
from asynccopy.read.rate import DEFAULT_RATE, RateSpec
from asynccopy.read.tables import TableInfo, describe_table, resolve_table_rate
from asynccopy.retry import Backoff, RetryPolicy
from asynccopy.verify.compare import diff_items
from consumer.wire import Item, client_key, item_key, key_to_text


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyConfig:
    table: str
    selection: Selection
    dest_table: str | None = None  # None: the source table's name
    source: AwsTarget = field(default_factory=AwsTarget)
    dest: AwsTarget = field(default_factory=AwsTarget)  # unset fields default to the source's
    rate: RateSpec = DEFAULT_RATE
    consistent_read: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    keys_shown: int = 5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    engine: Engine = Engine.FAST

    @property
    def dest_target(self) -> AwsTarget:
        return self.dest.or_else(self.source)


@dataclass(frozen=True, kw_only=True, slots=True)
class Difference:
    key: str  # key_to_text of the item's key
    attributes: tuple[str, ...]  # paths that differ


@dataclass(kw_only=True, slots=True)
class _Tally:
    compared: int = 0
    identical: int = 0
    missing: int = 0
    different: int = 0
    unreadable: int = 0  # keys that could not be read on either side after every retry
    absent_from_source: int = 0
    missing_keys: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    unreadable_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyResult:
    table: str
    dest_table: str
    items_compared: int
    items_identical: int
    items_missing: int  # in the source, not in the destination
    items_different: int
    items_unreadable: int
    keys_absent_from_source: int
    missing_keys: tuple[str, ...]
    differences: tuple[Difference, ...]
    unreadable_keys: tuple[str, ...]
    rcu_source: float
    rcu_dest: float
    elapsed_s: float
    keys_duplicate: int = 0  # key-file lines skipped: an earlier line names the same key
    first_duplicate: tuple[int, int] | None = None  # (that line, the earlier line)

    @property
    def identical(self) -> bool:
        return self.items_identical == self.items_compared and self.items_unreadable == 0

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.identical else ExitCode.FAILURES

    def verdict(self) -> str:
        noun = "item" if self.items_compared == 1 else "items"
        head = f"{self.items_identical} of {self.items_compared} {noun} identical"
        if self.identical:
            return head
        parts = [
            f"{count} {what}"
            for count, what in (
                (self.items_missing, "missing in the destination"),
                (self.items_different, "different"),
                (self.items_unreadable, "unreadable"),
            )
            if count
        ]
        return f"{head}; {', '.join(parts)}"

    def render_text(self) -> str:
        lines = [f"verify {self.table} -> {self.dest_table}: {self.verdict()}"]
        if self.keys_absent_from_source:
            absent = self.keys_absent_from_source
            lines.append(
                f"  {absent} listed {'key is' if absent == 1 else 'keys are'} not in the source"
            )
        if self.keys_duplicate:
            lines.append(f"  {describe_duplicates(self.keys_duplicate, self.first_duplicate)}")
        if self.missing_keys:
            lines.append("  missing: " + ", ".join(self.missing_keys))
        for difference in self.differences:
            lines.append(f"  different: {difference.key} ({', '.join(difference.attributes)})")
        if self.unreadable_keys:
            lines.append("  unreadable: " + ", ".join(self.unreadable_keys))
        lines.append(
            f"  read {self.rcu_source:,.1f} RCU from the source and {self.rcu_dest:,.1f} RCU from"
            f" the destination in {self.elapsed_s:.1f} s"
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "dest_table": self.dest_table,
            "identical": self.identical,
            "items_compared": self.items_compared,
            "items_identical": self.items_identical,
            "items_missing": self.items_missing,
            "items_different": self.items_different,
            "items_unreadable": self.items_unreadable,
            "keys_absent_from_source": self.keys_absent_from_source,
            "keys_duplicate": self.keys_duplicate,
            "first_duplicate": duplicates_json(self.first_duplicate),
            "missing_keys": list(self.missing_keys),
            "different_keys": [
                {"key": d.key, "attributes": list(d.attributes)} for d in self.differences
            ],
            "unreadable_keys": list(self.unreadable_keys),
            "rcu_source": round(self.rcu_source, 3),
            "rcu_dest": round(self.rcu_dest, 3),
            "elapsed_s": round(self.elapsed_s, 3),
        }


class _VerifyView:
    """One line of progress from the tally and both sides' counters."""

    def __init__(
        self,
        tally: _Tally,
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
        self, reader: BatchGetReader, *, key_names: tuple[str, ...], tally: _Tally, shown: int
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


async def _table_arn(table: TableInfo, *, client: Any, session: Any, target: AwsTarget) -> str:
    """The table's ARN from DescribeTable, or built from the caller's account where the
    service reports none; "" when neither can be known."""
    if table.arn:
        return table.arn
    try:
        async with session.client("sts", endpoint_url=endpoint_for(target, "sts")) as sts:
            account = (await sts.get_caller_identity())["Account"]
    except Exception:  # no answer: the check below cannot tell, and verify goes on
        return ""
    return f"arn:aws:dynamodb:{client.meta.region_name}:{account}:table/{table.name}"


def _check_distinct_tables(
    config: VerifyConfig, *, source_arn: str, dest_arn: str, same_endpoint: bool
) -> None:
    """Refuses to compare a table with itself, which would find every item identical.

    One ARN (account, region, name) at one endpoint is one table. Two endpoints that report
    the same ARN are taken as two services, such as two local emulators.
    """
    if not source_arn or source_arn != dest_arn or not same_endpoint:
        return
    dest = config.dest
    given = [
        flag
        for flag, value in (
            ("--dest-table", config.dest_table),
            ("--dest-profile", dest.profile),
            ("--dest-region", dest.region),
            ("--dest-endpoint-url", dest.endpoint_url),
            ("--dest-role-arn", dest.role_arn),
        )
        if value is not None
    ]
    missing = []
    if dest.profile is None and dest.role_arn is None:
        missing.append("--dest-profile or --dest-role-arn for the destination's account")
    if dest.region is None:
        missing.append("--dest-region")
    if config.dest_table is None:
        missing.append("--dest-table")
    if given:
        why = f"{', '.join(given)} still name{'s' if len(given) == 1 else ''} the source table"
    else:
        why = "no --dest-* option was given, so the destination took the source's credentials,"
        why += " region and table name"
    hint = (
        "name the destination with " + ", or ".join(missing)
        if missing
        else "check the --dest-* options: they lead to the source's account"
    )
    raise InputError(f"verify would compare {source_arn} with itself: {why}", hint=hint)


def _check_same_key_schema(source: TableInfo, dest: TableInfo) -> None:
    if source.key_schema != dest.key_schema:
        raise InputError(
            f"the destination table {dest.name!r} has key schema {dest.key_schema.attributes},"
            f" the source table {source.name!r} has {source.key_schema.attributes}",
            hint="compare tables with the same partition and sort keys",
        )


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


async def verify(
    config: VerifyConfig,
    *,
    console: Console | None = None,
    progress: ProgressMode = ProgressMode.OFF,
    clock: Callable[[], float] = time.monotonic,
) -> VerifyResult:
    """Compare the selected items; raises InputError (exit 2) for bad input."""
    console = console or Console(stderr=True)
    dest_target = config.dest_target
    source_session, dest_session = await open_sessions(config.source, dest_target)
    pool = client_config(concurrency=config.concurrency)
    with contextlib.ExitStack() as stack:
        async with (
            contextlib.AsyncExitStack() as stack_async,
            source_session.client(
                "dynamodb", endpoint_url=endpoint_for(config.source, "dynamodb"), config=pool
            ) as source_ddb,
            dest_session.client(
                "dynamodb", endpoint_url=endpoint_for(dest_target, "dynamodb"), config=pool
            ) as dest_ddb,
        ):
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
            source_table = await describe_table(
                source_ddb, table=config.table, region=config.source.region
            )
            dest_table = await describe_table(
                dest_ddb,
                table=config.dest_table or config.table,
                region=dest_target.region,
                not_found_hint="check --dest-table, --dest-region and --dest-profile"
                " (the destination side)",
            )
            _check_distinct_tables(
                config,
                source_arn=await _table_arn(
                    source_table, client=source_ddb, session=source_session, target=config.source
                ),
                dest_arn=await _table_arn(
                    dest_table, client=dest_ddb, session=dest_session, target=dest_target
                ),
                same_endpoint=source_ddb.meta.endpoint_url == dest_ddb.meta.endpoint_url,
            )
            _check_same_key_schema(source_table, dest_table)
            source_rate = resolve_table_rate(config.rate, source_table, side="source")
            dest_rate = resolve_table_rate(config.rate, dest_table, side="destination")
            key_plan = None
            if isinstance(config.selection, KeysSelection):
                key_plan = await enter_key_file(
                    stack, config.selection.path, schema=source_table.key_schema
                )
            backoff = Backoff(policy=config.retry)
            source_stats, dest_stats = Stats(), Stats()
            source_limiter: Limiter = make_limiter(source_rate.rcu_per_s, clock=clock)
            source_context = ReadContext(
                client=source_reads, limiter=source_limiter, backoff=backoff, stats=source_stats
            )
            dest_context = ReadContext(
                client=dest_reads,
                limiter=make_limiter(dest_rate.rcu_per_s, clock=clock),
                backoff=backoff,
                stats=dest_stats,
            )
            source = build_source(
                config.selection,
                context=source_context,
                table=source_table,
                key_plan=key_plan,
                consistent_read=config.consistent_read,
                rate_rcu_per_s=source_rate.rcu_per_s,
            )
            tally = _Tally()
            checker = _Checker(
                BatchGetReader(
                    dest_context,
                    table=dest_table.name,
                    consistent_read=config.consistent_read,
                    average_item_bytes=dest_table.average_item_bytes,
                ),
                key_names=source_table.key_schema.names,
                tally=tally,
                shown=config.keys_shown,
            )
            total = key_plan.keys_total if key_plan is not None else None
            started = clock()
            view = _VerifyView(
                tally, source_stats, dest_stats, total=total, started_s=started, clock=clock
            )
            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(
                        partial(
                            show_progress, console=console, config=ProgressConfig(mode=progress)
                        ),
                        view,
                    )
                    await read_pages(
                        source,
                        checker.check,
                        readers=config.concurrency,
                        unit_buffer=config.concurrency,
                    )
                    group.cancel_scope.cancel()
            except* AsyncCopyError as errors:
                raise errors.exceptions[0] from None
            return VerifyResult(
                table=source_table.name,
                dest_table=dest_table.name,
                items_compared=tally.compared,
                items_identical=tally.identical,
                items_missing=tally.missing,
                items_different=tally.different,
                items_unreadable=tally.unreadable,
                keys_absent_from_source=tally.absent_from_source,
                missing_keys=tuple(tally.missing_keys),
                differences=tuple(tally.differences),
                unreadable_keys=tuple(tally.unreadable_keys),
                rcu_source=source_stats.rcu_consumed,
                rcu_dest=dest_stats.rcu_consumed,
                elapsed_s=clock() - started,
                keys_duplicate=0 if key_plan is None else key_plan.keys_duplicate,
                first_duplicate=None if key_plan is None else key_plan.first_duplicate,
            )
