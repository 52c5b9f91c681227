"""`copy --wait`: after the last send, watch the write side until the consumer has drained it.

In: the copy's config and runtime (console, progress mode, signals), and its counters (items
per message, for the estimate of items written). Out: a frozen WriteSide for the summary.

The dead-letter queue is counted once before the first send (`start`) so that "the DLQ grew
during the copy" compares with the state before this copy, not with the state when the
sends ended. The watcher is synchronous (boto3): it runs in a worker thread; Ctrl-C ends
only the watching (the copy itself is complete then) through a clock whose sleep wakes up.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

from asynccopy.watch.watcher import (
    DEFAULT_POLL_INTERVAL_S,
    SystemClock,
    WatchResult,
    read_depth,
    watch,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from asynccopy.config import CopyConfig
    from asynccopy.copy.copier import Runtime
    from asynccopy.copy.stats import Stats


class _Stopped(Exception):
    """The watching was interrupted (Ctrl-C)."""


class _StoppableClock(SystemClock):
    """The system clock whose sleep ends at once when `stop` is set (Ctrl-C)."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise _Stopped


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteSide:
    """What the write side did while `copy --wait` watched it."""

    result: WatchResult | None  # None: interrupted before the first poll ended
    dead_letters_before: int | None  # the DLQ's messages before the copy; None: no DLQ known
    interrupted: bool = False

    @property
    def dead_letters_added(self) -> int:
        if self.result is None or self.dead_letters_before is None:
            return 0
        after = self.result.depth.dead_letters
        return 0 if after is None else max(0, after - self.dead_letters_before)

    @property
    def failed(self) -> bool:
        """The DLQ grew during the copy, or --wait-timeout passed before the queue drained."""
        timed_out = self.result is not None and self.result.timed_out
        return self.dead_letters_added > 0 or timed_out

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {} if self.result is None else self.result.to_dict()
        document.update(
            dead_letter_messages_before=self.dead_letters_before,
            dead_letter_messages_added=self.dead_letters_added,
            interrupted=self.interrupted,
        )
        return document

    def lines(self) -> list[str]:
        """The summary's lines for the write side."""
        if self.interrupted:
            return [
                "  write side: stopped watching (Ctrl-C); the copy itself is complete: "
                "the consumer goes on writing what is queued"
            ]
        assert self.result is not None
        r = self.result
        state = "drained" if r.drained else f"not drained after {r.elapsed_s:,.0f} s"
        if r.timed_out:
            state += " (--wait-timeout passed; the consumer goes on writing)"
        estimate = (
            ""
            if r.items_written_estimate is None
            else f", ~{r.items_written_estimate:,} items written (estimate)"
        )
        lines = [
            f"  write side: {state}: {r.depth.visible:,} waiting, {r.depth.in_flight:,} in "
            f"flight, {r.messages_drained:,} messages drained{estimate}"
        ]
        if r.dead_letter_queue_url is None:
            lines.append(f"  dead-letter queue: none known ({r.why_no_dead_letter_queue})")
        elif self.dead_letters_added:
            lines.append(
                f"  dead-letter queue grew by {self.dead_letters_added:,} messages during the "
                f"copy: see `asynccopy dlq --queue-url {r.dead_letter_queue_url}`"
            )
        return lines


class WriteSideWatch:
    """The queue's client and the DLQ's count before the copy; `wait` watches after it."""

    def __init__(self, sqs: SQSClient, queue_url: str, dead_letters_before: int | None) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self.dead_letters_before = dead_letters_before

    async def wait(
        self,
        runtime: Runtime,
        stats: Stats,
        *,
        timeout_s: float | None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
    ) -> WriteSide:
        from asynccopy.watch.display import WatchDisplay

        clock = _StoppableClock()
        per_message = stats.items_sent / stats.messages_sent if stats.messages_sent else None
        display = WatchDisplay(
            mode=runtime.progress, console=runtime.console, clock=clock, prefix="write side"
        )
        run = partial(
            watch,
            self._sqs,
            self._queue_url,
            clock=clock,
            on_update=display.update,
            timeout_s=timeout_s,
            poll_interval_s=poll_interval_s,
            items_per_message=per_message,
        )
        result: WatchResult | None = None
        interrupted = False
        with display:
            async with anyio.create_task_group() as group:
                if runtime.handle_signals:
                    group.start_soon(_stop_on_ctrl_c, clock.stop)
                try:
                    result = await anyio.to_thread.run_sync(run)
                except _Stopped:
                    interrupted = True
                group.cancel_scope.cancel()
        return WriteSide(
            result=result,
            dead_letters_before=self.dead_letters_before,
            interrupted=interrupted,
        )


async def _stop_on_ctrl_c(stop: threading.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGINT) as signals:
        async for _ in signals:
            stop.set()
            return


def _open(config: CopyConfig) -> WriteSideWatch:
    from asynccopy.consume.queues import find_dead_letter_queue
    from asynccopy.watch.clients import open_queue

    opened = open_queue(config.queue_url, config.queue_target)
    dead_letter = find_dead_letter_queue(opened.sqs, config.queue_url)
    before = None
    if dead_letter.url is not None:
        before = read_depth(opened.sqs, config.queue_url, dead_letter.url).dead_letters
    return WriteSideWatch(opened.sqs, config.queue_url, before)


async def start_watch(config: CopyConfig) -> WriteSideWatch | None:
    """With --wait: the queue's client and the dead-letter queue counted before the copy."""
    if not config.wait:
        return None
    return await anyio.to_thread.run_sync(partial(_open, config))


async def wait_after(
    watch: WriteSideWatch | None,
    config: CopyConfig,
    runtime: Runtime,
    stats: Stats,
    *,
    error: str | None,
) -> WriteSide | None:
    """With --wait, after a copy that ended normally: the write side watched until drained."""
    if watch is None or error is not None or stats.interrupted:
        return None
    return await watch.wait(runtime, stats, timeout_s=config.wait_timeout_s)
