"""`asynccopy bench`: the recommendation (pure), and the command against the sandbox, with the
fault proxy holding the table to its provisioned read capacity."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from asynccopy.bench import (
    BenchResult,
    Criteria,
    Latency,
    Recommendation,
    StepResult,
    recommend,
)
from asynccopy.cli.bench import parse_steps, render
from asynccopy.errors import InputError
from asynccopy.sandbox.seed import SeedConfig, seed
from tests.faultproxy import FaultConfig, FaultProxy
from tests.sandbox_helpers import SOURCE_ACCOUNT, Sandbox

CAPACITY_RCU = 200.0


def step(
    percent: float,
    *,
    target: float,
    achieved: float,
    throttles: int = 0,
    calls: int = 100,
    p99_ms: float = 20.0,
    window_s: float = 10.0,
    send_calls: int | None = None,
    send_p99_ms: float = 40.0,
) -> StepResult:
    return StepResult(
        percent=percent,
        target_rcu_per_s=target,
        window_s=window_s,
        rcu_consumed=achieved * window_s,
        items_read=int(achieved * window_s * 2),
        read_calls=calls,
        throttles=throttles,
        read_latency=Latency(calls=calls, p50_ms=p99_ms / 2, p99_ms=p99_ms),
        items_sent=None if send_calls is None else 1,
        send_latency=(
            None
            if send_calls is None
            else Latency(calls=send_calls, p50_ms=send_p99_ms / 2, p99_ms=send_p99_ms)
        ),
        send_window_s=None if send_calls is None else window_s,
    )


# ---- the recommendation: pure ----------------------------------------------------------------
def test_recommends_ninety_percent_of_the_highest_step_that_held() -> None:
    steps = [
        step(50, target=100, achieved=99),
        step(100, target=200, achieved=196),
        step(150, target=300, achieved=210, throttles=12),  # throttled: does not hold
    ]
    advice = recommend(steps)
    assert advice.based_on_percent == 100
    assert advice.rate_rcu_per_s == pytest.approx(180)
    # 180 RCU/s at 1.96 RCU per call = 91.8 calls/s, 20 ms each: 1.8 in flight -> the floor, 2.
    assert advice.concurrency == 2


def test_a_step_below_its_target_does_not_hold_even_without_throttles() -> None:
    steps = [step(50, target=100, achieved=97), step(100, target=200, achieved=150)]
    assert recommend(steps).based_on_percent == 50


def test_a_few_throttles_are_tolerated_but_not_more() -> None:
    criteria = Criteria(max_throttle_share=0.05)
    few = step(100, target=200, achieved=200, throttles=2, calls=98)
    many = step(100, target=200, achieved=200, throttles=10, calls=90)
    assert recommend([few], criteria).rate_rcu_per_s == pytest.approx(180)
    assert recommend([many], criteria).rate_rcu_per_s is None


def test_concurrency_follows_littles_law_within_bounds() -> None:
    # 900 RCU/s at 5 RCU per call = 180 calls/s; 100 ms each: 18 calls in flight.
    slow = step(100, target=1000, achieved=1000, calls=2000, p99_ms=100.0)
    assert recommend([slow]).concurrency == 18
    very_slow = step(100, target=1000, achieved=1000, calls=2000, p99_ms=10_000.0)
    assert recommend([very_slow]).concurrency == Criteria().max_concurrency


def test_slow_sends_raise_the_concurrency() -> None:
    # Reads need 2; 50 sends/s at the measured rate, 90% of that at the recommended one,
    # 200 ms each: 9 in flight.
    mixed = step(100, target=200, achieved=200, send_calls=500, send_p99_ms=200.0)
    assert recommend([mixed]).concurrency == 9


def test_no_step_holding_means_no_recommendation() -> None:
    advice = recommend([step(100, target=200, achieved=100, throttles=50)])
    assert advice == Recommendation(
        rate_rcu_per_s=None, concurrency=None, based_on_percent=None, reason=advice.reason
    )
    assert "no step reached 95%" in advice.reason


def test_steps_parse_percentages_and_reject_the_rest() -> None:
    assert parse_steps("25, 50%,100") == (25.0, 50.0, 100.0)
    for bad in ("", "0", "-5", "abc", "50,,100", "nan", "2000"):
        with pytest.raises(InputError):
            parse_steps(bad)


def test_render_shows_every_step_and_the_recommendation() -> None:
    steps = (step(50, target=100, achieved=99), step(150, target=300, achieved=200, throttles=9))
    result = BenchResult(
        table="users",
        billing_mode="PROVISIONED",
        provisioned_rcu=200,
        base_rcu_per_s=200,
        base_description="200 provisioned RCU",
        workload="scan (8 of 8 segments)",
        queue_url=None,
        step_seconds=10,
        concurrency=8,
        steps=steps,
        recommendation=recommend(steps),
    )
    out = io.StringIO()
    render(result, Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    assert "achieved" in text
    assert "p99" in text
    assert "300.0" in text
    assert "200.0" in text
    assert "asynccopy copy --rate 90 --concurrency 2 --segments 2" in text
    assert json.loads(json.dumps(result.to_json()))["steps"][1]["holds"] is False


# ---- the command against the sandbox ---------------------------------------------------------
@pytest.fixture
def seeded(sandbox: Sandbox, tmp_path: Path) -> str:
    """300 items of about 4 KB (0.5 RCU each when scanned): a table of about 150 RCU a pass."""
    result = seed(
        SeedConfig(items=300, item_bytes=4_000, keys_out=tmp_path / "keys.txt"),
        endpoint_url=sandbox.endpoint_url,
    )
    return result.queue_url


@pytest.fixture
def capped(sandbox: Sandbox) -> Iterator[FaultProxy]:
    """DynamoDB as if `users` had 200 provisioned RCU (the sandbox's table is on-demand).

    The bucket keeps a quarter second of unused capacity, not AWS's up to 300 s: a short step
    above capacity must run out of burst to be throttled.
    """
    config = FaultConfig(
        table_read_capacity_rcu_per_s={f"{SOURCE_ACCOUNT}/users": CAPACITY_RCU}, burst_s=0.25
    )
    with FaultProxy(sandbox.endpoint_url, config) as proxy:
        yield proxy


def run_bench(sandbox: Sandbox, *args: str, proxy: FaultProxy | None = None) -> Any:
    env = sandbox.env()
    if proxy is not None:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.url
    return sandbox.run_cli("bench", *args, env=env, timeout_s=60)


def test_bench_finds_the_capacity_and_recommends_below_it(
    sandbox: Sandbox, seeded: str, capped: FaultProxy
) -> None:
    done = run_bench(
        sandbox,
        "--table",
        "users",
        "--scan",
        "--rate",
        "200",
        "--steps",
        "50,100,150",
        "--step-seconds",
        "2",
        "--json",
        proxy=capped,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    half, full, over = result["steps"]
    assert [s["target_rcu_per_s"] for s in result["steps"]] == [100, 200, 300]
    for measured in (half, full, over):
        assert measured["read_calls"] > 0
        assert measured["items_read"] > 0
        assert measured["latency_p50_ms"] <= measured["latency_p99_ms"]
        assert measured["items_sent"] is None  # reads only
    # Below capacity the limiter holds the target, and nothing is throttled.
    assert half["throttles"] == 0
    assert 0.85 <= half["achieved_rcu_per_s"] / 100 <= 1.15
    assert half["holds"] is True
    # Above it the proxy throttles, and the table never gives much more than its capacity.
    assert over["throttles"] > 0
    assert over["achieved_rcu_per_s"] <= CAPACITY_RCU * 1.5
    assert over["holds"] is False
    advice = result["recommendation"]
    assert advice["based_on_percent"] in (50, 100)
    assert 0 < advice["rate_rcu_per_s"] <= CAPACITY_RCU
    assert 2 <= advice["concurrency"] <= 64
    # The table went to the terminal.
    assert "achieved" in done.stderr
    assert "recommended" in done.stderr


def test_bench_with_a_queue_sends_what_it_reads(sandbox: Sandbox, seeded: str) -> None:
    done = run_bench(
        sandbox,
        "--table",
        "users",
        "--rate",
        "100",
        "--steps",
        "100",
        "--step-seconds",
        "1",
        "--queue-url",
        seeded,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    (only,) = json.loads(done.stdout)["steps"]
    assert only["items_sent"] > 0
    assert only["items_failed"] == 0
    assert only["send_latency_p99_ms"] is not None
    assert "real messages" in done.stderr
    attributes = sandbox.dest("sqs").get_queue_attributes(
        QueueUrl=seeded, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert int(attributes["ApproximateNumberOfMessages"]) > 0


def test_bench_rejects_bad_input_with_exit_2(sandbox: Sandbox, seeded: str) -> None:
    del seeded
    missing = run_bench(sandbox, "--table", "nope", "--rate", "100")
    assert missing.returncode == 2, missing.stderr
    assert "table 'nope' was not found" in missing.stderr
    on_demand = run_bench(sandbox, "--table", "users")
    assert on_demand.returncode == 2, on_demand.stderr
    assert "on-demand" in on_demand.stderr
    assert "--rate" in on_demand.stderr
    steps = run_bench(sandbox, "--table", "users", "--rate", "100", "--steps", "50,x")
    assert steps.returncode == 2
    assert "--steps" in steps.stderr
