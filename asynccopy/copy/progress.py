"""The progress display on stderr, drawn from the counters a few times a second.

live   rich bars (items read and sent, bytes) and stat lines, redrawn every `refresh_s`
       (stderr is a terminal)
plain  one line every `plain_every_s` (stderr is a file or a pipe)
off    `--no-progress`
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

import anyio
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    FileSizeColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from asynccopy.copy.stats import Stats
from asynccopy.read.limiter import Limiter


class ProgressMode(Enum):
    LIVE = "live"
    PLAIN = "plain"
    OFF = "off"

    @classmethod
    def choose(cls, *, enabled: bool, console: Console) -> ProgressMode:
        if not enabled:
            return cls.OFF
        return cls.LIVE if console.is_terminal else cls.PLAIN


@dataclass(frozen=True, kw_only=True, slots=True)
class ProgressConfig:
    mode: ProgressMode
    refresh_s: float = 0.25
    plain_every_s: float = 5.0


def _duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _bytes(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    size = count / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GB"


class LineView(Protocol):
    """Anything that renders its current state as one line of progress."""

    def line(self) -> str: ...


@runtime_checkable
class DrawnView(LineView, Protocol):
    """A view that also draws itself for a terminal (bars and stat lines)."""

    def renderable(self) -> RenderableType: ...


class RateColumn(ProgressColumn):
    """The task's speed in its own unit (rich's TransferSpeedColumn is for bytes only)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self._unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("?" if speed is None else f"{speed:,.0f} {self._unit}/s")


def item_bars(clock: Callable[[], float]) -> Progress:
    """Bars for counts of items or messages: done of total, percent, rate, time left."""
    return Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        RateColumn("items"),
        TimeRemainingColumn(),
        get_time=clock,
        auto_refresh=False,
    )


class ProgressView:
    """What the display shows, computed from the counters; the clock is injected."""

    def __init__(
        self, stats: Stats, *, limiter: Limiter, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stats = stats
        self._limiter = limiter
        self._clock = clock
        self._items = item_bars(clock)
        self._read = self._items.add_task("read", total=stats.items_selected)
        self._sent = self._items.add_task("sent", total=stats.items_selected)
        self._bytes = Progress(
            TextColumn("{task.description:>10}"),
            FileSizeColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[messages]}"),
            TimeElapsedColumn(),
            get_time=clock,
            auto_refresh=False,
        )
        self._sent_bytes = self._bytes.add_task("bytes", total=None, messages="")

    def _rate(self) -> str:
        stats = self._stats
        elapsed = stats.elapsed_s(self._clock())
        rcu_per_s = stats.rcu_consumed / elapsed if elapsed > 0 else 0.0
        effective = self._limiter.effective_rcu_per_s
        target = self._limiter.target_rcu_per_s
        if target is None or effective is None:
            return f"{rcu_per_s:,.1f} RCU/s (no limit)"
        return f"{rcu_per_s:,.1f} RCU/s (allowed {effective:,.1f} of {target:,.1f})"

    def renderable(self) -> RenderableType:
        """The bars, updated from the counters, and the stat lines beneath them."""
        stats = self._stats
        total = stats.items_selected
        done = stats.items_read + stats.items_missing + stats.items_failed
        self._items.update(self._read, completed=done, total=total)
        self._items.update(self._sent, completed=stats.items_sent, total=total)
        messages = f"in {stats.messages_sent:,} messages"
        self._bytes.update(self._sent_bytes, completed=stats.bytes_sent, messages=messages)
        lines = [
            f"rate {self._rate()} · missing {stats.items_missing:,}"
            f" · failed {stats.items_failed:,}",
            f"retries {stats.retries:,} · throttles {stats.throttles:,}",
        ]
        if total is not None and not stats.items_selected_exact:
            lines.append(f"{total:,} items is the table's estimate")
        if stats.paused is not None:
            lines.append(f"paused: {stats.paused}")
        return Group(self._items, self._bytes, *(Text(line) for line in lines))

    def line(self) -> str:
        stats = self._stats
        elapsed = stats.elapsed_s(self._clock())
        done = stats.items_read + stats.items_missing + stats.items_failed
        total = stats.items_selected
        total_text = (
            "?" if total is None else f"{total:,}" + ("" if stats.items_selected_exact else "~")
        )
        items_per_s = stats.items_read / elapsed if elapsed > 0 else 0.0
        rcu_per_s = stats.rcu_consumed / elapsed if elapsed > 0 else 0.0
        effective = self._limiter.effective_rcu_per_s
        target = self._limiter.target_rcu_per_s
        rate = (
            f"{rcu_per_s:,.1f} RCU/s (no limit)"
            if target is None or effective is None
            else f"{rcu_per_s:,.1f} RCU/s (allowed {effective:,.1f} of {target:,.1f})"
        )
        if total is not None and items_per_s > 0 and total > done:
            eta = _duration((total - done) / items_per_s)
        else:
            eta = "?" if total is None else "0:00:00"
        return (
            f"read {stats.items_read:,}/{total_text} · sent {stats.items_sent:,}"
            f" · missing {stats.items_missing:,} · failed {stats.items_failed:,}"
            f" | {rate} · {items_per_s:,.0f} items/s"
            f" | {_bytes(stats.bytes_sent)} in {stats.messages_sent:,} messages"
            f" | retries {stats.retries:,} · throttles {stats.throttles:,}"
            f" | elapsed {_duration(elapsed)} · ETA {eta}"
            + ("" if stats.paused is None else f" | paused: {stats.paused}")
        )


async def show_progress(view: LineView, *, console: Console, config: ProgressConfig) -> None:
    """Redraw until cancelled; the caller cancels it when the copy ends."""
    if config.mode is ProgressMode.OFF:
        return
    if config.mode is ProgressMode.PLAIN:
        while True:
            await anyio.sleep(config.plain_every_s)
            console.print(view.line(), markup=False, highlight=False, soft_wrap=True)
    draw: Callable[[], RenderableType] = (
        view.renderable if isinstance(view, DrawnView) else lambda: Text(view.line())
    )
    with Live(draw(), console=console, auto_refresh=False, transient=False) as live:
        try:
            while True:
                await anyio.sleep(config.refresh_s)
                live.update(draw(), refresh=True)
        finally:
            live.update(draw(), refresh=True)
