"""Pure unit tests of the consumer: retries with a fake client, clock and sleep; never sleeps."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from consumer.calls import BoundedClients
from consumer.config import ConfigError, ConsumerConfig, WriteMode
from consumer.contract import SqsEvent
from consumer.dead_letters import DeadLetterSink, Rejection
from consumer.handler import handle_batch
from consumer.results import AllMessagesFailedError, BatchSummary
from consumer.retry import Deadline, writer_backoff
from consumer.table import KeySchema
from consumer.wire import Item, encode_items
from consumer.writer import Writer, make_writer
from tests.consumer_helpers import FixedContext

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
    `flaky_rounds` calls; PutItem driven by `put_errors` (key -> error codes to raise in turn).
    Items whose key is in `refuse` are refused for good (ValidationException), failing the
    whole BatchWriteItem as DynamoDB does. PutItem's conditions are the writers' two, checked
    as DynamoDB checks them."""

    def __init__(
        self,
        *,
        stuck: frozenset[str] = frozenset(),
        flaky: frozenset[str] = frozenset(),
        flaky_rounds: int = 0,
        batch_errors: list[str] | None = None,
        put_errors: dict[str, list[str]] | None = None,
        refuse: frozenset[str] = frozenset(),
    ) -> None:
        self.refuse = refuse
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
            if any(r["PutRequest"]["Item"]["userid"]["S"] in self.refuse for r in requests):
                raise client_error("ValidationException")
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
            if key in self.refuse:
                raise client_error("ValidationException", "PutItem")
            existing = self.table.get(key)
            if not self._condition_holds(request, existing):
                error: dict[str, Any] = {
                    "Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}
                }
                if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                    error["Item"] = existing
                raise ClientError(error, "PutItem")  # type: ignore[arg-type]
            self.table[key] = request["Item"]
            return {}

    @staticmethod
    def _condition_holds(request: dict[str, Any], existing: Item | None) -> bool:
        condition = request.get("ConditionExpression")
        if condition is None or existing is None:
            return True
        if condition == "attribute_not_exists(#pk)":
            return False
        assert condition == "attribute_not_exists(#pk) OR attribute_not_exists(#v) OR #v < :v"
        name = request["ExpressionAttributeNames"]["#v"]
        if name not in existing:
            return True
        ((old_type, old),) = existing[name].items()
        ((new_type, new),) = request["ExpressionAttributeValues"][":v"].items()
        if old_type != new_type:
            return False  # DynamoDB's < is false between two types
        return bool(Decimal(old) < Decimal(new)) if old_type == "N" else bool(old < new)


class RecordingSink:
    """A dead-letter queue that keeps what it is sent, or refuses with `problem`."""

    def __init__(self, problem: str | None = None) -> None:
        self.problem = problem
        self.sent: list[tuple[str, str, str]] = []
        self.items: list[Item] = []
        self._lock = threading.Lock()

    def send(self, item: Item, rejection: Rejection, deadline: Deadline) -> str | None:
        with self._lock:
            if self.problem is None:
                self.sent.append((rejection.key, rejection.code, rejection.reason))
                self.items.append(item)
            return self.problem


def item(key: str, **extra: str) -> Item:
    return {"userid": {"S": key}, **{name: {"N": value} for name, value in extra.items()}}


def event(*bodies: str) -> SqsEvent:
    return {
        "Records": [
            {"messageId": f"m{index}", "receiptHandle": f"r{index}", "body": body}
            for index, body in enumerate(bodies)
        ]
    }


def writer(
    fake: FakeDynamo, time_: FakeTime, mode: str, dead_letters: DeadLetterSink | None = None
) -> Writer:
    # random() == 1.0 makes every sleep the policy's cap, so the sequence is exact.
    backoff = writer_backoff(sleep=time_.sleep, random=lambda: 1.0)
    return make_writer(
        BoundedClients.fixed(fake),  # type: ignore[arg-type]
        ConsumerConfig(table_name="users", write_mode=WriteMode.parse(mode), write_threads=4),
        schema=SCHEMA,
        backoff=backoff,
        dead_letters=dead_letters,
    )


