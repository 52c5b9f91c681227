"""Start-up (issue 12): `asynccopy --help`, `asynccopy copy --help` and a one-item copy, each timed
from process start to exit, `runs` times in a row (as hyperfine does: the best and the median).

The help screens import no core, no aioboto3 and no aiohttp; the one-item copy imports what the
default (fast) engine needs, and no more. Targets: 0.3 s for the help screens, 1 s for the copy,
compared with the best run (the least disturbed by the other processes on the machine). The
CPU time each run took (user + system, from `os.wait4`) is reported beside it: it varies far less
than wall time with the machine's load.
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
    cpu_s: tuple[float, ...]

    @property
    def best_s(self) -> float:
        return min(self.wall_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def best_cpu_s(self) -> float:
        return min(self.cpu_s)

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


def _timing(
    name: str, argv: Sequence[str], *, target_s: float, env: dict[str, str], runs: int
) -> Timing:
    measured = [run_measured(argv, env=env, timeout_s=60).check() for _ in range(runs)]
    return Timing(
        name=name,
        target_s=target_s,
        wall_s=tuple(m.wall_s for m in measured),
        cpu_s=tuple(m.cpu_s for m in measured),
    )


def run_startup(box: BenchSandbox, *, key: str, work_dir: Path, runs: int = 10) -> StartupResult:
    """Time the three commands `runs` times each; the copy sends `key`'s item to the box's queue
    (purged afterwards)."""
    env = box.env()
    keys = write_keys(work_dir / "startup-key.txt", [key])
    one_item = copy_args(keys=keys, queue_url=box.queue_url, extra=["--no-checkpoint"])
    timings = (
        _timing(
            "asynccopy --help",
            asynccopy_argv("--help"),
            target_s=HELP_TARGET_S,
            env=env,
            runs=runs,
        ),
        _timing(
            "asynccopy copy --help",
            asynccopy_argv("copy", "--help"),
            target_s=HELP_TARGET_S,
            env=env,
            runs=runs,
        ),
        _timing(
            "asynccopy copy (one item, sandbox)",
            asynccopy_argv(*one_item),
            target_s=COPY_TARGET_S,
            env=env,
            runs=runs,
        ),
    )
    box.purge()
    return StartupResult(runs=runs, timings=timings)
