"""Counters of a copy: updated once per call or batch (never per item), read by the display.

All tasks run on one event loop thread, so plain integers need no lock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from asynccopy.copy.reasons import FailureCode
from consumer.wire import Item, key_to_text

SAMPLE_SIZE = 5


@dataclass(frozen=True, kw_only=True, slots=True)
class FailedKey:
    key: Item
    code: FailureCode  # what failed_by_reason counts
    reason: str  # this item's: an AWS error code, or what went wrong


@dataclass(kw_only=True, slots=True)
class Stats:
    items_selected: int | None = None  # None: unknown (a Query; a Scan with a filter)
    items_selected_exact: bool = True  # False for a Scan's ItemCount estimate
    items_read: int = 0
    items_sent: int = 0
    items_missing: int = 0
    items_failed: int = 0
    items_dry_run: int = 0  # accepted by the dry-run sender: would have been sent
    items_skipped_by_resume: int = 0  # done by an earlier run, per the checkpoint (not read)
    items_skipped_expired: int = 0  # read, TTL in the past: not sent (--skip-expired)
    items_replication_attributes_stripped: int = 0  # sent without their aws:rep:* attributes
    items_transformed: int = 0  # returned by --transform, to be sent
    items_skipped_by_transform: int = 0  # read, --transform returned None: not sent
    messages_sent: int = 0
    batches_sent: int = 0
    bytes_sent: int = 0
    sqs_request_units: int = 0  # SQS bills each 64 KB chunk of a request as one request
    read_calls: int = 0
    rcu_consumed: float = 0.0
    retries: int = 0
    throttles: int = 0
    # DynamoDB's ThrottlingReasons (e.g. TableReadKeyRangeThroughputExceeded), counted.
    throttle_reasons: dict[str, int] = field(default_factory=dict)
    started_s: float | None = None
    finished_s: float | None = None
    interrupted: bool = False
    missing_sample: list[Item] = field(default_factory=list)
    failed_sample: list[FailedKey] = field(default_factory=list)
    on_failed: Callable[[Sequence[FailedKey]], None] | None = None
    failed_by_reason: dict[FailureCode, int] = field(default_factory=dict)  # items_failed
    failed_examples: dict[FailureCode, FailedKey] = field(default_factory=dict)  # first of each
    too_large_max_bytes: int = 0  # the largest message an ItemTooLarge item alone would need
    paused: str | None = None  # why reading waits (--max-queue-depth), e.g. "queue depth 9 > 5"

    def record_read(self, *, items: int, missing: Sequence[Item] = ()) -> None:
        self.items_read += items
        if missing:
            self.items_missing += len(missing)
            room = SAMPLE_SIZE - len(self.missing_sample)
            if room > 0:
                self.missing_sample.extend(missing[:room])

    def record_throttle(self, reasons: Sequence[str] = ()) -> None:
        self.throttles += 1
        for reason in reasons:
            self.throttle_reasons[reason] = self.throttle_reasons.get(reason, 0) + 1

    def record_failed(self, failed: Sequence[FailedKey]) -> None:
        if not failed:
            return
        self.items_failed += len(failed)
        for one in failed:
            self.failed_by_reason[one.code] = self.failed_by_reason.get(one.code, 0) + 1
            self.failed_examples.setdefault(one.code, one)
        room = SAMPLE_SIZE - len(self.failed_sample)
        if room > 0:
            self.failed_sample.extend(failed[:room])
        if self.on_failed is not None:
            self.on_failed(failed)

    def elapsed_s(self, now: float) -> float:
        if self.started_s is None:
            return 0.0
        end = self.finished_s if self.finished_s is not None else now
        return max(0.0, end - self.started_s)


class FailedKeyFile:
    """`--failed-out FILE`: one failed key per line as JSON, readable by `--keys`; mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that already existed
        self._handle: IO[str] = os.fdopen(fd, "w", encoding="ascii")

    def write(self, failed: Sequence[FailedKey]) -> None:
        self._handle.write("".join(key_to_text(f.key) + "\n" for f in failed))
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
