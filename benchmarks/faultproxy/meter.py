"""The capacity meter: a token bucket of capacity units per (kind, account, table).

In (units charged after each response, a clock) -> out (whether the table is in debt).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from benchmarks.faultproxy.capacity import CapacityKind

Clock = Callable[[], float]


class TokenBucket:
    """Capacity units refilled at `rate_per_s`, holding at most `rate_per_s * burst_s`.

    Starts full. `charge` may take it into debt; `exhausted` is true while nothing is left.
    """

    def __init__(self, *, rate_per_s: float, burst_s: float, clock: Clock) -> None:
        self._clock = clock
        self._rate_per_s = rate_per_s
        self._burst_s = burst_s
        self._tokens = rate_per_s * burst_s
        self._at = clock()

    @property
    def rate_per_s(self) -> float:
        return self._rate_per_s

    @property
    def burst_s(self) -> float:
        return self._burst_s

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        capacity = self._rate_per_s * self._burst_s
        self._tokens = min(capacity, self._tokens + (now - self._at) * self._rate_per_s)
        self._at = now

    def exhausted(self) -> bool:
        return self.tokens <= 0.0

    def charge(self, units: float) -> None:
        self._refill()
        self._tokens -= units

    def reconfigure(self, *, rate_per_s: float, burst_s: float) -> None:
        self._refill()
        self._rate_per_s = rate_per_s
        self._burst_s = burst_s
        self._tokens = min(self._tokens, rate_per_s * burst_s)


class Buckets:
    """The bucket of every limited table: made on first use, refitted when its rate changes,
    dropped when the table becomes unlimited. Thread-safe (reset comes from other threads)."""

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[CapacityKind, str, str], TokenBucket] = {}

    def get(
        self,
        kind: CapacityKind,
        account: str,
        table: str,
        *,
        rate_per_s: float | None,
        burst_s: float,
    ) -> TokenBucket | None:
        key = (kind, account, table)
        with self._lock:
            bucket = self._buckets.get(key)
            if rate_per_s is None:
                if bucket is not None:
                    del self._buckets[key]
                return None
            if bucket is None:
                bucket = TokenBucket(rate_per_s=rate_per_s, burst_s=burst_s, clock=self._clock)
                self._buckets[key] = bucket
            elif bucket.rate_per_s != rate_per_s or bucket.burst_s != burst_s:
                bucket.reconfigure(rate_per_s=rate_per_s, burst_s=burst_s)
            return bucket

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()
