"""`asynccopy bench`: the recommendation (pure), and the command against the sandbox, with the
fault proxy holding the table to its provisioned read capacity."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from asynccopy.bench.advice import BenchResult, burst_caveats, classify, recommend
from asynccopy.bench.steps import Criteria, Latency, Limit, Recommendation, StepResult
from asynccopy.cli.bench import parse_steps, render
from asynccopy.errors import InputError
from asynccopy.sandbox.seed import SeedConfig, seed
from benchmarks.faultproxy import FaultConfig, FaultProxy
from tests.sandbox_helpers import SOURCE_ACCOUNT, Sandbox

CAPACITY_RCU = 300.0


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
    cpu_share: float = 0.3,
    reads_in_flight: float = 1.0,
    sends_in_flight: float = 0.0,
) -> StepResult:
    """A step as `_Bench._step` records it, from the measurements a real run would make."""
    return StepResult(
        percent=percent,
        target_rcu_per_s=target,
        window_s=window_s,
        rcu_consumed=achieved * window_s,
        items_read=int(achieved * window_s * 2),
        read_calls=calls,
        throttles=throttles,
        read_latency=Latency(
            calls=calls, p50_ms=p99_ms / 2, p99_ms=p99_ms, busy_s=reads_in_flight * window_s
        ),
        items_sent=None if send_calls is None else 1,
        send_latency=(
            None
            if send_calls is None
            else Latency(
                calls=send_calls,
                p50_ms=send_p99_ms / 2,
                p99_ms=send_p99_ms,
                busy_s=sends_in_flight * window_s,
            )
        ),
        send_window_s=None if send_calls is None else window_s,
        cpu_s=cpu_share * window_s,
    )


# ---- what limited each step: pure ------------------------------------------------------------
def test_each_step_is_classified_by_its_own_measurements() -> None:
    def limit(measured: StepResult) -> Limit:
        return classify(measured, concurrency=8)

    assert limit(step(100, target=200, achieved=198)) is Limit.NONE
    # Held despite a busy CPU: nothing limited it.
    assert limit(step(100, target=200, achieved=198, cpu_share=0.99)) is Limit.NONE
    assert limit(step(100, target=200, achieved=150, throttles=9, cpu_share=0.99)) is Limit.TABLE
    assert limit(step(100, target=2000, achieved=950, cpu_share=0.9)) is Limit.CLIENT
    assert limit(step(100, target=2000, achieved=950, reads_in_flight=7.5)) is Limit.CONCURRENCY
    # Reads idle while every sender waits on SQS: the sends were the bottleneck.
    sends = step(100, target=2000, achieved=950, send_calls=100, sends_in_flight=7.9)
    assert limit(sends) is Limit.CONCURRENCY
    # Short of the target with nothing throttled and nothing else saturated: still this
    # process, never the table.
    assert limit(step(100, target=2000, achieved=950, cpu_share=0.5)) is Limit.CLIENT


def test_an_unthrottled_client_bound_run_names_the_client_and_keeps_what_it_achieved() -> None:
    # The run the issue describes: bench --rate 2000, nothing throttled, the process ~90% busy.
    steps = [
        step(25, target=500, achieved=499, cpu_share=0.5),
        step(50, target=1000, achieved=870, cpu_share=0.9),
        step(75, target=1500, achieved=940, cpu_share=0.91),
        step(100, target=2000, achieved=990, cpu_share=0.92),
        step(125, target=2500, achieved=960, cpu_share=0.92),
    ]
    assert [classify(s, concurrency=8) for s in steps] == [Limit.NONE] + [Limit.CLIENT] * 4
    advice = recommend(steps, concurrency=8)
    assert advice.limit is Limit.CLIENT
    assert advice.rate_rcu_per_s is not None
    assert advice.rate_rcu_per_s >= 990  # at least what was achieved, by any unthrottled step
    assert advice.based_on_percent == 100
    assert "this machine, not the table, was the limit at ~990 RCU/s" in advice.reason
    assert "--segment" in advice.reason
    assert "--concurrency" in advice.reason


def test_calls_in_flight_name_concurrency() -> None:
    steps = [step(100, target=2000, achieved=800, reads_in_flight=7.8, p99_ms=80.0)]
    advice = recommend(steps, concurrency=8)
    assert advice.limit is Limit.CONCURRENCY
    assert advice.rate_rcu_per_s == 800
    assert "7.8 calls in flight of --concurrency 8" in advice.reason


def test_a_top_step_that_held_means_the_table_took_all_of_it() -> None:
    steps = [step(50, target=100, achieved=100), step(100, target=200, achieved=199)]
    advice = recommend(steps)
    assert advice.limit is Limit.NONE
    assert advice.rate_rcu_per_s == 200
    assert "took all of" in advice.reason
    assert "higher --rate" in advice.reason


def test_recommends_ninety_percent_of_the_highest_step_that_held() -> None:
    steps = [
        step(50, target=100, achieved=99),
        step(100, target=200, achieved=196),
        step(150, target=300, achieved=210, throttles=12),  # throttled: does not hold
    ]
    advice = recommend(steps)
    assert advice.limit is Limit.TABLE
    assert advice.based_on_percent == 100
    assert advice.rate_rcu_per_s == pytest.approx(180)
    # 180 RCU/s at 1.96 RCU per call = 91.8 calls/s, 20 ms each: 1.8 in flight -> the floor, 2.
    assert advice.concurrency == 2


def test_a_hot_key_range_is_named_as_such() -> None:
    hot = step(150, target=300, achieved=210, throttles=12)
    hot = dataclasses.replace(hot, throttle_reasons={"TableReadKeyRangeThroughputExceeded": 12})
    advice = recommend([step(50, target=100, achieved=99), hot])
    assert advice.limit is Limit.TABLE
    assert "by a hot key range" in advice.reason


def test_never_below_what_a_step_read_without_throttling() -> None:
    steps = [
        step(50, target=100, achieved=99),
        step(100, target=200, achieved=150, cpu_share=0.95),  # the client, not the table
        step(150, target=300, achieved=160, throttles=12),
    ]
    advice = recommend(steps)
    assert advice.limit is Limit.TABLE
    assert advice.rate_rcu_per_s == 150  # not 90% of the 50% step's 100
    assert advice.based_on_percent == 100


def test_a_few_throttles_are_tolerated_but_not_more() -> None:
    criteria = Criteria(max_throttle_share=0.05)
    few = step(100, target=200, achieved=200, throttles=2, calls=98)
    many = step(100, target=200, achieved=200, throttles=10, calls=90)
    assert recommend([few], criteria).rate_rcu_per_s == pytest.approx(180)
    assert recommend([many], criteria).rate_rcu_per_s is None


def test_concurrency_follows_littles_law_within_bounds() -> None:
    over = step(150, target=1500, achieved=1100, throttles=40, calls=2000)
    # 900 RCU/s at 5 RCU per call = 180 calls/s; 100 ms each: 18 calls in flight.
    slow = step(100, target=1000, achieved=1000, calls=2000, p99_ms=100.0)
    assert recommend([slow, over]).concurrency == 18
    very_slow = step(100, target=1000, achieved=1000, calls=2000, p99_ms=10_000.0)
    assert recommend([very_slow, over]).concurrency == Criteria().max_concurrency


def test_slow_sends_raise_the_concurrency() -> None:
    # Reads need 2; 50 sends/s at the measured rate, 90% of that at the recommended one,
    # 200 ms each: 9 in flight.
    mixed = step(100, target=200, achieved=200, send_calls=500, send_p99_ms=200.0)
    over = step(150, target=300, achieved=220, throttles=30, send_calls=500)
    assert recommend([mixed, over]).concurrency == 9


def test_no_step_holding_means_no_recommendation() -> None:
    advice = recommend([step(100, target=200, achieved=100, throttles=50)])
    assert advice == Recommendation(
        rate_rcu_per_s=None,
        concurrency=None,
        based_on_percent=None,
        reason=advice.reason,
        limit=Limit.TABLE,
    )
    assert "no step reached 95%" in advice.reason


def test_a_short_step_above_provisioned_capacity_may_ride_on_burst() -> None:
    held_over = step(125, target=250, achieved=250, window_s=10.0)
    # 300 s x 200 RCU banked, spent at 50 RCU/s above capacity: up to 1,200 s.
    (caveat,) = burst_caveats([held_over], provisioned_rcu=200)
    assert "300 s of unused capacity" in caveat
    assert "--step-seconds 1201" in caveat
    assert recommend([held_over], provisioned_rcu=200).caveats == (caveat,)
    long_enough = step(125, target=250, achieved=250, window_s=1_300.0)
    assert burst_caveats([long_enough], provisioned_rcu=200) == ()
    assert burst_caveats([step(100, target=200, achieved=200)], provisioned_rcu=200) == ()
    assert burst_caveats([held_over], provisioned_rcu=0) == ()  # on-demand: no burst bank


def test_steps_parse_percentages_and_reject_the_rest() -> None:
    assert parse_steps("25, 50%,100") == (25.0, 50.0, 100.0)
    for bad in ("", "0", "-5", "abc", "50,,100", "nan", "2000"):
        with pytest.raises(InputError):
            parse_steps(bad)


def test_render_shows_every_step_the_limit_and_the_recommendation() -> None:
    steps = (
        step(50, target=100, achieved=99, cpu_share=0.42),
        step(150, target=300, achieved=200, throttles=9),
    )
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
    for shown in ("achieved", "p99", "cpu", "limit", "300", "200", "42%", "table", "engine fast"):
        assert shown in text
    assert "verdict: limit table" in text
    assert "asynccopy copy --rate 90 --concurrency 2 --segments 2" in text
    document = json.loads(json.dumps(result.to_json()))
    assert document["steps"][1]["holds"] is False
    assert [s["limit"] for s in document["steps"]] == ["none", "table"]
    assert document["steps"][0]["cpu_share"] == pytest.approx(0.42)
    assert document["recommendation"]["limit"] == "table"


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
    """DynamoDB as if `users` had 300 provisioned RCU (the sandbox's table is on-demand).

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


def test_bench_finds_the_capacity_names_the_table_and_recommends_below_it(
    sandbox: Sandbox, seeded: str, capped: FaultProxy
) -> None:
    done = run_bench(
        sandbox,
        *("--table", "users", "--scan", "--rate", "600"),
        # 150, 270, 300 and 450 RCU/s: whether the step at capacity holds or is just throttled,
        # 90% of the highest that holds is in 240..300.
        *("--steps", "25,45,50,75", "--step-seconds", "2", "--json"),
        proxy=capped,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["engine"] == "fast"
    steps = result["steps"]
    assert [s["target_rcu_per_s"] for s in steps] == [150, 270, 300, 450]
    for measured in steps:
        assert measured["read_calls"] > 0
        assert measured["items_read"] > 0
        assert measured["latency_p50_ms"] <= measured["latency_p99_ms"]
        assert measured["items_sent"] is None  # reads only
        assert measured["cpu_share"] >= 0
    lowest, *_, over = steps
    # Below capacity the limiter holds the target, and nothing is throttled.
    assert lowest["throttles"] == 0
    assert lowest["holds"] is True
    assert lowest["limit"] == "none"
    # Above it the proxy throttles, the step names the table, and the table never gives much
    # more than its capacity: the bench finds about 300 RCU/s.
    assert over["throttles"] > 0
    assert over["holds"] is False
    assert over["limit"] == "table"
    # Each throttle said why, and the bench shows it.
    assert over["throttle_reasons"]["TableReadProvisionedThroughputExceeded"] > 0
    assert "throttled: TableReadProvisionedThroughputExceeded x" in done.stderr
    found = max(s["achieved_rcu_per_s"] for s in steps)
    assert 0.8 * CAPACITY_RCU <= found <= 1.3 * CAPACITY_RCU
    advice = result["recommendation"]
    assert advice["limit"] == "table"
    assert 240 <= advice["rate_rcu_per_s"] <= 300
    assert 2 <= advice["concurrency"] <= 64
    # The table went to the terminal.
    assert "achieved" in done.stderr
    assert "verdict: limit table" in done.stderr
    assert "recommended" in done.stderr


@pytest.mark.parametrize("engine", ["fast", "botocore"])
def test_bench_with_a_queue_sends_what_it_reads(sandbox: Sandbox, seeded: str, engine: str) -> None:
    done = run_bench(
        sandbox,
        "--engine",
        engine,
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
    result = json.loads(done.stdout)
    assert result["engine"] == engine
    (only,) = result["steps"]
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


def test_an_on_demand_maximum_sets_the_default_rate_the_dry_run_and_the_100_step(
    sandbox: Sandbox, seeded: str
) -> None:
    ddb = sandbox.source("dynamodb")
    ddb.create_table(
        TableName="capped",
        KeySchema=[{"AttributeName": "userid", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "userid", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        OnDemandThroughput={"MaxReadRequestUnits": 400},
    )
    for index in range(20):
        ddb.put_item(TableName="capped", Item={"userid": {"S": f"u{index}"}})
    planned = sandbox.run_cli(
        "copy", "--table", "capped", "--scan", "--queue-url", seeded, "--dry-run", "--json",
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["rate_target"] == 200  # half of MaxReadRequestUnits
    done = run_bench(
        sandbox, "--table", "capped", "--steps", "25", "--step-seconds", "0.5", "--json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["base_rcu_per_s"] == 400
    assert "MaxReadRequestUnits 400" in result["base"]
