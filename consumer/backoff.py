"""Jittered exponential backoff that never sleeps past the invocation's deadline.

"Error retries and exponential backoff in AWS" recommends full jitter: sleep a random time
between zero and an exponentially growing cap.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from consumer.contract import LambdaContext

# A connection refused, dropped or timed out that botocore's own retries gave up on. The call
# may or may not have been applied; writing the same item again is harmless, so the writers
# retry these like throttling, until the deadline.
LOST_CONNECTION_ERRORS: Final = (BotoConnectionError, HTTPClientError)


@dataclass(frozen=True, kw_only=True, slots=True)
class BackoffPolicy:
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0

    def cap_s(self, attempt: int) -> float:
        """The longest sleep before retry number `attempt + 1` (attempt counts from 0)."""
        growth: float = 2.0 ** min(attempt, 30)
        return min(self.max_delay_s, self.base_delay_s * growth)


@dataclass(frozen=True, kw_only=True, slots=True)
class Deadline:
    at_s: float  # on the `clock` scale
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_context(
        cls,
        context: LambdaContext,
        *,
        safety_margin_ms: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        remaining_ms = max(0, context.get_remaining_time_in_millis() - safety_margin_ms)
        return cls(at_s=clock() + remaining_ms / 1000, clock=clock)

    def remaining_s(self) -> float:
        return self.at_s - self.clock()


@dataclass(frozen=True, kw_only=True, slots=True)
class Backoff:
    """Decides whether to retry, and sleeps first. Clock, sleep and randomness are injected."""

    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random

    def wait(self, attempt: int, deadline: Deadline) -> bool:
        """Sleep before retry number `attempt + 1`; False (without sleeping) if past `deadline`."""
        delay_s = self.random() * self.policy.cap_s(attempt)
        if delay_s >= deadline.remaining_s():
            return False
        self.sleep(delay_s)
        return True
