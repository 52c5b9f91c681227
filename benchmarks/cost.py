"""Benchmark 4: the producer's CPU time per item and its peak memory as the key list grows.

Seeding a million items would take longer than the whole benchmark may, so the key lists are
built from the seeded table: every list holds the same `existing` seeded keys, spread evenly
through it, and the rest are distinct keys that do not exist (`<seeded key>-absent-<n>`). The
copy reads every key with BatchGetItem and counts the absent ones as missing; the emulator
answers those cheaply. The same items are therefore read, packed and sent in every run, and
only the key list grows: a producer whose memory follows the key list, not the work in flight,
shows it here.

CPU time and peak RSS are the child process's own (`os.wait4`). A one-key copy measures the
fixed cost of starting the process (imports, clients, DescribeTable, queue attributes), which is
subtracted to give microseconds per item and per absent key.

On a shared machine one run's CPU time moves by a quarter either way (the start-up alone by
0.3 s in 1 s), and the start-up is subtracted from a run of one or two seconds: one pair told
88 µs per item one day and 140 µs another for the same code. So the start-up and the smallest
list run `repeats` times, as back-to-back pairs that share the machine's noise, and the median
pair gives the figure; the spread of the pairs is reported beside it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import BenchSandbox, log, run_copy, write_keys


@dataclass(frozen=True, kw_only=True, slots=True)
class CostRun:
    keys: int
    items_sent: int
    items_missing: int
    elapsed_s: float
    cpu_s: float
    max_rss_kib: int

    @property
    def max_rss_mib(self) -> float:
        return self.max_rss_kib / 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class CostResult:
    startup: CostRun
    runs: tuple[CostRun, ...]
    cpu_us_per_item: float  # smallest list, all keys present, start-up subtracted: median pair
    cpu_us_per_absent_key: float  # largest minus smallest, over the absent keys added
    rss_growth: float  # peak RSS, largest list / smallest
    pair_cpu_us_per_item: tuple[float, ...] = ()  # every pair's figure, in the order run
    rss_limit: float = 1.2

    @property
    def flat(self) -> bool:
        return self.rss_growth <= self.rss_limit


def key_list(seeded: list[str], *, total: int, existing: int) -> Iterator[str]:
    """`total` distinct keys: `existing` seeded ones spread evenly, the rest absent."""
    present = seeded[:existing]
    step = total / len(present)
    next_present = 0
    for index in range(total):
        if next_present < len(present) and index >= int(next_present * step):
            yield present[next_present]
            next_present += 1
        else:
            yield f"{present[index % len(present)]}-absent-{index}"


def _run(box: BenchSandbox, key_file: Path, keys: int, concurrency: int) -> CostRun:
    box.purge()
    copy = run_copy(box, keys=key_file, rate="max", concurrency=concurrency, timeout_s=900)
    run = CostRun(
        keys=keys,
        items_sent=copy.items_sent,
        items_missing=int(copy.summary.get("items_missing", 0)),
        elapsed_s=copy.elapsed_s,
        cpu_s=copy.measured.cpu_s,
        max_rss_kib=copy.measured.max_rss_kib,
    )
    log(
        f"cost {keys:,} keys: {run.items_sent:,} sent, {run.items_missing:,} missing,"
        f" cpu {run.cpu_s:.2f} s, peak RSS {run.max_rss_mib:.1f} MiB, {run.elapsed_s:.1f} s"
    )
    return run


def _per_item(startup: CostRun, run: CostRun) -> float:
    return (run.cpu_s - startup.cpu_s) / max(1, run.items_sent) * 1e6


def run_cost(
    box: BenchSandbox,
    *,
    seeded_keys: list[str],
    sizes: tuple[int, ...],
    existing: int,
    concurrency: int,
    work_dir: Path,
    repeats: int = 3,
) -> CostResult:
    existing = min(existing, len(seeded_keys), min(sizes))
    startup_file = write_keys(work_dir / "cost-1.txt", seeded_keys[:1])
    smallest_file = write_keys(
        work_dir / f"cost-{sizes[0]}.txt",
        key_list(seeded_keys, total=sizes[0], existing=existing),
    )
    pairs = []
    for _ in range(max(1, repeats)):
        startup = _run(box, startup_file, 1, concurrency)
        pairs.append((startup, _run(box, smallest_file, sizes[0], concurrency)))
    smallest_file.unlink()
    figures = [_per_item(startup, run) for startup, run in pairs]
    startup, smallest = pairs[figures.index(statistics.median_low(figures))]
    runs = [smallest]
    for size in sizes[1:]:
        key_file = write_keys(
            work_dir / f"cost-{size}.txt", key_list(seeded_keys, total=size, existing=existing)
        )
        runs.append(_run(box, key_file, size, concurrency))
        key_file.unlink()
    box.purge()
    largest = runs[-1]
    absent_added = (largest.keys - largest.items_sent) - (smallest.keys - smallest.items_sent)
    per_absent = (largest.cpu_s - smallest.cpu_s) / absent_added * 1e6 if absent_added else 0.0
    return CostResult(
        startup=startup,
        runs=tuple(runs),
        cpu_us_per_item=_per_item(startup, smallest),
        cpu_us_per_absent_key=per_absent,
        rss_growth=largest.max_rss_kib / smallest.max_rss_kib,
        pair_cpu_us_per_item=tuple(figures),
    )
