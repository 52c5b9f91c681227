"""Bounded full-jitter exponential backoff, and which AWS errors are worth another attempt.

Full jitter (a uniform delay in [0, min(cap, base x 2^attempt)]) spreads retries of many
concurrent callers apart, as the AWS Architecture Blog's "Exponential Backoff and Jitter" shows.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

import anyio
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

THROTTLING_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
    }
)
TRANSIENT_CODES: Final = frozenset(
    {
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMS.ThrottlingException",
    }
)


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    # Attempts in all, the first included; the AWS SDKs retry DynamoDB calls up to 10 times.
    max_attempts: int = 10
    base_delay_s: float = 0.05
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts={self.max_attempts} must be at least 1")


@dataclass(kw_only=True, slots=True)
class Backoff:
    """Delays between attempts; `sleep` and `rng` are injected so tests never wait."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = anyio.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay_s(self, retry: int) -> float:
        """The delay before retry number `retry` (0 for the first retry)."""
        ceiling = min(self.policy.max_delay_s, self.policy.base_delay_s * 2**retry)
        return self.rng.uniform(0, ceiling)

    async def wait(self, retry: int) -> None:
        await self.sleep(self.delay_s(retry))


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def is_connection_error(exc: BaseException) -> bool:
    """A connection refused, dropped or timed out that botocore's own retries gave up on.

    Such a call may or may not have been applied: retrying it is safe for reads and for
    SendMessageBatch (at worst a message arrives twice, which the consumer's writes absorb).
    """
    return isinstance(exc, BotoConnectionError | HTTPClientError)


def is_throttling(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in THROTTLING_CODES


def throttling_reasons(exc: BaseException) -> tuple[str, ...]:
    """The `reason` of each of DynamoDB's ThrottlingReasons in a throttling error, e.g.
    TableReadProvisionedThroughputExceeded, TableReadKeyRangeThroughputExceeded or
    TableReadMaxOnDemandThroughputExceeded; () where the service gives none."""
    if not isinstance(exc, ClientError):
        return ()
    entries = exc.response.get("ThrottlingReasons")
    if not isinstance(entries, list):
        return ()
    return tuple(
        str(entry["reason"]) for entry in entries if isinstance(entry, dict) and "reason" in entry
    )


def is_key_range_only(reasons: Sequence[str]) -> bool:
    """Every reason is a hot key range (a partition's own limit), none the whole table's."""
    return bool(reasons) and all(
        reason.endswith("KeyRangeThroughputExceeded") for reason in reasons
    )


def is_retryable(exc: BaseException) -> bool:
    """Throttling, the service's own faults and lost connections; never a fault in the request."""
    if is_connection_error(exc):
        return True
    if not isinstance(exc, ClientError):
        return False
    code = error_code(exc)
    if code in THROTTLING_CODES or code in TRANSIENT_CODES:
        return True
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return isinstance(status, int) and status >= 500


async def call_with_retries(call: Callable[[], Awaitable[T]], *, backoff: Backoff) -> T:
    """`call()`, tried again after a jittered delay while it fails with a retryable error.

    For the calls made once per run (DescribeTable, GetQueueAttributes): the clients make one
    attempt each (aws.client_config), so that throttling reaches asynccopy's own accounting.
    """
    attempts = backoff.policy.max_attempts
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as exc:
            if not is_retryable(exc) or attempt + 1 == attempts:
                raise
            await backoff.wait(attempt)
    raise AssertionError("unreachable: the loop returns or raises")
