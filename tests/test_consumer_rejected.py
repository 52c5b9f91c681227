"""Items the destination refuses for good: put one by one, rejected to the dead-letter queue,
and never holding the good items of their message hostage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from asynccopy.codec import decode_body, encode_items
from consumer.backoff import Backoff, Deadline
from consumer.calls import BoundedClients
from consumer.config import ConsumerConfig
from consumer.dead_letters import (
    ERROR_CODE_ATTRIBUTE,
    ERROR_MESSAGE_ATTRIBUTE,
    DeadLetterQueue,
    Rejection,
)
from tests.test_consumer_unit import (
    FakeDynamo,
    FakeTime,
    RecordingSink,
    batch_writer,
    event,
    item,
    run,
)


def test_one_refused_item_does_not_fail_the_24_good_ones_of_its_call() -> None:
    time_ = FakeTime()
    keys = [f"k{n:02}" for n in range(25)]
    fake = FakeDynamo(refuse=frozenset({"k07"}))
    sink = RecordingSink()
    ev = event(encode_items([item(k) for k in keys]), encode_items([item("other")]))
    response, summary = run(batch_writer(fake, time_, sink), ev, time_)

    assert response == {"batchItemFailures": []}  # the message must not cycle
    assert set(fake.table) == set(keys) - {"k07"} | {"other"}
    assert fake.batch_calls == [25, 1]
    assert fake.put_calls == 25  # the refused call's items, one by one
    assert (summary.items_written, summary.items_rejected, summary.items_failed) == (25, 1, 0)
    assert sink.sent == [
        ('{"userid":{"S":"k07"}}', "ValidationException", "fake ValidationException")
    ]
    assert sink.items == [item("k07")]
    logged = json.loads(summary.log_line())
    assert logged["items_rejected"] == 1
    assert logged["rejected"][0]["key"] == '{"userid":{"S":"k07"}}'


def test_items_already_written_by_the_call_are_not_put_again() -> None:
    """The refusal comes on a retry of UnprocessedItems: only those are put one by one."""

    class RefusesOnRetry(FakeDynamo):
        def batch_write_item(self, *, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
            # The first call writes a and leaves b and c unprocessed; the retry is refused.
            self.refuse = frozenset({"c"}) if self.batch_calls else frozenset()
            return super().batch_write_item(RequestItems=RequestItems)

    time_ = FakeTime()
    fake = RefusesOnRetry(flaky=frozenset({"b", "c"}), flaky_rounds=1)
    writer = batch_writer(fake, time_, RecordingSink())
    response, summary = run(writer, event(encode_items([item("a"), item("b"), item("c")])), time_)
    assert response == {"batchItemFailures": []}
    assert fake.batch_calls == [3, 2]
    assert fake.put_calls == 2  # b and c, not a
    assert set(fake.table) == {"a", "b"}
    assert (summary.items_written, summary.items_rejected) == (2, 1)


def test_without_a_dead_letter_queue_the_message_fails_as_before_and_says_why() -> None:
    time_ = FakeTime()
    fake = FakeDynamo(refuse=frozenset({"bad"}))
    ev = event(encode_items([item("good"), item("bad")]), encode_items([item("fine")]))
    response, summary = run(batch_writer(fake, time_), ev, time_)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert set(fake.table) == {"good", "fine"}  # the good item is written all the same
    (failed,) = summary.failures
    reason = failed.failure or ""
    assert 'item {"userid":{"S":"bad"}} was refused (ValidationException' in reason
    assert "no dead-letter queue to send it to: none was configured" in reason
    assert (summary.items_rejected, summary.items_failed) == (0, 1)


def test_a_dead_letter_that_cannot_be_sent_fails_the_message() -> None:
    time_ = FakeTime()
    fake = FakeDynamo(refuse=frozenset({"bad"}))
    sink = RecordingSink(problem="sending it to the dead-letter queue q failed: AccessDenied")
    ev = event(encode_items([item("bad"), item("ok")]), encode_items([item("fine")]))
    response, summary = run(batch_writer(fake, time_, sink), ev, time_)
    # Never lose the item: its message is delivered again, and ends in the DLQ by redrive.
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert (summary.items_written, summary.items_rejected, summary.items_failed) == (2, 0, 1)
    (failed,) = summary.failures
    assert "AccessDenied" in (failed.failure or "")


class FakeSqs:
    def __init__(self, errors: list[str] | None = None) -> None:
        self.errors = list(errors or [])
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **request: Any) -> dict[str, Any]:
        if self.errors:
            code = self.errors.pop(0)
            status = 500 if code == "InternalError" else 400
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": f"fake {code}"},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                "SendMessage",
            )
        self.sent.append(request)
        return {"MessageId": "d1"}


def dead_letter_queue(sqs: FakeSqs, time_: FakeTime) -> DeadLetterQueue:
    return DeadLetterQueue(
        clients=BoundedClients.fixed(sqs),  # type: ignore[arg-type]
        queue_url="https://sqs.example/1/dlq",
        backoff=Backoff(sleep=time_.sleep, random=lambda: 1.0),
    )


def test_a_dead_letter_is_the_one_item_in_the_producers_envelope_with_its_reason() -> None:
    time_ = FakeTime()
    sqs = FakeSqs(errors=["InternalError"])
    refused = {"userid": {"S": "u1"}, "blob": {"B": b"\x00\xff"}, "n": {"N": "1.50"}}
    rejection = Rejection(
        key='{"userid":{"S":"u1"}}',
        code="ValidationException",
        reason="Type mismatch for Index Key email\x00 Expected: S" + "x" * 2_000,
    )
    problem = dead_letter_queue(sqs, time_).send(
        refused, rejection, Deadline(at_s=time_.now + 10, clock=time_.clock)
    )
    assert problem is None
    assert len(time_.sleeps) == 1  # the 500 was retried
    (sent,) = sqs.sent
    assert sent["QueueUrl"] == "https://sqs.example/1/dlq"
    assert decode_body(sent["MessageBody"]) == [refused]
    attributes = sent["MessageAttributes"]
    assert attributes[ERROR_CODE_ATTRIBUTE] == {
        "DataType": "String",
        "StringValue": "ValidationException",
    }
    message = attributes[ERROR_MESSAGE_ATTRIBUTE]["StringValue"]
    assert message.startswith("Type mismatch for Index Key email? Expected: S")  # SQS-safe
    assert len(message) == 1_000


@pytest.mark.parametrize("code", ["AccessDenied", "QueueDoesNotExist"])
def test_a_refused_dead_letter_is_not_retried_and_says_why(code: str) -> None:
    time_ = FakeTime()
    problem = dead_letter_queue(FakeSqs(errors=[code]), time_).send(
        item("a"),
        Rejection(key="k", code="ValidationException", reason="r"),
        Deadline(at_s=time_.now + 10, clock=time_.clock),
    )
    assert problem is not None
    assert code in problem
    assert "sqs:SendMessage" in problem
    assert time_.sleeps == []


def test_the_dead_letter_queue_url_comes_from_the_environment() -> None:
    env = {"TABLE_NAME": "t", "DEAD_LETTER_QUEUE_URL": "https://sqs.example/1/dlq"}
    assert ConsumerConfig.from_env(env).dead_letter_queue_url == "https://sqs.example/1/dlq"
    assert ConsumerConfig.from_env({"TABLE_NAME": "t"}).dead_letter_queue_url is None
