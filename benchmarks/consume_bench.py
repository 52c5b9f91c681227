"""Benchmark 9: `asynccopy consume` as a user runs it, on a queue filled beforehand (issue 13).

* concurrency: the same messages (the bodies are built once and sent again before each run)
  drained by `asynccopy consume --until-empty` at --concurrency 2, 4, 8 and 16; items/s and the
  client's CPU per item for each, and the knee: the smallest concurrency within 5% of the best
  items/s. consume's default concurrency is chosen from it.
* against a minimal aiobotocore consumer (raw_consumer.py, concurrency 8): the same messages
  drained by each, which goes first alternating from round to round; the ratio of their items/s
  (the median of the rounds'), and the emulator's CPU share during each run. Target >= 1.2x.

items/s are measured from outside, the same way for every program (observe.py): the destination
table starts empty and its item count is sampled every 0.1 s, from its first rise to the sample
that counts every item. CPU per item is the child's CPU (os.wait4) less that of a run on an empty
queue (start-up, the drain checks), over the items written.

    python -m benchmarks.consume_bench --items 20000        # on a sandbox of its own
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from asynccopy.choices import DEFAULT_CONSUME_CONCURRENCY
from asynccopy.sandbox.seed import make_item
from asynccopy.send.packing import BatchPacker, Message, MessagePacker
from benchmarks.harness import (
    DEST_ACCOUNT,
    KEY_NAME,
    TABLE_NAME,
    BenchSandbox,
    Measured,
    asynccopy_argv,
    log,
    python_argv,
    run_measured,
)
from benchmarks.observe import Span, TableWatch, median_or_zero, round_ratios

CONCURRENCIES: Final = (2, 4, 8, 16)
KNEE_TOLERANCE: Final = 0.05  # the knee: the smallest concurrency within 5% of the best
RAW_CONCURRENCY: Final = 8
TARGET_RATIO: Final = 1.2  # consume over the raw consumer, items/s
ITEMS_PER_MESSAGE: Final = 25
# The bodies stay under the sandbox queue's 256 KiB, as the producer's would.
MAX_MESSAGE_BYTES: Final = 262_144


@dataclass(frozen=True, kw_only=True, slots=True)
class QueuedItems:
    """Messages built once, so that every run drains the very same bodies."""

    messages: tuple[Message, ...]
    items: int

    @classmethod
    def build(cls, *, items: int, item_bytes: int, first_index: int) -> QueuedItems:
        packer = MessagePacker(
            key_names=[KEY_NAME], max_message_bytes=MAX_MESSAGE_BYTES, max_items=ITEMS_PER_MESSAGE
        )
        rng = random.Random(13)
        messages = [
            message
            for index in range(first_index, first_index + items)
            for message in packer.add(make_item(index, item_bytes=item_bytes, rng=rng))
        ]
        messages += packer.flush()
        return cls(messages=tuple(messages), items=items)

    def send(self, box: BenchSandbox) -> None:
        """Empty the queue and the destination table, then queue every body."""
        box.purge()
        box.empty_destination()
        sqs = box.client("sqs", DEST_ACCOUNT)
        batches = BatchPacker(max_batch_bytes=MAX_MESSAGE_BYTES)

        def send(batch: list[Any]) -> None:
            entries = [{"Id": str(i), "MessageBody": m.body} for i, m in enumerate(batch)]
            reply = sqs.send_message_batch(QueueUrl=box.queue_url, Entries=entries)
            if reply.get("Failed"):
                raise RuntimeError(f"queueing: {len(reply['Failed'])} entries failed")

        for message in self.messages:
            for batch in batches.add(message):
                send(batch)
        for batch in batches.flush():
            send(batch)


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumeRun:
    program: str  # "consume" or "raw"
    concurrency: int
    items: int  # in the destination table at the end
    span: Span
    cpu_s: float  # the whole child process
    startup_cpu_s: float  # a run of the same program on an empty queue

    @property
    def items_per_s(self) -> float:
        return self.span.items_per_s

    @property
    def emulator_share(self) -> float:
        return self.span.emulator_share

    @property
    def cpu_us_per_item(self) -> float:
        net = max(0.0, self.cpu_s - self.startup_cpu_s)
        return net / self.items * 1e6 if self.items else 0.0


def consume_argv(box: BenchSandbox, *, concurrency: int | None, until_empty: bool) -> list[str]:
    args = ["consume", "--queue-url", box.queue_url, "--table", TABLE_NAME]
    args += ["--no-progress", "--json", "--wait-time-seconds", "1"]
    if until_empty:
        args.append("--until-empty")
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    return asynccopy_argv(*args)


def raw_consumer_argv(
    box: BenchSandbox, *, concurrency: int, until_empty: bool, items: int | None = None
) -> list[str]:
    args = ["-m", "benchmarks.raw_consumer", "--queue-url", box.queue_url, "--table", TABLE_NAME]
    args += ["--concurrency", str(concurrency)]
    if until_empty:
        args.append("--until-empty")
    if items is not None:
        args += ["--items", str(items)]
    return python_argv(*args)


def _argv(box: BenchSandbox, program: str, concurrency: int) -> list[str]:
    if program == "raw":
        return raw_consumer_argv(box, concurrency=concurrency, until_empty=True)
    return consume_argv(box, concurrency=concurrency, until_empty=True)


def startup_cpu(box: BenchSandbox, program: str, concurrency: int) -> float:
    """CPU of a run that finds the queue empty: start-up and the drain checks."""
    box.purge()
    return run_measured(_argv(box, program, concurrency), env=box.env(DEST_ACCOUNT)).check().cpu_s


def drain(
    box: BenchSandbox,
    queued: QueuedItems,
    *,
    program: str,
    concurrency: int,
    startup_cpu_s: float,
    timeout_s: float = 300.0,
) -> ConsumeRun:
    queued.send(box)
    watch = TableWatch(box, expected=queued.items)
    watch.sample()
    measured: Measured = run_measured(
        _argv(box, program, concurrency),
        env=box.env(DEST_ACCOUNT),
        on_tick=watch.on_tick,
        tick_s=0.1,
        timeout_s=timeout_s,
    ).check()
    watch.sample()
    run = ConsumeRun(
        program=program,
        concurrency=concurrency,
        items=watch.samples[-1].items,
        span=watch.span(),
        cpu_s=measured.cpu_s,
        startup_cpu_s=startup_cpu_s,
    )
    if run.items != queued.items:
        raise RuntimeError(f"{program}: {run.items} of {queued.items} items reached the table")
    log(
        f"{program} --concurrency {concurrency}: {run.items_per_s:,.0f} items/s, "
        f"{run.cpu_us_per_item:.0f} µs CPU/item, emulator {run.emulator_share:.0%} of a core"
    )
    return run


@dataclass(frozen=True, kw_only=True, slots=True)
class ConcurrencyResult:
    items: int
    messages: int
    runs: tuple[ConsumeRun, ...]
    default_concurrency: int  # consume's default in the code measured
    tolerance: float = KNEE_TOLERANCE

    def items_per_s(self, concurrency: int) -> float:
        """The median of the rounds' items/s at `concurrency`."""
        return median_or_zero([r.items_per_s for r in self.runs if r.concurrency == concurrency])

    def cpu_us_per_item(self, concurrency: int) -> float:
        return median_or_zero(
            [r.cpu_us_per_item for r in self.runs if r.concurrency == concurrency]
        )

    @property
    def concurrencies(self) -> tuple[int, ...]:
        return tuple(sorted({r.concurrency for r in self.runs}))

    @property
    def knee(self) -> int:
        """The smallest concurrency within `tolerance` of the best items/s."""
        best = max(self.items_per_s(c) for c in self.concurrencies)
        floor = best * (1 - self.tolerance)
        return next(c for c in self.concurrencies if self.items_per_s(c) >= floor)

    @property
    def default_share(self) -> float:
        """consume's default concurrency's items/s as a share of the best level's."""
        best = max(self.items_per_s(c) for c in self.concurrencies)
        return self.items_per_s(self.default_concurrency) / best if best else 0.0

    def describe(self) -> str:
        """As consume --help words it: 2/4/8/16 -> 610/980/1,010/990 items/s; knee at 4."""
        rates = "/".join(f"{self.items_per_s(c):,.0f}" for c in self.concurrencies)
        levels = "/".join(str(c) for c in self.concurrencies)
        return f"{levels} -> {rates} items/s; knee at {self.knee}"


