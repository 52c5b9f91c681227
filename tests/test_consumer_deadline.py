"""Every call the consumer makes ends before the invocation's deadline (issue 11, point 6).

A call that hangs is simulated by a fake client that moves the fake clock by its connect and
read timeouts, then raises ReadTimeoutError, as botocore does with one attempt per call.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from asynccopy.sandbox import REGION, SANDBOX_SECRET
from benchmarks.faultproxy import FaultConfig, FaultProxy
from consumer.calls import DEFAULT_RUNGS, BoundedClients, CallTimeouts, botocore_config
from consumer.config import ConsumerConfig, WriteMode
from consumer.dead_letters import DeadLetterQueue
from consumer.handler import dead_letter_sink, dynamodb_clients, handle_batch
from consumer.results import AllMessagesFailedError
from consumer.retry import writer_backoff
from consumer.wire import encode_items
from consumer.writer import make_writer
from tests.consumer_helpers import FixedContext, receive_event, seed_and_send
from tests.sandbox_helpers import DEST_ACCOUNT, Sandbox
from tests.test_consumer_unit import SCHEMA, FakeTime, event, item, run


class HangingDynamo:
    """Every call waits until its timeouts end, then fails like botocore's ReadTimeoutError."""

    def __init__(self, timeouts: CallTimeouts, time_: FakeTime, calls: list[CallTimeouts]) -> None:
        self.timeouts = timeouts
        self.time = time_
        self.calls = calls
        self._lock = threading.Lock()

    def _hang(self) -> None:
        with self._lock:
            self.calls.append(self.timeouts)
            self.time.now += self.timeouts.worst_case_s
        raise ReadTimeoutError(endpoint_url="http://dynamodb.example")

    def batch_write_item(self, **_request: Any) -> dict[str, Any]:
        self._hang()
        return {}

    def put_item(self, **_request: Any) -> dict[str, Any]:
        self._hang()
        return {}


@pytest.mark.parametrize("mode", ["overwrite", "skip-existing"])
@pytest.mark.parametrize("remaining_ms", [60_000, 30_000, 7_000, 5_600])
def test_a_hanging_table_never_holds_the_handler_past_its_deadline(
    mode: str, remaining_ms: int
) -> None:
    time_ = FakeTime()
    calls: list[CallTimeouts] = []
    clients = BoundedClients(lambda timeouts: HangingDynamo(timeouts, time_, calls))
    writer = make_writer(
        clients,  # type: ignore[arg-type]
        ConsumerConfig(table_name="users", write_mode=WriteMode.parse(mode), write_threads=1),
        schema=SCHEMA,
        backoff=writer_backoff(sleep=time_.sleep, random=lambda: 1.0),
    )
    started = time_.now
    ev = event(encode_items([item("a")]), encode_items([item("b")]))
    with pytest.raises(AllMessagesFailedError) as caught:
        run(writer, ev, time_, remaining_ms=remaining_ms)
    assert "ReadTimeoutError" in str(caught.value) or "deadline" in str(caught.value)
    # The handler answers before the 5 s safety margin is used up, let alone the timeout.
    assert time_.now - started <= (remaining_ms - 5_000) / 1000
    assert calls, "no call was made"
    # Each call's timeouts fit in the time it had, so later calls get shorter ones.
    assert calls == sorted(calls, key=lambda c: c.worst_case_s, reverse=True)


def test_the_longest_timeouts_that_fit_are_chosen_and_each_client_made_once() -> None:
    made: list[CallTimeouts] = []

    def make(timeouts: CallTimeouts) -> object:
        made.append(timeouts)
        return object()

    clients = BoundedClients(make)
    longest, shortest = DEFAULT_RUNGS[0], DEFAULT_RUNGS[-1]
    assert clients.rung_within(1_000.0) == longest
    assert clients.rung_within(longest.worst_case_s - 0.01) == DEFAULT_RUNGS[1]
    assert clients.rung_within(shortest.worst_case_s) == shortest
    assert clients.within(shortest.worst_case_s - 0.01) is None  # no call fits: none is made
    first = clients.within(100.0)
    assert clients.within(50.0) is first
    assert made == [longest]


def test_the_lambdas_clients_make_one_attempt_with_the_rungs_timeouts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    clients = dynamodb_clients(env, max_pool_connections=12)
    client = clients.within(3.1)
    assert client is not None
    config = client.meta.config
    rung = clients.rung_within(3.1)
    assert rung is not None
    assert rung.worst_case_s == pytest.approx(3.0)
    assert (config.connect_timeout, config.read_timeout) == (
        rung.connect_timeout_s,
        rung.read_timeout_s,
    )
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.max_pool_connections == 12
    assert client.meta.endpoint_url == "http://127.0.0.1:9"

    config_with_dlq = ConsumerConfig(
        table_name="t",
        write_mode=WriteMode(kind="overwrite"),
        dead_letter_queue_url="http://127.0.0.1:9/1/dlq",
    )
    sink = dead_letter_sink(config_with_dlq, env, backoff=writer_backoff())
    assert isinstance(sink, DeadLetterQueue)
    assert sink.queue_url == "http://127.0.0.1:9/1/dlq"


def test_a_slow_table_behind_the_fault_proxy_fails_the_batch_in_time_not_late(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Each BatchWriteItem answers after 2 s; the invocation has 1.5 s. With botocore's
    read_timeout of 20 s the call would wait and return after the deadline; bounded by the
    time left, it times out and the message is reported failed (to be delivered again)."""
    seeded = seed_and_send(sandbox, tmp_path, items=5)
    ev = receive_event(sandbox, seeded, messages=1)
    slow = FaultConfig(latency_ms=2_000, fault_targets=frozenset({"BatchWriteItem"}))
    with FaultProxy(sandbox.endpoint_url, slow) as proxy:

        def make(timeouts: CallTimeouts) -> Any:
            return boto3.client(
                "dynamodb",
                endpoint_url=proxy.url,
                region_name=REGION,
                aws_access_key_id=DEST_ACCOUNT,
                aws_secret_access_key=SANDBOX_SECRET,
                config=botocore_config(timeouts, max_pool_connections=10),
            )

        writer = make_writer(
            BoundedClients(make),
            ConsumerConfig(table_name="users", write_mode=WriteMode(kind="overwrite")),
        )
        summaries: list[Any] = []
        with pytest.raises(AllMessagesFailedError):
            handle_batch(
                ev,
                FixedContext(remaining_ms=1_500),
                writer=writer,
                safety_margin_ms=0,
                on_summary=summaries.append,
            )
    (summary,) = summaries
    (failed,) = summary.failures
    assert "ReadTimeoutError" in (failed.failure or "") or "deadline" in (failed.failure or "")
    assert summary.items_written == 0
