"""The local runner's configuration: validated, frozen, units in names."""

from __future__ import annotations

from dataclasses import dataclass, field

from asynccopy.aws import AwsTarget
from asynccopy.choices import DEFAULT_CONSUME_CONCURRENCY, MAX_RECEIVE_BATCH
from asynccopy.errors import InputError
from consumer.config import DEFAULT_WRITE_THREADS, ConfigError, ConsumerEngine, WriteMode

__all__ = ["MAX_RECEIVE_BATCH", "RunnerConfig", "parse_write_mode"]


def parse_write_mode(text: str) -> WriteMode:
    try:
        return WriteMode.parse(text)
    except ConfigError as err:
        raise InputError(
            f"--mode {text!r}: {err.problem}",
            hint="e.g. --mode overwrite, --mode skip-existing or --mode newer-wins:version",
        ) from None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunnerConfig:
    queue_url: str
    table_name: str
    write_mode: WriteMode = field(default_factory=lambda: WriteMode(kind="overwrite"))
    target: AwsTarget = field(default_factory=AwsTarget)
    concurrency: int = DEFAULT_CONSUME_CONCURRENCY  # batches in flight, like MaximumConcurrency
    batch_size: int = MAX_RECEIVE_BATCH
    until_empty: bool = False
    wait_time_s: int = 5  # long poll; ReceiveMessage allows 0..20
    # What the handler sees as the function timeout. The runner shortens it to half the
    # queue's visibility timeout, so a batch finishes before its messages reappear.
    batch_timeout_s: float = 60.0
    write_threads: int = DEFAULT_WRITE_THREADS
    engine: ConsumerEngine = "fast"  # as the Lambda's CONSUMER_ENGINE
    # Empty receives in a row, each finding the queue drained, before --until-empty stops:
    # SQS's message counts are approximate.
    empty_checks: int = 2

    def __post_init__(self) -> None:
        if not self.queue_url:
            raise InputError("--queue-url is empty", hint="pass the queue's URL")
        if not self.table_name:
            raise InputError("--table is empty", hint="name the destination table")
        if not 1 <= self.batch_size <= MAX_RECEIVE_BATCH:
            raise InputError(
                f"--batch-size {self.batch_size} is outside 1..{MAX_RECEIVE_BATCH}",
                hint="ReceiveMessage returns at most 10 messages",
            )
        if not 1 <= self.concurrency <= 64:
            raise InputError(
                f"--concurrency {self.concurrency} is outside 1..64",
                hint=f"batches in flight, like the mapping's MaximumConcurrency: e.g."
                f" {DEFAULT_CONSUME_CONCURRENCY}",
            )
        if not 0 <= self.wait_time_s <= 20:
            raise InputError(
                f"wait time {self.wait_time_s} s is outside 0..20",
                hint="SQS long polls wait at most 20 s",
            )
        if self.batch_timeout_s <= 0:
            raise InputError(
                f"batch timeout {self.batch_timeout_s} s must be positive",
                hint="give the seconds a batch may take",
            )
        if not 1 <= self.write_threads <= 64:
            raise InputError(
                f"--write-threads {self.write_threads} is outside 1..64",
                hint="e.g. --write-threads 4",
            )
