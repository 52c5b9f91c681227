"""The core of `asynccopy bench`: read throughput against capacity, one rate step at a time.

    describe the table -> the base rate (--rate, or the provisioned RCU)
    for each step (a share of the base):
        a fresh limiter at the step's target (its bucket starts empty, as a copy's does)
        the producer's own path: ReadContext -> PageReader (Scan segments) or BatchGetReader
        (a key file), over a workload that starts again from the top when it ends,
        for `step_seconds`; with a queue, the producer's pipeline packs and sends what it reads
    then `recommend` (pure, advice.py): a --rate and a --concurrency for `copy`.

Every number is one the copy itself would see, read through the engine the copy uses
(`--engine`, fast by default; DescribeTable and GetQueueAttributes on the engine's session): RCU
is the ConsumedCapacity the service reports (what the limiter is charged with), throttles are
ProvisionedThroughputExceeded answers and UnprocessedKeys as ReadContext counts them, and
latency is each successful call's time on the injected clock. A step's rates are over its
reading window; reads still in flight when the window closes are abandoned and not counted.

Each step also says what limited it (`classify`, pure, in advice.py): the table (throttled
calls), this process's CPU (`client`: the process time over the window above about 85% of a
core, nothing throttled), the calls in flight (`concurrency`: nearly every reader or sender
busy on a call all the window), or nothing (`none`: it held its target). `recommend` follows
that evidence: a table that pushed back gets 90% of the highest step that held; a client that
could not go faster gets at least what it achieved, and is told so.

Real DynamoDB banks up to 300 s of unused provisioned capacity as burst ("DynamoDB burst
capacity", developer guide): a step above capacity is throttled only once that burst is spent.
`burst_caveats` says when a step that held above the provisioned capacity was too short to
have spent it, and how long a step would have to be.

Calls are built by the copy's factory (read/factory.py), sized to 1/50 of a step's budget
(at most a second's), so that even a short step is many calls, not a few lumps.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any, Final

import anyio
import anyio.to_thread

from asynccopy.aws import AwsTarget, client_config, endpoint_for, open_sessions, pool_connections
from asynccopy.bench.advice import BenchResult, recommend
from asynccopy.bench.defaults import DEFAULT_STEP_SECONDS, DEFAULT_STEPS_PERCENT, MAX_STEPS
from asynccopy.bench.steps import Criteria, Latency, StepResult
from asynccopy.config import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    Engine,
    KeysSelection,
    ScanSelection,
)
from asynccopy.copy.pipeline import PipelineConfig, run_pipeline
from asynccopy.copy.stats import Stats
from asynccopy.engine import Endpoint, open_fast_clients
from asynccopy.errors import AsyncCopyError, InputError, RateError
from asynccopy.read.base import Page, ReadContext, Source, reported_rcu
from asynccopy.read.factory import build_source
from asynccopy.read.itemsize import item_size_bytes
from asynccopy.read.keys import KeyFilePlan, enter_key_file
from asynccopy.read.limiter import UnlimitedLimiter, make_limiter
from asynccopy.read.rate import RateSpec
from asynccopy.read.tables import TableInfo, describe_table, resolve_table_rate
from asynccopy.retry import Backoff, RetryPolicy
from asynccopy.send.packing import DEFAULT_MAX_MESSAGE_BYTES
from asynccopy.send.sender import (
    SEND_BATCH_MAX_BYTES,
    Sender,
    SendResult,
    SqsSender,
    queue_max_message_bytes,
)
from consumer.gc_tuning import settled

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Workload = KeysSelection | ScanSelection

_MIN_CALLS_PER_STEP: Final = 50  # a call costs at most this share of a step's budget
_SAMPLE_ITEMS: Final = 25  # items the preflight Scan reads to learn the item size


@dataclass(frozen=True, kw_only=True, slots=True)
class BenchConfig:
    table: str
    workload: Workload
    rate: RateSpec | None = None  # the base the steps are shares of; None: the provisioned RCU
    steps_percent: tuple[float, ...] = DEFAULT_STEPS_PERCENT
    step_seconds: float = DEFAULT_STEP_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    consistent_read: bool = False
    queue_url: str | None = None  # with a queue, every step also sends what it reads
    source: AwsTarget = field(default_factory=AwsTarget)
    queue: AwsTarget = field(default_factory=AwsTarget)  # unset fields default to the source's
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    criteria: Criteria = field(default_factory=Criteria)
    engine: Engine = Engine.FAST

    def __post_init__(self) -> None:
        if not 1 <= len(self.steps_percent) <= MAX_STEPS:
            raise ValueError(f"{len(self.steps_percent)} steps: give 1..{MAX_STEPS}")
        if any(not 0 < p <= 1000 for p in self.steps_percent):
            raise ValueError(f"steps {self.steps_percent} must each be in (0, 1000] percent")
        if self.step_seconds <= 0:
            raise ValueError(f"step_seconds={self.step_seconds} must be positive")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency={self.concurrency} must be 1..{MAX_CONCURRENCY}")

    @property
    def queue_target(self) -> AwsTarget:
        return self.queue.or_else(self.source)


# ---- measuring -------------------------------------------------------------------------------
class _TimedClient:
    """A client whose `timed` operations record each successful call's duration."""

    def __init__(self, client: Any, *, timed: frozenset[str], clock: Clock) -> None:
        self._client = client
        self._timed = timed
        self._clock = clock
        self.durations_s: list[float] = []

    def take(self) -> list[float]:
        durations, self.durations_s = self.durations_s, []
        return durations

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in self._timed:
            return method

        async def timed(**kwargs: Any) -> Any:
            started = self._clock()
            reply = await method(**kwargs)
            self.durations_s.append(self._clock() - started)
            return reply

        return timed


