"""Pure unit tests of the consumer: retries with a fake client, clock and sleep; never sleeps."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from asynccopy.codec import Item, encode_items
from consumer.backoff import Backoff, BackoffPolicy, Deadline
from consumer.batch_writer import BatchWriter
from consumer.conditional_writer import ConditionalWriter
from consumer.config import ConfigError, ConsumerConfig, WriteMode
from consumer.contract import SqsEvent
from consumer.handler import handle_batch
from consumer.results import AllMessagesFailedError, BatchSummary
from consumer.table import KeySchema
from tests.test_consumer_support import FixedContext

SCHEMA = KeySchema(
    table_name="users", partition_key="userid", sort_key=None, key_types={"userid": "S"}
)


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def client_error(code: str, operation: str = "BatchWriteItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"fake {code}"}}, operation)


class FakeDynamo:
    """BatchWriteItem that leaves `stuck` keys unprocessed forever and `flaky` keys for
    `flaky_rounds` calls; PutItem driven by `put_errors` (key -> error codes to raise in turn)."""

    def __init__(
        self,
        *,
        stuck: frozenset[str] = frozenset(),
        flaky: frozenset[str] = frozenset(),
        flaky_rounds: int = 0,
        batch_errors: list[str] | None = None,
        put_errors: dict[str, list[str]] | None = None,
    ) -> None:
        self.stuck = stuck
        self.flaky = flaky
        self.flaky_rounds = flaky_rounds
        self.batch_errors = list(batch_errors or [])
        self.put_errors = {k: list(v) for k, v in (put_errors or {}).items()}
        self.table: dict[str, Item] = {}
        self.batch_calls: list[int] = []
        self.put_calls = 0
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}

    def batch_write_item(self, *, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        with self._lock:
            ((table, requests),) = RequestItems.items()
            assert len(requests) <= 25
            self.batch_calls.append(len(requests))
            if self.batch_errors:
                raise client_error(self.batch_errors.pop(0))
            left = []
            for request in requests:
                item = request["PutRequest"]["Item"]
                key = item["userid"]["S"]
                self._seen[key] = self._seen.get(key, 0) + 1
                if key in self.stuck or (
                    key in self.flaky and self._seen[key] <= self.flaky_rounds
                ):
                    left.append(request)
                else:
                    self.table[key] = item
            return {"UnprocessedItems": {table: left} if left else {}}

    def put_item(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.put_calls += 1
            key = request["Item"]["userid"]["S"]
            errors = self.put_errors.get(key)
            if errors:
                raise client_error(errors.pop(0), "PutItem")
            self.table[key] = request["Item"]
            return {}


def item(key: str, **extra: str) -> Item:
    return {"userid": {"S": key}, **{name: {"N": value} for name, value in extra.items()}}


def event(*bodies: str) -> SqsEvent:
    return {
        "Records": [
            {"messageId": f"m{index}", "receiptHandle": f"r{index}", "body": body}
            for index, body in enumerate(bodies)
        ]
    }


def batch_writer(fake: FakeDynamo, time_: FakeTime) -> BatchWriter:
    # random() == 1.0 makes every sleep the policy's cap, so the sequence is exact.
    backoff = Backoff(policy=BackoffPolicy(), sleep=time_.sleep, random=lambda: 1.0)
    return BatchWriter(client=fake, schema=SCHEMA, backoff=backoff)  # type: ignore[arg-type]


def run(writer: Any, ev: SqsEvent, time_: FakeTime, remaining_ms: int = 15_000) -> Any:
    summaries: list[BatchSummary] = []
    response = handle_batch(
        ev,
        FixedContext(remaining_ms),
        writer=writer,
        safety_margin_ms=5_000,
        on_summary=summaries.append,
        clock=time_.clock,
    )
    return response, summaries[0]


def test_unprocessed_items_are_retried_with_exponential_backoff_until_written() -> None:
    fake, time_ = FakeDynamo(flaky=frozenset({"a", "c"}), flaky_rounds=3), FakeTime()
    response, summary = run(
        batch_writer(fake, time_), event(encode_items([item("a"), item("b"), item("c")])), time_
    )
    assert response == {"batchItemFailures": []}
    assert set(fake.table) == {"a", "b", "c"}
    assert fake.batch_calls == [3, 2, 2, 2]  # only the unprocessed items are sent again
    assert time_.sleeps == pytest.approx([0.05, 0.1, 0.2])
    assert (summary.items_written, summary.retries, summary.messages_failed) == (3, 3, 0)


def test_leftovers_at_the_deadline_fail_only_their_own_message() -> None:
    fake, time_ = FakeDynamo(stuck=frozenset({"s2"})), FakeTime()
    started = time_.now
    ev = event(
        encode_items([item("a1"), item("a2")]),
        encode_items([item("s1"), item("s2"), item("s3")]),
        encode_items([item("c1")]),
    )
    response, summary = run(batch_writer(fake, time_), ev, time_, remaining_ms=15_000)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert set(fake.table) == {"a1", "a2", "s1", "s3", "c1"}
    # 15 s remaining minus the 5 s safety margin: retries stop before 10 s have passed,
    # with sleeps capped at the policy's 2 s.
    assert time_.now - started < 10.0
    assert sum(time_.sleeps) > 10.0 - 2.0
    assert max(time_.sleeps) == pytest.approx(2.0)
    (failed,) = summary.failures
    assert failed.message_id == "m1"
    assert (failed.items, failed.written, failed.failed_items) == (3, 2, 1)
    assert "1 of 3 items still unprocessed" in (failed.failure or "")
    assert summary.retries == len(time_.sleeps)
    assert (summary.items_written, summary.items_failed) == (5, 1)


def test_no_time_left_means_one_attempt_and_no_sleep() -> None:
    fake, time_ = FakeDynamo(stuck=frozenset({"a"})), FakeTime()
    response, _ = run(
        batch_writer(fake, time_),
        event(encode_items([item("a")]), encode_items([item("b")])),
        time_,
        remaining_ms=4_000,
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert time_.sleeps == []


def test_throughput_exceeded_is_retried_but_validation_errors_are_not() -> None:
    time_ = FakeTime()
    fake = FakeDynamo(batch_errors=["ProvisionedThroughputExceededException"])
    response, summary = run(
        batch_writer(fake, time_),
        event(encode_items([item("a")]), encode_items([item("b")])),
        time_,
    )
    assert response == {"batchItemFailures": []}
    assert summary.retries == 1

    fake = FakeDynamo(batch_errors=["ValidationException"])
    writer = batch_writer(fake, time_)
    single = event(encode_items([item("a")]), encode_items([item("b")]))
    response, summary = run(writer, single, time_)
    assert len(response["batchItemFailures"]) == 1
    assert "ValidationException" in (summary.failures[0].failure or "")
    assert summary.retries == 0


def test_every_message_failing_raises_so_the_mapping_backs_off() -> None:
    fake, time_ = FakeDynamo(stuck=frozenset({"a"})), FakeTime()
    with pytest.raises(AllMessagesFailedError) as caught:
        run(batch_writer(fake, time_), event("not json", encode_items([item("a")])), time_)
    assert caught.value.summary.messages == caught.value.summary.messages_failed == 2
    assert "all 2 messages failed" in str(caught.value)


def test_partial_failure_returns_exactly_the_failed_message_ids() -> None:
    fake, time_ = FakeDynamo(), FakeTime()
    ev = event(
        encode_items([item("a")]),
        "{not json",
        '{"v":99,"items":[]}',
        encode_items([{"id": {"S": "wrong key name"}}]),
        encode_items([{"userid": {"N": "7"}}]),
        encode_items([{"userid": {"S": ""}}]),
        encode_items([item("b"), item("c")]),
    )
    response, summary = run(batch_writer(fake, time_), ev, time_)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": f"m{index}"} for index in (1, 2, 3, 4, 5)]
    }
    assert set(fake.table) == {"a", "b", "c"}
    reasons = {f.message_id: f.failure or "" for f in summary.failures}
    assert "not JSON" in reasons["m1"]
    assert "unsupported format version 99" in reasons["m2"]
    assert "lacks key attribute 'userid'" in reasons["m3"]
    assert "declares S" in reasons["m4"]
    assert "is empty" in reasons["m5"]
    assert '"messages_failed":5' in summary.log_line()


def test_a_repeated_key_in_one_message_is_written_once_with_its_last_item() -> None:
    fake, time_ = FakeDynamo(), FakeTime()
    response, summary = run(
        batch_writer(fake, time_), event(encode_items([item("a", v="1"), item("a", v="2")])), time_
    )
    assert response == {"batchItemFailures": []}
    assert fake.table["a"]["v"] == {"N": "2"}
    assert summary.items_written == 1


def conditional(fake: FakeDynamo, time_: FakeTime, mode: str) -> ConditionalWriter:
    backoff = Backoff(sleep=time_.sleep, random=lambda: 1.0)
    return ConditionalWriter(
        client=fake,  # type: ignore[arg-type]
        schema=SCHEMA,
        mode=WriteMode.parse(mode),
        backoff=backoff,
        threads=4,
    )


def test_conditional_check_failures_are_skips_and_throttling_is_retried() -> None:
    time_ = FakeTime()
    fake = FakeDynamo(
        put_errors={
            "old": ["ConditionalCheckFailedException"],
            "busy": ["ThrottlingException", "ProvisionedThroughputExceededException"],
            "bad": ["ValidationException"],
        }
    )
    writer = conditional(fake, time_, "newer-wins:updatedAt")
    ev = event(
        encode_items([item("old", updatedAt="1"), item("busy", updatedAt="1")]),
        encode_items([item("new", updatedAt="2"), item("bad", updatedAt="2")]),
        encode_items([item("unversioned")]),
    )
    response, summary = run(writer, ev, time_)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert set(fake.table) == {"busy", "new"}
    assert (summary.items_written, summary.items_skipped, summary.items_failed) == (2, 1, 2)
    assert summary.retries == 2
    reasons = {f.message_id: f.failure or "" for f in summary.failures}
    assert "ValidationException" in reasons["m1"]
    assert "lacks the newer-wins attribute 'updatedAt'" in reasons["m2"]


def test_conditional_expressions_use_placeholders() -> None:
    captured: list[dict[str, Any]] = []

    class Capture(FakeDynamo):
        def put_item(self, **request: Any) -> dict[str, Any]:
            captured.append(request)
            return {}

    time_ = FakeTime()
    for mode in ("skip-existing", "newer-wins:name"):
        run(conditional(Capture(), time_, mode), event(encode_items([item("a", name="3")])), time_)
    skip, newer = captured
    assert skip["ConditionExpression"] == "attribute_not_exists(#pk)"
    assert skip["ExpressionAttributeNames"] == {"#pk": "userid"}
    assert "ExpressionAttributeValues" not in skip
    assert newer["ConditionExpression"] == "attribute_not_exists(#pk) OR #v < :v"
    assert newer["ExpressionAttributeNames"] == {"#pk": "userid", "#v": "name"}
    assert newer["ExpressionAttributeValues"] == {":v": {"N": "3"}}


def test_deadline_comes_from_the_context_minus_the_safety_margin() -> None:
    time_ = FakeTime()
    deadline = Deadline.from_context(
        FixedContext(12_000), safety_margin_ms=5_000, clock=time_.clock
    )
    assert deadline.remaining_s() == pytest.approx(7.0)
    assert (
        Deadline.from_context(
            FixedContext(1_000), safety_margin_ms=5_000, clock=time_.clock
        ).remaining_s()
        == 0
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("overwrite", WriteMode(kind="overwrite")),
        ("skip-existing", WriteMode(kind="skip-existing")),
        ("newer-wins:updatedAt", WriteMode(kind="newer-wins", attribute="updatedAt")),
    ],
)
def test_write_modes_parse(text: str, expected: WriteMode) -> None:
    assert WriteMode.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["", "newer-wins", "newer-wins:", "overwrite:x", "upsert"])
def test_bad_write_modes_say_what_is_expected(text: str) -> None:
    with pytest.raises(ConfigError, match="WRITE_MODE"):
        WriteMode.parse(text)


def test_config_from_environment() -> None:
    config = ConsumerConfig.from_env({"TABLE_NAME": "t", "WRITE_MODE": "skip-existing"})
    assert (config.table_name, config.write_mode.kind) == ("t", "skip-existing")
    with pytest.raises(ConfigError, match="TABLE_NAME"):
        ConsumerConfig.from_env({"WRITE_MODE": "overwrite"})
