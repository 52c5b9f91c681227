"""The write side seen from outside: the destination table's item count and the emulator's CPU,
sampled a few times a second while the programs under test run.

Every consumer is measured the same way, whatever it prints itself: ministack keeps
DescribeTable's ItemCount exact (real DynamoDB refreshes it about every six hours), so one
cheap call per sample tells how many items are in a table that started empty. The emulator's
CPU time comes from /proc/<pid>/stat (utime + stime, in clock ticks), Linux only as os.wait4
is: no psutil needed.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import DEST_ACCOUNT, TABLE_NAME, BenchSandbox


def round_ratios(ours: Sequence[Any], theirs: Sequence[Any]) -> tuple[float, ...]:
    """Our runs' items/s over theirs, round by round (0 where theirs wrote nothing)."""
    return tuple(
        o.items_per_s / t.items_per_s if t.items_per_s else 0.0
        for o, t in zip(ours, theirs, strict=True)
    )


def median_or_zero(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def process_cpu_s(pid: int | None) -> float:
    """The CPU time (user + system) process `pid` has used so far; 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    t_s: float  # perf_counter
    items: int  # in the destination table
    emulator_cpu_s: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Span:
    """From the first change of the item count to the sample that first saw every item."""

    items: int  # written in the span: every item less those the first sample already counted
    seconds: float
    emulator_cpu_s: float
    complete: bool  # the count reached what was expected

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def emulator_share(self) -> float:
        """The emulator's CPU over the span's wall time: 1.0 is one core, all it can use."""
        return self.emulator_cpu_s / self.seconds if self.seconds > 0 else 0.0


@dataclass
class TableWatch:
    """Call `sample()` (or pass `on_tick` to run_measured) to record the count and the CPU."""

    box: BenchSandbox
    expected: int
    table: str = TABLE_NAME
    samples: list[Sample] = field(default_factory=list)
    _ddb: Any = field(init=False)
    _pid: int | None = field(init=False)

    def __post_init__(self) -> None:
        self._ddb = self.box.client("dynamodb", DEST_ACCOUNT)
        self._pid = self.box.emulator_pid

    def sample(self) -> Sample:
        count = int(self._ddb.describe_table(TableName=self.table)["Table"]["ItemCount"])
        taken = Sample(
            t_s=time.perf_counter(), items=count, emulator_cpu_s=process_cpu_s(self._pid)
        )
        self.samples.append(taken)
        return taken

    @property
    def done(self) -> bool:
        return bool(self.samples) and self.samples[-1].items >= self.expected

    def on_tick(self, _elapsed_s: float) -> None:
        if not self.done:
            self.sample()

    def wait_done(self, *, timeout_s: float, tick_s: float = 0.1) -> bool:
        """Keep sampling until every expected item is in the table, or `timeout_s` passes."""
        deadline = time.perf_counter() + timeout_s
        while not self.done and time.perf_counter() < deadline:
            self.sample()
            time.sleep(tick_s)
        return self.done

    @property
    def last_write_s(self) -> float | None:
        """When the count was first seen complete (perf_counter); None if it never was."""
        return next((s.t_s for s in self.samples if s.items >= self.expected), None)

    def span(self) -> Span:
        return span_of(self.samples, expected=self.expected)


def span_of(samples: list[Sample], *, expected: int) -> Span:
    """The steady part of a run: from the sample before the count first rose to the sample
    that first counted every item (or the last sample). The items the first sample already
    counted are left out, so a consumer's own start-up is too."""
    rise = next((i for i in range(1, len(samples)) if samples[i].items > samples[0].items), None)
    if rise is None:
        return Span(items=0, seconds=0.0, emulator_cpu_s=0.0, complete=False)
    start = samples[rise - 1]
    end = next((s for s in samples if s.items >= expected), samples[-1])
    return Span(
        items=end.items - start.items,
        seconds=end.t_s - start.t_s,
        emulator_cpu_s=end.emulator_cpu_s - start.emulator_cpu_s,
        complete=end.items >= expected,
    )
