"""The core of `asynccopy bench`: read throughput against capacity, one rate step at a time.

    describe the table -> the base rate (--rate, or the provisioned RCU)
    for each step (a share of the base):
        a fresh limiter at the step's target (its bucket starts empty, as a copy's does)
        the producer's own path: ReadContext -> PageReader (Scan segments) or BatchGetReader
        (a key file), over a workload that starts again from the top when it ends,
        for `step_seconds`; with a queue, the producer's pipeline packs and sends what it reads
    then `recommend` (pure): a --rate and a --concurrency for `copy`.

Every number is one the copy itself would see, read through the engine the copy uses
(`--engine`, fast by default; DescribeTable and GetQueueAttributes stay on aiobotocore): RCU
is the ConsumedCapacity the service reports (what the limiter is charged with), throttles are
ProvisionedThroughputExceeded answers and UnprocessedKeys as ReadContext counts them, and
latency is each successful call's time on the injected clock. A step's rates are over its
reading window; reads still in flight when the window closes are abandoned and not counted.

Each step also says what limited it (`classify`, pure): the table (throttled calls), this
process's CPU (`client`: the process time over the window above about 85% of a core, nothing
throttled), the calls in flight (`concurrency`: nearly every reader or sender busy on a call
all the window), or nothing (`none`: it held its target). `recommend` follows that evidence:
a table that pushed back gets 90% of the highest step that held; a client that could not go
faster gets at least what it achieved, and is told so.

Real DynamoDB banks up to 300 s of unused provisioned capacity as burst ("DynamoDB burst
capacity", developer guide): a step above capacity is throttled only once that burst is spent.
`burst_caveats` says when a step that held above the provisioned capacity was too short to
have spent it, and how long a step would have to be.

Calls are built by the copy's factory (read/factory.py), sized to 1/50 of a step's budget
(at most a second's), so that even a short step is many calls, not a few lumps.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import IO, Any, Final

import anyio
import anyio.to_thread

from asynccopy.aws import AwsTarget, client_config, endpoint_for, open_sessions, pool_connections
from asynccopy.bench.defaults import DEFAULT_STEP_SECONDS, DEFAULT_STEPS_PERCENT, MAX_STEPS
from asynccopy.config import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    Engine,
    KeysSelection,
    ScanSelection,
)
from asynccopy.copy.copier import steady_gc
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
from asynccopy.retry import Backoff, RetryPolicy, is_key_range_only
from asynccopy.send.packing import DEFAULT_MAX_MESSAGE_BYTES
from asynccopy.send.sender import (
    SEND_BATCH_MAX_BYTES,
    Sender,
    SendResult,
    SqsSender,
    queue_max_message_bytes,
)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Workload = KeysSelection | ScanSelection

_MIN_CALLS_PER_STEP: Final = 50  # a call costs at most this share of a step's budget
_SAMPLE_ITEMS: Final = 25  # items the preflight Scan reads to learn the item size
# DynamoDB keeps up to 300 s of unused provisioned read capacity as burst capacity.
BURST_SECONDS: Final = 300.0


class Limit(StrEnum):
    """What held a step back (see `classify`)."""

    TABLE = "table"  # throttled calls
    CLIENT = "client"  # this process: CPU-bound, nothing throttled
    CONCURRENCY = "concurrency"  # every reader (or sender) busy on a call all the time
    NONE = "none"  # the step held its target


# ---- configuration and results ---------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class Criteria:
    """What makes a step good enough to build on, and how far below it to recommend."""

    min_achieved_share: float = 0.95  # achieved RCU/s over target RCU/s
    max_throttle_share: float = 0.01  # throttled attempts over all read attempts
    rate_share: float = 0.9  # the recommended --rate, as a share of the best step's target
    min_concurrency: int = 2  # one slow call never stalls the copy
    max_concurrency: int = 64
    client_cpu_share: float = 0.85  # process time over wall time: CPU-bound above this
    busy_share: float = 0.8  # mean calls in flight over --concurrency: all workers busy
    # Short of the target by less than this, with nothing throttled or saturated: the
    # limiter's own pacing (its bucket starts empty; calls cut off by the window's end).
    paced_share: float = 0.9

    def __post_init__(self) -> None:
        if not 0 < self.min_achieved_share <= 1:
            raise ValueError(f"min_achieved_share={self.min_achieved_share} must be in (0, 1]")
        if not 0 <= self.max_throttle_share < 1:
            raise ValueError(f"max_throttle_share={self.max_throttle_share} must be in [0, 1)")
        if not 0 < self.rate_share <= 1:
            raise ValueError(f"rate_share={self.rate_share} must be in (0, 1]")
        for name in ("client_cpu_share", "busy_share", "paced_share"):
            share = getattr(self, name)
            if not 0 < share <= 1:
                raise ValueError(f"{name}={share} must be in (0, 1]")
        if not 1 <= self.min_concurrency <= self.max_concurrency <= MAX_CONCURRENCY:
            raise ValueError(
                f"concurrency bounds {self.min_concurrency}..{self.max_concurrency} "
                f"must be within 1..{MAX_CONCURRENCY}"
            )


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


@dataclass(frozen=True, kw_only=True, slots=True)
class Latency:
    """Percentiles of successful calls' durations (nearest rank), in milliseconds."""

    calls: int
    p50_ms: float | None
    p99_ms: float | None
    busy_s: float = 0.0  # the durations summed: over a window, the mean calls in flight

    @classmethod
    def of(cls, durations_s: Sequence[float]) -> Latency:
        return cls(
            calls=len(durations_s),
            p50_ms=_percentile_ms(durations_s, 0.50),
            p99_ms=_percentile_ms(durations_s, 0.99),
            busy_s=sum(durations_s),
        )


