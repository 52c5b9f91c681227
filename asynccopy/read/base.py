"""What every source shares: the page it yields and the metered, retried call to DynamoDB."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from asynccopy.copy.stats import FailedKey, Stats
from asynccopy.errors import ReadError
from asynccopy.read.limiter import Limiter
from asynccopy.retry import (
    Backoff,
    error_code,
    is_key_range_only,
    is_retryable,
    is_throttling,
    throttling_reasons,
)
from consumer.wire import Item


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyChunkPosition:
    """Lines `first_line`..`last_line` of the key file (1-based, inclusive) were read."""

    first_line: int
    last_line: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ScanPosition:
    """A Scan segment (or a Query, segment 0 of 1) read up to `last_evaluated_key`.

    None as the key means the segment is complete.
    """

    segment: int
    total_segments: int
    last_evaluated_key: Mapping[str, Any] | None


PagePosition = KeyChunkPosition | ScanPosition


@dataclass(frozen=True, kw_only=True, slots=True)
class Page:
    items: list[Item]
    position: PagePosition
    missing: list[Item] = field(default_factory=list)  # keys not found in the table
    failed: list[FailedKey] = field(default_factory=list)  # keys that could not be read


U = TypeVar("U")


class Source(Protocol[U]):
    """Units of work (key chunks, segments) and the pages each yields."""

    def units(self) -> AsyncGenerator[U, None]: ...

    def pages(self, unit: U) -> AsyncGenerator[Page, None]: ...


class CostEstimator:
    """RCU per read unit (a key, or a page) from what calls really cost, for reservations."""

    def __init__(self, *, initial_rcu: float) -> None:
        self._rcu = 0.0
        self._count = 0
        self._initial = initial_rcu

    def per_unit(self) -> float:
        return self._rcu / self._count if self._count else self._initial

    def observe(self, *, units: int, rcu: float) -> None:
        self._count += units
        self._rcu += rcu


@dataclass(kw_only=True, slots=True)
class ReadContext:
    """The client and the budget every read shares."""

    client: Any  # an aiobotocore DynamoDB client
    limiter: Limiter
    backoff: Backoff
    stats: Stats

    async def call(
        self,
        operation: str,
        call: Callable[[], Awaitable[dict[str, Any]]],
        *,
        reserve_rcu: float,
        cost_rcu: Callable[[dict[str, Any]], float],
    ) -> tuple[dict[str, Any], float]:
        """The reply of `call` and the RCU it consumed, retrying throttling and service faults.

        Raises ReadError once the attempts are spent, or at once for an error in the request.
        """
        attempts = self.backoff.policy.max_attempts
        for attempt in range(attempts):
            await self.limiter.acquire(reserve_rcu)
            try:
                reply = await call()
            except Exception as exc:
                self.limiter.settle(reserved_rcu=reserve_rcu, consumed_rcu=0.0)
                if is_throttling(exc):
                    reasons = throttling_reasons(exc)
                    self.stats.record_throttle(reasons)
                    # A hot key range throttles the calls that reach it, not the table: this
                    # call's backoff slows them, and the table-wide rate stays where it is.
                    if not is_key_range_only(reasons):
                        self.limiter.on_throttle()
                if not is_retryable(exc) or attempt + 1 == attempts:
                    raise ReadError(
                        operation=operation, code=error_code(exc), attempts=attempt + 1
                    ) from exc
                self.stats.retries += 1
                await self.backoff.wait(attempt)
                continue
            consumed = cost_rcu(reply)
            self.limiter.settle(reserved_rcu=reserve_rcu, consumed_rcu=consumed)
            self.stats.rcu_consumed += consumed
            self.stats.read_calls += 1
            return reply, consumed
        raise AssertionError("unreachable: the loop returns or raises")


def reported_rcu(reply: Mapping[str, Any], table: str) -> float | None:
    """The capacity a reply reports for `table`, or None where the service reports none."""
    consumed = reply.get("ConsumedCapacity")
    if consumed is None:
        return None
    entries = consumed if isinstance(consumed, list) else [consumed]
    units = [
        entry["CapacityUnits"]
        for entry in entries
        if entry.get("TableName", table) == table and "CapacityUnits" in entry
    ]
    return sum(units, 0.0) if units else None
