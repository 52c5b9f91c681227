"""What happened to each message of a batch, and to the batch as a whole."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from consumer.dead_letters import Rejection

# Keeps the invocation's log line readable when a whole batch of bad messages arrives.
MAX_LOGGED_FAILURES: Final = 10


class Fate(Enum):
    WRITTEN = "written"
    SKIPPED = "skipped"  # a conditional mode kept the destination's item
    REJECTED = "rejected"  # refused for good, and now in the dead-letter queue
    FAILED = "failed"  # not written: its message must be delivered again


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemOutcome:
    fate: Fate
    retries: int = 0
    reason: str | None = None  # FAILED: why
    rejection: Rejection | None = None  # REJECTED: why


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageResult:
    message_id: str
    items: int = 0  # items decoded from the message (0 if it could not be decoded)
    written: int = 0
    skipped: int = 0  # conditional modes: the destination already held the item, or a newer one
    # Refused for good and sent to the dead-letter queue: done with, so the message succeeds.
    rejected: tuple[Rejection, ...] = ()
    retries: int = 0
    failure: str | None = None  # why the message was not fully written

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def failed_items(self) -> int:
        return self.items - self.written - self.skipped - len(self.rejected)


def describe_failures(reasons: Sequence[str]) -> str | None:
    """A message's failure: the first reason, and how many more there were."""
    if not reasons:
        return None
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"{reasons[0]}{more}"


def result_of(message_id: str, outcomes: Sequence[ItemOutcome]) -> MessageResult:
    """A message's result from the outcomes of its items, one each."""
    return MessageResult(
        message_id=message_id,
        items=len(outcomes),
        written=sum(o.fate is Fate.WRITTEN for o in outcomes),
        skipped=sum(o.fate is Fate.SKIPPED for o in outcomes),
        rejected=tuple(o.rejection for o in outcomes if o.rejection is not None),
        retries=sum(o.retries for o in outcomes),
        failure=describe_failures(
            [o.reason for o in outcomes if o.fate is Fate.FAILED and o.reason]
        ),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchSummary:
    messages: int
    messages_failed: int
    items_written: int
    items_skipped: int
    items_rejected: int
    items_failed: int
    retries: int
    duration_ms: int
    failures: tuple[MessageResult, ...]
    rejections: tuple[Rejection, ...] = ()

    @classmethod
    def of(cls, results: Sequence[MessageResult], *, duration_ms: int) -> BatchSummary:
        failures = tuple(result for result in results if not result.ok)
        return cls(
            messages=len(results),
            messages_failed=len(failures),
            items_written=sum(result.written for result in results),
            items_skipped=sum(result.skipped for result in results),
            items_rejected=sum(len(result.rejected) for result in results),
            items_failed=sum(result.failed_items for result in results),
            retries=sum(result.retries for result in results),
            duration_ms=duration_ms,
            failures=failures,
            rejections=tuple(r for result in results for r in result.rejected),
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
            "items_rejected": self.items_rejected,
            "items_failed": self.items_failed,
            "retries": self.retries,
            "duration_ms": self.duration_ms,
            "failures": [
                {"messageId": f.message_id, "reason": f.failure}
                for f in self.failures[:MAX_LOGGED_FAILURES]
            ],
            # Each one is also in the dead-letter queue, with its reason in its attributes.
            "rejected": [
                {"key": r.key, "code": r.code, "reason": r.reason}
                for r in self.rejections[:MAX_LOGGED_FAILURES]
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
