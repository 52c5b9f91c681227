"""What a bench step measured, and the recommendation's record: plain data, no I/O.

In: the numbers a step's window counted. Out: StepResult, Latency, Recommendation (and the
Criteria and Limit that advice.py judges them by).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from asynccopy.config import MAX_CONCURRENCY


class Limit(StrEnum):
    """What held a step back (see `classify`)."""

    TABLE = "table"  # throttled calls
    CLIENT = "client"  # this process: CPU-bound, nothing throttled
    CONCURRENCY = "concurrency"  # every reader (or sender) busy on a call all the time
    NONE = "none"  # the step held its target


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
