"""The run's counters, shared by the poller threads and read by the progress display."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from consumer.results import BatchSummary


def _counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 message`, `2 messages`: the noun agrees with the count."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunSummary:
    batches: int
    messages_received: int
    messages_deleted: int
    messages_failed: int  # reported failed by the handler: they return after the visibility timeout
    items_written: int
    items_skipped: int
    items_rejected: int  # refused by the table for good: each is in the dead-letter queue
    items_failed: int
    retries: int
    delete_failures: int  # written, but DeleteMessage failed: they will be written again
    elapsed_s: float
    # From the first receive that brought messages to the end of the last batch: the rate is
    # taken over it, not diluted by the idle receives before and after (--until-empty's checks).
    writing_s: float = 0.0
    interrupted: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def describe(self) -> str:
        rate = self.items_written / self.writing_s if self.writing_s > 0 else 0.0
        return (
            f"{_counted(self.messages_received, 'message')} in"
            f" {_counted(self.batches, 'batch', 'batches')}: "
            f"{_counted(self.items_written, 'item')} written, {self.items_skipped} skipped, "
            f"{self.items_rejected} rejected, "
            f"{self.items_failed} failed; {_counted(self.messages_failed, 'message')} failed, "
            f"{_counted(self.retries, 'retry', 'retries')};"
            f" {self.elapsed_s:.1f} s, writing {self.writing_s:.1f} s ({rate:.0f} items/s)"
        )


class RunStats:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._batches = self._received = self._deleted = self._failed = 0
        self._written = self._skipped = self._items_failed = self._retries = 0
        self._rejected = 0
        self._delete_failures = 0
        self._first_received: float | None = None
        self._last_batch_end: float | None = None

    def add_received(self) -> None:
        """A receive brought messages: the writing starts with the first one."""
        with self._lock:
            if self._first_received is None:
                self._first_received = self._clock()

    def add_batch(self, summary: BatchSummary) -> None:
        with self._lock:
            self._batches += 1
            self._received += summary.messages
            self._failed += summary.messages_failed
            self._written += summary.items_written
            self._skipped += summary.items_skipped
            self._rejected += summary.items_rejected
            self._items_failed += summary.items_failed
            self._retries += summary.retries
            self._last_batch_end = self._clock()

    def add_deleted(self, *, deleted: int, failed: int) -> None:
        with self._lock:
            self._deleted += deleted
            self._delete_failures += failed

    def snapshot(self, *, interrupted: bool = False) -> RunSummary:
        with self._lock:
            now = self._clock()
            first = now if self._first_received is None else self._first_received
            # Until the first batch ends, the writing lasts until now; then until the last end.
            last = now if self._last_batch_end is None else self._last_batch_end
            return RunSummary(
                batches=self._batches,
                messages_received=self._received,
                messages_deleted=self._deleted,
                messages_failed=self._failed,
                items_written=self._written,
                items_skipped=self._skipped,
                items_rejected=self._rejected,
                items_failed=self._items_failed,
                retries=self._retries,
                delete_failures=self._delete_failures,
                elapsed_s=now - self._started,
                writing_s=max(0.0, last - first),
                interrupted=interrupted,
            )