def _percentile_ms(durations_s: Sequence[float], quantile: float) -> float | None:
    if not durations_s:
        return None
    ordered = sorted(durations_s)
    rank = max(1, math.ceil(quantile * len(ordered)))
    return ordered[rank - 1] * 1000.0


@dataclass(frozen=True, kw_only=True, slots=True)
class StepResult:
    percent: float  # of the base rate
    target_rcu_per_s: float
    window_s: float  # the reading window the rates are over
    rcu_consumed: float
    items_read: int
    read_calls: int  # successful calls
    throttles: int  # throttled attempts (reads, and sends with a queue)
    read_latency: Latency
    items_sent: int | None = None  # None: reads only
    items_failed: int = 0
    send_latency: Latency | None = None
    send_window_s: float | None = None  # reading window plus the drain of the last sends
    error: str | None = None  # what ended the step early, if anything
    cpu_s: float = 0.0  # this process's CPU time (all threads) over the reading window
    throttle_reasons: Mapping[str, int] = field(default_factory=dict)  # ThrottlingReasons seen

    @property
    def achieved_rcu_per_s(self) -> float:
        return self.rcu_consumed / self.window_s if self.window_s > 0 else 0.0

    @property
    def items_per_s(self) -> float:
        return self.items_read / self.window_s if self.window_s > 0 else 0.0

    @property
    def achieved_share(self) -> float:
        return self.achieved_rcu_per_s / self.target_rcu_per_s

    @property
    def throttle_share(self) -> float:
        attempts = self.read_calls + self.throttles
        return self.throttles / attempts if attempts else 0.0

    @property
    def rcu_per_call(self) -> float | None:
        return self.rcu_consumed / self.read_calls if self.read_calls else None

    @property
    def cpu_share(self) -> float:
        """Process time over wall time: 1.0 is one core busy all the window."""
        return self.cpu_s / self.window_s if self.window_s > 0 else 0.0

    @property
    def reads_in_flight(self) -> float:
        """Mean read calls in flight (Little's law: busy time over the window)."""
        return self.read_latency.busy_s / self.window_s if self.window_s > 0 else 0.0

    @property
    def sends_in_flight(self) -> float | None:
        if self.send_latency is None or not self.send_window_s:
            return None
        return self.send_latency.busy_s / self.send_window_s

    def to_json(self) -> dict[str, Any]:
        return {
            "percent": self.percent,
            "target_rcu_per_s": round(self.target_rcu_per_s, 3),
            "achieved_rcu_per_s": round(self.achieved_rcu_per_s, 3),
            "items_per_s": round(self.items_per_s, 3),
            "throttles": self.throttles,
            "latency_p50_ms": _round(self.read_latency.p50_ms),
            "latency_p99_ms": _round(self.read_latency.p99_ms),
            "read_calls": self.read_calls,
            "rcu_consumed": round(self.rcu_consumed, 3),
            "rcu_per_call": _round(self.rcu_per_call),
            "items_read": self.items_read,
            "window_s": round(self.window_s, 3),
            "items_sent": self.items_sent,
            "items_failed": self.items_failed,
            "send_latency_p50_ms": _round(self.send_latency.p50_ms if self.send_latency else None),
            "send_latency_p99_ms": _round(self.send_latency.p99_ms if self.send_latency else None),
            "cpu_share": round(self.cpu_share, 3),
            "reads_in_flight": round(self.reads_in_flight, 3),
            "sends_in_flight": _round(self.sends_in_flight),
            "throttle_reasons": dict(self.throttle_reasons),
            "error": self.error,
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True, kw_only=True, slots=True)
class Recommendation:
    rate_rcu_per_s: float | None  # None: no step was good enough
    concurrency: int | None
    based_on_percent: float | None  # the step it builds on
    reason: str
    limit: Limit | None = None  # what held the run back (None: no step completed)
    caveats: tuple[str, ...] = ()  # why the rate may not last (burst capacity)

    def to_json(self) -> dict[str, Any]:
        return {
            "rate_rcu_per_s": _round(self.rate_rcu_per_s, 1),
            "concurrency": self.concurrency,
            "based_on_percent": self.based_on_percent,
            "limit": None if self.limit is None else str(self.limit),
            "reason": self.reason,
            "caveats": list(self.caveats),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class BenchResult:
    table: str
    billing_mode: str
    provisioned_rcu: int  # 0 for on-demand
    base_rcu_per_s: float
    base_description: str
    workload: str  # "scan (N segments)" or "keys FILE (N keys)"
    queue_url: str | None
    step_seconds: float
    concurrency: int
    steps: tuple[StepResult, ...]
    recommendation: Recommendation
    criteria: Criteria = field(default_factory=Criteria)
    engine: Engine = Engine.FAST

    def holds(self, step: StepResult) -> bool:
        """Whether `step` held its target without throttling (see `qualifies`)."""
        return qualifies(step, self.criteria)

    def limit_of(self, step: StepResult) -> Limit:
        return classify(step, concurrency=self.concurrency, criteria=self.criteria)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "billing_mode": self.billing_mode,
            "provisioned_rcu": self.provisioned_rcu,
            "base_rcu_per_s": self.base_rcu_per_s,
            "base": self.base_description,
            "workload": self.workload,
            "queue_url": self.queue_url,
            "sends": self.queue_url is not None,
            "engine": str(self.engine),
            "step_seconds": self.step_seconds,
            "concurrency": self.concurrency,
            "steps": [
                {**step.to_json(), "holds": self.holds(step), "limit": str(self.limit_of(step))}
                for step in self.steps
            ],
            "recommendation": self.recommendation.to_json(),
        }


