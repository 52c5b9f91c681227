"""Nothing is lost under faults: every test compares the destination with the source item by item.

The producer (`asynccopy copy`) and the consumer (`asynccopy consume`) run as a user runs them,
in subprocesses, pointed with `--endpoint-url` at benchmarks/faultproxy/ in front of the sandbox.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.exceptions import ConnectionClosedError

from asynccopy.retry import Backoff, RetryPolicy, is_retryable
from asynccopy.sandbox.seed import client as client_for
from asynccopy.send.packing import Message, MessagePacker
from asynccopy.send.sender import SqsSender
from benchmarks.faultproxy import FaultConfig, FaultProxy
from consumer.calls import BoundedClients
from consumer.config import ConsumerConfig, WriteMode
from consumer.handler import handle_batch
from consumer.message import DecodedMessage
from consumer.results import BatchSummary
from consumer.retry import Deadline, writer_backoff
from consumer.table import KeySchema
from consumer.writer import make_writer
from tests.consumer_helpers import (
    FixedContext,
    assert_same_items,
    bodies_for,
    queue_counts,
    receive_bodies,
    receive_event,
    scan_all,
    seed_source,
    send_bodies,
    shorten_redrive,
    wait_for,
)
from tests.sandbox_helpers import DEST_ACCOUNT, SOURCE_ACCOUNT, Sandbox

TABLE = "users"
POISON = '{"v":7,"items":[]}'
SOURCE_TABLE = f"{SOURCE_ACCOUNT}/{TABLE}"
DEST_TABLE = f"{DEST_ACCOUNT}/{TABLE}"


def copy_via(
    sandbox: Sandbox, endpoint_url: str, *args: str, timeout_s: float = 120
) -> tuple[int, dict[str, Any], str]:
    """`copy ARGS` with every call through `endpoint_url`: a --queue-url on the sandbox is
    moved onto it (copy refuses a queue URL on another host than the one it calls)."""
    moved = [arg.replace(sandbox.endpoint_url + "/", endpoint_url + "/") for arg in args]
    return sandbox.run_json(
        "copy",
        "--table",
        TABLE,
        "--endpoint-url",
        endpoint_url,
        "--json",
        "--no-progress",
        "--no-checkpoint",
        *moved,
        timeout_s=timeout_s,
    )


def consume_args(queue_url: str, endpoint_url: str, *extra: str) -> list[str]:
    return [
        "consume",
        "--queue-url",
        queue_url,
        "--table",
        TABLE,
        "--endpoint-url",
        endpoint_url,
        "--until-empty",
        "--wait-time-seconds",
        "1",
        "--no-progress",
        "--json",
        *extra,
    ]


def consume_via(
    sandbox: Sandbox, queue_url: str, endpoint_url: str, *extra: str, timeout_s: float = 120
) -> tuple[int, dict[str, Any], str]:
    done = sandbox.run_cli(
        *consume_args(queue_url, endpoint_url, *extra), account=DEST_ACCOUNT, timeout_s=timeout_s
    )
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


# --- every path faulty ----------------------------------------------------------------------
FAULTS_20 = {
    # ~20% of every call answered with an error before it reaches the sandbox ...
    "throttle_rate": 0.07,
    "error_500_rate": 0.07,
    "error_503_rate": 0.06,
    # ... and 20% of batches served in part (UnprocessedKeys/Items) or with Failed entries.
    "batch_trim_rate": 0.2,
    "send_batch_fault_rate": 0.2,
}


CONSUMER_CALLS = frozenset({"ReceiveMessage", "DeleteMessageBatch", "BatchWriteItem"})


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_5000_items_through_20_percent_faults_on_every_path(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=5_000, item_bytes=400)
    with FaultProxy(sandbox.endpoint_url, FaultConfig(seed=5, **FAULTS_20)) as proxy:
        started = time.monotonic()
        code, summary, stderr = copy_via(
            sandbox,
            proxy.url,
            "--keys",
            str(tmp_path / "keys.txt"),
            "--queue-url",
            seeded.queue_url,
            "--rate",
            "max",
        )
        copied_s = time.monotonic() - started
        produced = proxy.stats().counters
        assert code == 0, stderr
        assert summary["items_sent"] == 5_000
        assert summary["items_failed"] == summary["items_missing"] == 0
        assert summary["retries"] > 0

        proxy.reset()
        # The consumer's setup calls (DescribeTable, GetQueueAttributes) stay clean; a failed
        # DeleteMessageBatch makes its messages reappear after the (shortened) visibility timeout.
        proxy.configure(fault_targets=CONSUMER_CALLS)
        shorten_redrive(sandbox, seeded, visibility_s=6, max_receives=10)
        code, consumed, stderr = consume_via(
            sandbox, seeded.queue_url, proxy.url, "--concurrency", "4"
        )
        consumed_counters = proxy.stats().counters
    # A batch whose writes outlast its deadline (3 s: half the visibility timeout) fails its
    # messages (exit 1); they reappear and are written by a later receive. Drained all the same:
    assert code in (0, 1), stderr
    assert consumed["messages_deleted"] >= 200
    assert consumed["retries"] > 0
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))
    assert queue_counts(sandbox, seeded.queue_url) == (0, 0)
    # Every kind of fault really happened, on both sides.
    for name in ("throttling_errors", "errors_500", "errors_503", "batches_trimmed"):
        assert produced[name] > 0, name
    assert produced["failed_entries"] > 0
    for name in ("throttling_errors", "errors_500", "errors_503", "unprocessed_items"):
        assert consumed_counters[name] > 0, name
    print(f"copy {copied_s:.1f} s, {produced}; consume {consumed}, {consumed_counters}")
    assert receive_bodies(sandbox, seeded.dlq_url) == []


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_dropped_connections_lose_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    seeded = seed_source(sandbox, tmp_path, items=1_000, item_bytes=400)
    drops = FaultConfig(seed=7, drop_request_rate=0.05, drop_response_rate=0.05)
    with FaultProxy(sandbox.endpoint_url, drops) as proxy:
        code, summary, stderr = copy_via(
            sandbox,
            proxy.url,
            "--keys",
            str(tmp_path / "keys.txt"),
            "--queue-url",
            seeded.queue_url,
            "--rate",
            "max",
        )
        produced = proxy.stats().counters
        assert code == 0, stderr
        assert summary["items_sent"] == 1_000
        proxy.reset()
        shorten_redrive(sandbox, seeded, visibility_s=6, max_receives=10)
        code, consumed, stderr = consume_via(
            sandbox, seeded.queue_url, proxy.url, "--concurrency", "4"
        )
        consumed_counters = proxy.stats().counters
    assert code in (0, 1), stderr  # 1: a batch outlasted its deadline, its messages came back
    assert queue_counts(sandbox, seeded.queue_url) == (0, 0)
    assert receive_bodies(sandbox, seeded.dlq_url) == []
    # A SendMessageBatch whose response was dropped is sent again: its messages may arrive
    # twice, which idempotent writes make harmless.
    assert consumed["items_written"] >= 1_000
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))
    # ~10% of calls lose their connection: a few of the producer's ~20 calls (not always one:
    # test_connections_lost_beyond_botocores_retries_are_retried makes sure of those), about
    # ten of the consumer's ~100.
    drops = ("dropped_requests", "dropped_responses")
    assert sum(produced[name] + consumed_counters[name] for name in drops) >= 3
    print(f"copy {produced}; consume {consumed}, {consumed_counters}")


def _flip_after_drops(proxy: FaultProxy, steps: list[dict[str, Any]], *, every: int) -> None:
    """Apply each of `steps` once `every` more requests have been dropped."""
    seen = 0
    for step in steps:
        seen += every
        deadline = time.monotonic() + 60
        while proxy.stats().counters["dropped_requests"] < seen:
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        proxy.configure(**step)


@pytest.mark.timeout(120)
def test_connections_lost_beyond_botocores_retries_are_retried(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Each data-path call loses its connection more often than botocore retries (3 attempts):
    the asynccopy layers must retry it too, not fail the keys or crash."""
    seeded = seed_source(sandbox, tmp_path, items=300, item_bytes=400)
    every_drop = FaultConfig(drop_request_rate=1.0, fault_targets=frozenset({"BatchGetItem"}))
    with FaultProxy(sandbox.endpoint_url, every_drop) as proxy:
        steps: list[dict[str, Any]] = [
            {"fault_targets": frozenset({"SendMessageBatch"})},
            {"drop_request_rate": 0.0},
        ]
        flipper = threading.Thread(
            target=_flip_after_drops, args=(proxy, steps), kwargs={"every": 6}
        )
        flipper.start()
        code, summary, stderr = copy_via(
            sandbox,
            proxy.url,
            "--keys",
            str(tmp_path / "keys.txt"),
            "--queue-url",
            seeded.queue_url,
            "--rate",
            "max",
            "--concurrency",
            "1",
        )
        flipper.join()
        assert code == 0, stderr
        assert summary["items_sent"] == 300
        assert summary["retries"] >= 2  # one BatchGetItem and one SendMessageBatch, at least

        proxy.reset()
        proxy.configure(
            drop_request_rate=1.0, fault_targets=frozenset({"ReceiveMessage", "BatchWriteItem"})
        )
        flipper = threading.Thread(
            target=_flip_after_drops,
            args=(proxy, [{"drop_request_rate": 0.0}]),
            kwargs={"every": 9},
        )
        flipper.start()
        code, consumed, stderr = consume_via(
            sandbox, seeded.queue_url, proxy.url, "--concurrency", "1"
        )
        flipper.join()
        counters = proxy.stats().counters
    assert code == 0, stderr
    assert counters["dropped_requests"] >= 9
    assert consumed["items_written"] >= 300
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))


