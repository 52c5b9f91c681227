"""The read-capacity token bucket with a fake clock: no test here sleeps."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError

from asynccopy.copy.stats import Stats
from asynccopy.engine.transport import client_error
from asynccopy.read.base import ReadContext
from asynccopy.read.limiter import (
    LimiterConfig,
    ReadCapacityLimiter,
    UnlimitedLimiter,
    make_limiter,
)
from asynccopy.retry import Backoff, is_throttling, throttling_reasons


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(rate: float = 100.0, **kwargs: float) -> tuple[ReadCapacityLimiter, FakeClock]:
    clock = FakeClock()
    config = LimiterConfig(target_rcu_per_s=rate, **kwargs)
    return ReadCapacityLimiter(config, clock=clock, sleep=clock.sleep), clock


def run(coro_fn: object) -> None:
    anyio.run(coro_fn)  # type: ignore[arg-type]


def test_starts_empty_so_the_first_call_waits() -> None:
    bucket, clock = limiter(100)

    async def main() -> None:
        await bucket.acquire(50)

    run(main)
    assert clock.slept == [pytest.approx(0.5)]


def test_average_rate_is_exact_over_a_run() -> None:
    bucket, clock = limiter(100)
    start = clock.now

    async def main() -> None:
        for _ in range(20):
            await bucket.acquire(50)

    run(main)
    assert clock.now - start == pytest.approx(10.0)  # 1,000 RCU at 100 RCU/s


def test_default_burst_is_a_twentieth_of_a_second() -> None:
    bucket, clock = limiter(100)

    async def main() -> None:
        await bucket.acquire(0)
        clock.now += 60
        assert bucket.tokens == pytest.approx(5)

    run(main)


def test_burst_is_at_most_one_second_of_rate() -> None:
    bucket, clock = limiter(100, burst_s=1.0)

    async def main() -> None:
        await bucket.acquire(0)  # start the clock
        clock.now += 60  # idle for a minute
        assert bucket.tokens == pytest.approx(100)  # capped at one second's worth
        await bucket.acquire(100)
        assert clock.slept == []
        await bucket.acquire(50)

    run(main)
    assert clock.slept == [pytest.approx(0.5)]


def test_burst_can_be_shorter_but_not_longer_than_a_second() -> None:
    bucket, clock = limiter(100, burst_s=0.5)

    async def main() -> None:
        await bucket.acquire(0)
        clock.now += 10
        assert bucket.tokens == pytest.approx(50)

    run(main)
    with pytest.raises(ValueError, match="at most a second"):
        LimiterConfig(target_rcu_per_s=100, burst_s=2)


def test_more_than_a_burst_at_once_waits_instead_of_raising() -> None:
    bucket, clock = limiter(10)

    async def main() -> None:
        await bucket.acquire(50)  # aiolimiter would raise here: 50 > max_rate

    run(main)
    assert clock.slept == [pytest.approx(5.0)]


def test_debt_is_charged_to_the_next_reader() -> None:
    bucket, clock = limiter(100)

    async def main() -> None:
        await bucket.acquire(10)  # waits 0.1 s
        bucket.settle(reserved_rcu=10, consumed_rcu=60)  # the call cost 50 more
        await bucket.acquire(10)  # 50 debt + 10 = 0.6 s

    run(main)
    assert clock.slept == [pytest.approx(0.1), pytest.approx(0.6)]


def test_refund_when_a_call_cost_less() -> None:
    bucket, clock = limiter(100)

    async def main() -> None:
        await bucket.acquire(50)
        bucket.settle(reserved_rcu=50, consumed_rcu=10)
        await bucket.acquire(40)

    run(main)
    assert clock.slept == [pytest.approx(0.5)]


def test_throttling_halves_the_rate_and_success_climbs_back_additively() -> None:
    # No call has been served yet: nothing is known of the table, so the rate halves.
    bucket, clock = limiter(100)
    bucket.on_throttle()
    assert bucket.effective_rcu_per_s == pytest.approx(50)
    bucket.on_throttle()  # the same burst of throttles: one decrease
    assert bucket.effective_rcu_per_s == pytest.approx(50)
    bucket.on_success()
    assert bucket.effective_rcu_per_s == pytest.approx(50)  # no time has passed yet
    clock.now += 0.5
    bucket.on_success()
    # + 10% per second of the rate the last decrease started from (100)
    assert bucket.effective_rcu_per_s == pytest.approx(55)
    for _ in range(100):  # many calls within the same instant add nothing
        bucket.on_success()
    assert bucket.effective_rcu_per_s == pytest.approx(55)
    for _ in range(20):
        clock.now += 1.0
        bucket.on_success()
    assert bucket.effective_rcu_per_s == pytest.approx(100)  # never above the target
    assert bucket.target_rcu_per_s == 100


def serve(bucket: ReadCapacityLimiter, clock: FakeClock, *, rcu_per_s: float, for_s: float) -> None:
    """Calls of 1 RCU, each settled at its cost, as a table serving `rcu_per_s` would allow."""

    async def main() -> None:
        served = 0.0
        start = clock.now
        while clock.now - start < for_s:
            await bucket.acquire(1.0)
            bucket.settle(reserved_rcu=1.0, consumed_rcu=1.0)
            served += 1.0
            # The table is the bottleneck: the next call starts when it has capacity again.
            clock.now = max(clock.now, start + served / rcu_per_s)

    run(main)


def test_a_rate_far_above_the_table_drops_to_just_under_what_the_table_served() -> None:
    bucket, clock = limiter(500)
    serve(bucket, clock, rcu_per_s=100, for_s=1.0)
    bucket.on_throttle()
    assert bucket.effective_rcu_per_s == pytest.approx(125)  # one decrease: at most to 1/4
    serve(bucket, clock, rcu_per_s=100, for_s=1.0)
    bucket.on_throttle()
    assert bucket.effective_rcu_per_s == pytest.approx(90, rel=0.02)  # 90% of the served 100
    # From there it climbs by 10% of 125 per second, back into throttling, and drops again to
    # just under what was served: it stays near the table's capacity, not at half of it.
    serve(bucket, clock, rcu_per_s=100, for_s=1.0)
    bucket.on_success()
    assert bucket.effective_rcu_per_s == pytest.approx(90 + 0.1 * 125, rel=0.02)
    bucket.on_throttle()
    # 90% of what it served: its own rate held it under 100 for that second.
    assert 80 <= bucket.effective_rcu_per_s <= 90


def test_one_decrease_cuts_to_at_most_nine_tenths_and_at_least_a_quarter() -> None:
    bucket, clock = limiter(100)
    serve(bucket, clock, rcu_per_s=100, for_s=2.0)  # the table served all that was asked
    bucket.on_throttle()
    assert bucket.effective_rcu_per_s == pytest.approx(90)
    clock.now += 5.0  # nothing served since: cut at most to a quarter, the climb restores it
    bucket.on_throttle()
    assert bucket.effective_rcu_per_s == pytest.approx(22.5)


def test_the_rate_has_a_floor() -> None:
    bucket, clock = limiter(100)
    for _ in range(50):
        bucket.on_throttle()
        clock.now += 1.0
    assert bucket.effective_rcu_per_s == pytest.approx(2)


def test_a_lower_rate_makes_readers_wait_longer() -> None:
    bucket, clock = limiter(100)
    bucket.on_throttle()

    async def main() -> None:
        await bucket.acquire(50)

    run(main)
    assert clock.slept == [pytest.approx(1.0)]


def test_unlimited() -> None:
    assert isinstance(make_limiter(None), UnlimitedLimiter)
    unlimited = UnlimitedLimiter()

    async def main() -> None:
        await unlimited.acquire(10**9)

    run(main)
    assert unlimited.effective_rcu_per_s is None


# ---- throttling reasons ----------------------------------------------------------------------
class _CountingLimiter(UnlimitedLimiter):
    def __init__(self) -> None:
        self.decreases = 0

    def on_throttle(self) -> None:
        self.decreases += 1


def _throttled(*reasons: str) -> ClientError:
    response: Any = {
        "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
        "ThrottlingReasons": [
            {"reason": reason, "resource": "arn:aws:dynamodb:us-east-1:1:table/users"}
            for reason in reasons
        ],
    }
    return ClientError(response, "Scan")


async def _no_sleep(_seconds: float) -> None:
    pass


def _read_after(error: ClientError) -> tuple[Stats, int]:
    """One Scan that is throttled with `error` once, then served: the stats, and how many
    times the table-wide limiter was told to slow down."""
    attempts: list[int] = []

    async def scan() -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise error
        return {"Items": []}

    limiter = _CountingLimiter()
    context = ReadContext(
        client=None, limiter=limiter, backoff=Backoff(sleep=_no_sleep), stats=Stats()
    )
    anyio.run(partial(context.call, "Scan", scan, reserve_rcu=0.0, cost_rcu=lambda _r: 1.0))
    return context.stats, limiter.decreases


def test_throttling_reasons_are_counted_and_a_hot_key_range_spares_the_table_rate() -> None:
    stats, decreases = _read_after(_throttled("TableReadKeyRangeThroughputExceeded"))
    assert stats.throttles == 1
    assert stats.throttle_reasons == {"TableReadKeyRangeThroughputExceeded": 1}
    assert decreases == 0  # the call's own backoff slowed it; the table-wide rate stays
    stats, decreases = _read_after(_throttled("TableReadProvisionedThroughputExceeded"))
    assert stats.throttle_reasons == {"TableReadProvisionedThroughputExceeded": 1}
    assert decreases == 1
    mixed = _throttled(
        "TableReadKeyRangeThroughputExceeded", "TableReadMaxOnDemandThroughputExceeded"
    )
    assert _read_after(mixed)[1] == 1
    # No reasons (an older service, an emulator): a table-wide limit, as before.
    stats, decreases = _read_after(_throttled())
    assert (stats.throttles, stats.throttle_reasons, decreases) == (1, {}, 1)


def test_the_fast_engine_keeps_the_throttling_reasons() -> None:
    body = (
        b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
        b'"message":"slow down","ThrottlingReasons":[{"reason":'
        b'"TableReadKeyRangeThroughputExceeded","resource":"arn:aws:dynamodb:::table/t"}]}'
    )
    error = client_error(400, {}, body, "Scan")
    assert is_throttling(error)
    assert throttling_reasons(error) == ("TableReadKeyRangeThroughputExceeded",)