def run_concurrency(
    box: BenchSandbox,
    *,
    items: int,
    item_bytes: int = 1_000,
    concurrencies: Sequence[int] = CONCURRENCIES,
    rounds: int = 1,
) -> ConcurrencyResult:
    queued = QueuedItems.build(items=items, item_bytes=item_bytes, first_index=7_000_000)
    startup = startup_cpu(box, "consume", concurrencies[0])
    runs: list[ConsumeRun] = []
    for round_no in range(rounds):
        order = list(concurrencies) if round_no % 2 == 0 else list(reversed(concurrencies))
        for concurrency in order:
            runs.append(
                drain(
                    box, queued, program="consume", concurrency=concurrency, startup_cpu_s=startup
                )
            )
    box.purge()
    result = ConcurrencyResult(
        items=items,
        messages=len(queued.messages),
        runs=tuple(runs),
        default_concurrency=DEFAULT_CONSUME_CONCURRENCY,
    )
    log(f"consume concurrency: {result.describe()}")
    return result


@dataclass(frozen=True, kw_only=True, slots=True)
class VsRawResult:
    items: int
    messages: int
    consume_concurrency: int
    raw_concurrency: int
    runs: tuple[ConsumeRun, ...]
    target_ratio: float = TARGET_RATIO

    def _of(self, program: str) -> list[ConsumeRun]:
        return [r for r in self.runs if r.program == program]

    @property
    def ratios(self) -> tuple[float, ...]:
        """consume over raw, round by round."""
        return round_ratios(self._of("consume"), self._of("raw"))

    @property
    def ratio(self) -> float:
        return median_or_zero(self.ratios)

    @property
    def passed(self) -> bool:
        return self.ratio >= self.target_ratio

    def median(self, program: str, name: str) -> float:
        return median_or_zero([float(getattr(r, name)) for r in self._of(program)])


