"""The one retry policy (consumer.retry): the table of retryable errors, the jittered backoff
and the deadline, as the producer, the fast engine, the consumer and the local runner use them.
Pure: injected sleeps, randomness and clocks; nothing waits."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from asynccopy import retry as producer_retry
from asynccopy.consume.runner import POLL_POLICY
from asynccopy.engine.transport import Crc32MismatchError, DamagedResponseError, EngineError
from consumer.retry import (
    WRITER_POLICY,
    Backoff,
    Deadline,
    RetryPolicy,
    error_code,
    is_retryable,
    is_throttling,
    writer_backoff,
)
from consumer.wire import encode_items
from tests.test_consumer_unit import FakeDynamo, FakeTime, batch_writer, event, item, run
from tests.test_consumer_unit import writer as consumer_writer


def _error(code: str, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Op")


# -- the table --------------------------------------------------------------------------------
# "Error handling with DynamoDB" and the SQS API reference's common and SendMessage errors.
DYNAMODB_THROTTLING = ["ProvisionedThroughputExceededException", "ThrottlingException"]
SQS_THROTTLING = [
    "RequestThrottled",
    "AWS.SimpleQueueService.RequestThrottled",
    "KmsThrottled",
    "KMS.ThrottlingException",
]
TRANSIENT = [
    ("InternalServerError", 500),
    ("ServiceUnavailable", 503),
    ("TransactionConflictException", 400),
    ("InternalFailure", 500),
    ("InternalError", 500),
    ("RequestTimeout", 400),
]
REQUEST_FAULTS = [
    "ValidationException",
    "ConditionalCheckFailedException",
    "ResourceNotFoundException",
    "AccessDeniedException",
    "ItemCollectionSizeLimitExceededException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "InvalidParameterValue",
]


@pytest.mark.parametrize("code", [*DYNAMODB_THROTTLING, "RequestLimitExceeded", *SQS_THROTTLING])
def test_throttling_is_retried_and_counted_as_throttling(code: str) -> None:
    assert is_throttling(_error(code))
    assert is_retryable(_error(code))


@pytest.mark.parametrize(("code", "status"), TRANSIENT)
def test_the_services_own_faults_are_retried_but_are_not_throttling(code: str, status: int) -> None:
    assert is_retryable(_error(code, status))
    assert not is_throttling(_error(code, status))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_any_5xx_is_retried_whatever_its_code(status: int) -> None:
    assert is_retryable(_error(str(status), status))
    assert is_retryable(_error("SomethingNew", status))


@pytest.mark.parametrize("code", REQUEST_FAULTS)
def test_a_fault_in_the_request_is_never_retried(code: str) -> None:
    assert not is_retryable(_error(code))
    assert not is_throttling(_error(code))


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="u"),
        ConnectTimeoutError(endpoint_url="u"),
        ReadTimeoutError(endpoint_url="u"),
        ConnectionClosedError(endpoint_url="u"),
        DamagedResponseError(endpoint_url="u", error="not JSON"),
        Crc32MismatchError(endpoint_url="u", error="expected 1"),
    ],
)
def test_lost_connections_and_damaged_responses_are_retried(exc: Exception) -> None:
    assert is_retryable(exc)
    assert not is_throttling(exc)


@pytest.mark.parametrize(
    "exc", [EngineError(operation="Scan", error="RuntimeError"), ValueError("bad url")]
)
def test_anything_else_is_not_retried(exc: Exception) -> None:
    assert not is_retryable(exc)
    assert error_code(exc) == type(exc).__name__


# What each of the four former tables retried (asynccopy/retry.py, consumer/errors.py,
# consumer/dead_letters.py, the fast engine's transport): all of it still is.
FORMER_TABLES = {
    "producer": {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMS.ThrottlingException",
    },
    "writers": {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    },
    "dead letters": {
        "RequestThrottled",
        "ThrottlingException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KmsThrottled",
    },
    "engine": {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
    },
}


@pytest.mark.parametrize("table", sorted(FORMER_TABLES))
def test_every_code_a_former_table_retried_is_still_retried(table: str) -> None:
    for code in sorted(FORMER_TABLES[table]):
        assert is_retryable(_error(code)), code


def test_the_producer_classifies_with_the_same_table() -> None:
    assert producer_retry.is_retryable is is_retryable
    assert producer_retry.is_throttling is is_throttling
    assert producer_retry.RetryPolicy is RetryPolicy
    assert isinstance(producer_retry.Backoff(), Backoff)


# -- the backoff ------------------------------------------------------------------------------
def test_the_producers_bounds_are_unchanged() -> None:
    # 10 attempts; full jitter up to min(5 s, 0.05 s x 2^retry).
    backoff = producer_retry.Backoff(random=lambda: 1.0)
    assert backoff.policy.max_attempts == 10
    assert [backoff.delay_s(r) for r in range(9)] == pytest.approx(
        [min(5.0, 0.05 * 2**r) for r in range(9)]
    )


def test_the_writers_bounds_are_unchanged_and_never_overflow() -> None:
    backoff = writer_backoff(random=lambda: 1.0)
    assert backoff.policy is WRITER_POLICY
    assert [backoff.delay_s(r) for r in range(8)] == pytest.approx(
        [min(2.0, 0.05 * 2**r) for r in range(8)]
    )
    assert backoff.delay_s(10_000) == 2.0


def test_the_runners_poll_bounds_are_unchanged() -> None:
    # Before: up to 0.25 s x 2^failures after each failure, giving up at the 6th in a row.
    backoff = Backoff(sleep=lambda _s: None, policy=POLL_POLICY, random=lambda: 1.0)
    assert POLL_POLICY.max_attempts == 6
    assert [backoff.delay_s(failures - 1) for failures in range(1, 6)] == pytest.approx(
        [0.25 * 2**failures for failures in range(1, 6)]
    )


def test_full_jitter_is_uniform_below_the_cap_as_before() -> None:
    # The producer used rng.uniform(0, cap): the same numbers from the same seed.
    backoff = producer_retry.Backoff(random=random.Random(7).random)
    expected = random.Random(7)
    for retry_ in range(6):
        assert backoff.delay_s(retry_) == expected.uniform(0, min(5.0, 0.05 * 2**retry_))


def test_the_async_backoff_sleeps_on_the_injected_sleep() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    backoff = producer_retry.Backoff(sleep=sleep, random=lambda: 0.5)
    asyncio.run(backoff.wait(2))
    assert slept == [pytest.approx(0.1)]


def test_a_policy_needs_an_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)


# -- the deadline -----------------------------------------------------------------------------
def test_waiting_within_a_deadline_never_sleeps_past_it() -> None:
    time_ = FakeTime()
    deadline = Deadline(at_s=time_.now + 1.0, clock=time_.clock)
    backoff = writer_backoff(sleep=time_.sleep, random=lambda: 1.0)
    assert backoff.wait_within(3, deadline)  # 0.4 s: fits
    assert time_.sleeps == [pytest.approx(0.4)]
    assert not backoff.wait_within(4, deadline)  # 0.8 s: would end past the deadline
    assert time_.sleeps == [pytest.approx(0.4)]


def test_the_deadline_comes_from_the_context_on_the_injected_clock() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 9_000

    deadline = Deadline.from_context(Context(), safety_margin_ms=5_000, clock=lambda: 100.0)
    assert deadline.at_s == pytest.approx(104.0)
    assert deadline.remaining_s() == pytest.approx(4.0)


# -- the consumer uses the same table as the producer ----------------------------------------
def test_the_batch_writer_retries_a_5xx_with_an_unfamiliar_code() -> None:
    fake, time_ = FakeDynamo(batch_errors=["502"]), FakeTime()
    fake_error = fake.batch_write_item

    def batch_write_item(**kwargs: Any) -> dict[str, Any]:
        try:
            return fake_error(**kwargs)
        except ClientError as err:  # the status a gateway's 502 page comes with
            raise _error(error_code(err), 502) from None

    fake.batch_write_item = batch_write_item  # type: ignore[method-assign]
    response, summary = run(batch_writer(fake, time_), event(encode_items([item("a")])), time_)
    assert response == {"batchItemFailures": []}
    assert set(fake.table) == {"a"}
    assert summary.retries == 1


def test_the_item_writer_retries_the_sqs_style_internal_failure_too() -> None:
    fake, time_ = FakeDynamo(put_errors={"a": ["InternalFailure"]}), FakeTime()
    writer = consumer_writer(fake, time_, "skip-existing")
    response, summary = run(writer, event(encode_items([item("a")])), time_)
    assert response == {"batchItemFailures": []}
    assert set(fake.table) == {"a"}
    assert summary.retries == 1
