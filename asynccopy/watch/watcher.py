"""Poll a queue until the consumer has drained it: depths in, progress updates and a result out.

In: a synchronous SQS client, the queue's URL, an injected clock (monotonic time and sleep).
Out: a WatchUpdate after every poll (to `on_update`) and a frozen WatchResult at the end.

"Drained" means the queue held no visible and no in-flight message for `drained_polls`
consecutive polls: SQS's counts are approximate and lag by up to a minute on AWS ("the
ApproximateNumberOf* metrics may not achieve consistency until at least 1 minute after the
producers stop sending", SQS developer guide), so one empty look is not proof.

Items written are an estimate: messages that left the queue times items per message (the
copy knows the latter; `status` does not, and reports messages only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from asynccopy.consume.queues import find_dead_letter_queue
from asynccopy.errors import InputError
from asynccopy.retry import error_code

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DEFAULT_POLL_INTERVAL_S: Final = 2.0
DEFAULT_DRAINED_POLLS: Final = 3
_DEPTH_ATTRIBUTES: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
)


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        import time

        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueDepth:
    visible: int  # ApproximateNumberOfMessages
    in_flight: int  # ApproximateNumberOfMessagesNotVisible
    dead_letters: int | None  # the dead-letter queue's visible + in flight; None: no DLQ known

    @property
    def pending(self) -> int:
        return self.visible + self.in_flight


@dataclass(frozen=True, kw_only=True, slots=True)
class WatchUpdate:
    depth: QueueDepth
    elapsed_s: float
    messages_drained: int  # messages that left the queue since the first poll
    items_written_estimate: int | None  # messages_drained x items per message, if known
    messages_per_s: float
    eta_s: float | None  # None: nothing drains yet, or nothing is left
    empty_polls: int  # consecutive polls with nothing visible or in flight

    def describe(self) -> str:
        d = self.depth
        dead = "unknown" if d.dead_letters is None else f"{d.dead_letters:,}"
        parts = [
            f"waiting {d.visible:,}",
            f"in flight {d.in_flight:,}",
            f"dead-letter {dead}",
            f"drained {self.messages_drained:,} msgs",
        ]
        if self.items_written_estimate is not None:
            parts.append(f"~{self.items_written_estimate:,} items written (estimate)")
        parts.append(f"{self.messages_per_s:,.1f} msgs/s")
        if self.eta_s is not None:
            parts.append(f"ETA {int(self.eta_s) // 60}:{int(self.eta_s) % 60:02d}")
        return ", ".join(parts)


@dataclass(frozen=True, kw_only=True, slots=True)
class WatchResult:
    queue_url: str
    dead_letter_queue_url: str | None
    why_no_dead_letter_queue: str
    drained: bool
    timed_out: bool
    depth: QueueDepth  # at the last poll
    dead_letters_at_start: int | None
    messages_drained: int
    items_written_estimate: int | None
    elapsed_s: float
    polls: int

    @property
    def dead_letters_added(self) -> int:
        if self.depth.dead_letters is None or self.dead_letters_at_start is None:
            return 0
        return max(0, self.depth.dead_letters - self.dead_letters_at_start)

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue_url": self.queue_url,
            "dead_letter_queue_url": self.dead_letter_queue_url,
            "drained": self.drained,
            "timed_out": self.timed_out,
            "messages_waiting": self.depth.visible,
            "messages_in_flight": self.depth.in_flight,
            "dead_letter_messages": self.depth.dead_letters,
            "dead_letter_messages_added": self.dead_letters_added,
            "messages_drained": self.messages_drained,
            "items_written_estimate": self.items_written_estimate,
            "elapsed_s": round(self.elapsed_s, 3),
            "polls": self.polls,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _count(attributes: Mapping[Any, str], name: str) -> int:
    try:
        return int(attributes.get(name, "0"))
    except ValueError:
        return 0


def _depths(sqs: SQSClient, queue_url: str) -> tuple[int, int]:
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=list(_DEPTH_ATTRIBUTES)
        )["Attributes"]
    except (BotoCoreError, ClientError) as exc:
        raise InputError(
            f"cannot read queue {queue_url}: {error_code(exc)}",
            hint="check --queue-url, the region and your credentials (sqs:GetQueueAttributes)",
        ) from exc
    return (
        _count(attributes, _DEPTH_ATTRIBUTES[0]),
        _count(attributes, _DEPTH_ATTRIBUTES[1]),
    )


def read_depth(sqs: SQSClient, queue_url: str, dead_letter_queue_url: str | None) -> QueueDepth:
    """One look at the queue and its dead-letter queue."""
    visible, in_flight = _depths(sqs, queue_url)
    dead: int | None = None
    if dead_letter_queue_url is not None:
        dead = sum(_depths(sqs, dead_letter_queue_url))
    return QueueDepth(visible=visible, in_flight=in_flight, dead_letters=dead)


class _Tally:
    """Messages drained, counted from the falls in the queue's depth between polls."""

    def __init__(self, *, started_s: float, items_per_message: float | None) -> None:
        self.started_s = started_s
        self.items_per_message = items_per_message
        self.previous: int | None = None
        self.drained = 0
        self.empty_polls = 0

    def add(self, depth: QueueDepth, now_s: float) -> WatchUpdate:
        if self.previous is not None:
            self.drained += max(0, self.previous - depth.pending)
        self.previous = depth.pending
        self.empty_polls = self.empty_polls + 1 if depth.pending == 0 else 0
        elapsed = max(0.0, now_s - self.started_s)
        rate = self.drained / elapsed if elapsed > 0 else 0.0
        eta = depth.pending / rate if rate > 0 and depth.pending > 0 else None
        return WatchUpdate(
            depth=depth,
            elapsed_s=elapsed,
            messages_drained=self.drained,
            items_written_estimate=self.items_written(),
            messages_per_s=rate,
            eta_s=eta,
            empty_polls=self.empty_polls,
        )

    def items_written(self) -> int | None:
        if self.items_per_message is None:
            return None
        return round(self.drained * self.items_per_message)


