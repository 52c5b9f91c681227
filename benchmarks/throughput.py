"""Benchmarks 1 and 2: `asynccopy copy --rate max` against the raw client, and against the
original recipe.

The key list is split into chunks (10,000 keys by default) so that the queue stays small and
each comparison pairs two runs made seconds apart: for every chunk, copy and raw client run
back to back (which goes first alternates), with the queue purged before each run. The
reported ratio is the median of those pair ratios over all chunks and rounds; on a shared
machine a pair shares its neighbours' noise, a whole round does not. items/s are from each
program's own first-call-to-last-reply timing (`elapsed_s`), so process start-up is left out;
CPU per item leaves out the start-up CPU of a one-key run of the same program.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import (
    TABLE_NAME,
    BenchSandbox,
    log,
    python_argv,
    run_copy,
    run_measured,
    write_keys,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    items: int
    elapsed_s: float
    items_per_s: float
    cpu_s: float  # in a round's combined Run: net of each chunk's start-up CPU
    max_rss_kib: int

    @property
    def cpu_us_per_item(self) -> float:
        return self.cpu_s / self.items * 1e6 if self.items else 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class ThroughputResult:
    items: int
    concurrency: int
    chunk_items: int
    copy_runs: tuple[Run, ...]  # one per round: all chunks' items over their summed elapsed_s
    raw_runs: tuple[Run, ...]
    pair_ratios: tuple[float, ...]  # copy / raw items/s of each chunk, run back to back
    copy_startup_cpu_s: float  # of a one-key run, left out of the runs' cpu_s
    raw_startup_cpu_s: float
    target_ratio: float = 0.85

    @property
    def ratio(self) -> float:
        """The median pair ratio."""
        return statistics.median(self.pair_ratios)

    @property
    def copy_items_per_s(self) -> float:
        return statistics.median(r.items_per_s for r in self.copy_runs)

    @property
    def raw_items_per_s(self) -> float:
        return statistics.median(r.items_per_s for r in self.raw_runs)

    @property
    def passed(self) -> bool:
        return self.ratio >= self.target_ratio

    @property
    def cpu_per_item_ratio(self) -> float:
        """Copy CPU per item / raw client CPU per item: the noise-resistant side of the story."""
        copy = statistics.median(r.cpu_us_per_item for r in self.copy_runs)
        raw = statistics.median(r.cpu_us_per_item for r in self.raw_runs)
        return copy / raw if raw else 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class RecipeComparison:
    items: int
    recipe_items_per_s: float
    recipe_elapsed_s: float
    copy_items_per_s: float
    ratio: float  # copy / recipe


def run_raw(box: BenchSandbox, *, keys: Path, concurrency: int) -> Run:
    measured = run_measured(
        python_argv(
            "-m",
            "benchmarks.raw_client",
            "--keys",
            str(keys),
            "--table",
            TABLE_NAME,
            "--queue-url",
            box.queue_url,
            "--concurrency",
            str(concurrency),
        ),
        env=box.env(),
    ).check()
    summary = measured.json()
    return Run(
        items=int(summary["items_sent"]),
        elapsed_s=float(summary["elapsed_s"]),
        items_per_s=float(summary["items_per_s"]),
        cpu_s=measured.cpu_s,
        max_rss_kib=measured.max_rss_kib,
    )


def run_asynccopy(box: BenchSandbox, *, keys: Path, concurrency: int) -> Run:
    copy = run_copy(box, keys=keys, rate="max", concurrency=concurrency)
    if copy.summary.get("items_failed"):
        log(f"throughput: the copy reports {copy.summary['items_failed']} failed items")
    return Run(
        items=copy.items_sent,
        elapsed_s=copy.elapsed_s,
        items_per_s=copy.items_per_s,
        cpu_s=copy.measured.cpu_s,
        max_rss_kib=copy.measured.max_rss_kib,
    )


def run_throughput(
    box: BenchSandbox,
    *,
    keys: list[str],
    concurrency: int,
    rounds: int,
    chunk_items: int,
    work_dir: Path,
) -> ThroughputResult:
    """`rounds` passes over all `keys`, each in chunks run by copy and raw client in turn."""
    chunks = [
        write_keys(work_dir / f"throughput-{i}.txt", keys[start : start + chunk_items])
        for i, start in enumerate(range(0, len(keys), chunk_items))
    ]
    # Start-up CPU (imports, clients, DescribeTable) measured once and left out of per-item CPU.
    one_key = write_keys(work_dir / "throughput-one.txt", keys[:1])
    box.purge()
    copy_startup_s = run_asynccopy(box, keys=one_key, concurrency=concurrency).cpu_s
    raw_startup_s = run_raw(box, keys=one_key, concurrency=concurrency).cpu_s
    copy_runs: list[Run] = []
    raw_runs: list[Run] = []
    ratios: list[float] = []
    for round_no in range(rounds):
        pairs: dict[str, list[Run]] = {"copy": [], "raw": []}
        for chunk_no, chunk in enumerate(chunks):
            # Alternate which goes first, so neither always meets the other's leftovers.
            order = ("copy", "raw") if (round_no + chunk_no) % 2 == 0 else ("raw", "copy")
            pair: dict[str, Run] = {}
            for name in order:
                box.purge()
                if name == "copy":
                    pair[name] = run_asynccopy(box, keys=chunk, concurrency=concurrency)
                else:
                    pair[name] = run_raw(box, keys=chunk, concurrency=concurrency)
                pairs[name].append(pair[name])
            ratios.append(pair["copy"].items_per_s / pair["raw"].items_per_s)
        copy_runs.append(_combine(pairs["copy"], startup_cpu_s=copy_startup_s))
        raw_runs.append(_combine(pairs["raw"], startup_cpu_s=raw_startup_s))
        log(
            f"throughput round {round_no + 1}/{rounds}: copy {copy_runs[-1].items_per_s:,.0f}"
            f" items/s, raw {raw_runs[-1].items_per_s:,.0f} items/s, pair ratios"
            f" {', '.join(f'{r:.2f}' for r in ratios[-len(chunks) :])}"
        )
    box.purge()
    return ThroughputResult(
        items=len(keys),
        concurrency=concurrency,
        chunk_items=chunk_items,
        copy_runs=tuple(copy_runs),
        raw_runs=tuple(raw_runs),
        pair_ratios=tuple(ratios),
        copy_startup_cpu_s=copy_startup_s,
        raw_startup_cpu_s=raw_startup_s,
    )


def _combine(runs: list[Run], *, startup_cpu_s: float) -> Run:
    """One pass over all the keys from its chunks' runs; start-up CPU taken out of each."""
    items = sum(r.items for r in runs)
    elapsed_s = sum(r.elapsed_s for r in runs)
    return Run(
        items=items,
        elapsed_s=elapsed_s,
        items_per_s=items / elapsed_s if elapsed_s else 0.0,
        cpu_s=sum(max(0.0, r.cpu_s - startup_cpu_s) for r in runs),
        max_rss_kib=max(r.max_rss_kib for r in runs),
    )


def run_recipe(
    box: BenchSandbox, *, keys: Path, items: int, copy_items_per_s: float
) -> RecipeComparison:
    """The recipe on the first `items` keys, against the copy's rate from the throughput runs."""
    box.purge()
    measured = run_measured(
        python_argv(
            "-m",
            "benchmarks.recipe",
            "--keys",
            str(keys),
            "--table",
            TABLE_NAME,
            "--queue-url",
            box.queue_url,
            "--limit",
            str(items),
        ),
        env=box.env(),
    ).check()
    box.purge()
    summary = measured.json()
    recipe_items_per_s = float(summary["items_per_s"])
    log(f"recipe: {recipe_items_per_s:,.0f} items/s on {summary['items_sent']} items")
    return RecipeComparison(
        items=int(summary["items_sent"]),
        recipe_items_per_s=recipe_items_per_s,
        recipe_elapsed_s=float(summary["elapsed_s"]),
        copy_items_per_s=copy_items_per_s,
        ratio=copy_items_per_s / recipe_items_per_s if recipe_items_per_s else 0.0,
    )
