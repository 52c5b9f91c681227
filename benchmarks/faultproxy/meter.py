"""The capacity meter: a token bucket of capacity units per (kind, account, table).

In (units charged after each response, a clock) -> out (whether the table is in debt).
"""

from __future__ import annotations

from collections.abc import Callable

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