# --- the consumer killed or timed out mid-batch, the destination throttling ------------------
def _count(sandbox: Sandbox) -> int:
    return int(
        sandbox.dest("dynamodb").scan(TableName=TABLE, Select="COUNT", ConsistentRead=True)["Count"]
    )


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_consumer_killed_mid_run_under_throttling_loses_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=1_000, item_bytes=400)
    # The poison first, so that the consumer to be killed receives it too.
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, [POISON, *bodies_for(seeded.items)])
    # Messages a dead consumer held reappear after 4 s; the poison goes to the DLQ after 4
    # receives.
    shorten_redrive(sandbox, seeded, visibility_s=4, max_receives=4)
    throttled = FaultConfig(
        seed=3,
        latency_ms=100,
        fault_targets=frozenset({"BatchWriteItem"}),
        table_write_capacity_wcu_per_s={DEST_TABLE: 150.0},
    )
    with FaultProxy(sandbox.endpoint_url, throttled) as proxy:
        args = consume_args(seeded.queue_url, proxy.url, "--concurrency", "2", "--batch-size", "5")
        killed = sandbox.start_cli(*args, account=DEST_ACCOUNT, output=subprocess.DEVNULL)
        try:
            wait_for(
                lambda: proxy.stats().consumed_wcu.get(DEST_TABLE, 0) >= 100,
                timeout_s=60,
                interval_s=0.02,
                what="the first consumer to write",
            )
        finally:
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=10)
        written_before = _count(sandbox)
        assert 0 < written_before < 1_000, "the consumer was not killed mid-run"
        assert queue_counts(sandbox, seeded.queue_url)[1] > 0  # it held messages in flight

        # One batch of 5 x 25 items at a time: at 150 WCU/s it is written within its deadline
        # (half the visibility timeout), though the table throttles it.
        code, consumed, stderr = consume_via(
            sandbox, seeded.queue_url, proxy.url, "--concurrency", "1", "--batch-size", "5"
        )
        counters = proxy.stats().counters
    assert code == 1, stderr  # the poison message failed
    assert counters["capacity_exceeded"] + counters["unprocessed_items"] > 0  # it throttled
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))
    assert queue_counts(sandbox, seeded.queue_url) == (0, 0)
    assert receive_bodies(sandbox, seeded.dlq_url) == [POISON]
    print(f"written before the kill: {written_before}; then {consumed}; proxy {counters}")


