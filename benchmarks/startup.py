"""Start-up (issue 12): `asynccopy --help`, `asynccopy copy --help` and a one-item copy, each timed
from process start to exit, `runs` times in a row (as hyperfine does: the best and the median).

The help screens import no core, no aioboto3 and no aiohttp; the one-item copy imports what the
default (fast) engine needs, and no more. Targets: 0.3 s for the help screens, 1 s for the copy,
compared with the best run (the least disturbed by the other processes on the machine).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from benchmarks.harness import BenchSandbox, asynccopy_argv, copy_args, run_measured, write_keys

HELP_TARGET_S: Final = 0.3
COPY_TARGET_S: Final = 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Timing:
    name: str
    target_s: float
    wall_s: tuple[float, ...]

    @property
    def best_s(self) -> float:
        return min(self.wall_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def passed(self) -> bool:
        return self.best_s <= self.target_s


@dataclass(frozen=True, kw_only=True, slots=True)
class StartupResult:
    runs: int
    timings: tuple[Timing, ...]

    @property
    def passed(self) -> bool:
        return all(timing.passed for timing in self.timings)


def _time(argv: Sequence[str], *, env: dict[str, str], runs: int) -> tuple[float, ...]:
    return tuple(run_measured(argv, env=env, timeout_s=60).check().wall_s for _ in range(runs))


def run_startup(box: BenchSandbox, *, key: str, work_dir: Path, runs: int = 10) -> StartupResult:
    """Time the three commands `runs` times each; the copy sends `key`'s item to the box's queue
    (purged afterwards)."""
    env = box.env()
    keys = write_keys(work_dir / "startup-key.txt", [key])
    one_item = copy_args(keys=keys, queue_url=box.queue_url, extra=["--no-checkpoint"])
    timings = (
        Timing(
            name="asynccopy --help",
            target_s=HELP_TARGET_S,
            wall_s=_time(asynccopy_argv("--help"), env=env, runs=runs),
        ),
        Timing(
            name="asynccopy copy --help",
            target_s=HELP_TARGET_S,
            wall_s=_time(asynccopy_argv("copy", "--help"), env=env, runs=runs),
        ),
        Timing(
            name="asynccopy copy (one item, sandbox)",
            target_s=COPY_TARGET_S,
            wall_s=_time(asynccopy_argv(*one_item), env=env, runs=runs),
        ),
    )
    box.purge()
    return StartupResult(runs=runs, timings=timings)
