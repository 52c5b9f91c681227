"""Both producer engines and the raw aiobotocore client, in the same run (issue 8).

For every chunk of keys (10,000 by default) the three programs copy the same items back to back,
in an order that rotates from chunk to chunk, the queue purged before each run:

* `asynccopy copy --engine fast`      botocore's signer, one aiohttp session, orjson, wire items
* `asynccopy copy --engine botocore`  aiobotocore clients
* `benchmarks.raw_client`             the least code on plain aiobotocore (throughput.py)

items/s come from each program's own first-call-to-last-reply timing; CPU per item is the
child's CPU time (os.wait4) less the start-up CPU of the same program (the median of three
one-key runs). The ratios are medians of per-chunk ratios (runs seconds apart share the
machine's noise).
The fast engine's top costs are named from benchmarks.profile's run (it profiles the default
engine, which is the fast one).

Targets (issue 8): fast engine >= 2.3x the raw client's items/s, <= 100 µs CPU per item.

    python -m benchmarks.engines --items 20000        # on a sandbox of its own
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from benchmarks.harness import BenchSandbox, log, read_keys, run_copy, write_keys
from benchmarks.profile import ProfileResult, run_profile
from benchmarks.throughput import run_raw

PROGRAMS: Final = ("fast", "botocore", "raw")
TARGET_RATIO: Final = 2.3  # fast engine items/s over the raw client's
TARGET_CPU_US_PER_ITEM: Final = 100.0
STARTUP_RUNS: Final = 3  # one-key runs per program; their median is the start-up subtracted


@dataclass(frozen=True, kw_only=True, slots=True)
class ProgramResult:
    name: str
    items: int
    elapsed_s: float
    cpu_s: float  # net of start-up CPU, summed over the chunks
    startup_cpu_s: float
    chunk_items_per_s: tuple[float, ...]

    @property
    def items_per_s(self) -> float:
        return self.items / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def cpu_us_per_item(self) -> float:
        return self.cpu_s / self.items * 1e6 if self.items else 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class EnginesResult:
    items: int
    concurrency: int
    chunk_items: int
    programs: dict[str, ProgramResult]
    fast_over_raw: tuple[float, ...]  # per chunk, items/s
    botocore_over_raw: tuple[float, ...]
    profile: ProfileResult | None = None  # benchmarks.profile's run, attached by the caller
    target_ratio: float = TARGET_RATIO
    target_cpu_us_per_item: float = TARGET_CPU_US_PER_ITEM
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """The median fast/raw items/s ratio of the chunks: the number the target is about."""
        return statistics.median(self.fast_over_raw) if self.fast_over_raw else 0.0

    @property
    def passed(self) -> bool:
        fast = self.programs["fast"]
        return (
            self.ratio >= self.target_ratio and fast.cpu_us_per_item <= self.target_cpu_us_per_item
        )

    def json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "programs": {
                name: {
                    **asdict(p),
                    "items_per_s": p.items_per_s,
                    "cpu_us_per_item": p.cpu_us_per_item,
                }
                for name, p in self.programs.items()
            },
            "ratio": self.ratio,
            "botocore_ratio": statistics.median(self.botocore_over_raw)
            if self.botocore_over_raw
            else 0.0,
            "passed": self.passed,
        }

    def markdown(self) -> str:
        """A table for results/latest.md."""
        lines = [
            "| program | items/s | CPU µs/item | x raw (median of chunks) |",
            "|---|---:|---:|---:|",
        ]
        ratios = {
            "fast": self.ratio,
            "botocore": statistics.median(self.botocore_over_raw) if self.botocore_over_raw else 0,
            "raw": 1.0,
        }
        labels = {
            "fast": "asynccopy --engine fast (default)",
            "botocore": "asynccopy --engine botocore",
            "raw": "raw aiobotocore client",
        }
        for name in PROGRAMS:
            p = self.programs[name]
            lines.append(
                f"| {labels[name]} | {p.items_per_s:,.0f} | {p.cpu_us_per_item:.0f} "
                f"| {ratios[name]:.2f} |"
            )
        verdict = "met" if self.passed else "**miss**"
        lines.append("")
        lines.append(
            f"Target: fast >= {self.target_ratio}x raw items/s and <= "
            f"{self.target_cpu_us_per_item:.0f} µs CPU/item: {verdict}."
        )
        if self.profile is not None:
            top = ", ".join(f"{s.name} {s.share:.0%}" for s in self.profile.top_functions[:6])
            packages = ", ".join(f"{s.name} {s.share:.0%}" for s in self.profile.top_packages[:5])
            lines.append(
                f"Fast engine profile ({self.profile.items:,} items): idle "
                f"{self.profile.idle_share:.0%}; by package: {packages}; top functions: {top}."
            )
        return "\n".join(lines)


def _run(box: BenchSandbox, name: str, keys: Path, concurrency: int) -> tuple[int, float, float]:
    """(items sent, elapsed_s, CPU s) of one program over one key file."""
    if name == "raw":
        raw = run_raw(box, keys=keys, concurrency=concurrency)
        return raw.items, raw.elapsed_s, raw.cpu_s
    copy = run_copy(
        box, keys=keys, concurrency=concurrency, extra=("--engine", name, "--no-checkpoint")
    )
    if copy.summary.get("items_failed"):
        log(f"engines: {name} reports {copy.summary['items_failed']} failed items")
    return copy.items_sent, copy.elapsed_s, copy.measured.cpu_s


def run_engines(
    box: BenchSandbox,
    *,
    keys: list[str],
    concurrency: int = 8,
    chunk_items: int = 10_000,
    rounds: int = 1,
    work_dir: Path,
) -> EnginesResult:
    """The three programs over all `keys`, `rounds` times."""
    chunks = [
        write_keys(work_dir / f"engines-{i}.txt", keys[start : start + chunk_items])
        for i, start in enumerate(range(0, len(keys), chunk_items))
    ]
    one_key = write_keys(work_dir / "engines-one.txt", keys[:1])
    # The start-up CPU of one run moves by a third either way on a shared machine, and it is
    # subtracted from every chunk: the median of a few runs keeps that noise out of µs/item.
    startup_runs: dict[str, list[float]] = {name: [] for name in PROGRAMS}
    for _ in range(STARTUP_RUNS):
        for name in PROGRAMS:
            box.purge()
            startup_runs[name].append(_run(box, name, one_key, concurrency)[2])
    startup = {name: statistics.median(runs) for name, runs in startup_runs.items()}
    totals = {name: [0, 0.0, 0.0] for name in PROGRAMS}  # items, elapsed, net CPU
    per_chunk: dict[str, list[float]] = {name: [] for name in PROGRAMS}
    fast_ratios: list[float] = []
    botocore_ratios: list[float] = []
    turn = 0
    for round_no in range(rounds):
        for chunk in chunks:
            order = PROGRAMS[turn % 3 :] + PROGRAMS[: turn % 3]
            turn += 1
            rate: dict[str, float] = {}
            for name in order:
                box.purge()
                items, elapsed_s, cpu_s = _run(box, name, chunk, concurrency)
                totals[name][0] += items
                totals[name][1] += elapsed_s
                totals[name][2] += max(0.0, cpu_s - startup[name])
                rate[name] = items / elapsed_s if elapsed_s else 0.0
                per_chunk[name].append(rate[name])
            if rate["raw"]:
                fast_ratios.append(rate["fast"] / rate["raw"])
                botocore_ratios.append(rate["botocore"] / rate["raw"])
            log(
                f"engines round {round_no + 1}: "
                + ", ".join(f"{n} {rate[n]:,.0f}/s" for n in PROGRAMS)
                + f" (fast/raw {fast_ratios[-1]:.2f})"
            )
    box.purge()
    programs = {
        name: ProgramResult(
            name=name,
            items=int(totals[name][0]),
            elapsed_s=totals[name][1],
            cpu_s=totals[name][2],
            startup_cpu_s=startup[name],
            chunk_items_per_s=tuple(per_chunk[name]),
        )
        for name in PROGRAMS
    }
    result = EnginesResult(
        items=len(keys) * rounds,
        concurrency=concurrency,
        chunk_items=chunk_items,
        programs=programs,
        fast_over_raw=tuple(fast_ratios),
        botocore_over_raw=tuple(botocore_ratios),
    )
    fast, raw = programs["fast"], programs["raw"]
    log(
        f"engines: fast {fast.items_per_s:,.0f} items/s {fast.cpu_us_per_item:.0f} µs/item; "
        f"botocore {programs['botocore'].items_per_s:,.0f} items/s "
        f"{programs['botocore'].cpu_us_per_item:.0f} µs/item; raw {raw.items_per_s:,.0f} "
        f"items/s {raw.cpu_us_per_item:.0f} µs/item; fast/raw {result.ratio:.2f}"
    )
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engines", description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--item-bytes", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--chunk-items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile-items", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="asynccopy-engines-") as tmp, BenchSandbox() as box:
        work = Path(tmp)
        keys_file = work / "keys.txt"
        box.seed(items=args.items, item_bytes=args.item_bytes, keys_out=keys_file)
        keys = read_keys(keys_file)
        result = run_engines(
            box,
            keys=keys,
            concurrency=args.concurrency,
            chunk_items=args.chunk_items,
            rounds=args.rounds,
            work_dir=work,
        )
        if args.profile_items > 0:
            profiled = run_profile(
                box,
                keys=write_keys(work / "profile-keys.txt", keys[: args.profile_items]),
                items=min(args.profile_items, len(keys)),
                concurrency=args.concurrency,
                work_dir=work,
            )
            result = dataclasses.replace(result, profile=profiled)
    print(json.dumps(result.json()))
    print(result.markdown())


if __name__ == "__main__":
    main()