# ---- what limited each step, and the recommendation (pure) -----------------------------------
def qualifies(step: StepResult, criteria: Criteria) -> bool:
    return (
        step.error is None
        and step.read_calls > 0
        and step.achieved_share >= criteria.min_achieved_share
        and step.throttle_share <= criteria.max_throttle_share
    )


def classify(step: StepResult, *, concurrency: int, criteria: Criteria | None = None) -> Limit:
    """What held `step` back, from its own measurements.

    `none` when it held its target; else `table` when calls were throttled; else `client` when
    this process was CPU-bound; else `concurrency` when the calls in flight (busy time over the
    window, Little's law) kept nearly every reader or sender busy, so that in-flight calls over
    their latency are the rate. A small shortfall none of these explains is the limiter's own
    pacing (`none`: nothing outside held it back); a larger one is this process's (`client`):
    the table never pushed back.
    """
    criteria = criteria or Criteria()
    if qualifies(step, criteria):
        return Limit.NONE
    if step.throttles > 0:
        return Limit.TABLE
    if step.cpu_share >= criteria.client_cpu_share:
        return Limit.CLIENT
    busy = max(step.reads_in_flight, step.sends_in_flight or 0.0)
    if busy >= criteria.busy_share * concurrency:
        return Limit.CONCURRENCY
    if step.error is None and step.achieved_share >= criteria.paced_share:
        return Limit.NONE
    return Limit.CLIENT


def _in_flight(calls_per_s: float, latency: Latency) -> float:
    """Little's law: calls in flight = arrival rate x time in the system (p99, for headroom)."""
    if latency.p99_ms is None:
        return 0.0
    return calls_per_s * latency.p99_ms / 1000.0


