"""The read-capacity budget: a token bucket charged with the RCU each call really consumed.

A call's cost is known only after it returns, so a reader first *reserves* an estimate
(`acquire`), then `settle`s the difference once the service reports the capacity it consumed.
The bucket may go negative: that debt is what the next reader waits for. Reserving before
waiting also queues concurrent readers fairly, first come first served.

The bucket starts empty and holds at most `burst_s` (<= 1 s; 0.05 s by default) worth of
tokens, so over any window the RCU consumed stays within rate x window + the burst + one call:
`rcu_per_s` of a run equals the target, and with calls sized to a twentieth of a second's budget
(read/factory.py) no second goes more than about 10% above it.

On throttling the effective rate drops multiplicatively and climbs back additively (AIMD),
never above the target. The drop aims just under the rate the table served since the last drop
(a throttled table serves its capacity, so that is the best estimate of it), within a quarter and
nine tenths of the current rate; the climb adds a share of the rate the last drop started from
per second. Both scale with the table, not with `--rate`: a rate set far above the table's
capacity settles near that capacity within a few seconds instead of swinging between the target
and half of the capacity (a halving AIMD averages about three quarters of it).

Why not aiolimiter: its `AsyncLimiter` cannot change its rate (AIMD), cannot carry debt or take
a refund when a call cost less than reserved, raises when one acquisition exceeds its burst,
and reads the event loop's clock, which a test cannot replace. This class is the one wrapper
the design asks for, with the clock and sleep injected so unit tests never sleep.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import anyio

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True, slots=True)
class LimiterConfig:
    target_rcu_per_s: float
    burst_s: float = 0.05  # tokens the bucket holds at most, in seconds of the current rate
    # Multiplicative decrease on throttling when the served rate is not known yet (a window
    # shorter than served_window_min_s).
    decrease_factor: float = 0.5
    served_fraction: float = 0.9  # otherwise: this share of the rate the table served...
    deepest_decrease_factor: float = 0.25  # ...but one decrease cuts at most to this share
    shallowest_decrease_factor: float = 0.9  # ...and at least to this one
    served_window_min_s: float = 0.25
    # Of the rate the last decrease started from, added back per second of successful calls:
    # per second, not per call, so that many small concurrent calls do not climb straight back
    # into throttling.
    increase_fraction_per_s: float = 0.1
    floor_fraction: float = 0.02  # the rate never drops below this share of the target
    decrease_interval_s: float = 1.0  # one burst of throttles counts as one decrease

    def __post_init__(self) -> None:
        if self.target_rcu_per_s <= 0:
            raise ValueError(f"target_rcu_per_s={self.target_rcu_per_s} must be positive")
        if not 0 < self.burst_s <= 1:
            raise ValueError(f"burst_s={self.burst_s} must be in (0, 1]: at most a second's worth")
        for name in ("decrease_factor", "deepest_decrease_factor", "shallowest_decrease_factor"):
            factor = getattr(self, name)
            if not 0 < factor < 1:
                raise ValueError(f"{name}={factor} must be in (0, 1)")
        if self.deepest_decrease_factor > self.shallowest_decrease_factor:
            raise ValueError(
                f"deepest_decrease_factor={self.deepest_decrease_factor} must not exceed"
                f" shallowest_decrease_factor={self.shallowest_decrease_factor}"
            )


class Limiter(Protocol):
    """What readers need from a read-capacity budget."""

    @property
    def target_rcu_per_s(self) -> float | None: ...

    @property
    def effective_rcu_per_s(self) -> float | None: ...

    async def acquire(self, rcu: float) -> None: ...

    def settle(self, *, reserved_rcu: float, consumed_rcu: float) -> None: ...

    def on_throttle(self) -> None: ...

    def on_success(self) -> None: ...


class ReadCapacityLimiter:
    """A token bucket in RCU with debt, refunds and AIMD; see the module docstring."""

    def __init__(
        self, config: LimiterConfig, *, clock: Clock = time.monotonic, sleep: Sleep = anyio.sleep
    ) -> None:
        self._config = config
        self._clock = clock
        self._sleep = sleep
        self._rate = config.target_rcu_per_s
        self._tokens = 0.0  # starts empty: no initial burst above the target
        self._last: float | None = None
        self._last_decrease: float | None = None
        self._last_increase: float | None = None
        self._climb_from = config.target_rcu_per_s  # the rate the last decrease started from
        # RCU consumed since the window started (the first call, then each decrease).
        self._window_start: float | None = None
        self._window_rcu = 0.0

    @property
    def target_rcu_per_s(self) -> float:
        return self._config.target_rcu_per_s

    @property
    def effective_rcu_per_s(self) -> float:
        return self._rate

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def _capacity(self) -> float:
        return self._rate * self._config.burst_s

    def _refill(self) -> None:
        now = self._clock()
        if self._last is not None and self._tokens < self._capacity():
            # Idle time fills the bucket up to its burst; a refund above it (settle) stays.
            self._tokens = min(self._capacity(), self._tokens + (now - self._last) * self._rate)
        self._last = now

    async def acquire(self, rcu: float) -> None:
        """Reserve `rcu` (any amount, even more than a burst) and wait until it is covered."""
        if rcu < 0:
            raise ValueError(f"cannot acquire a negative amount ({rcu} RCU)")
        self._refill()
        if self._window_start is None:
            self._window_start = self._last
        self._tokens -= rcu
        if self._tokens < 0:
            await self._sleep(-self._tokens / self._rate)

    def settle(self, *, reserved_rcu: float, consumed_rcu: float) -> None:
        """Charge what a call cost beyond its reservation, or refund what it did not use."""
        self._refill()
        self._window_rcu += consumed_rcu
        # A refund may lift the bucket above its burst by at most that call's reservation: the
        # tokens were waited for and not used, so taking them again keeps the run's average.
        cap = self._capacity() + reserved_rcu
        self._tokens = min(cap, self._tokens + reserved_rcu - consumed_rcu)

    def on_throttle(self) -> None:
        now = self._clock()
        if (
            self._last_decrease is not None
            and now - self._last_decrease < self._config.decrease_interval_s
        ):
            return
        self._refill()
        config = self._config
        lowered = self._rate * config.decrease_factor
        served = self._served_rcu_per_s(now)
        if served is not None:
            lowered = min(
                self._rate * config.shallowest_decrease_factor,
                max(self._rate * config.deepest_decrease_factor, served * config.served_fraction),
            )
        self._climb_from = self._rate
        self._rate = max(config.target_rcu_per_s * config.floor_fraction, lowered)
        self._tokens = min(self._tokens, self._capacity())
        self._last_decrease = now
        self._last_increase = now  # the climb back starts from here
        self._window_start, self._window_rcu = now, 0.0

    def _served_rcu_per_s(self, now: float) -> float | None:
        if self._window_start is None:
            return None
        elapsed = now - self._window_start
        if elapsed < self._config.served_window_min_s:
            return None
        return self._window_rcu / elapsed

    def on_success(self) -> None:
        if self._rate >= self._config.target_rcu_per_s:
            return
        now = self._clock()
        since = self._last_increase if self._last_increase is not None else now
        self._last_increase = now
        self._refill()
        step = self._climb_from * self._config.increase_fraction_per_s
        self._rate = min(self._config.target_rcu_per_s, self._rate + step * min(1.0, now - since))


class UnlimitedLimiter:
    """`--rate max`: no budget; throttling is still handled by the retry backoff."""

    @property
    def target_rcu_per_s(self) -> None:
        return None

    @property
    def effective_rcu_per_s(self) -> None:
        return None

    async def acquire(self, rcu: float) -> None:
        del rcu

    def settle(self, *, reserved_rcu: float, consumed_rcu: float) -> None:
        del reserved_rcu, consumed_rcu

    def on_throttle(self) -> None:
        pass

    def on_success(self) -> None:
        pass


def make_limiter(
    rcu_per_s: float | None, *, clock: Clock = time.monotonic, sleep: Sleep = anyio.sleep
) -> Limiter:
    if rcu_per_s is None:
        return UnlimitedLimiter()
    return ReadCapacityLimiter(LimiterConfig(target_rcu_per_s=rcu_per_s), clock=clock, sleep=sleep)