@pytest.mark.timeout(120)
def test_consumer_timed_out_mid_batch_leaves_messages_that_are_written_later(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=76, item_bytes=400)
    # Three messages of 25 items, one of a single item.
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, bodies_for(seeded.items))
    shorten_redrive(sandbox, seeded, visibility_s=2, max_receives=5)
    event = receive_event(sandbox, seeded, messages=4)
    half_each_call = FaultConfig(
        seed=11,
        latency_ms=150,
        batch_trim_rate=1.0,
        batch_keep_share=0.5,
        fault_targets=frozenset({"BatchWriteItem"}),
    )
    with FaultProxy(sandbox.endpoint_url, half_each_call) as proxy:
        client = client_for("dynamodb", DEST_ACCOUNT, proxy.url)
        writer = make_writer(
            BoundedClients.fixed(client),
            ConsumerConfig(table_name=TABLE, write_mode=WriteMode.parse("overwrite")),
        )
        summaries: list[BatchSummary] = []
        # 1.2 s: one call of 150 ms writes the one-item message; a 25-item message needs six
        # calls, and none starts once less than 0.5 s is left (the shortest call timeouts),
        # so the deadline leaves part of it unprocessed.
        response = handle_batch(
            event,
            FixedContext(remaining_ms=1_200),
            writer=writer,
            safety_margin_ms=0,
            on_summary=summaries.append,
        )
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    (summary,) = summaries
    assert len(failed) == 3, summary
    assert 0 < summary.items_written < 76
    assert summary.items_failed > 0
    assert all("deadline" in (result.failure or "") for result in summary.failures)
    # As the event source mapping does: delete what was written, leave the failed to reappear.
    sqs = sandbox.dest("sqs")
    for record in event["Records"]:
        if record["messageId"] not in failed:
            sqs.delete_message(QueueUrl=seeded.queue_url, ReceiptHandle=record["receiptHandle"])

    code, consumed, stderr = consume_via(sandbox, seeded.queue_url, sandbox.endpoint_url)
    assert code == 0, stderr
    assert consumed["messages_deleted"] == 3
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))
    assert receive_bodies(sandbox, seeded.dlq_url) == []