def watch(
    sqs: SQSClient,
    queue_url: str,
    *,
    clock: Clock,
    on_update: Callable[[WatchUpdate], None] = lambda update: None,
    until_drained: bool = True,
    timeout_s: float | None = None,
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
    drained_polls: int = DEFAULT_DRAINED_POLLS,
    items_per_message: float | None = None,
) -> WatchResult:
    """Poll `queue_url` (and the dead-letter queue its RedrivePolicy names) until drained, or
    `timeout_s` passes, or once if not `until_drained`. Raises InputError if the queue cannot
    be read; KeyboardInterrupt passes through (the caller exits 130)."""
    dead_letter = find_dead_letter_queue(sqs, queue_url)
    started = clock.monotonic()
    tally = _Tally(started_s=started, items_per_message=items_per_message)
    first: QueueDepth | None = None
    polls = 0
    while True:
        depth = read_depth(sqs, queue_url, dead_letter.url)
        polls += 1
        first = first or depth
        update = tally.add(depth, clock.monotonic())
        on_update(update)
        drained = update.empty_polls >= drained_polls
        timed_out = (
            not drained
            and timeout_s is not None
            and clock.monotonic() - started + poll_interval_s > timeout_s
        )
        if not until_drained or drained or timed_out:
            return WatchResult(
                queue_url=queue_url,
                dead_letter_queue_url=dead_letter.url,
                why_no_dead_letter_queue=dead_letter.why_none,
                drained=drained or (not until_drained and depth.pending == 0),
                timed_out=timed_out and until_drained,
                depth=depth,
                dead_letters_at_start=first.dead_letters,
                messages_drained=tally.drained,
                items_written_estimate=tally.items_written(),
                elapsed_s=update.elapsed_s,
                polls=polls,
            )
        clock.sleep(poll_interval_s)
