"""`copy --max-queue-depth N`: a gate the readers await before each read while the queue is
too deep, so a producer far faster than the consumer never piles up a backlog that could
outlive the queue's retention.

The queue's depth (ApproximateNumberOfMessages + ...NotVisible) is polled at most every
`poll_interval_s` (about 1 s): between polls the gate adds what it knows went out since, the
messages sent and the items read but not yet sent (at this copy's items per message), so its
estimate errs high, except for the one batch the packer may hold back (see `estimate`).
Readers that pass at the same moment may each still read one page: the overshoot is that
batch (10 messages) plus about one page's messages per reader.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio

from asynccopy.copy.stats import Stats
from asynccopy.errors import AsyncCopyError
from asynccopy.retry import error_code
from asynccopy.send.packing import MAX_ENTRIES_PER_BATCH, MAX_ITEMS_PER_MESSAGE

DEFAULT_GATE_POLL_INTERVAL_S: Final = 1.0
_DEPTH_ATTRIBUTES: Final = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


class QueueDepthGate:
    """Open while the queue (as last polled, plus what was sent or read since) holds at most
    `max_depth` messages; `wait_open` blocks a reader until then."""

    def __init__(
        self,
        read_depth: Callable[[], Awaitable[int]],
        *,
        max_depth: int,
        stats: Stats,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        poll_interval_s: float = DEFAULT_GATE_POLL_INTERVAL_S,
    ) -> None:
        self._read_depth = read_depth
        self._max_depth = max_depth
        self._stats = stats
        self._clock = clock
        self._sleep = sleep
        self._poll_interval_s = poll_interval_s
        self._lock = anyio.Lock()
        self._polled_s: float | None = None
        self._polled_depth = 0
        self._sent_at_poll = 0
        self._items_read = 0  # items the readers were handed (before packing)
        self.polls = 0

    def note_read(self, items: int) -> None:
        """A reader got `items` more items: messages soon on the queue."""
        self._items_read += items

    def _unsent_messages(self) -> int:
        stats = self._stats
        unsent = max(0, self._items_read - stats.items_sent - stats.items_failed)
        per_message = (
            stats.items_sent / stats.messages_sent if stats.messages_sent else MAX_ITEMS_PER_MESSAGE
        )
        return -(-unsent // max(1, int(per_message)))

    async def estimate(self) -> int:
        """The queue's depth as polled, plus what went out since; polls when that is old."""
        async with self._lock:
            now = self._clock()
            if self._polled_s is None or now - self._polled_s >= self._poll_interval_s:
                self._polled_depth = await self._read_depth()
                self._polled_s = now
                self._sent_at_poll = self._stats.messages_sent
                self.polls += 1
            sent_since = self._stats.messages_sent - self._sent_at_poll
            # The packer holds back up to one batch (a partial message, and messages waiting
            # to fill SendMessageBatch's 10 entries) until more is read or reading ends:
            # counting those would keep the gate shut for good on an empty queue.
            held = max(0, self._unsent_messages() - MAX_ENTRIES_PER_BATCH)
            return self._polled_depth + sent_since + held

    async def wait_open(self) -> None:
        while True:
            depth = await self.estimate()
            if depth <= self._max_depth:
                self._stats.paused = None
                return
            self._stats.paused = f"queue depth {depth:,} > {self._max_depth:,}"
            await self._sleep(self._poll_interval_s)


def sqs_depth_reader(sqs: Any, queue_url: str) -> Callable[[], Awaitable[int]]:
    """GetQueueAttributes on the copy's own (async) queue client: visible + in flight."""

    async def read() -> int:
        try:
            response = await sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=_DEPTH_ATTRIBUTES
            )
        except Exception as exc:  # botocore's errors, or the transport's
            raise AsyncCopyError(
                f"--max-queue-depth: cannot read queue {queue_url}'s depth: {error_code(exc)}",
                hint="the producer needs sqs:GetQueueAttributes on the queue",
            ) from exc
        attributes = response.get("Attributes", {})
        return sum(int(attributes.get(name, "0")) for name in _DEPTH_ATTRIBUTES)

    return read


def make_gate(
    max_depth: int | None, sqs: Any, queue_url: str, *, stats: Stats, clock: Callable[[], float]
) -> QueueDepthGate | None:
    """The gate for --max-queue-depth on the copy's queue client; None when it is off."""
    if max_depth is None:
        return None
    return QueueDepthGate(
        sqs_depth_reader(sqs, queue_url), max_depth=max_depth, stats=stats, clock=clock
    )
