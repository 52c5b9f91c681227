"""The producer's side of the one retry policy (consumer.retry): async sleeps, bounded attempts.

The table of retryable errors and the jittered backoff live in consumer.retry, which the Lambda
ships alone; this module binds them to the producer's event loop and adds the retry loop for the
calls made once per run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from consumer.retry import (
    THROTTLING_CODES,
    TRANSIENT_CODES,
    RetryPolicy,
    error_code,
    is_connection_error,
    is_key_range_only,
    is_retryable,
    is_throttling,
    throttling_reasons,
)
from consumer.retry import Backoff as _Backoff

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Backoff(_Backoff[Awaitable[None]]):
    """consumer.retry.Backoff, sleeping on the event loop unless a test injects `sleep`."""

    sleep: Sleep = anyio.sleep


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


__all__ = [
    "THROTTLING_CODES",
    "TRANSIENT_CODES",
    "Backoff",
    "RetryPolicy",
    "Sleep",
    "call_with_retries",
    "error_code",
    "is_connection_error",
    "is_key_range_only",
    "is_retryable",
    "is_throttling",
    "throttling_reasons",
]
