"""WatchUpdate -> stderr: a live bar of messages drained with stat lines on a terminal, a plain
line every few seconds otherwise (CI logs), nothing with --no-progress; the same modes as the
other commands' progress."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from asynccopy.copy.progress import ProgressMode, RateColumn
from asynccopy.watch.watcher import Clock, WatchUpdate


class WatchDisplay:
    def __init__(
        self,
        *,
        mode: ProgressMode,
        console: Console,
        clock: Clock,
        prefix: str = "status",
        line_interval_s: float = 5.0,
    ) -> None:
        self._mode = mode
        self._console = console
        self._clock = clock
        self._prefix = prefix
        self._line_interval_s = line_interval_s
        self._live: Live | None = None
        self._last_line_s: float | None = None
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            RateColumn("msgs"),
            TimeRemainingColumn(),
            get_time=clock.monotonic,
            auto_refresh=False,
        )
        self._drained = self._bars.add_task(prefix, total=None)

    def render(self, update: WatchUpdate) -> Text:
        return Text(f"{self._prefix}: {update.describe()}")

    def draw(self, update: WatchUpdate) -> RenderableType:
        """A bar of the messages drained of those seen (drained + still queued), stat lines."""
        d = update.depth
        self._bars.update(
            self._drained,
            completed=update.messages_drained,
            total=update.messages_drained + d.pending,
        )
        dead = "unknown" if d.dead_letters is None else f"{d.dead_letters:,}"
        lines = [f"waiting {d.visible:,} · in flight {d.in_flight:,} · dead-letter {dead}"]
        if update.items_written_estimate is not None:
            lines.append(f"~{update.items_written_estimate:,} items written (estimate)")
        return Group(self._bars, *(Text(line) for line in lines))

    def update(self, update: WatchUpdate) -> None:
        if self._live is not None:
            self._live.update(self.draw(update), refresh=True)
        elif self._mode is ProgressMode.PLAIN:
            now = self._clock.monotonic()
            if self._last_line_s is None or now - self._last_line_s >= self._line_interval_s:
                self._last_line_s = now
                self._console.print(
                    self.render(update).plain, markup=False, highlight=False, soft_wrap=True
                )

    def __enter__(self) -> WatchDisplay:
        if self._mode is ProgressMode.LIVE:
            self._live = Live(console=self._console, refresh_per_second=4, transient=True)
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
