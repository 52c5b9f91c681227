"""Benchmark 10: end to end on this machine, producer and consumer running together (issue 13).

The same keys copied into an emptied destination table by two pairs of programs, which goes
first alternating from round to round:

* asynccopy: `asynccopy consume` (its default concurrency) started first, then
  `asynccopy copy --rate max --wait`, which returns once the queue is drained;
* raw: `benchmarks.raw_consumer` (concurrency 8) started first, then `benchmarks.raw_client`
  (BatchGetItem of 100, SendMessageBatch, concurrency 8).

Each run is timed from the producer's launch to the 0.1 s sample of the destination table's
item count (observe.py) that first counts every item: the producer's start-up (imports, clients,
about a second) is in both pairs' times. Its first read is not visible from outside, and the
programs' own elapsed times leave out different tails (a copy with --wait spends time after its
last poll closing its clients), so the launch is the one start both share exactly.
Target: asynccopy >= 1.15x the raw pair's items/s.

    python -m benchmarks.consume_e2e --items 20000        # on a sandbox of its own
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from benchmarks.consume_bench import RAW_CONCURRENCY, consume_argv, raw_consumer_argv
from benchmarks.harness import (
    DEST_ACCOUNT,
    TABLE_NAME,
    Background,
    BenchSandbox,
    asynccopy_argv,
    copy_args,
    log,
    python_argv,
    read_keys,
    run_measured,
    write_keys,
)
from benchmarks.observe import TableWatch, median_or_zero, round_ratios

TARGET_RATIO: Final = 1.15  # asynccopy's pair over the raw pair, items/s
# The consumer is started this long before the producer, so that both pairs' consumers are
# polling when the first message arrives (start-up is ~1 s on this machine).
CONSUMER_HEAD_START_S: Final = 2.0
PAIRS: Final = ("asynccopy", "raw")


@dataclass(frozen=True, kw_only=True, slots=True)
class PairRun:
    pair: str  # "asynccopy" or "raw"
    items: int
    launch_to_last_write_s: float
    producer_elapsed_s: float  # the producer's own first read to last send
    producer_cpu_s: float
    consumer_cpu_s: float
    emulator_cpu_s: float  # from the launch to the last write

    @property
    def items_per_s(self) -> float:
        span = self.launch_to_last_write_s
        return self.items / span if span > 0 else 0.0

    @property
    def emulator_share(self) -> float:
        span = self.launch_to_last_write_s
        return self.emulator_cpu_s / span if span > 0 else 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumeEndToEndResult:
    items: int
    concurrency: int  # the producers'
    runs: tuple[PairRun, ...]
    target_ratio: float = TARGET_RATIO

    def of(self, pair: str) -> list[PairRun]:
        return [r for r in self.runs if r.pair == pair]

    @property
    def ratios(self) -> tuple[float, ...]:
        return round_ratios(self.of("asynccopy"), self.of("raw"))

    @property
    def ratio(self) -> float:
        return median_or_zero(self.ratios)

    @property
    def passed(self) -> bool:
        return self.ratio >= self.target_ratio

    def median(self, pair: str, name: str) -> float:
        return median_or_zero([float(getattr(r, name)) for r in self.of(pair)])


def _producer(box: BenchSandbox, pair: str, keys: Path, concurrency: int) -> list[str]:
    if pair == "raw":
        return python_argv(
            *("-m", "benchmarks.raw_client", "--keys", str(keys), "--table", TABLE_NAME),
            *("--queue-url", box.queue_url, "--concurrency", str(concurrency)),
        )
    extra = ("--wait", "--no-checkpoint")
    return asynccopy_argv(
        *copy_args(keys=keys, queue_url=box.queue_url, concurrency=concurrency, extra=extra)
    )


def run_pair(
    box: BenchSandbox,
    *,
    pair: str,
    keys: Path,
    items: int,
    concurrency: int,
    timeout_s: float = 300.0,
) -> PairRun:
    box.purge()
    box.empty_destination()
    watch = TableWatch(box, expected=items)
    consumer_argv = (
        consume_argv(box, concurrency=None, until_empty=False)
        if pair == "asynccopy"
        else raw_consumer_argv(box, concurrency=RAW_CONCURRENCY, until_empty=False, items=items)
    )
    consumer = Background(consumer_argv, env=box.env(DEST_ACCOUNT))
    try:
        time.sleep(CONSUMER_HEAD_START_S)
        watch.sample()
        launched = time.perf_counter()
        producer = run_measured(
            _producer(box, pair, keys, concurrency),
            env=box.env(),
            on_tick=watch.on_tick,
            tick_s=0.1,
            timeout_s=timeout_s,
        ).check()
        if not watch.wait_done(timeout_s=timeout_s):
            raise RuntimeError(f"end to end ({pair}): not every item reached the table")
    finally:
        consumed = consumer.stop()
    last_write = watch.last_write_s
    assert last_write is not None
    during = [s for s in watch.samples if s.t_s <= last_write]
    run = PairRun(
        pair=pair,
        items=items,
        launch_to_last_write_s=last_write - launched,
        producer_elapsed_s=float(producer.json()["elapsed_s"]),
        producer_cpu_s=producer.cpu_s,
        consumer_cpu_s=consumed.cpu_s,
        emulator_cpu_s=during[-1].emulator_cpu_s - during[0].emulator_cpu_s if during else 0.0,
    )
    log(
        f"end to end, {pair} pair: {run.items_per_s:,.0f} items/s "
        f"({run.launch_to_last_write_s:.1f} s), emulator {run.emulator_share:.0%} of a core"
    )
    return run


def run_consume_e2e(
    box: BenchSandbox, *, keys: Path, items: int, concurrency: int, rounds: int = 1
) -> ConsumeEndToEndResult:
    runs: list[PairRun] = []
    for round_no in range(rounds):
        order = PAIRS if round_no % 2 == 0 else tuple(reversed(PAIRS))
        for pair in order:
            runs.append(run_pair(box, pair=pair, keys=keys, items=items, concurrency=concurrency))
    box.purge()
    result = ConsumeEndToEndResult(items=items, concurrency=concurrency, runs=tuple(runs))
    log(f"end to end: asynccopy pair {result.ratio:.2f}x the raw pair (rounds {result.ratios})")
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consume_e2e", description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--item-bytes", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="asynccopy-e2e-") as tmp, BenchSandbox() as box:
        keys_file = Path(tmp) / "keys.txt"
        box.seed(items=args.items, item_bytes=args.item_bytes, keys_out=keys_file)
        keys = write_keys(Path(tmp) / "e2e.txt", read_keys(keys_file))
        result = run_consume_e2e(
            box, keys=keys, items=args.items, concurrency=args.concurrency, rounds=args.rounds
        )
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
