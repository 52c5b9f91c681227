"""Items the destination refuses for good: put one by one, rejected to the dead-letter queue,
and never holding the good items of their message hostage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from consumer.calls import BoundedClients
from consumer.config import ConsumerConfig, ConsumerEngine
from consumer.dead_letters import (
    ERROR_CODE_ATTRIBUTE,
    ERROR_MESSAGE_ATTRIBUTE,
    KEY_ATTRIBUTE,
    DeadLetterQueue,
    Rejection,
)
from consumer.handler import handle_batch
from consumer.retry import Deadline, writer_backoff
from consumer.wire import decode_body, encode_items, key_to_text
from tests.consumer_helpers import (
    KEY,
    TABLE,
    FixedContext,
    assert_same_items,
    bodies_for,
    queue_counts,
    receive_event,
    scan_all,
    seed_source,
    send_bodies,
    wait_for,
    writer_for,
)
from tests.sandbox_helpers import DEST_ACCOUNT, Sandbox
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
        backoff=writer_backoff(sleep=time_.sleep, random=lambda: 1.0),
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
    # The key, whole, so that `asynccopy dlq` names it without --table.
    assert attributes[KEY_ATTRIBUTE] == {"DataType": "String", "StringValue": rejection.key}


def test_a_key_that_is_no_sqs_text_is_left_out_of_the_attributes() -> None:
    time_ = FakeTime()
    sqs = FakeSqs()
    rejection = Rejection(
        key="{'userid': {'S': 'u\x00'}}\x00", code="ValidationException", reason="r"
    )
    problem = dead_letter_queue(sqs, time_).send(
        item("a"), rejection, Deadline(at_s=time_.now + 10, clock=time_.clock)
    )
    assert problem is None
    (sent,) = sqs.sent
    assert KEY_ATTRIBUTE not in sent["MessageAttributes"]


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


# --- against the sandbox: a destination whose schema refuses a few items -----------------
def recreate_users_with_email_index(sandbox: Sandbox) -> None:
    """The destination `users` table with a GSI on `email` (S): ministack, like DynamoDB,
    refuses an item whose `email` is a number or an empty string."""
    dest = sandbox.dest("dynamodb")
    dest.delete_table(TableName=TABLE)
    dest.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": KEY, "AttributeType": "S"},
            {"AttributeName": "email", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byEmail",
                "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def dead_letters(sandbox: Sandbox, dlq_url: str) -> list[dict[str, Any]]:
    """Every message in the dead-letter queue, with its attributes."""
    sqs = sandbox.dest("sqs")
    found: dict[str, dict[str, Any]] = {}
    empty_polls = 0
    while empty_polls < 2:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=600,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        empty_polls = 0 if messages else empty_polls + 1
        found.update({m["MessageId"]: m for m in messages})
    return list(found.values())


def test_consume_writes_every_good_item_and_rejects_each_refused_one_to_the_dlq(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=100, item_bytes=300)
    items = [{**i, "email": {"S": f"{i[KEY]['S']}@example.com"}} for i in seeded.items]
    refused = {0: {"N": "42"}, 37: {"N": "7"}, 74: {"S": ""}}  # one per message of 25
    for index, email in refused.items():
        items[index] = {**items[index], "email": email}
    refused_keys = {items[index][KEY]["S"] for index in refused}
    recreate_users_with_email_index(sandbox)
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, bodies_for(items))

    done = sandbox.run_cli(
        "consume",
        "--queue-url",
        seeded.queue_url,
        "--table",
        TABLE,
        "--until-empty",
        "--wait-time-seconds",
        "1",
        "--no-progress",
        "--json",
        account=DEST_ACCOUNT,
        timeout_s=120,
    )
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["items_written"], summary["items_rejected"], summary["items_failed"]) == (
        97,
        3,
        0,
    )
    # Each message was received once, written and deleted: none cycled.
    assert summary["messages_received"] == summary["messages_deleted"] == 4
    assert summary["messages_failed"] == 0
    for key in refused_keys:
        assert f'item {{"userid":{{"S":"{key}"}}}} rejected' in done.stderr
    good = [i for i in items if i[KEY]["S"] not in refused_keys]
    assert_same_items(good, scan_all(sandbox.dest("dynamodb")))
    assert queue_counts(sandbox, seeded.queue_url) == (0, 0)

    dead = dead_letters(sandbox, seeded.dlq_url)
    by_key = {}
    for message in dead:
        (one,) = decode_body(message["Body"])
        by_key[one[KEY]["S"]] = (one, message["MessageAttributes"])
    assert set(by_key) == refused_keys
    for index in refused:
        one, attributes = by_key[items[index][KEY]["S"]]
        assert_same_items([items[index]], [one])
        assert attributes[ERROR_CODE_ATTRIBUTE]["StringValue"] == "ValidationException"
        assert "email" in attributes[ERROR_MESSAGE_ATTRIBUTE]["StringValue"]
        assert attributes[KEY_ATTRIBUTE]["StringValue"] == key_to_text({KEY: items[index][KEY]})


def test_newer_wins_against_the_sandbox_rejects_what_it_cannot_compare(
    sandbox: Sandbox, tmp_path: Path, consumer_engine: ConsumerEngine
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=8, item_bytes=200)
    source = {i[KEY]["S"]: i for i in seeded.items}
    keys = sorted(source)
    dest = sandbox.dest("dynamodb")
    v = "updatedAt"
    existing = {
        keys[0]: None,  # absent: written
        keys[1]: {k: a for k, a in source[keys[1]].items() if k != v},  # no version: written
        keys[2]: {**source[keys[2]], v: {"S": "text"}},  # another type: rejected
        keys[3]: {**source[keys[3]], "name": {"S": "same"}},  # equal: skipped
        keys[4]: {**source[keys[4]], v: {"N": "1"}, "name": {"S": "old"}},  # older: written
    }
    for value in existing.values():
        if value is not None:
            dest.put_item(TableName=TABLE, Item=value)
    incoming = [source[k] for k in keys[:5]]
    incoming.append({k: a for k, a in source[keys[5]].items() if k != v})  # no version
    incoming.append({**source[keys[6]], v: {"BOOL": True}})  # not comparable
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, bodies_for(incoming))

    summaries: list[Any] = []
    response = handle_batch(
        receive_event(sandbox, seeded, messages=1),
        FixedContext(30_000),
        writer=writer_for(
            sandbox,
            f"newer-wins:{v}",
            engine=consumer_engine,
            dead_letter_queue_url=seeded.dlq_url,
        ),
        on_summary=summaries.append,
    )
    assert response == {"batchItemFailures": []}
    (summary,) = summaries
    counts = (summary.items_written, summary.items_skipped, summary.items_rejected)
    assert counts == (3, 1, 3)
    after = {i[KEY]["S"]: i for i in scan_all(dest)}
    for key in (keys[0], keys[1], keys[4]):
        assert_same_items([source[key]], [after[key]])
    for key in (keys[2], keys[3]):
        assert_same_items([existing[key]], [after[key]])  # type: ignore[list-item]
    codes = {
        decode_body(m["Body"])[0][KEY]["S"]: m["MessageAttributes"][ERROR_CODE_ATTRIBUTE][
            "StringValue"
        ]
        for m in dead_letters(sandbox, seeded.dlq_url)
    }
    assert codes == {
        keys[2]: "NewerWinsVersionTypeMismatch",
        keys[5]: "NewerWinsVersionMissing",
        keys[6]: "NewerWinsVersionNotComparable",
    }


@pytest.mark.timeout(180)
def test_the_deployed_lambda_rejects_refused_items_to_its_dead_letter_queue(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The Lambda path: the stack deploy-consumer makes from deploy/template.yaml gives the
    function DEAD_LETTER_QUEUE_URL, and the function sends the refused items there."""
    seeded = seed_source(sandbox, tmp_path, items=50, item_bytes=300)
    items = [{**i, "email": {"S": f"{i[KEY]['S']}@example.com"}} for i in seeded.items]
    items[3] = {**items[3], "email": {"N": "3"}}
    items[30] = {**items[30], "email": {"S": ""}}
    refused_keys = {items[3][KEY]["S"], items[30][KEY]["S"]}
    recreate_users_with_email_index(sandbox)
    outputs = sandbox.deploy_stack()
    queue_url, dlq_url = outputs["QueueUrl"], outputs["DeadLetterQueueUrl"]
    send_bodies(sandbox.dest("sqs"), queue_url, bodies_for(items))

    wait_for(
        lambda: queue_counts(sandbox, dlq_url)[0] == 2,
        timeout_s=90,
        what="the two refused items in the DLQ",
    )
    wait_for(
        lambda: queue_counts(sandbox, queue_url) == (0, 0),
        timeout_s=30,
        what="the mapping to delete every message",
    )
    good = [i for i in items if i[KEY]["S"] not in refused_keys]
    assert_same_items(good, scan_all(sandbox.dest("dynamodb")))
    dead = dead_letters(sandbox, dlq_url)
    assert {decode_body(m["Body"])[0][KEY]["S"] for m in dead} == refused_keys
    assert all(
        m["MessageAttributes"][ERROR_CODE_ATTRIBUTE]["StringValue"] == "ValidationException"
        for m in dead
    )
