"""What happened to each message of a batch, and to the batch as a whole."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# Keeps the invocation's log line readable when a whole batch of bad messages arrives.
MAX_LOGGED_FAILURES: Final = 10


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageResult:
    message_id: str
    items: int = 0  # items decoded from the message (0 if it could not be decoded)
    written: int = 0
    skipped: int = 0  # conditional modes: the destination already held the item, or a newer one
    retries: int = 0
    failure: str | None = None  # why the message was not fully written

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def failed_items(self) -> int:
        return self.items - self.written - self.skipped


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchSummary:
    messages: int
    messages_failed: int
    items_written: int
    items_skipped: int
    items_failed: int
    retries: int
    duration_ms: int
    failures: tuple[MessageResult, ...]

    @classmethod
    def of(cls, results: Sequence[MessageResult], *, duration_ms: int) -> BatchSummary:
        failures = tuple(result for result in results if not result.ok)
        return cls(
            messages=len(results),
            messages_failed=len(failures),
            items_written=sum(result.written for result in results),
            items_skipped=sum(result.skipped for result in results),
            items_failed=sum(result.failed_items for result in results),
            retries=sum(result.retries for result in results),
            duration_ms=duration_ms,
            failures=failures,
        )

    @property
    def all_failed(self) -> bool:
        return self.messages > 0 and self.messages_failed == self.messages

    def log_line(self) -> str:
        """The invocation's one JSON log line."""
        record = {
            "event": "asynccopy.consume.batch",
            "messages": self.messages,
            "messages_failed": self.messages_failed,
            "items_written": self.items_written,
            "items_skipped": self.items_skipped,
            "items_failed": self.items_failed,
            "retries": self.retries,
            "duration_ms": self.duration_ms,
            "failures": [
                {"messageId": f.message_id, "reason": f.failure}
                for f in self.failures[:MAX_LOGGED_FAILURES]
            ],
        }
        return json.dumps(record, ensure_ascii=True, separators=(",", ":"))


class AllMessagesFailedError(RuntimeError):
    """Every message of the batch failed: raised so the event source mapping backs off."""

    def __init__(self, summary: BatchSummary) -> None:
        self.summary = summary
        first = summary.failures[0].failure if summary.failures else "unknown"
        super().__init__(
            f"all {summary.messages} messages failed (first reason: {first}); they return to the "
            f"queue after its visibility timeout and go to the dead-letter queue after "
            f"maxReceiveCount receives. Check the table name, its capacity, and the producer's "
            f"version"
        )