def _concurrency_for(step: StepResult, rate: float, criteria: Criteria) -> tuple[int, float]:
    """The concurrency `rate` needs by Little's law, from the calls `step` made, within the
    criteria's bounds; and the unbounded number of calls in flight."""
    rcu_per_call = step.rcu_per_call
    assert rcu_per_call is not None  # a step that ran made calls
    needed = _in_flight(rate / rcu_per_call if rcu_per_call > 0 else 0.0, step.read_latency)
    if step.send_latency is not None and step.send_window_s:
        # Sends scale with the items read: the same share of the rate as the reads.
        send_calls_per_s = step.send_latency.calls / step.send_window_s
        scale = rate / step.achieved_rcu_per_s if step.achieved_rcu_per_s > 0 else 1.0
        needed = max(needed, _in_flight(send_calls_per_s * scale, step.send_latency))
    bounded = min(criteria.max_concurrency, max(criteria.min_concurrency, math.ceil(needed)))
    return bounded, needed


def burst_caveats(
    steps: Sequence[StepResult], *, provisioned_rcu: int, criteria: Criteria | None = None
) -> tuple[str, ...]:
    """A warning for each step that held above the provisioned capacity for less time than the
    table's burst capacity could have carried it: such a step proves nothing about the table.

    DynamoDB keeps up to BURST_SECONDS of unused provisioned capacity: a table idle for that
    long serves `provisioned x BURST_SECONDS` RCU above its capacity before it throttles; at
    `achieved` RCU/s that lasts `BURST_SECONDS x provisioned / (achieved - provisioned)`.
    """
    criteria = criteria or Criteria()
    if provisioned_rcu <= 0:
        return ()
    caveats: list[str] = []
    for step in steps:
        over = step.achieved_rcu_per_s - provisioned_rcu
        if over <= 0 or not qualifies(step, criteria):
            continue
        lasts_s = BURST_SECONDS * provisioned_rcu / over
        if step.window_s < lasts_s:
            caveats.append(
                f"the {step.percent:g}% step held {step.achieved_rcu_per_s:.0f} RCU/s, above the "
                f"{provisioned_rcu} provisioned RCU, for {step.window_s:.0f} s: DynamoDB banks up "
                f"to {BURST_SECONDS:.0f} s of unused capacity as burst, which lasts up to "
                f"{lasts_s:.0f} s at that rate, so the table may not keep it (measure past the "
                f"burst with --step-seconds {math.ceil(lasts_s) + 1}, or trust only the steps at "
                "or below the provisioned capacity)"
            )
    return tuple(caveats)


