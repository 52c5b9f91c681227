"""The core of `asynccopy copy`: validate everything, then run the pipeline, then summarize.

Everything that can be wrong with the input is found before the first message is sent: the
queue URL (a standard queue, on the host and in the region the queue side calls), the
credentials of both sides, the table and its key schema, the rate, the queue and its
MaximumMessageSize, and every line of a key file, and (`--resume`) the checkpoint, which must
record this very table, queue and selection. The checkpoint is written once before the first
send, a few times a second while SQS acknowledges pages, and once at the end however the copy
ends; a copy that ends with exit 0 marks it complete.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import IO, Any, Final

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
    CopyConfig,
    Engine,
    KeysSelection,
    ScanSelection,
)
from asynccopy.copy.checkpoint import (
    WRITE_INTERVAL_S,
    Checkpoint,
    CheckpointKeeper,
    DeliveryTracker,
    LineBook,
    SegmentBook,
    check_matches,
    fingerprint,
    load_checkpoint,
    selection_identity,
    write_checkpoint,
)
from asynccopy.copy.pipeline import PipelineConfig, run_pipeline
from asynccopy.copy.progress import ProgressConfig, ProgressMode, ProgressView, show_progress
from asynccopy.copy.stats import FailedKeyFile, Stats
from asynccopy.copy.summary import CopySummary, DryRunPlan, build_summary
from asynccopy.engine import Endpoint, open_fast_clients
from asynccopy.errors import AsyncCopyError, CheckpointError
from asynccopy.read.base import Page, ReadContext, Source
from asynccopy.read.factory import build_source, per_item_rcu
from asynccopy.read.itemsize import pooled_read_units
from asynccopy.read.keys import KeyFilePlan, enter_key_file
from asynccopy.read.limiter import Limiter, make_limiter
from asynccopy.read.query import QuerySource
from asynccopy.read.rate import ResolvedRate
from asynccopy.read.scan import ScanSource
from asynccopy.read.tables import TableInfo, describe_table, resolve_table_rate
from asynccopy.retry import Backoff
from asynccopy.send.packing import MAX_ENTRIES_PER_BATCH, MAX_ITEMS_PER_MESSAGE
from asynccopy.send.queueurl import check_queue_url, open_queue_client, queue_target_for
from asynccopy.send.sender import (
    SEND_BATCH_MAX_BYTES,
    DryRunSender,
    Sender,
    SqsSender,
    queue_max_message_bytes,
    request_units_for_bytes,
)
from consumer.wire import decode_body, encode_items


@dataclass(frozen=True, kw_only=True, slots=True)
class Runtime:
    """What the core takes from its surroundings, injected so tests can replace it."""

    console: Console = field(default_factory=lambda: Console(stderr=True))
    progress: ProgressMode = ProgressMode.OFF
    clock: Callable[[], float] = time.monotonic
    stdin: IO[bytes] | None = None  # for `--keys -`; sys.stdin.buffer by default
    handle_signals: bool = False  # Ctrl-C stops reading and drains the sends (main thread only)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Prepared:
    table: TableInfo
    rate: ResolvedRate
    max_message_bytes: int
    key_plan: KeyFilePlan | None


def _items_selected(config: CopyConfig, prepared: _Prepared) -> tuple[int | None, bool]:
    selection = config.selection
    if prepared.key_plan is not None:
        return prepared.key_plan.keys_total, True
    if isinstance(selection, ScanSelection) and not selection.filter_expression:
        return _scan_estimate(selection, prepared.table), False
    return None, True  # a Query, or a filter: known only once read


def _scan_estimate(selection: ScanSelection, table: TableInfo) -> int:
    """The items the chosen segments hold, from the table's ItemCount (refreshed about every
    six hours): an estimate, and for a filtered Scan an upper bound."""
    return table.item_count * len(selection.segments) // selection.total_segments


class _SampleSource:
    """The first `limit` items another source selects: the reads a dry run makes."""

    def __init__(self, source: Source[Any], *, limit: int) -> None:
        self._source = source
        self._left = limit

    async def units(self) -> AsyncGenerator[Any, None]:
        async with contextlib.aclosing(self._source.units()) as units:
            async for unit in units:
                if self._left <= 0:
                    return
                yield unit

    async def pages(self, unit: Any) -> AsyncGenerator[Page, None]:
        async with contextlib.aclosing(self._source.pages(unit)) as pages:
            async for page in pages:
                if self._left <= 0:
                    return
                items = page.items[: self._left]
                self._left -= len(items)
                yield Page(items=items, position=page.position, missing=page.missing)


class _ResumedSegments:
    """A Scan's (or a Query's) segments from where a checkpoint left them: the segments it
    records as done are skipped, the others restart from their LastEvaluatedKey."""

    def __init__(self, source: ScanSource | QuerySource, *, states: Mapping[int, Any]) -> None:
        self._source = source
        self._states = states

    async def units(self) -> AsyncGenerator[int, None]:
        async with contextlib.aclosing(self._source.units()) as units:
            async for unit in units:
                state = self._states.get(unit)
                if state is None or not state.done:
                    yield unit

    def pages(self, unit: int) -> AsyncGenerator[Page, None]:
        state = self._states.get(unit)
        start_key = None if state is None else state.last_evaluated_key
        return self._source.pages(unit, start_key=start_key)


# While items stream through, young objects are many and short-lived (refcounting frees them).
_COPY_GC_THRESHOLDS: Final = (20_000, 20, 100)


@contextlib.contextmanager
def steady_gc() -> Iterator[None]:
    """The cyclic collector kept out of the copy's way, restored afterwards.

    Everything built before the copy (botocore's service models, clients, config) lives as
    long as it does: gc.freeze() stops every full collection from walking it again, and a
    higher gen-0 threshold stops the parsed pages from triggering a collection every few
    hundred objects. Together they took a third off the fast engine's CPU per item.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*_COPY_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def _write_checkpoint(keeper: CheckpointKeeper, *, complete: bool = False) -> None:
    changes = keeper.book.changes
    snapshot = keeper.snapshot(complete=complete)  # on the loop thread: a consistent view
    await anyio.to_thread.run_sync(write_checkpoint, keeper.path, snapshot)
    keeper.written_changes = changes


async def _keep_checkpoint(keeper: CheckpointKeeper, *, interval_s: float) -> None:
    """Writes the checkpoint when it has moved, at most once per `interval_s`."""
    while True:
        await anyio.sleep(interval_s)
        if keeper.dirty:
            await _write_checkpoint(keeper)


class Copier:
    """One copy: `run` validates, copies (or plans) and returns the summary."""

    def __init__(self, config: CopyConfig, *, runtime: Runtime) -> None:
        self._config = config
        self._runtime = runtime
        self._stats = Stats()

    def _say(self, text: str) -> None:
        if self._runtime.progress is not ProgressMode.OFF:
            self._runtime.console.print(text, markup=False, highlight=False, soft_wrap=True)

    async def _prepare(
        self, ddb: Any, sqs: Any, stack: contextlib.ExitStack, *, source: AwsTarget
    ) -> _Prepared:
        config = self._config
        table = await describe_table(ddb, table=config.table, region=source.region)
        rate = resolve_table_rate(config.rate, table)
        max_message_bytes = await queue_max_message_bytes(sqs, queue_url=config.queue_url)
        key_plan = None
        if isinstance(config.selection, KeysSelection):
            key_plan = await enter_key_file(
                stack, config.selection.path, schema=table.key_schema, stdin=self._runtime.stdin
            )
        return _Prepared(
            table=table, rate=rate, max_message_bytes=max_message_bytes, key_plan=key_plan
        )

    def _source(
        self,
        prepared: _Prepared,
        context: ReadContext,
        *,
        sample: int | None,
        resume: Checkpoint | None = None,
    ) -> Source[Any]:
        config = self._config
        source = build_source(
            config.selection,
            context=context,
            table=prepared.table,
            key_plan=prepared.key_plan,
            consistent_read=config.consistent_read,
            rate_rcu_per_s=prepared.rate.rcu_per_s,
            sample=sample,
            after_line=0 if resume is None else resume.done_line or 0,
        )
        if resume is not None and resume.segments:
            assert isinstance(source, ScanSource | QuerySource)
            return _ResumedSegments(source, states=resume.segments)
        return source

    def _plan(self, prepared: _Prepared, sample_items: list[Any]) -> DryRunPlan:
        config = self._config
        table = prepared.table
        selected = self._stats.items_selected
        count = selected if selected is not None else 0
        if isinstance(config.selection, ScanSelection):
            if selected is None:  # a filter: plan for all it may keep
                count = _scan_estimate(config.selection, table)
            # A Scan reads the whole segment; a filter saves no capacity.
            share = len(config.selection.segments) / config.selection.total_segments
            rcu = pooled_read_units(table.size_bytes * share, consistent=config.consistent_read)
        else:
            rcu = count * per_item_rcu(
                config.selection,
                average_item_bytes=table.average_item_bytes,
                consistent_read=config.consistent_read,
            )
        if sample_items:
            encoded = sum(len(encode_items([item])) for item in sample_items) / len(sample_items)
        else:
            encoded = table.average_item_bytes * 2.0  # typed JSON roughly doubles an item
        per_message = max(1, min(MAX_ITEMS_PER_MESSAGE, int(prepared.max_message_bytes / encoded)))
        messages = -(-count // per_message)
        message_bytes = per_message * encoded
        batch_bytes = max(prepared.max_message_bytes, SEND_BATCH_MAX_BYTES)
        per_batch = max(1, min(MAX_ENTRIES_PER_BATCH, int(batch_bytes / message_bytes)))
        batches = -(-messages // per_batch)
        units_per_batch = request_units_for_bytes(int(per_batch * message_bytes))
        rate = prepared.rate.rcu_per_s
        return DryRunPlan(
            max_message_bytes=prepared.max_message_bytes,
            average_item_bytes=table.average_item_bytes,
            estimated_rcu=rcu,
            estimated_messages=messages,
            estimated_batches=batches,
            estimated_request_units=batches * units_per_batch,
            estimated_seconds=None if rate is None else rcu / rate,
            sample_items=tuple(sample_items),
        )

    async def _watch_interrupts(self, stop: anyio.Event, hard: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            async for _ in signals:
                if stop.is_set():
                    hard.cancel()  # a second Ctrl-C: stop the sends too
                    return
                self._stats.interrupted = True
                self._say("interrupted: finishing the sends in flight (Ctrl-C again to abandon)")
                stop.set()

    async def _run_pipeline(
        self,
        source: Source[Any],
        sender: Sender,
        limiter: Limiter,
        prepared: _Prepared,
        keeper: CheckpointKeeper | None = None,
    ) -> str | None:
        """Runs the copy with the progress display; returns the error that stopped it, if any.

        With a `keeper`, the checkpoint is written a few times a second as SQS acknowledges
        pages, and once more at the end however the copy ends (done, Ctrl-C, an error).
        """
        config = self._config
        runtime = self._runtime
        stats = self._stats
        pipeline = PipelineConfig(
            key_names=prepared.table.key_schema.names,
            max_message_bytes=prepared.max_message_bytes,
            # SendMessageBatch's total is capped apart from the queue's MaximumMessageSize.
            max_batch_bytes=max(prepared.max_message_bytes, SEND_BATCH_MAX_BYTES),
            readers=config.concurrency,
            senders=config.concurrency,
            page_buffer=config.page_buffer,
            batch_buffer=config.batch_buffer,
        )
        stop = anyio.Event()
        view = ProgressView(stats, limiter=limiter, clock=runtime.clock)
        error: str | None = None
        finished = False
        tracker = DeliveryTracker(keeper.book if keeper is not None else None)
        stats.started_s = runtime.clock()
        try:
            async with anyio.create_task_group() as group:
                if runtime.handle_signals:
                    group.start_soon(self._watch_interrupts, stop, group.cancel_scope)
                group.start_soon(
                    partial(
                        show_progress,
                        console=runtime.console,
                        config=ProgressConfig(mode=runtime.progress),
                    ),
                    view,
                )
                if keeper is not None:
                    group.start_soon(partial(_keep_checkpoint, keeper, interval_s=WRITE_INTERVAL_S))
                await run_pipeline(
                    source, sender=sender, config=pipeline, stats=stats, stop=stop, tracker=tracker
                )
                finished = not stop.is_set()
                group.cancel_scope.cancel()
        except* AsyncCopyError as group_error:
            error = "; ".join(str(e) for e in group_error.exceptions)
        finally:
            stats.finished_s = runtime.clock()
            if keeper is not None:
                complete = finished and error is None and not stats.items_failed
                with anyio.CancelScope(shield=True):
                    problem = await self._final_checkpoint(keeper, prepared, complete=complete)
                if problem is not None:
                    error = problem if error is None else f"{error}; {problem}"
        return error

    async def _final_checkpoint(
        self, keeper: CheckpointKeeper, prepared: _Prepared, *, complete: bool
    ) -> str | None:
        if complete and isinstance(keeper.book, LineBook) and prepared.key_plan is not None:
            keeper.book.done_line = max(keeper.book.done_line, prepared.key_plan.lines_total)
        try:
            await _write_checkpoint(keeper, complete=complete)
        except CheckpointError as exc:
            return str(exc)
        return None

    def _start_checkpoint(
        self, prepared: _Prepared
    ) -> tuple[CheckpointKeeper | None, Checkpoint | None]:
        """The checkpoint this run keeps, and the one it resumes (validated), if any.

        Raises CheckpointError (exit 2, before anything is sent) for a missing, corrupt or
        mismatched checkpoint.
        """
        config = self._config
        path = config.checkpoint_path
        if path is None:
            return None, None
        identity = selection_identity(config.selection, key_plan=prepared.key_plan)
        loaded = None
        if config.resume:
            loaded = load_checkpoint(path)
            if loaded is None:
                raise CheckpointError(
                    path=str(path),
                    problem="does not exist, so there is nothing to resume",
                    hint="drop --resume to start from the beginning, or name the file with "
                    "--checkpoint",
                )
            check_matches(
                loaded,
                path=path,
                table=config.table,
                queue_url=config.queue_url,
                selection=identity,
            )
        key_file = isinstance(config.selection, KeysSelection)
        base = loaded or Checkpoint(
            fingerprint=fingerprint(
                table=config.table, queue_url=config.queue_url, selection=identity
            ),
            table=config.table,
            queue_url=config.queue_url,
            selection=identity,
            done_line=0 if key_file else None,
            segments=None if key_file else {},
        )
        base = replace(base, runs=base.runs + 1, selection=identity)
        book: LineBook | SegmentBook
        if base.done_line is not None:
            book = LineBook(done_line=base.done_line, keys_done=base.items_done)
        else:
            book = SegmentBook(base.segments)
        keeper = CheckpointKeeper(
            path=path, base=base, book=book, items_sent=lambda: self._stats.items_sent
        )
        return keeper, loaded

    def _skip_done(self, resume: Checkpoint) -> None:
        """Counts what earlier runs did, so the progress total is what is left."""
        stats = self._stats
        stats.items_skipped_by_resume = resume.items_done
        if stats.items_selected is not None:
            stats.items_selected = max(0, stats.items_selected - resume.items_done)
        if resume.complete:
            return
        if resume.done_line is not None:
            where = f"after line {resume.done_line:,} of the key file"
        else:
            states = resume.segments or {}
            done = sum(1 for state in states.values() if state.done)
            started = sum(1 for s in states.values() if not s.done and s.last_evaluated_key)
            where = f"{done} segments done, {started} restarting from their last page"
        self._say(
            f"resuming from {self._config.checkpoint_path}: skipping {resume.items_done:,} "
            f"items sent by earlier runs ({where})"
        )

    async def run(self) -> CopySummary:
        config = self._config
        runtime = self._runtime
        stats = self._stats
        # The queue URL first: a FIFO queue, or a URL the queue side's region or endpoint
        # contradicts, is refused before any call.
        queue_url = check_queue_url(config.queue_url)
        queue_target = queue_target_for(queue_url, explicit=config.queue, inherited=config.source)
        source_session, queue_session = await open_sessions(config.source, queue_target)
        pool = client_config(concurrency=config.concurrency)
        with contextlib.ExitStack() as stack:
            async with (
                contextlib.AsyncExitStack() as stack_async,
                source_session.client(
                    "dynamodb", endpoint_url=endpoint_for(config.source, "dynamodb"), config=pool
                ) as ddb,
            ):
                sqs = await open_queue_client(
                    stack_async,
                    queue_session,
                    url=queue_url,
                    target=queue_target,
                    explicit=config.queue,
                    config=pool,
                )
                prepared = await self._prepare(ddb, sqs, stack, source=config.source)
                # The calls made per item: on the botocore clients, or on the fast engine.
                reads: Any = ddb
                sends: Any = sqs
                if config.engine is Engine.FAST:
                    # The endpoints botocore resolved (flags, AWS_ENDPOINT_URL*, the profile's
                    # endpoint_url, the region's default), so both engines call the same place.
                    fast = await stack_async.enter_async_context(
                        open_fast_clients(
                            source=Endpoint(
                                session=source_session, endpoint_url=ddb.meta.endpoint_url
                            ),
                            queue=Endpoint(
                                session=queue_session, endpoint_url=sqs.meta.endpoint_url
                            ),
                            connections=2 * pool_connections(config.concurrency),
                        )
                    )
                    reads, sends = fast.dynamodb, fast.sqs
                stats.items_selected, stats.items_selected_exact = _items_selected(config, prepared)
                limiter = make_limiter(prepared.rate.rcu_per_s, clock=runtime.clock)
                backoff = Backoff(policy=config.retry)
                context = ReadContext(client=reads, limiter=limiter, backoff=backoff, stats=stats)
                if config.dry_run:
                    return await self._dry_run(prepared, context, limiter)
                keeper, resume = self._start_checkpoint(prepared)
                if resume is not None:
                    self._skip_done(resume)
                    if resume.complete:
                        return self._summary(prepared, error=None, nothing_left=True)
                if keeper is not None:  # the file exists from the start, and is writable
                    await _write_checkpoint(keeper)
                if config.failed_out is not None:
                    failed_file = FailedKeyFile(config.failed_out)
                    stack.callback(failed_file.close)
                    stats.on_failed = failed_file.write
                self._say(
                    f"copying from table {prepared.table.name} to {config.queue_url}; "
                    f"rate: {prepared.rate.description}"
                )
                source = self._source(prepared, context, sample=None, resume=resume)
                sender = SqsSender(sends, queue_url=config.queue_url, backoff=backoff)
                with steady_gc():
                    error = await self._run_pipeline(source, sender, limiter, prepared, keeper)
                return self._summary(prepared, error=error)

    async def _dry_run(
        self, prepared: _Prepared, context: ReadContext, limiter: Limiter
    ) -> CopySummary:
        sample = self._config.sample_items
        sender = DryRunSender()
        error = None
        if sample > 0:
            source = _SampleSource(self._source(prepared, context, sample=sample), limit=sample)
            error = await self._run_pipeline(source, sender, limiter, prepared)
        items = [item for batch in sender.batches for m in batch for item in decode_body(m.body)]
        return self._summary(prepared, error=error, plan=self._plan(prepared, items))

    def _summary(
        self,
        prepared: _Prepared,
        *,
        error: str | None,
        plan: DryRunPlan | None = None,
        nothing_left: bool = False,
    ) -> CopySummary:
        config = self._config
        keeps = config.checkpoint_path is not None and not config.dry_run
        key_plan = prepared.key_plan
        return build_summary(
            self._stats,
            now_s=self._runtime.clock(),
            table=prepared.table.name,
            queue_url=self._config.queue_url,
            rate_target=prepared.rate.rcu_per_s,
            rate_description=prepared.rate.description,
            dry_run=self._config.dry_run,
            error=error,
            plan=plan,
            checkpoint=str(config.checkpoint_path) if keeps else None,
            resumed=config.resume,
            nothing_left=nothing_left,
            max_message_bytes=prepared.max_message_bytes,
            keys_duplicate=0 if key_plan is None else key_plan.keys_duplicate,
            first_duplicate=None if key_plan is None else key_plan.first_duplicate,
        )


async def copy(config: CopyConfig, *, runtime: Runtime | None = None) -> CopySummary:
    """Validate, copy and summarize; raises InputError (exit 2) before anything is sent."""
    return await Copier(config, runtime=runtime or Runtime()).run()
