"""The core of `asynccopy copy`: validate everything, then run the pipeline, then summarize.

    prepare.py   everything that can be wrong with the input, found before the first send
    resume.py    the checkpoint: the one `--resume` continues, and this run's writes
    copier.py    the run: the clients, the source, the sender, the pipeline under progress,
                 Ctrl-C and the checkpoint writer (this module)
    outcome.py   the summary (and a dry run's plan) built from what the run counted

The checkpoint is written once before the first send, a few times a second while SQS
acknowledges pages, and once at the end however the copy ends; a copy that ends with exit 0
marks it complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

import anyio
from rich.console import Console

from asynccopy.config import CopyConfig
from asynccopy.copy.backpressure import QueueDepthGate, make_gate
from asynccopy.copy.checkpoint import WRITE_INTERVAL_S, Checkpoint, CheckpointKeeper
from asynccopy.copy.outcome import dry_run_plan, summarize
from asynccopy.copy.pipeline import PipelineConfig, run_pipeline
from asynccopy.copy.prepare import (
    Prepared,
    items_selected,
    open_clients,
    per_item_clients,
    prepare,
)
from asynccopy.copy.progress import ProgressConfig, ProgressMode, ProgressView, show_progress
from asynccopy.copy.resume import (
    ResumedSegments,
    keep_writing,
    open_checkpoint,
    where_resumed,
    write_final,
    write_now,
)
from asynccopy.copy.shaping import ShapedSource, Shaping
from asynccopy.copy.stats import FailedKeyFile, Stats
from asynccopy.copy.summary import CopySummary, DryRunPlan
from asynccopy.copy.wait import start_watch, wait_after
from asynccopy.errors import AsyncCopyError
from asynccopy.read.base import Page, ReadContext, Source
from asynccopy.read.factory import build_source
from asynccopy.read.indexed import IndexFetchSource
from asynccopy.read.limiter import Limiter, make_limiter
from asynccopy.read.query import QuerySource
from asynccopy.read.scan import ScanSource
from asynccopy.retry import Backoff
from asynccopy.send.sender import SEND_BATCH_MAX_BYTES, DryRunSender, Sender, SqsSender
from consumer.gc_tuning import settled
from consumer.wire import Item, decode_body


@dataclass(frozen=True, kw_only=True, slots=True)
class Runtime:
    """What the core takes from its surroundings, injected so tests can replace it."""

    console: Console = field(default_factory=lambda: Console(stderr=True))
    progress: ProgressMode = ProgressMode.OFF
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time  # epoch seconds: TTL values are compared to it
    stdin: IO[bytes] | None = None  # for `--keys -`; sys.stdin.buffer by default
    handle_signals: bool = False  # Ctrl-C stops reading and drains the sends (main thread only)


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


def skip_done(
    stats: Stats, resume: Checkpoint, *, path: object, say: Callable[[str], None]
) -> None:
    """Counts what earlier runs did, so the progress total is what is left."""
    stats.items_skipped_by_resume = resume.items_done
    if stats.items_selected is not None:
        stats.items_selected = max(0, stats.items_selected - resume.items_done)
    if resume.complete:
        return
    say(
        f"resuming from {path}: skipping {resume.items_done:,} "
        f"items sent by earlier runs ({where_resumed(resume)})"
    )


class Copier:
    """One copy: `run` prepares, copies (or plans) and returns the summary."""

    def __init__(self, config: CopyConfig, *, runtime: Runtime) -> None:
        self._config = config
        self._runtime = runtime
        self._stats = Stats()

    def _say(self, text: str) -> None:
        if self._runtime.progress is not ProgressMode.OFF:
            self._runtime.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _summary(
        self,
        prepared: Prepared,
        *,
        error: str | None,
        plan: DryRunPlan | None = None,
        nothing_left: bool = False,
    ) -> CopySummary:
        return summarize(
            self._config,
            prepared,
            self._stats,
            now_s=self._runtime.clock(),
            error=error,
            plan=plan,
            nothing_left=nothing_left,
        )

    def _source(
        self,
        prepared: Prepared,
        context: ReadContext,
        *,
        sample: int | None,
        resume: Checkpoint | None = None,
        before: list[Item] | None = None,  # a dry run's: the items given to --transform
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
            projection=config.shape.projection,
        )
        if resume is not None and resume.segments:
            assert isinstance(source, ScanSource | QuerySource | IndexFetchSource)
            source = ResumedSegments(source, states=resume.segments)
        shaping = shaping_of(config, prepared, self._runtime)
        return ShapedSource.around(source, shaping=shaping, stats=self._stats, before=before)

    async def _watch_interrupts(self, stop: anyio.Event, hard: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            async for _ in signals:
                if stop.is_set():
                    hard.cancel()  # a second Ctrl-C: stop the sends too
                    return
                self._stats.interrupted = True
                self._say("interrupted: finishing the sends in flight (Ctrl-C again to abandon)")
                stop.set()

    def _pipeline_config(self, prepared: Prepared) -> PipelineConfig:
        config = self._config
        return PipelineConfig(
            key_names=prepared.table.key_schema.names,
            max_message_bytes=prepared.max_message_bytes,
            # SendMessageBatch's total is capped apart from the queue's MaximumMessageSize.
            max_batch_bytes=max(prepared.max_message_bytes, SEND_BATCH_MAX_BYTES),
            readers=config.concurrency,
            senders=config.concurrency,
            page_buffer=config.page_buffer,
            batch_buffer=config.batch_buffer,
        )

    async def _run_pipeline(
        self,
        source: Source[Any],
        sender: Sender,
        limiter: Limiter,
        prepared: Prepared,
        keeper: CheckpointKeeper | None = None,
        gate: QueueDepthGate | None = None,
    ) -> str | None:
        """Runs the copy with the progress display; returns the error that stopped it, if any.

        With a `keeper`, the checkpoint is written a few times a second as SQS acknowledges
        pages, and once more at the end however the copy ends (done, Ctrl-C, an error).
        """
        runtime, stats = self._runtime, self._stats
        stop = anyio.Event()
        view = ProgressView(stats, limiter=limiter, clock=runtime.clock)
        error: str | None = None
        finished = False
        tracker = keeper.tracker() if keeper is not None else None
        progress = partial(
            show_progress, console=runtime.console, config=ProgressConfig(mode=runtime.progress)
        )
        stats.started_s = runtime.clock()
        try:
            async with anyio.create_task_group() as group:
                if runtime.handle_signals:
                    group.start_soon(self._watch_interrupts, stop, group.cancel_scope)
                group.start_soon(progress, view)
                if keeper is not None:
                    group.start_soon(partial(keep_writing, keeper, interval_s=WRITE_INTERVAL_S))
                await run_pipeline(
                    source,
                    sender=sender,
                    config=self._pipeline_config(prepared),
                    stats=stats,
                    stop=stop,
                    tracker=tracker,
                    gate=gate,
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
                    problem = await write_final(
                        keeper, complete=complete, key_plan=prepared.key_plan
                    )
                if problem is not None:
                    error = problem if error is None else f"{error}; {problem}"
        return error

    async def run(self) -> CopySummary:
        config, runtime, stats = self._config, self._runtime, self._stats
        with contextlib.ExitStack() as stack:
            async with contextlib.AsyncExitStack() as stack_async:
                clients = await open_clients(config, stack_async)
                prepared = await prepare(
                    config, ddb=clients.ddb, sqs=clients.sqs, stack=stack, stdin=runtime.stdin
                )
                reads, sends = await per_item_clients(config, stack_async, clients)
                stats.items_selected, stats.items_selected_exact = items_selected(config, prepared)
                limiter = make_limiter(prepared.rate.rcu_per_s, clock=runtime.clock)
                backoff = Backoff(policy=config.retry)
                context = ReadContext(client=reads, limiter=limiter, backoff=backoff, stats=stats)
                if config.dry_run:
                    return await self._dry_run(prepared, context, limiter)
                keeper, resume = open_checkpoint(
                    config, key_plan=prepared.key_plan, items_sent=lambda: stats.items_sent
                )
                if resume is not None:
                    skip_done(stats, resume, path=config.checkpoint_path, say=self._say)
                    if resume.complete:
                        return self._summary(prepared, error=None, nothing_left=True)
                if keeper is not None:  # the file exists from the start, and is writable
                    await write_now(keeper)
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
                watch = await start_watch(config)
                gate = make_gate(
                    config.max_queue_depth,
                    clients.sqs,
                    config.queue_url,
                    stats=stats,
                    clock=runtime.clock,
                )
                with settled():  # the collector kept off what was built before the copy
                    error = await self._run_pipeline(
                        source, sender, limiter, prepared, keeper, gate
                    )
                waited = await wait_after(watch, config, runtime, stats, error=error)
                return dataclasses.replace(self._summary(prepared, error=error), write_side=waited)

    async def _dry_run(
        self, prepared: Prepared, context: ReadContext, limiter: Limiter
    ) -> CopySummary:
        sample = self._config.sample_items
        sender = DryRunSender()
        error = None
        before: list[Item] = []
        if sample > 0:
            shaped = self._source(prepared, context, sample=sample, before=before)
            source = _SampleSource(shaped, limit=sample)
            error = await self._run_pipeline(source, sender, limiter, prepared)
        items = [item for batch in sender.batches for m in batch for item in decode_body(m.body)]
        plan = dry_run_plan(self._config, prepared, self._stats, items, before[:sample])
        return self._summary(prepared, error=error, plan=plan)


def shaping_of(config: CopyConfig, prepared: Prepared, runtime: Runtime) -> Shaping:
    """What `copy`'s flags ask of each item, with the table's TTL attribute and key."""
    return Shaping.of(
        config.shape,
        ttl_attribute=prepared.ttl_attribute,
        now_s=runtime.wall_clock,
        keys=prepared.table.key_schema.attributes,
    )


async def copy(config: CopyConfig, *, runtime: Runtime | None = None) -> CopySummary:
    """Validate, copy and summarize; raises InputError (exit 2) before anything is sent."""
    return await Copier(config, runtime=runtime or Runtime()).run()