def recommend(
    steps: Sequence[StepResult],
    criteria: Criteria | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    provisioned_rcu: int = 0,
) -> Recommendation:
    """A --rate and a --concurrency for `copy`, from what limited the steps (`classify`).

    - the table throttled (any step): `rate_share` of the highest step that held;
    - the highest step held: its target (the table took all of it; a higher --rate goes further);
    - this process was the limit (`client`, `concurrency`): what it achieved, and say so.
    Never below what a step achieved with no throttling (the step the rate is a share of keeps
    its headroom). The concurrency follows by Little's law from the calls of the step it
    builds on.
    """
    criteria = criteria or Criteria()
    ran = [step for step in steps if step.error is None and step.read_calls > 0]
    if not ran:
        return Recommendation(
            rate_rcu_per_s=None,
            concurrency=None,
            based_on_percent=None,
            reason="no step completed a read; see the errors above",
        )
    # Any throttle, even one a step that held tolerated, is the table pushing back.
    pushed_back = [step for step in ran if step.throttles]
    unthrottled = [step for step in ran if step.throttles == 0]
    top = max(ran, key=lambda step: step.target_rcu_per_s)
    top_limit = classify(top, concurrency=concurrency, criteria=criteria)
    caveats = burst_caveats(ran, provisioned_rcu=provisioned_rcu, criteria=criteria)
    based: StepResult
    if pushed_back:
        limit = Limit.TABLE
        held = [step for step in ran if qualifies(step, criteria)]
        best = max(held, key=lambda step: step.target_rcu_per_s, default=None)
        floor = max(
            (step for step in unthrottled if step is not best),
            key=lambda step: step.achieved_rcu_per_s,
            default=None,
        )
        throttled = min(pushed_back, key=lambda step: step.target_rcu_per_s)
        pushed = (
            f"the table throttled from the {throttled.percent:g}% step "
            f"({throttled.target_rcu_per_s:g} RCU/s: {throttled.achieved_rcu_per_s:.0f} "
            f"achieved, {throttled.throttles} throttled)"
        )
        if is_key_range_only(tuple(throttled.throttle_reasons)):
            pushed += (
                ", by a hot key range: one partition's limit, not the table's capacity, so "
                "spreading the keys (or more --segments) may go further"
            )
        if best is None and floor is None:
            return Recommendation(
                rate_rcu_per_s=None,
                concurrency=None,
                based_on_percent=None,
                limit=limit,
                caveats=caveats,
                reason=(
                    f"{pushed}, and no step reached {criteria.min_achieved_share:.0%} of its "
                    f"target with at most {criteria.max_throttle_share:.0%} of reads throttled; "
                    "try lower --steps or --rate"
                ),
            )
        if best is not None and (
            floor is None or criteria.rate_share * best.target_rcu_per_s >= floor.achieved_rcu_per_s
        ):
            based, rate = best, criteria.rate_share * best.target_rcu_per_s
            reason = (
                f"{pushed}; {criteria.rate_share:.0%} of the {best.percent:g}% step "
                f"({best.target_rcu_per_s:g} RCU/s, the highest that held: "
                f"{best.achieved_share:.0%} achieved, {best.throttles} throttled)"
            )
        else:
            assert floor is not None
            based, rate = floor, float(math.ceil(floor.achieved_rcu_per_s))
            reason = (
                f"{pushed}; the {floor.percent:g}% step read {floor.achieved_rcu_per_s:.0f} "
                "RCU/s with no throttling"
            )
    elif top_limit is Limit.NONE:
        limit = Limit.NONE
        if qualifies(top, criteria):
            based, rate = top, top.target_rcu_per_s
        else:  # paced a little short of its target: never below what a step read
            based = max(unthrottled, key=lambda step: step.achieved_rcu_per_s)
            rate = float(math.ceil(based.achieved_rcu_per_s))
        reason = (
            f"the table took all of the {top.percent:g}% step ({top.target_rcu_per_s:g} RCU/s: "
            f"{top.achieved_share:.0%} achieved) without throttling: give a higher --rate to "
            "find where it pushes back"
        )
    else:
        limit = top_limit
        # The top step was not throttled (else the table limited it): unthrottled is not empty.
        based = max(unthrottled, key=lambda step: step.achieved_rcu_per_s)
        rate = float(math.ceil(based.achieved_rcu_per_s))
        busy = max(top.reads_in_flight, top.sends_in_flight or 0.0)
        if limit is Limit.CONCURRENCY:
            why = f"{busy:.1f} calls in flight of --concurrency {concurrency}"
        elif top.cpu_share >= criteria.client_cpu_share:
            why = f"CPU-bound at {top.cpu_share:.0%} of a core"
        else:
            why = (
                f"nothing throttled, {top.cpu_share:.0%} of a core busy, {busy:.1f} calls in "
                f"flight of --concurrency {concurrency}"
            )
        reason = (
            f"this machine, not the table, was the limit at ~{based.achieved_rcu_per_s:.0f} "
            f"RCU/s ({why}, {top.percent:g}% step reached {top.achieved_share:.0%} of "
            f"{top.target_rcu_per_s:g} RCU/s); run more processes with --segment, or raise "
            "--concurrency"
        )
    bounded, needed = _concurrency_for(based, rate, criteria)
    return Recommendation(
        rate_rcu_per_s=rate,
        concurrency=bounded,
        based_on_percent=based.percent,
        limit=limit,
        caveats=caveats,
        reason=(
            f"{reason}; concurrency from {needed:.2f} calls in flight at p99 latency, within "
            f"{criteria.min_concurrency}..{criteria.max_concurrency}"
        ),
    )


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

    async def _sample_item_bytes(self, table: TableInfo) -> int | None:
        """The average size of the first items a Scan finds; None for an empty table."""
        context = ReadContext(
            client=self._ddb,
            limiter=UnlimitedLimiter(),
            backoff=Backoff(policy=self._config.retry),
            stats=Stats(),
        )
        reply, _ = await context.call(
            "Scan",
            partial(
                self._ddb.scan,
                TableName=table.name,
                Limit=_SAMPLE_ITEMS,
                ReturnConsumedCapacity="TOTAL",
            ),
            reserve_rcu=0.0,
            cost_rcu=lambda r: reported_rcu(r, table.name) or 0.0,
        )
        self._ddb.take()
        items = reply.get("Items", [])
        if not items:
            return None
        return max(1, sum(item_size_bytes(item) for item in items) // len(items))

    async def _prepare(self, stack: contextlib.ExitStack) -> _Plan:
        config = self._config
        table = await describe_table(self._control, table=config.table, region=config.source.region)
        base, description = resolve_base_rate(config.rate, table)
        sampled = await self._sample_item_bytes(table)
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
            with steady_gc():  # as `copy` runs: the collector tuned the same way
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
    session, *queue_sessions = await open_sessions(config.source, *queue_targets)
    pool = client_config(concurrency=config.concurrency)
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