def run_vs_raw(
    box: BenchSandbox,
    *,
    items: int,
    item_bytes: int = 1_000,
    rounds: int = 1,
    raw_concurrency: int = RAW_CONCURRENCY,
) -> VsRawResult:
    """`asynccopy consume` at its default concurrency and the raw consumer on the same messages."""
    queued = QueuedItems.build(items=items, item_bytes=item_bytes, first_index=8_000_000)
    concurrency = {"consume": DEFAULT_CONSUME_CONCURRENCY, "raw": raw_concurrency}
    startup = {p: startup_cpu(box, p, c) for p, c in concurrency.items()}
    runs: list[ConsumeRun] = []
    for round_no in range(rounds):
        order = ("raw", "consume") if round_no % 2 == 0 else ("consume", "raw")
        for program in order:
            runs.append(
                drain(
                    box,
                    queued,
                    program=program,
                    concurrency=concurrency[program],
                    startup_cpu_s=startup[program],
                )
            )
    box.purge()
    result = VsRawResult(
        items=items,
        messages=len(queued.messages),
        consume_concurrency=concurrency["consume"],
        raw_concurrency=raw_concurrency,
        runs=tuple(runs),
    )
    log(f"consume vs raw consumer: {result.ratio:.2f}x (rounds {result.ratios})")
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consume_bench", description=__doc__)
    parser.add_argument("--items", type=int, default=20_000, help="for the comparison")
    parser.add_argument("--sweep-items", type=int, default=10_000, help="per concurrency")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--item-bytes", type=int, default=1_000)
    args = parser.parse_args(argv)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="asynccopy-consume-") as tmp, BenchSandbox() as box:
        box.seed(items=1, item_bytes=args.item_bytes, keys_out=Path(tmp) / "keys.txt")
        sweep = run_concurrency(
            box, items=args.sweep_items, item_bytes=args.item_bytes, rounds=args.rounds
        )
        versus = run_vs_raw(box, items=args.items, item_bytes=args.item_bytes, rounds=args.rounds)
    print(json.dumps({"concurrency": asdict(sweep), "vs_raw": asdict(versus)}, default=str))


if __name__ == "__main__":
    main()
