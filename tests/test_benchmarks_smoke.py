"""The benchmark harness at toy sizes against the session's sandbox: the code works end to end.

No timing is asserted (the machine is shared and noisy); `make bench` is where numbers come from.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from benchmarks import (
    consume_bench,
    consume_e2e,
    consumer_bench,
    cost,
    observe,
    rate,
    startup,
    throughput,
    verdict,
)
from benchmarks.harness import BenchSandbox, read_keys
from benchmarks.report import Results, to_json, to_markdown, write_all
from tests.sandbox_helpers import Sandbox

ITEMS = 200


@pytest.fixture
def box(sandbox: Sandbox, tmp_path: Path) -> BenchSandbox:
    bench = BenchSandbox.attach(sandbox.server)
    bench.seed(items=ITEMS, item_bytes=1_000, keys_out=tmp_path / "keys.txt")
    return bench


def test_analyse_reads_rate_and_windows_from_cumulative_samples() -> None:
    # 50 RCU every 0.25 s from t=1.0: 200 RCU/s.
    samples = [(i / 10, 50.0 * max(0, (i - 10) // 2.5 + 1) if i >= 10 else 0.0) for i in range(50)]
    found = rate.analyse(samples)
    assert found.achieved_rcu_per_s == pytest.approx(200, rel=0.1)
    assert found.max_window_rcu >= 200
    assert sum(found.per_second_rcu) == pytest.approx(samples[-1][1])


def test_key_list_is_distinct_and_keeps_every_present_key() -> None:
    seeded = [f"user-{i}" for i in range(10)]
    keys = list(cost.key_list(seeded, total=1_000, existing=10))
    assert len(keys) == len(set(keys)) == 1_000
    assert [k for k in keys if "-absent-" not in k] == seeded


@pytest.mark.timeout(120)
def test_baselines_consumer_and_report(box: BenchSandbox, tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"  # seeded by the fixture
    raw = throughput.run_raw(box, keys=keys, concurrency=4)
    assert raw.items == ITEMS
    assert box.queue_depth() == ITEMS // 25
    recipe = throughput.run_recipe(box, keys=keys, items=20, copy_items_per_s=0.0)
    assert recipe.items == 20
    assert box.queue_depth() == 0  # purged after the run
    handler = consumer_bench.run_handler(box, messages=2)
    assert handler.items == handler.items_in_table == 50
    assert handler.messages_failed == 0

    results = Results(meta={"date": "today", "total_s": 1.0}, recipe=recipe, handler=handler)
    results.rate = [
        rate.RateRun(
            target_rcu_per_s=100,
            items=10,
            metered_rcu=5,
            achieved_rcu_per_s=99,  # 0.99 of the target
            max_window_rcu=105,  # 1.05 of the target
            per_second_rcu=(50, 100, 100, 20),
            copy_rcu_consumed=5,
            copy_rcu_per_s=99,
            copy_elapsed_s=1,
        )
    ]
    written = write_all(results, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "latest.json").read_text())
    assert data["handler"]["items"] == 50
    assert data["rate"][0]["accurate"] is True
    assert (data["rate"][0]["ratio"], data["rate"][0]["max_window_ratio"]) == (0.99, 1.05)
    assert "| 5. consumer handler" in to_markdown(results)
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "out" / "rate.png").read_bytes()[:4] == b"\x89PNG"
        assert len(written) == 3


@pytest.mark.timeout(180)
def test_copy_benchmarks_at_toy_sizes(box: BenchSandbox, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.txt"  # seeded by the fixture
    result = throughput.run_throughput(
        box,
        keys=read_keys(keys_file),
        concurrency=4,
        rounds=1,
        chunk_items=100,
        work_dir=tmp_path,
    )
    assert result.copy_runs[0].items == result.raw_runs[0].items == ITEMS
    assert len(result.pair_ratios) == 2
    assert result.ratio > 0
    # A few hundred items can cost less CPU than the start-up noise that is subtracted.
    assert result.copy_runs[0].cpu_us_per_item >= 0

    runs = rate.run_rate(
        box,
        keys=read_keys(keys_file),
        targets=(100.0,),
        duration_s=1.0,
        concurrency=4,
        work_dir=tmp_path,
    )
    assert runs[0].items == 200
    assert runs[0].metered_rcu == pytest.approx(100)  # 200 items of 1 KB, eventually consistent

    found = cost.run_cost(
        box,
        seeded_keys=read_keys(keys_file),
        sizes=(100, 1_000),
        existing=100,
        concurrency=4,
        work_dir=tmp_path,
        repeats=2,
    )
    assert [run.items_sent for run in found.runs] == [100, 100]
    assert len(found.pair_cpu_us_per_item) == 2
    assert found.cpu_us_per_item in found.pair_cpu_us_per_item
    assert found.runs[1].items_missing == 900
    assert found.rss_growth > 0


@pytest.mark.timeout(120)
def test_end_to_end_copies_into_the_deployed_stacks_queue(
    box: BenchSandbox, tmp_path: Path
) -> None:
    result = consumer_bench.run_end_to_end(
        box, keys=tmp_path / "keys.txt", items=ITEMS, concurrency=4, timeout_s=90
    )
    assert result.items == ITEMS
    assert box.table_count() == ITEMS


def test_bench_verdict_beside_copy_at_toy_size(box: BenchSandbox, tmp_path: Path) -> None:
    found = verdict.run_verdict(
        box,
        keys=read_keys(tmp_path / "keys.txt"),  # seeded by the fixture
        concurrency=4,
        work_dir=tmp_path,
        step_seconds=0.5,
    )
    assert found.items == ITEMS
    assert found.copy_rcu_per_s > 0
    assert found.bench_base_rcu_per_s >= 2 * found.copy_rcu_per_s
    assert [step["percent"] for step in found.steps] == [25, 50, 75, 100]
    # The emulator never throttles: whatever limited the bench, it was not the table.
    assert found.limit in ("client", "concurrency", "none")
    assert found.ratio > 0
    document = json.loads(json.dumps(found.json()))
    assert document["ratio"] == pytest.approx(found.ratio)
    assert "6. `asynccopy bench` on the sandbox" in to_markdown(Results(verdict=found))


def test_startup_benchmark_at_toy_size(box: BenchSandbox, tmp_path: Path) -> None:
    found = startup.run_startup(
        box, key=read_keys(tmp_path / "keys.txt")[0], work_dir=tmp_path, runs=1
    )
    assert [timing.name for timing in found.timings] == [
        "asynccopy --help",
        "asynccopy copy --help",
        "asynccopy copy (one item, sandbox)",
    ]
    assert all(len(timing.wall_s) == 1 for timing in found.timings)
    assert box.queue_depth() == 0  # the one item was sent, then the queue purged
    document = to_json(Results(startup=found))["startup"]
    assert document["timings"][2]["target_s"] == 1.0
    assert len(document["timings"][2]["wall_s"]) == 1
    assert "7. start-up: `asynccopy copy --help`" in to_markdown(Results(startup=found))


def test_span_runs_from_the_counts_first_rise_to_the_sample_that_counts_every_item() -> None:
    def at(t_s: float, items: int, cpu_s: float) -> observe.Sample:
        return observe.Sample(t_s=t_s, items=items, emulator_cpu_s=cpu_s)

    samples = [
        at(0.0, 0, 1.0),
        at(1.0, 0, 1.2),
        at(2.0, 30, 1.7),
        at(4.0, 100, 2.7),
        at(5.0, 100, 3),
    ]
    span = observe.span_of(samples, expected=100)
    assert (span.items, span.seconds, span.complete) == (100, 3.0, True)
    assert span.items_per_s == pytest.approx(100 / 3)
    assert span.emulator_share == pytest.approx(1.5 / 3)
    assert not observe.span_of(samples[:2], expected=100).complete


def test_knee_is_the_smallest_concurrency_within_five_percent_of_the_best() -> None:
    def run(concurrency: int, items: int) -> consume_bench.ConsumeRun:
        span = observe.Span(items=items, seconds=1.0, emulator_cpu_s=0.5, complete=True)
        return consume_bench.ConsumeRun(
            program="consume",
            concurrency=concurrency,
            items=items,
            span=span,
            cpu_s=1.0,
            startup_cpu_s=0.5,
        )

    rates = {2: 600, 4: 960, 8: 1_000, 16: 990}
    found = consume_bench.ConcurrencyResult(
        items=1_000,
        messages=40,
        runs=tuple(run(c, r) for c, r in rates.items()),
        default_concurrency=4,
    )
    assert found.knee == 4
    assert found.default_share == pytest.approx(0.96)
    assert found.describe() == "2/4/8/16 -> 600/960/1,000/990 items/s; knee at 4"


@pytest.mark.timeout(180)
def test_consume_and_the_raw_consumer_drain_the_same_messages(box: BenchSandbox) -> None:
    sweep = consume_bench.run_concurrency(box, items=100, concurrencies=(1,))
    assert [(run.concurrency, run.items) for run in sweep.runs] == [(1, 100)]
    versus = consume_bench.run_vs_raw(box, items=100, raw_concurrency=2)
    assert [(run.program, run.items) for run in versus.runs] == [("raw", 100), ("consume", 100)]
    assert versus.ratio > 0
    assert box.queue_depth() == 0
    text = to_markdown(Results(consume_concurrency=sweep, consume_vs_raw=versus))
    assert "9. `asynccopy consume` by --concurrency" in text
    assert "vs a minimal aiobotocore consumer" in text


@pytest.mark.timeout(180)
def test_end_to_end_pairs_copy_the_same_keys(box: BenchSandbox, tmp_path: Path) -> None:
    found = consume_e2e.run_consume_e2e(box, keys=tmp_path / "keys.txt", items=ITEMS, concurrency=4)
    assert [(run.pair, run.items) for run in found.runs] == [("asynccopy", ITEMS), ("raw", ITEMS)]
    assert all(run.launch_to_last_write_s > 0 for run in found.runs)
    assert box.table_count() == ITEMS
    assert to_json(Results(consume_end_to_end=found))["consume_end_to_end"]["ratio"] > 0
