"""The terminal's live display, drawn with rich's Progress: rendered through a recording console
with an injected clock, for copy, copy --wait's write side and consume."""

from __future__ import annotations

import anyio
from rich.console import Console

from asynccopy.consume.progress import Progress
from asynccopy.consume.stats import RunStats
from asynccopy.copy.progress import ProgressConfig, ProgressMode, ProgressView, show_progress
from asynccopy.copy.stats import Stats
from asynccopy.read.limiter import LimiterConfig, ReadCapacityLimiter, UnlimitedLimiter
from asynccopy.watch.display import WatchDisplay
from asynccopy.watch.watcher import QueueDepth, WatchUpdate
from consumer.results import BatchSummary, MessageResult


def _console() -> Console:
    return Console(record=True, force_terminal=True, width=120, color_system=None)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_copy_draws_bars_for_read_and_sent_and_stat_lines_beneath() -> None:
    clock = _Clock()
    stats = Stats(items_selected=1_000, started_s=90.0)
    limiter = ReadCapacityLimiter(LimiterConfig(target_rcu_per_s=30), clock=clock.monotonic)
    view = ProgressView(stats, limiter=limiter, clock=clock.monotonic)
    # rich computes rates and time left between the samples taken at each redraw.
    view.renderable()
    clock.now += 5.0
    stats.items_read, stats.items_sent = 250, 200
    view.renderable()
    clock.now += 5.0
    stats.items_read, stats.items_sent, stats.items_missing = 500, 400, 2
    stats.rcu_consumed, stats.bytes_sent, stats.messages_sent = 250.0, 2_048_000, 16
    stats.retries, stats.throttles = 3, 1
    stats.paused = "queue depth 9 > 5"
    console = _console()
    console.print(view.renderable())
    text = console.export_text()
    read_row, sent_row = text.splitlines()[:2]
    assert "read" in read_row
    assert "50%" in read_row
    assert "502/1000" in read_row
    assert "50 items/s" in read_row
    assert "0:00:10" in read_row
    assert "40 items/s" in sent_row
    assert "sent" in sent_row
    assert "40%" in sent_row
    assert "400/1000" in sent_row
    assert "━" in read_row  # the bar itself
    assert "2.0 MB" in text
    assert "in 16 messages" in text
    assert "rate 12.5 RCU/s (allowed 30.0 of 30.0) · missing 2 · failed 0" in text
    assert "retries 3 · throttles 1" in text
    assert "paused: queue depth 9 > 5" in text


def test_copy_s_plain_line_is_unchanged_by_the_bars() -> None:
    stats = Stats(items_selected=10, started_s=0.0)
    limiter = ReadCapacityLimiter(LimiterConfig(target_rcu_per_s=30), clock=lambda: 1.0)
    view = ProgressView(stats, limiter=limiter, clock=lambda: 1.0)
    view.renderable()
    assert view.line().startswith("read 0/10 · sent 0 · missing 0 · failed 0 | ")


def _update(*, drained: int, visible: int, in_flight: int) -> WatchUpdate:
    return WatchUpdate(
        depth=QueueDepth(visible=visible, in_flight=in_flight, dead_letters=0),
        elapsed_s=4.0,
        messages_drained=drained,
        items_written_estimate=drained * 25,
        messages_per_s=5.0,
        eta_s=12.0,
        empty_polls=0,
    )


def test_copy_wait_draws_the_write_side_as_a_bar_of_messages_drained() -> None:
    clock = _Clock()
    console = _console()
    display = WatchDisplay(
        mode=ProgressMode.LIVE, console=console, clock=clock, prefix="write side"
    )
    display.draw(_update(drained=0, visible=80, in_flight=20))
    clock.now += 2.0
    display.draw(_update(drained=10, visible=70, in_flight=20))
    clock.now += 2.0
    console.print(display.draw(_update(drained=20, visible=60, in_flight=20)))
    text = console.export_text()
    bar_row = text.splitlines()[0]
    assert "write side" in bar_row
    assert "20%" in bar_row
    assert "20/100" in bar_row
    assert "5 msgs/s" in bar_row
    assert "waiting 60 · in flight 20 · dead-letter 0" in text
    assert "~500 items written (estimate)" in text
    # The plain line for CI logs stays the watcher's own description.
    assert display.render(_update(drained=20, visible=60, in_flight=20)).plain.startswith(
        "write side: waiting 60, in flight 20, dead-letter 0, drained 20 msgs"
    )


def test_consume_draws_items_written_and_stat_lines() -> None:
    now = [100.0]
    stats = RunStats(clock=lambda: now[0])
    console = _console()
    shown = Progress(stats, mode=ProgressMode.OFF, console=console, clock=lambda: now[0])
    for _ in range(2):
        shown.draw()
        stats.add_batch(
            BatchSummary.of(
                [MessageResult(message_id="m", items=15, written=10, skipped=5)], duration_ms=3
            )
        )
        now[0] += 1.0
    console.print(shown.draw())
    text = console.export_text()
    bar_row = text.splitlines()[0]
    assert "consume" in bar_row
    assert "20 items written" in bar_row
    assert "10 items/s" in bar_row
    assert "2 messages in 2 batches · 0 messages failed" in text
    assert "skipped 10 · rejected 0 · failed 0 · retries 0" in text
    assert shown.render().plain.startswith("consume: 2 messages in 2 batches: 20 items written")


def test_show_progress_draws_the_bars_on_a_terminal() -> None:
    stats = Stats(items_selected=10, started_s=0.0)
    stats.items_read = stats.items_sent = 10
    view = ProgressView(stats, limiter=UnlimitedLimiter(), clock=lambda: 1.0)
    console = _console()

    async def main() -> None:
        with anyio.move_on_after(0.05):
            await show_progress(
                view, console=console, config=ProgressConfig(mode=ProgressMode.LIVE)
            )

    anyio.run(main)
    text = console.export_text()
    assert "100%" in text
    assert "10/10" in text
    assert "rate 0.0 RCU/s (no limit)" in text