class _Endless:
    """Source: another source's units over and over, so a step never runs out of work.

    It counts the items read; without a queue it hands the pipeline empty pages, so nothing is
    packed and the step measures reads alone.
    """

    def __init__(self, source: Source[Any], *, forward_items: bool) -> None:
        self._source = source
        self._forward = forward_items
        self.items_read = 0

    async def units(self) -> AsyncGenerator[Any, None]:
        while True:
            async with contextlib.aclosing(self._source.units()) as units:
                async for unit in units:
                    yield unit

    async def pages(self, unit: Any) -> AsyncGenerator[Page, None]:
        async with contextlib.aclosing(self._source.pages(unit)) as pages:
            async for page in pages:
                self.items_read += len(page.items)
                if self._forward:
                    yield page
                else:
                    yield Page(items=[], position=page.position, failed=page.failed)


class _NoSender:
    """Reads only: the pipeline is handed no items, so this is never asked to send."""

    async def send(self, batch: Sequence[Any]) -> SendResult:
        return SendResult(sent=tuple(batch), dry_run=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Plan:
    table: TableInfo
    base_rcu_per_s: float
    base_description: str
    item_bytes: int  # measured by the preflight Scan, else the table's average
    key_plan: KeyFilePlan | None
    max_message_bytes: int | None


def resolve_base_rate(spec: RateSpec | None, table: TableInfo) -> tuple[float, str]:
    """The RCU/s the steps are shares of: --rate, or the table's provisioned capacity, or an
    on-demand table's read ceiling (its warm throughput, or its maximum: TableInfo)."""
    if spec is None:
        ceiling = table.on_demand_read_ceiling
        if table.on_demand and ceiling is not None:
            return ceiling, f"{ceiling} RCU/s, the on-demand table's {table.ceiling_description()}"
        if table.on_demand:
            raise InputError(
                f"table {table.name!r} is on-demand and reports no warm throughput or maximum: "
                "it has no capacity to step through",
                hint="give --rate RCU/s to set the 100% step, e.g. --rate 1000",
            )
        return table.provisioned_rcu, f"{table.provisioned_rcu} provisioned RCU"
    if spec.unlimited:
        raise RateError(text=spec.text, problem="bench steps through shares of a finite rate")
    resolved = resolve_table_rate(spec, table)
    assert resolved.rcu_per_s is not None
    return resolved.rcu_per_s, resolved.description


async def sample_item_bytes(
    client: _TimedClient, table: TableInfo, *, retry: RetryPolicy
) -> int | None:
    """The average size of the first items a Scan finds; None for an empty table."""
    context = ReadContext(
        client=client,
        limiter=UnlimitedLimiter(),
        backoff=Backoff(policy=retry),
        stats=Stats(),
    )
    reply, _ = await context.call(
        "Scan",
        partial(
            client.scan,
            TableName=table.name,
            Limit=_SAMPLE_ITEMS,
            ReturnConsumedCapacity="TOTAL",
        ),
        reserve_rcu=0.0,
        cost_rcu=lambda r: reported_rcu(r, table.name) or 0.0,
    )
    client.take()  # the preflight's call is no step's
    items = reply.get("Items", [])
    if not items:
        return None
    return max(1, sum(item_size_bytes(item) for item in items) // len(items))


class _Bench:
    def __init__(
        self,
        config: BenchConfig,
        *,
        control: Any,
        queue_control: Any | None,
        dynamodb: _TimedClient,
        sqs: _TimedClient | None,
        clock: Clock,
        cpu_clock: Clock,
        sleep: Sleep,
        on_step: Callable[[StepResult], None],
        stdin: IO[bytes] | None,
    ) -> None:
        self._config = config
        self._stdin = stdin
        self._control = control  # DescribeTable: a botocore client on either engine
        self._queue_control = queue_control  # GetQueueAttributes
        self._ddb = dynamodb  # the reads, on the engine `copy` uses
        self._sqs = sqs  # the sends
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._sleep = sleep
        self._on_step = on_step

    async def _prepare(self, stack: contextlib.ExitStack) -> _Plan:
        config = self._config
        table = await describe_table(self._control, table=config.table, region=config.source.region)
        base, description = resolve_base_rate(config.rate, table)
        sampled = await sample_item_bytes(self._ddb, table, retry=self._config.retry)
        key_plan = None
        if isinstance(config.workload, KeysSelection):
            key_plan = await enter_key_file(
                stack, config.workload.path, schema=table.key_schema, stdin=self._stdin
            )
            if key_plan.keys_total == 0:
                raise InputError(
                    f"the key file {key_plan.display_name} holds no keys",
                    hint="give a file with keys of the table, or use --scan",
                )
        elif sampled is None:
            raise InputError(
                f"table {table.name!r} is empty: a Scan has nothing to read",
                hint="bench a table with items, or give --keys",
            )
        max_message_bytes = None
        if self._queue_control is not None:
            assert config.queue_url is not None
            max_message_bytes = await queue_max_message_bytes(
                self._queue_control, queue_url=config.queue_url
            )
        return _Plan(
            table=table,
            base_rcu_per_s=base,
            base_description=description,
            item_bytes=sampled or table.average_item_bytes,
            key_plan=key_plan,
            max_message_bytes=max_message_bytes,
        )

    def _source(self, plan: _Plan, context: ReadContext, *, target_rcu_per_s: float) -> Source[Any]:
        """The producer's source, its calls sized for this step's target."""
        config = self._config
        return build_source(
            config.workload,
            context=context,
            table=plan.table,
            key_plan=plan.key_plan,
            consistent_read=config.consistent_read,
            rate_rcu_per_s=target_rcu_per_s,
            call_budget_s=min(1.0, config.step_seconds / _MIN_CALLS_PER_STEP),
            average_item_bytes=plan.item_bytes,
        )

    async def _step(self, plan: _Plan, percent: float) -> StepResult:
        config = self._config
        target = plan.base_rcu_per_s * percent / 100.0
        stats = Stats()
        limiter = make_limiter(target, clock=self._clock, sleep=self._sleep)
        context = ReadContext(
            client=self._ddb, limiter=limiter, backoff=Backoff(policy=config.retry), stats=stats
        )
        sending = self._sqs is not None
        source = _Endless(
            self._source(plan, context, target_rcu_per_s=target), forward_items=sending
        )
        sender: Sender = _NoSender()
        if self._sqs is not None:
            assert config.queue_url is not None
            sender = SqsSender(
                self._sqs, queue_url=config.queue_url, backoff=Backoff(policy=config.retry)
            )
            self._sqs.take()
        max_message_bytes = plan.max_message_bytes or DEFAULT_MAX_MESSAGE_BYTES
        pipeline = PipelineConfig(
            key_names=plan.table.key_schema.names,
            max_message_bytes=max_message_bytes,
            # SendMessageBatch's total is capped apart from the queue's MaximumMessageSize.
            max_batch_bytes=max(max_message_bytes, SEND_BATCH_MAX_BYTES),
            readers=config.concurrency,
            senders=config.concurrency,
        )
        stop = anyio.Event()
        stopped_at: list[float] = []
        cpu_at_stop: list[float] = []  # process time when the window closed

        async def close_window() -> None:
            await self._sleep(config.step_seconds)
            stopped_at.append(self._clock())
            cpu_at_stop.append(self._cpu_clock())
            stop.set()

        self._ddb.take()
        error: str | None = None
        cpu_started = self._cpu_clock()
        started = self._clock()
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(close_window)
                await run_pipeline(source, sender=sender, config=pipeline, stats=stats, stop=stop)
                group.cancel_scope.cancel()
        except* AsyncCopyError as failure:
            error = "; ".join(str(e) for e in failure.exceptions)
        finished = self._clock()
        cpu_finished = cpu_at_stop[0] if cpu_at_stop else self._cpu_clock()
        window = (stopped_at[0] if stopped_at else finished) - started
        return StepResult(
            percent=percent,
            target_rcu_per_s=target,
            window_s=window,
            rcu_consumed=stats.rcu_consumed,
            items_read=source.items_read,
            read_calls=stats.read_calls,
            throttles=stats.throttles,
            read_latency=Latency.of(self._ddb.take()),
            items_sent=stats.items_sent if sending else None,
            items_failed=stats.items_failed,
            send_latency=Latency.of(self._sqs.take()) if self._sqs is not None else None,
            send_window_s=finished - started if sending else None,
            error=error,
            cpu_s=max(0.0, cpu_finished - cpu_started),
            throttle_reasons=dict(stats.throttle_reasons),
        )

    async def run(self) -> BenchResult:
        config = self._config
        with contextlib.ExitStack() as stack:
            plan = await self._prepare(stack)
            steps: list[StepResult] = []
            with settled():  # as `copy` runs: the collector tuned the same way
                for percent in config.steps_percent:
                    step = await self._step(plan, percent)
                    steps.append(step)
                    self._on_step(step)
        workload = config.workload
        if isinstance(workload, ScanSelection):
            described = f"scan ({len(workload.segments)} of {workload.total_segments} segments)"
        else:
            assert plan.key_plan is not None
            described = f"keys {plan.key_plan.display_name} ({plan.key_plan.keys_total} keys)"
        return BenchResult(
            table=plan.table.name,
            billing_mode=plan.table.billing_mode,
            provisioned_rcu=plan.table.provisioned_rcu,
            base_rcu_per_s=plan.base_rcu_per_s,
            base_description=plan.base_description,
            workload=described,
            queue_url=config.queue_url,
            step_seconds=config.step_seconds,
            concurrency=config.concurrency,
            steps=tuple(steps),
            recommendation=recommend(
                steps,
                config.criteria,
                concurrency=config.concurrency,
                provisioned_rcu=plan.table.provisioned_rcu,
            ),
            criteria=config.criteria,
            engine=config.engine,
        )


async def run_bench(
    config: BenchConfig,
    *,
    dynamodb: Any,
    sqs: Any | None = None,
    reads: Any | None = None,
    sends: Any | None = None,
    clock: Clock = time.monotonic,
    cpu_clock: Clock = time.process_time,
    sleep: Sleep = anyio.sleep,
    on_step: Callable[[StepResult], None] = lambda _step: None,
    stdin: IO[bytes] | None = None,
) -> BenchResult:
    """Step through the rates with the given clients (`sqs` only with `config.queue_url`).

    `dynamodb` and `sqs` are botocore clients, for DescribeTable and GetQueueAttributes; the
    reads and sends are made on `reads` and `sends` (the fast engine's), or on them too.
    """
    if (sqs is None) != (config.queue_url is None):
        raise ValueError("pass an SQS client exactly when config.queue_url is set")
    sends = sends if sends is not None else sqs
    timed_sqs = (
        None
        if sends is None
        else _TimedClient(sends, timed=frozenset({"send_message_batch"}), clock=clock)
    )
    bench = _Bench(
        config,
        control=dynamodb,
        queue_control=sqs,
        dynamodb=_TimedClient(
            reads if reads is not None else dynamodb,
            timed=frozenset({"scan", "batch_get_item"}),
            clock=clock,
        ),
        sqs=timed_sqs,
        clock=clock,
        cpu_clock=cpu_clock,
        sleep=sleep,
        on_step=on_step,
        stdin=stdin,
    )
    return await bench.run()


async def bench(
    config: BenchConfig,
    *,
    clock: Clock = time.monotonic,
    on_step: Callable[[StepResult], None] = lambda _step: None,
    stdin: IO[bytes] | None = None,
) -> BenchResult:
    """Open sessions and clients for `config`'s targets, then `run_bench`.

    `--keys -` works: open_key_file spools standard input, and every pass reads the spool.
    """
    # The queue's session only when there is a queue: its credentials are checked on opening.
    queue_targets = [] if config.queue_url is None else [config.queue_target]
    session, *queue_sessions = await open_sessions(
        config.source, *queue_targets, engine=config.engine
    )
    pool = client_config(concurrency=config.concurrency, engine=config.engine)
    async with contextlib.AsyncExitStack() as stack:
        ddb = await stack.enter_async_context(
            session.client(
                "dynamodb", endpoint_url=endpoint_for(config.source, "dynamodb"), config=pool
            )
        )
        sqs = None
        queue_session = session
        if queue_sessions:
            (queue_session,) = queue_sessions
            sqs = await stack.enter_async_context(
                queue_session.client(
                    "sqs", endpoint_url=endpoint_for(config.queue_target, "sqs"), config=pool
                )
            )
        reads: Any = ddb
        sends: Any = sqs
        if config.engine is Engine.FAST:
            # As `copy` does: the endpoints botocore resolved, so both engines call one place.
            source = Endpoint(session=session, endpoint_url=ddb.meta.endpoint_url)
            queue = (
                source
                if sqs is None
                else Endpoint(session=queue_session, endpoint_url=sqs.meta.endpoint_url)
            )
            fast = await stack.enter_async_context(
                open_fast_clients(
                    source=source,
                    queue=queue,
                    connections=2 * pool_connections(config.concurrency),
                )
            )
            reads = fast.dynamodb
            sends = None if sqs is None else fast.sqs
        return await run_bench(
            config,
            dynamodb=ddb,
            sqs=sqs,
            reads=reads,
            sends=sends,
            clock=clock,
            on_step=on_step,
            stdin=stdin,
        )