# --- a source table held to its capacity -----------------------------------------------------
CAPACITY_ITEMS = 1_400  # BatchGetItem rounds each 400-byte item up to 4 KB: 0.5 RCU, 700 RCU


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_rate_holds_a_table_of_100_rcu_and_adapts_when_set_too_high(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=CAPACITY_ITEMS, item_bytes=400)
    keys = str(tmp_path / "keys.txt")
    held = FaultConfig(table_read_capacity_rcu_per_s={SOURCE_TABLE: 100.0})
    results: dict[str, dict[str, Any]] = {}
    with FaultProxy(sandbox.endpoint_url, held) as proxy:
        for rate in ("100", "500"):
            proxy.reset()
            code, summary, stderr = copy_via(
                sandbox, proxy.url, "--keys", keys, "--queue-url", seeded.queue_url, "--rate", rate
            )
            assert code == 0, stderr
            assert summary["items_sent"] == CAPACITY_ITEMS
            assert summary["items_failed"] == summary["items_missing"] == 0
            stats = proxy.stats()
            results[rate] = {
                "elapsed_s": summary["elapsed_s"],
                "rcu_per_s": summary["rcu_per_s"],
                "proxy_rcu_per_s": stats.consumed_rcu[SOURCE_TABLE] / summary["elapsed_s"],
                "throttles": summary["throttles"],
                "refused": stats.counters["capacity_exceeded"],
            }
    print(results)
    at_100, at_500 = results["100"], results["500"]
    # --rate 100 on a 100 RCU table: the table is used fully and hardly ever refuses a call.
    assert 90 <= at_100["proxy_rcu_per_s"] <= 110
    assert 90 <= at_100["rcu_per_s"] <= 110
    assert at_100["refused"] <= 3
    # --rate 500: the table refuses calls and the rate comes down to what it serves, without
    # losing an item. (Above 100: the table's first second of burst, and concurrent calls
    # overdraw it, as DynamoDB's do. The copy counts only the throttles botocore's own
    # retries gave up on, so fewer than the table refused.)
    assert at_500["refused"] > 0
    assert at_500["throttles"] > 0
    assert 75 <= at_500["proxy_rcu_per_s"] <= 130
    assert 75 <= at_500["rcu_per_s"] <= 130
    # Both runs delivered every item (twice), item by item.
    code, consumed, stderr = consume_via(sandbox, seeded.queue_url, sandbox.endpoint_url)
    assert code == 0, stderr
    assert consumed["items_written"] == 2 * CAPACITY_ITEMS
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))


