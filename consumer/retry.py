"""The one retry policy: which AWS errors are worth another attempt, and how long to wait.

Used by both sides: the consumer's writers and dead-letter sends (bounded by the invocation's
deadline), and the producer's reads, sends and start-up calls, the fast engine's included
(bounded by attempts; asynccopy.retry binds the async sleep). It lives in the consumer package
because the Lambda ships that package alone (standard library + botocore only).

    is_retryable(exc)       throttling, the service's own faults (a code below, or any 5xx),
                            a lost connection or a damaged response; never a fault in the request
    is_throttling(exc)      the throttling part, which the producer's read limiter also counts
    Backoff(sleep=...)      full jitter: random() x min(max_delay_s, base_delay_s x 2^retry)
    Deadline                the invocation's end, on an injected clock

Sources of the table: "Error handling with DynamoDB" (DynamoDB developer guide: the errors
marked "OK to retry? Yes"), the SQS API reference's "Common Errors" and the SendMessage /
SendMessageBatch errors, and the AWS SDKs' "Retry behavior" reference (the throttling and
transient codes and statuses the SDKs' standard mode retries, which botocore's standard mode
implements). Full jitter is the AWS Architecture Blog's "Exponential Backoff And Jitter", as
"Error retries and exponential backoff in AWS" recommends: it spreads apart the retries of
many concurrent callers.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

if TYPE_CHECKING:
    from consumer.contract import LambdaContext

# Throttling: the SDKs' standard-mode throttling codes, which include DynamoDB's
# (ProvisionedThroughputExceededException, RequestLimitExceeded, ThrottlingException) and SQS's
# (RequestThrottled, ThrottlingException); SQS's KMS throttles on an encrypted queue
# (KmsThrottled, KMS.ThrottlingException) and the Query protocol's
# AWS.SimpleQueueService.RequestThrottled.
THROTTLING_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
        "TransactionInProgressException",
        "PriorRequestNotComplete",
        "KmsThrottled",
        "KMS.ThrottlingException",
    }
)
# The service's own, passing faults: DynamoDB's InternalServerError and ServiceUnavailable,
# SQS's InternalFailure / InternalError and ServiceUnavailable, the SDKs' transient timeouts,
# and DynamoDB's TransactionConflictException (another transaction holds the item: "OK to retry").
TRANSIENT_CODES: Final = frozenset(
    {
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionConflictException",
    }
)
# A connection refused, dropped or timed out, or a response damaged on the way (the fast
# engine's DamagedResponseError is an HTTPClientError). The call may or may not have been
# applied: retrying is safe for reads, for SendMessageBatch (at worst a message arrives twice)
# and for puts (writing the same item again is harmless).
LOST_CONNECTION_ERRORS: Final = (BotoConnectionError, HTTPClientError)


def error_code(exc: BaseException) -> str:
    """The service's error code, or the exception's type for an error that has none."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, LOST_CONNECTION_ERRORS)


def is_throttling(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in THROTTLING_CODES


def is_retryable(exc: BaseException) -> bool:
    """Throttling, the service's own faults and lost connections; never a fault in the request."""
    if is_connection_error(exc):
        return True
    if not isinstance(exc, ClientError):
        return False
    code = error_code(exc)
    if code in THROTTLING_CODES or code in TRANSIENT_CODES:
        return True
    # A 5xx is the service's fault whatever its code (the SDKs retry 500, 502, 503 and 504).
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return isinstance(status, int) and status >= 500


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


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How many attempts, and the bounds of the delay between them.

    `max_attempts` counts the first attempt; the consumer's writers ignore it, since the
    invocation's deadline bounds them instead.
    """

    # The AWS SDKs retry DynamoDB calls up to 10 times.
    max_attempts: int = 10
    base_delay_s: float = 0.05
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts={self.max_attempts} must be at least 1")

    def cap_s(self, retry: int) -> float:
        """The longest delay before retry number `retry` (0 for the first retry)."""
        growth: float = 2.0 ** min(retry, 30)  # past 2^30 every cap is max_delay_s anyway
        return min(self.max_delay_s, self.base_delay_s * growth)


# The consumer's writes: short waits, since the invocation's deadline is close.
WRITER_POLICY: Final = RetryPolicy(base_delay_s=0.05, max_delay_s=2.0)

SleepResult = TypeVar("SleepResult")


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
class Backoff(Generic[SleepResult]):
    """Full-jitter delays between attempts. `sleep` and `random` are injected so tests never
    wait: time.sleep in the consumer, an async sleep in the producer (asynccopy.retry)."""

    sleep: Callable[[float], SleepResult]
    policy: RetryPolicy = RetryPolicy()
    random: Callable[[], float] = _random.random

    def delay_s(self, retry: int) -> float:
        """The delay before retry number `retry` (0 for the first retry)."""
        return self.random() * self.policy.cap_s(retry)

    def wait(self, retry: int) -> SleepResult:
        return self.sleep(self.delay_s(retry))

    def wait_within(self: Backoff[None], retry: int, deadline: Deadline) -> bool:
        """Sleep before retry number `retry`; False (without sleeping) if past `deadline`."""
        delay_s = self.delay_s(retry)
        if delay_s >= deadline.remaining_s():
            return False
        self.sleep(delay_s)
        return True


def writer_backoff(
    *, sleep: Callable[[float], None] = time.sleep, random: Callable[[], float] = _random.random
) -> Backoff[None]:
    """The consumer's backoff: WRITER_POLICY, blocking sleeps (the handler is synchronous)."""
    return Backoff(sleep=sleep, policy=WRITER_POLICY, random=random)
