"""`make bench`: every benchmark on a sandbox of its own, then the report.

    python -m benchmarks [--items N] [--only throughput,rate,...] [--out DIR]

Starts a ministack server on a free port, seeds it, runs the benchmarks in order, stops the
server, and writes DIR/latest.json, DIR/latest.md and DIR/rate.png. A benchmark that fails is
recorded and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from asynccopy.sandbox.server import MINISTACK_VERSION
from benchmarks import (
    consume_bench,
    consume_e2e,
    consumer_bench,
    cost,
    engines,
    profile,
    rate,
    startup,
    throughput,
    transform_cost,
    verdict,
)
from benchmarks.harness import RESULTS_DIR, BenchSandbox, log, read_keys, write_keys
from benchmarks.report import Results, write_all

BENCHMARKS: Final = (
    "throughput",
    "engines",
    "recipe",
    "rate",
    "cost",
    "verdict",
    "consumer",
    "e2e",
    "consume",
    "consume-e2e",
    "profile",
    "startup",
    "transform",
)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--items", type=int, default=50_000, help="items seeded and copied (1)")
    parser.add_argument("--item-bytes", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8, help="for the copy and raw client")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the keys in (1)")
    parser.add_argument(
        "--chunk-items", type=int, default=10_000, help="keys per copy/raw pair in (1)"
    )
    parser.add_argument("--recipe-items", type=int, default=2_000)
    parser.add_argument(
        "--engines-items", type=int, default=20_000, help="items per program in the engines run"
    )
    parser.add_argument("--rate-targets", type=_floats, default=(50.0, 200.0, 1000.0))
    parser.add_argument("--rate-seconds", type=float, default=15.0, help="per target")
    parser.add_argument("--cost-sizes", type=_ints, default=(10_000, 100_000, 1_000_000))
    parser.add_argument(
        "--cost-existing", type=int, default=10_000, help="present keys in each list"
    )
    parser.add_argument("--consumer-messages", type=int, default=200, help="of 25 items each")
    parser.add_argument("--e2e-items", type=int, default=10_000)
    parser.add_argument(
        "--consume-sweep-items", type=int, default=10_000, help="per concurrency in (9)"
    )
    parser.add_argument("--consume-concurrencies", type=_ints, default=consume_bench.CONCURRENCIES)
    parser.add_argument(
        "--consume-items", type=int, default=20_000, help="consume vs raw consumer (9), (10)"
    )
    parser.add_argument(
        "--consume-sweep-rounds", type=int, default=2, help="passes over the levels in (9)"
    )
    parser.add_argument("--consume-rounds", type=int, default=1, help="pairs of runs in (9), (10)")
    parser.add_argument(
        "--profile-items", type=int, default=20_000, help="also the engines report's profile"
    )
    parser.add_argument(
        "--verdict-items", type=int, default=20_000, help="keys copied, then benched (6)"
    )
    parser.add_argument("--verdict-step-seconds", type=float, default=4.0)
    parser.add_argument("--startup-runs", type=int, default=10, help="runs of each command (7)")
    parser.add_argument(
        "--transform-items", type=int, default=20_000, help="items shaped in process (8)"
    )
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma list of {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return args


def run(args: argparse.Namespace) -> Results:
    started = time.perf_counter()
    results = Results(
        meta={
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()},"
            f" Python {platform.python_version()}",
            "ministack": MINISTACK_VERSION,
            "items": args.items,
            "item_bytes": args.item_bytes,
            "concurrency": args.concurrency,
            "argv": sys.argv[1:],
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        }
    )

    def step(name: str, body: Callable[[], None]) -> None:
        if name not in args.only:
            return
        log(f"--- {name}")
        t0 = time.perf_counter()
        try:
            body()
        except Exception as exc:
            traceback.print_exc()
            results.errors[name] = f"{type(exc).__name__}: {exc}"
        log(f"--- {name} took {time.perf_counter() - t0:.0f} s")

    with (
        tempfile.TemporaryDirectory(prefix="asynccopy-bench-") as tmp,
        BenchSandbox() as box,
    ):
        work = Path(tmp)
        keys_file = work / "keys.txt"
        t0 = time.perf_counter()
        box.seed(items=args.items, item_bytes=args.item_bytes, keys_out=keys_file)
        results.meta["seed_s"] = round(time.perf_counter() - t0, 1)
        log(f"seeded {args.items:,} items in {results.meta['seed_s']} s at {box.endpoint_url}")
        keys = read_keys(keys_file)

        def do_throughput() -> None:
            results.throughput = throughput.run_throughput(
                box,
                keys=keys,
                concurrency=args.concurrency,
                rounds=args.rounds,
                chunk_items=args.chunk_items,
                work_dir=work,
            )

        def do_engines() -> None:
            results.engines = engines.run_engines(
                box,
                keys=keys[: args.engines_items],
                concurrency=args.concurrency,
                chunk_items=args.chunk_items,
                work_dir=work,
            )

        def do_recipe() -> None:
            copy_rate = results.throughput.copy_items_per_s if results.throughput else 0.0
            results.recipe = throughput.run_recipe(
                box, keys=keys_file, items=args.recipe_items, copy_items_per_s=copy_rate
            )

        def do_rate() -> None:
            results.rate = rate.run_rate(
                box,
                keys=keys,
                targets=args.rate_targets,
                duration_s=args.rate_seconds,
                concurrency=args.concurrency,
                work_dir=work,
            )

        def do_cost() -> None:
            results.cost = cost.run_cost(
                box,
                seeded_keys=keys,
                sizes=args.cost_sizes,
                existing=args.cost_existing,
                concurrency=args.concurrency,
                work_dir=work,
            )

        def do_verdict() -> None:
            results.verdict = verdict.run_verdict(
                box,
                keys=keys[: args.verdict_items],
                concurrency=args.concurrency,
                work_dir=work,
                step_seconds=args.verdict_step_seconds,
            )

        def do_consumer() -> None:
            results.consumer_engines, results.handler = consumer_bench.run_engines(
                box, messages=args.consumer_messages, item_bytes=args.item_bytes
            )

        def do_e2e() -> None:
            results.end_to_end = consumer_bench.run_end_to_end(
                box,
                keys=write_keys(work / "e2e-keys.txt", keys[: args.e2e_items]),
                items=args.e2e_items,
                concurrency=args.concurrency,
            )

        def do_consume() -> None:
            results.consume_concurrency = consume_bench.run_concurrency(
                box,
                items=args.consume_sweep_items,
                item_bytes=args.item_bytes,
                concurrencies=args.consume_concurrencies,
                rounds=args.consume_sweep_rounds,
            )
            results.consume_vs_raw = consume_bench.run_vs_raw(
                box,
                items=args.consume_items,
                item_bytes=args.item_bytes,
                rounds=args.consume_rounds,
            )

        def do_consume_e2e() -> None:
            results.consume_end_to_end = consume_e2e.run_consume_e2e(
                box,
                keys=write_keys(work / "consume-e2e-keys.txt", keys[: args.consume_items]),
                items=min(args.consume_items, len(keys)),
                concurrency=args.concurrency,
                rounds=args.consume_rounds,
            )

        def do_profile() -> None:
            results.profile = profile.run_profile(
                box,
                keys=write_keys(work / "profile-keys.txt", keys[: args.profile_items]),
                items=min(args.profile_items, len(keys)),
                concurrency=args.concurrency,
                work_dir=work,
            )

        def do_startup() -> None:
            results.startup = startup.run_startup(
                box, key=keys[0], work_dir=work, runs=args.startup_runs
            )

        def do_transform() -> None:
            results.transform = transform_cost.run_transform_cost(
                items=args.transform_items, item_bytes=args.item_bytes
            )

        step("startup", do_startup)  # first: nothing else running in this process's sandbox
        step("throughput", do_throughput)
        step("engines", do_engines)
        step("recipe", do_recipe)
        step("rate", do_rate)
        step("cost", do_cost)
        step("profile", do_profile)
        step("verdict", do_verdict)
        if results.engines is not None and results.profile is not None:
            # The fast (default) engine's profile, from the one profiled run.
            results.engines = dataclasses.replace(results.engines, profile=results.profile)
        step("consumer", do_consumer)
        step("transform", do_transform)
        step("consume", do_consume)
        step("consume-e2e", do_consume_e2e)
        step("e2e", do_e2e)  # last: it deploys a Lambda that then drains the queue
    results.meta["total_s"] = round(time.perf_counter() - started, 1)
    results.meta["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    for path in write_all(results, args.out):
        log(f"wrote {path}")
    log(f"done in {results.meta['total_s'] / 60:.1f} min")
    if results.errors:
        log(f"failed: {', '.join(results.errors)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
