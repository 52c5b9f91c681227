"""Progress on stderr, read from the counters a few times a second (never once per item).

A live rich display (items written with their rate, stat lines beneath) when stderr is a
terminal, one plain line every few seconds otherwise
(CI logs), nothing with --no-progress. Lines from the runner (failed messages) are printed
above the live display.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars
from rich.text import Text

from asynccopy.consume.stats import RunStats
from asynccopy.copy.progress import ProgressMode, RateColumn


class Progress:
    def __init__(
        self,
        stats: RunStats,
        *,
        mode: ProgressMode,
        console: Console,
        line_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stats = stats
        self._mode = mode
        self._console = console
        self._line_interval_s = line_interval_s
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Live | None = None
        # The queue's length is not known here (it grows while we read): the bar pulses.
        self._bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f} items written"),
            RateColumn("items"),
            TimeElapsedColumn(),
            get_time=clock,
            auto_refresh=False,
        )
        self._written = self._bars.add_task("consume", total=None)

    def render(self) -> Text:
        return Text("consume: " + self._stats.snapshot().describe())

    def draw(self) -> RenderableType:
        """The bar, updated from the counters, and the stat lines beneath it."""
        s = self._stats.snapshot()
        self._bars.update(self._written, completed=s.items_written)
        lines = [
            f"{s.messages_received:,} messages in {s.batches:,} batches"
            f" · {s.messages_failed:,} messages failed · {s.delete_failures:,} deletes failed",
            f"skipped {s.items_skipped:,} · rejected {s.items_rejected:,}"
            f" · failed {s.items_failed:,} · retries {s.retries:,}",
        ]
        return Group(self._bars, *(Text(line) for line in lines))

    def say(self, line: str) -> None:
        self._console.print(line, markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> Progress:
        if self._mode is ProgressMode.LIVE:
            self._live = Live(
                get_renderable=self.draw,
                console=self._console,
                refresh_per_second=4,
                transient=True,
            )
            self._live.start()
        elif self._mode is ProgressMode.PLAIN:
            self._thread = threading.Thread(target=self._print_lines, daemon=True)
            self._thread.start()
        return self

    def _print_lines(self) -> None:
        while not self._done.wait(self._line_interval_s):
            self.say(self.render().plain)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._live is not None:
            self._live.stop()
        if self._thread is not None:
            self._thread.join()
