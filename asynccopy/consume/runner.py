"""The local runner: the event source mapping's semantics, around the Lambda's own handler.

Each poller thread long-polls the queue, hands what it receives to `handle_batch` as a
Lambda-shaped event, deletes the messages the handler did not report failed, and leaves the
rest to reappear after the visibility timeout (and, after maxReceiveCount receives, to be
moved to the dead-letter queue by the queue's redrive policy). Items the table refuses for good
go to that dead-letter queue one by one, as the Lambda sends them to DEAD_LETTER_QUEUE_URL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from asynccopy.consume.clients import (
    dead_letter_sqs_clients,
    dynamodb_clients,
    open_sync_session,
    sqs_client,
)
from asynccopy.consume.config import RunnerConfig
from asynccopy.consume.events import RunnerContext, lambda_event
from asynccopy.consume.queues import find_dead_letter_queue
from asynccopy.consume.stats import RunStats, RunSummary
from asynccopy.errors import AsyncCopyError, InputError
from consumer.config import ConsumerConfig
from consumer.dead_letters import DeadLetterQueue, DeadLetterSink, NoDeadLetterQueue
from consumer.handler import handle_batch
from consumer.results import AllMessagesFailedError, BatchSummary, MessageResult
from consumer.retry import Backoff, RetryPolicy, error_code, is_retryable, writer_backoff
from consumer.writer import Writer, make_writer

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef, MessageTypeDef

# Receives (or drain checks) in a row that may fail with throttling, a 5xx or a lost connection,
# after botocore's own retries, before a poller gives up; the event source mapping keeps polling
# too. Between them a jittered wait of up to 0.5 s x 2^retry (at most 8 s, the 5th retry's).
MAX_POLL_FAILURES: Final = 6
POLL_POLICY: Final = RetryPolicy(max_attempts=MAX_POLL_FAILURES, base_delay_s=0.5, max_delay_s=8.0)

# With --until-empty, a receive waits at most this long: once the queue is drained, each poller's
# receive comes back empty within it, so the run ends about empty_checks x this after the last
# write, not empty_checks x the long poll. A receive returns as soon as a message is there, so
# a busy queue is read as fast either way (WaitTimeSeconds > 0 is still a long poll, which asks
# every SQS server: no false "empty" from sampling).
UNTIL_EMPTY_WAIT_S: Final = 1

_DRAIN_ATTRIBUTES: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


class ReceiveError(AsyncCopyError):
    """The queue could not be read (or written back to) while running."""


class Runner:
    def __init__(
        self,
        config: RunnerConfig,
        *,
        sqs: SQSClient,
        writer: Writer,
        stats: RunStats,
        say: Callable[[str], None] = lambda _line: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._sqs = sqs
        self._writer = writer
        self._stats = stats
        self._say = say
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._empty_streak = 0
        self._error: BaseException | None = None
        self._queue_arn = ""
        self._region = sqs.meta.region_name
        self._batch_timeout_s = config.batch_timeout_s
        self._wait_time_s = (
            min(config.wait_time_s, UNTIL_EMPTY_WAIT_S)
            if config.until_empty
            else config.wait_time_s
        )

    def run(self, stop: threading.Event) -> RunSummary:
        """Poll until `stop` is set (or, with until_empty, the queue is drained); Ctrl-C stops
        receiving, lets the batches in flight finish and returns the summary."""
        self._inspect_queue()
        threads = [
            threading.Thread(target=self._poll, args=(stop,), name=f"consume-{index}", daemon=True)
            for index in range(self._config.concurrency)
        ]
        for thread in threads:
            thread.start()
        interrupted = False
        try:
            while any(thread.is_alive() for thread in threads):
                for thread in threads:
                    thread.join(timeout=0.2)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            for thread in threads:
                thread.join()
        if self._error is not None:
            raise ReceiveError(
                f"reading queue {self._config.queue_url} failed: {self._error}",
                hint="check that your credentials may receive, delete and get-attributes on it",
            ) from self._error
        return self._stats.snapshot(interrupted=interrupted)

    def _inspect_queue(self) -> None:
        try:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self._config.queue_url, AttributeNames=["QueueArn", "VisibilityTimeout"]
            )["Attributes"]
        except (BotoCoreError, ClientError) as exc:
            raise InputError(
                f"cannot read queue {self._config.queue_url}: {error_code(exc)}",
                hint=f"check --queue-url, the region ({self._region}) and your credentials",
            ) from exc
        self._queue_arn = attributes["QueueArn"]
        visibility_s = int(attributes.get("VisibilityTimeout", "30"))
        # A batch must finish (and delete its messages) before they become visible again.
        self._batch_timeout_s = min(self._config.batch_timeout_s, visibility_s / 2)

    def _poll(self, stop: threading.Event) -> None:
        failures = 0
        # Waits end early when `stop` is set (Ctrl-C, or another poller's error).
        backoff = Backoff(sleep=stop.wait, policy=POLL_POLICY)
        try:
            while not stop.is_set():
                try:
                    messages = self._receive()
                    drained = (
                        not messages and self._config.until_empty and self._queue_stays_empty()
                    )
                except (BotoCoreError, ClientError) as exc:
                    failures += 1
                    if not is_retryable(exc) or failures >= POLL_POLICY.max_attempts:
                        raise
                    backoff.wait(failures - 1)
                    continue
                failures = 0
                if messages:
                    self._handle(messages)
                elif drained:
                    stop.set()
        except Exception as exc:
            with self._lock:
                self._error = self._error or exc
            stop.set()

    def _receive(self) -> list[MessageTypeDef]:
        response = self._sqs.receive_message(
            QueueUrl=self._config.queue_url,
            MaxNumberOfMessages=self._config.batch_size,
            WaitTimeSeconds=self._wait_time_s,
            # No system attributes: the handler reads none of them (only body and messageId).
        )
        messages = list(response.get("Messages", []))
        if messages:
            self._stats.add_received()
            with self._lock:
                self._in_flight += 1
                self._empty_streak = 0
        return messages

    def _queue_stays_empty(self) -> bool:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._config.queue_url, AttributeNames=list(_DRAIN_ATTRIBUTES)
        )["Attributes"]
        drained = all(int(attributes.get(name, "0")) == 0 for name in _DRAIN_ATTRIBUTES)
        with self._lock:
            drained = drained and self._in_flight == 0
            self._empty_streak = self._empty_streak + 1 if drained else 0
            return self._empty_streak >= self._config.empty_checks

    def _handle(self, messages: Sequence[MessageTypeDef]) -> None:
        try:
            failed = self._invoke(messages)
            self._delete([m for m in messages if m["MessageId"] not in failed])
        finally:
            with self._lock:
                self._in_flight -= 1

    def _invoke(self, messages: Sequence[MessageTypeDef]) -> set[str]:
        """The messageIds the handler did not write, as the event source mapping sees them."""
        event = lambda_event(messages, queue_arn=self._queue_arn, region=self._region)
        context = RunnerContext(timeout_s=self._batch_timeout_s, clock=self._clock)
        every = {m["MessageId"] for m in messages}
        try:
            response = handle_batch(
                event,
                context,
                writer=self._writer,
                safety_margin_ms=min(5_000, int(self._batch_timeout_s * 100)),
                on_summary=self._on_summary,
                clock=self._clock,
            )
        except AllMessagesFailedError:
            return every
        except Exception as exc:  # like a crashed invocation: the whole batch returns
            reason = f"the handler raised {type(exc).__name__}: {exc}"
            self._say(f"batch of {len(messages)} messages failed: {reason}")
            crashed = [MessageResult(message_id=m, failure=reason) for m in sorted(every)]
            self._stats.add_batch(BatchSummary.of(crashed, duration_ms=0))
            return every
        return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}

    def _on_summary(self, summary: BatchSummary) -> None:
        self._stats.add_batch(summary)
        for failure in summary.failures:
            self._say(f"message {failure.message_id} not written: {failure.failure}")
        for rejection in summary.rejections:
            self._say(
                f"item {rejection.key} rejected, now in the dead-letter queue: "
                f"{rejection.code}: {rejection.reason}"
            )

    def _delete(self, messages: Sequence[MessageTypeDef]) -> None:
        if not messages:
            return
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
        ]
        try:
            response = self._sqs.delete_message_batch(
                QueueUrl=self._config.queue_url, Entries=entries
            )
        except (BotoCoreError, ClientError) as exc:
            self._say(
                f"could not delete {len(entries)} written messages ({exc}); "
                f"they will be delivered and written again"
            )
            self._stats.add_deleted(deleted=0, failed=len(entries))
            return
        failed = len(response.get("Failed", []))
        self._stats.add_deleted(deleted=len(entries) - failed, failed=failed)


def build_runner(
    config: RunnerConfig,
    *,
    stats: RunStats,
    say: Callable[[str], None] = lambda _line: None,
    sqs: SQSClient | None = None,
) -> Runner:
    """A runner with clients from the config's credentials (or the queue's client `sqs`);
    reads the table's key schema and finds the queue's dead-letter queue, where items the
    table refuses are sent."""
    session = open_sync_session(config.target)
    connections = config.concurrency * (config.write_threads + 2)
    if sqs is None:
        sqs = sqs_client(session, config.target, connections=config.concurrency * 2 + 2)
    dynamodb = dynamodb_clients(
        session, config.target, connections=connections, engine=config.engine
    )
    dead_letter = find_dead_letter_queue(sqs, config.queue_url)
    backoff = writer_backoff()
    dead_letters: DeadLetterSink
    if dead_letter.url is None:
        dead_letters = NoDeadLetterQueue(dead_letter.why_none)
    else:
        dead_letters = DeadLetterQueue(
            clients=dead_letter_sqs_clients(session, config.target),
            queue_url=dead_letter.url,
            backoff=backoff,
        )
    consumer_config = ConsumerConfig(
        table_name=config.table_name,
        write_mode=config.write_mode,
        write_threads=config.write_threads,
        dead_letter_queue_url=dead_letter.url,
        engine=config.engine,
    )
    try:
        writer = make_writer(dynamodb, consumer_config, backoff=backoff, dead_letters=dead_letters)
    except (BotoCoreError, ClientError) as exc:
        raise InputError(
            f"cannot describe table {config.table_name!r}: {error_code(exc)}",
            hint=f"check --table, the region ({session.region_name}) and that your"
            " credentials may call DescribeTable",
        ) from exc
    if dead_letter.url is None:
        # Said once the table is known to exist: bad input stays a one-line error.
        say(
            f"no dead-letter queue for items the table refuses: {dead_letter.why_none}; "
            f"such an item fails its message instead"
        )
    return Runner(config, sqs=sqs, writer=writer, stats=stats, say=say)