def batch_writer(
    fake: FakeDynamo, time_: FakeTime, dead_letters: DeadLetterSink | None = None
) -> Writer:
    return writer(fake, time_, "overwrite", dead_letters)


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


def test_no_time_left_means_no_call_and_no_sleep() -> None:
    fake, time_ = FakeDynamo(stuck=frozenset({"a"})), FakeTime()
    with pytest.raises(AllMessagesFailedError) as caught:
        run(
            batch_writer(fake, time_),
            event(encode_items([item("a")]), encode_items([item("b")])),
            time_,
            remaining_ms=4_000,  # under the 5 s safety margin
        )
    # A call started now could outlast the invocation: none is.
    assert fake.batch_calls == []
    assert time_.sleeps == []
    assert "no time left to write 1 items" in str(caught.value)


def test_throughput_exceeded_is_retried_and_a_refused_call_is_put_item_by_item() -> None:
    time_ = FakeTime()
    fake = FakeDynamo(batch_errors=["ProvisionedThroughputExceededException"])
    response, summary = run(
        batch_writer(fake, time_),
        event(encode_items([item("a")]), encode_items([item("b")])),
        time_,
    )
    assert response == {"batchItemFailures": []}
    assert summary.retries == 1

    # A ValidationException fails the whole call: its items are then put one by one.
    fake = FakeDynamo(batch_errors=["ValidationException"])
    response, summary = run(
        batch_writer(fake, time_), event(encode_items([item("a"), item("b")])), time_
    )
    assert response == {"batchItemFailures": []}
    assert (fake.batch_calls, fake.put_calls) == ([2], 2)
    assert set(fake.table) == {"a", "b"}
    assert (summary.items_written, summary.items_rejected, summary.retries) == (2, 0, 0)


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


def conditional(
    fake: FakeDynamo, time_: FakeTime, mode: str, dead_letters: DeadLetterSink | None = None
) -> Writer:
    return writer(fake, time_, mode, dead_letters)


def test_conditional_check_failures_are_skips_throttling_is_retried_and_refusals_rejected() -> None:
    time_ = FakeTime()
    fake = FakeDynamo(
        put_errors={"busy": ["ThrottlingException", "ProvisionedThroughputExceededException"]},
        refuse=frozenset({"bad"}),
    )
    fake.table["old"] = item("old", updatedAt="5")
    sink = RecordingSink()
    writer = conditional(fake, time_, "newer-wins:updatedAt", sink)
    ev = event(
        encode_items([item("old", updatedAt="1"), item("busy", updatedAt="1")]),
        encode_items([item("new", updatedAt="2"), item("bad", updatedAt="2")]),
        encode_items([item("unversioned")]),
    )
    response, summary = run(writer, ev, time_)
    # Refused items are in the dead-letter queue: their messages are done with.
    assert response == {"batchItemFailures": []}
    assert set(fake.table) == {"old", "busy", "new"}
    assert fake.table["old"]["updatedAt"] == {"N": "5"}
    counts = (summary.items_written, summary.items_skipped, summary.items_rejected)
    assert counts == (2, 1, 2)
    assert summary.items_failed == 0
    assert summary.retries == 2
    assert sorted((key, code) for key, code, _ in sink.sent) == [
        ('{"userid":{"S":"bad"}}', "ValidationException"),
        ('{"userid":{"S":"unversioned"}}', "NewerWinsVersionMissing"),
    ]
    assert sorted(sink.items, key=json.dumps) == [item("bad", updatedAt="2"), item("unversioned")]
    logged = json.loads(summary.log_line())
    assert (logged["items_rejected"], logged["items_skipped"]) == (2, 1)
    assert {r["key"] for r in logged["rejected"]} == {
        '{"userid":{"S":"bad"}}',
        '{"userid":{"S":"unversioned"}}',
    }


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
    assert newer["ConditionExpression"] == (
        "attribute_not_exists(#pk) OR attribute_not_exists(#v) OR #v < :v"
    )
    assert newer["ExpressionAttributeNames"] == {"#pk": "userid", "#v": "name"}
    assert newer["ExpressionAttributeValues"] == {":v": {"N": "3"}}
    # A failed check returns the destination's item: a skip and a type mismatch differ.
    assert newer["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert "ReturnValuesOnConditionCheckFailure" not in skip


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