# --- the retry layers, on their own: a connection botocore's retries gave up on ---------------
def _lost() -> ConnectionClosedError:
    return ConnectionClosedError(endpoint_url="http://127.0.0.1:1/")


class _LosingSqs:
    def __init__(self, losses: int) -> None:
        self.losses = losses

    async def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        if self.losses:
            self.losses -= 1
            raise _lost()
        return {"Successful": [{"Id": e["Id"], "MessageId": "m"} for e in kwargs["Entries"]]}


def _messages(count: int) -> list[Message]:
    packer = MessagePacker(key_names=["id"], max_items=1)
    return [m for n in range(count) for m in packer.add({"id": {"S": f"k{n}"}})]


@pytest.mark.parametrize(("losses", "sent", "failed"), [(2, 3, 0), (99, 0, 3)])
def test_sender_retries_a_lost_connection_and_reports_by_message(
    losses: int, sent: int, failed: int
) -> None:
    async def no_sleep(_seconds: float) -> None:
        pass

    sender = SqsSender(
        _LosingSqs(losses),
        queue_url="https://q",
        backoff=Backoff(policy=RetryPolicy(max_attempts=4), sleep=no_sleep),
    )
    result = anyio.run(sender.send, _messages(3))
    assert (len(result.sent), len(result.failed)) == (sent, failed)
    assert all(f.code == "ConnectionClosedError" and not f.sender_fault for f in result.failed)
    assert is_retryable(_lost())


class _LosingDynamoDB:
    def __init__(self, losses: int) -> None:
        self.losses = losses
        self.written: list[Any] = []

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        if self.losses:
            self.losses -= 1
            raise _lost()
        self.written += kwargs["RequestItems"][TABLE]
        return {"UnprocessedItems": {}}


@pytest.mark.parametrize(("losses", "written"), [(2, 2), (99, 0)])
def test_batch_writer_retries_a_lost_connection_until_the_deadline(
    losses: int, written: int
) -> None:
    client = _LosingDynamoDB(losses)
    schema = KeySchema(
        table_name=TABLE, partition_key="userid", sort_key=None, key_types={"userid": "S"}
    )
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    writer = make_writer(
        BoundedClients.fixed(client),  # type: ignore[arg-type]
        ConsumerConfig(table_name=TABLE, write_mode=WriteMode(kind="overwrite")),
        schema=schema,
        backoff=writer_backoff(sleep=sleep, random=lambda: 1.0),
    )
    items = ({"userid": {"S": "a"}}, {"userid": {"S": "b"}})
    (result,) = writer.write(
        [DecodedMessage(message_id="m", items=items)], Deadline(at_s=3.0, clock=lambda: now[0])
    )
    assert result.written == written
    assert (result.failure is None) == (written == 2)
    if result.failure is not None:
        assert "ConnectionClosedError" in result.failure
