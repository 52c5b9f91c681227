"""What limited each bench step, and the --rate and --concurrency to recommend (pure).

In: the StepResults bench.py measured. Out: each step's Limit (`classify`), the
Recommendation (`recommend`, with `burst_caveats`), and the BenchResult that holds them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from asynccopy.bench.steps import Criteria, Latency, Limit, Recommendation, StepResult
from asynccopy.config import DEFAULT_CONCURRENCY, Engine
from asynccopy.retry import is_key_range_only

# DynamoDB keeps up to 300 s of unused provisioned read capacity as burst capacity.
BURST_SECONDS: Final = 300.0


def qualifies(step: StepResult, criteria: Criteria) -> bool:
    return (
        step.error is None
        and step.read_calls > 0
        and step.achieved_share >= criteria.min_achieved_share
        and step.throttle_share <= criteria.max_throttle_share
    )


def classify(step: StepResult, *, concurrency: int, criteria: Criteria | None = None) -> Limit:
    """What held `step` back, from its own measurements.

    `none` when it held its target; else `table` when calls were throttled; else `client` when
    this process was CPU-bound; else `concurrency` when the calls in flight (busy time over the
    window, Little's law) kept nearly every reader or sender busy, so that in-flight calls over
    their latency are the rate. A small shortfall none of these explains is the limiter's own
    pacing (`none`: nothing outside held it back); a larger one is this process's (`client`):
    the table never pushed back.
    """
    criteria = criteria or Criteria()
    if qualifies(step, criteria):
        return Limit.NONE
    if step.throttles > 0:
        return Limit.TABLE
    if step.cpu_share >= criteria.client_cpu_share:
        return Limit.CLIENT
    busy = max(step.reads_in_flight, step.sends_in_flight or 0.0)
    if busy >= criteria.busy_share * concurrency:
        return Limit.CONCURRENCY
    if step.error is None and step.achieved_share >= criteria.paced_share:
        return Limit.NONE
    return Limit.CLIENT


def _in_flight(calls_per_s: float, latency: Latency) -> float:
    """Little's law: calls in flight = arrival rate x time in the system (p99, for headroom)."""
    if latency.p99_ms is None:
        return 0.0
    return calls_per_s * latency.p99_ms / 1000.0


def _concurrency_for(step: StepResult, rate: float, criteria: Criteria) -> tuple[int, float]:
    """The concurrency `rate` needs by Little's law, from the calls `step` made, within the
    criteria's bounds; and the unbounded number of calls in flight."""
    rcu_per_call = step.rcu_per_call
    assert rcu_per_call is not None  # a step that ran made calls
    needed = _in_flight(rate / rcu_per_call if rcu_per_call > 0 else 0.0, step.read_latency)
    if step.send_latency is not None and step.send_window_s:
        # Sends scale with the items read: the same share of the rate as the reads.
        send_calls_per_s = step.send_latency.calls / step.send_window_s
        scale = rate / step.achieved_rcu_per_s if step.achieved_rcu_per_s > 0 else 1.0
        needed = max(needed, _in_flight(send_calls_per_s * scale, step.send_latency))
    bounded = min(criteria.max_concurrency, max(criteria.min_concurrency, math.ceil(needed)))
    return bounded, needed


def burst_caveats(
    steps: Sequence[StepResult], *, provisioned_rcu: int, criteria: Criteria | None = None
) -> tuple[str, ...]:
    """A warning for each step that held above the provisioned capacity for less time than the
    table's burst capacity could have carried it: such a step proves nothing about the table.

    DynamoDB keeps up to BURST_SECONDS of unused provisioned capacity: a table idle for that
    long serves `provisioned x BURST_SECONDS` RCU above its capacity before it throttles; at
    `achieved` RCU/s that lasts `BURST_SECONDS x provisioned / (achieved - provisioned)`.
    """
    criteria = criteria or Criteria()
    if provisioned_rcu <= 0:
        return ()
    caveats: list[str] = []
    for step in steps:
        over = step.achieved_rcu_per_s - provisioned_rcu
        if over <= 0 or not qualifies(step, criteria):
            continue
        lasts_s = BURST_SECONDS * provisioned_rcu / over
        if step.window_s < lasts_s:
            caveats.append(
                f"the {step.percent:g}% step held {step.achieved_rcu_per_s:.0f} RCU/s, above the "
                f"{provisioned_rcu} provisioned RCU, for {step.window_s:.0f} s: DynamoDB banks up "
                f"to {BURST_SECONDS:.0f} s of unused capacity as burst, which lasts up to "
                f"{lasts_s:.0f} s at that rate, so the table may not keep it (measure past the "
                f"burst with --step-seconds {math.ceil(lasts_s) + 1}, or trust only the steps at "
                "or below the provisioned capacity)"
            )
    return tuple(caveats)


def recommend(
    steps: Sequence[StepResult],
    criteria: Criteria | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    provisioned_rcu: int = 0,
) -> Recommendation:
    """A --rate and a --concurrency for `copy`, from what limited the steps (`classify`).

    - the table throttled (any step): `rate_share` of the highest step that held;
    - the highest step held: its target (the table took all of it; a higher --rate goes further);
    - this process was the limit (`client`, `concurrency`): what it achieved, and say so.
    Never below what a step achieved with no throttling (the step the rate is a share of keeps
    its headroom). The concurrency follows by Little's law from the calls of the step it
    builds on.
    """
    criteria = criteria or Criteria()
    ran = [step for step in steps if step.error is None and step.read_calls > 0]
    if not ran:
        return Recommendation(
            rate_rcu_per_s=None,
            concurrency=None,
            based_on_percent=None,
            reason="no step completed a read; see the errors above",
        )
    # Any throttle, even one a step that held tolerated, is the table pushing back.
    pushed_back = [step for step in ran if step.throttles]
    unthrottled = [step for step in ran if step.throttles == 0]
    top = max(ran, key=lambda step: step.target_rcu_per_s)
    top_limit = classify(top, concurrency=concurrency, criteria=criteria)
    caveats = burst_caveats(ran, provisioned_rcu=provisioned_rcu, criteria=criteria)
    based: StepResult
    if pushed_back:
        limit = Limit.TABLE
        held = [step for step in ran if qualifies(step, criteria)]
        best = max(held, key=lambda step: step.target_rcu_per_s, default=None)
        floor = max(
            (step for step in unthrottled if step is not best),
            key=lambda step: step.achieved_rcu_per_s,
            default=None,
        )
        throttled = min(pushed_back, key=lambda step: step.target_rcu_per_s)
        pushed = (
            f"the table throttled from the {throttled.percent:g}% step "
            f"({throttled.target_rcu_per_s:g} RCU/s: {throttled.achieved_rcu_per_s:.0f} "
            f"achieved, {throttled.throttles} throttled)"
        )
        if is_key_range_only(tuple(throttled.throttle_reasons)):
            pushed += (
                ", by a hot key range: one partition's limit, not the table's capacity, so "
                "spreading the keys (or more --segments) may go further"
            )
        if best is None and floor is None:
            return Recommendation(
                rate_rcu_per_s=None,
                concurrency=None,
                based_on_percent=None,
                limit=limit,
                caveats=caveats,
                reason=(
                    f"{pushed}, and no step reached {criteria.min_achieved_share:.0%} of its "
                    f"target with at most {criteria.max_throttle_share:.0%} of reads throttled; "
                    "try lower --steps or --rate"
                ),
            )
        if best is not None and (
            floor is None or criteria.rate_share * best.target_rcu_per_s >= floor.achieved_rcu_per_s
        ):
            based, rate = best, criteria.rate_share * best.target_rcu_per_s
            reason = (
                f"{pushed}; {criteria.rate_share:.0%} of the {best.percent:g}% step "
                f"({best.target_rcu_per_s:g} RCU/s, the highest that held: "
                f"{best.achieved_share:.0%} achieved, {best.throttles} throttled)"
            )
        else:
            assert floor is not None
            based, rate = floor, float(math.ceil(floor.achieved_rcu_per_s))
            reason = (
                f"{pushed}; the {floor.percent:g}% step read {floor.achieved_rcu_per_s:.0f} "
                "RCU/s with no throttling"
            )
    elif top_limit is Limit.NONE:
        limit = Limit.NONE
        if qualifies(top, criteria):
            based, rate = top, top.target_rcu_per_s
        else:  # paced a little short of its target: never below what a step read
            based = max(unthrottled, key=lambda step: step.achieved_rcu_per_s)
            rate = float(math.ceil(based.achieved_rcu_per_s))
        reason = (
            f"the table took all of the {top.percent:g}% step ({top.target_rcu_per_s:g} RCU/s: "
            f"{top.achieved_share:.0%} achieved) without throttling: give a higher --rate to "
            "find where it pushes back"
        )
    else:
        limit = top_limit
        # The top step was not throttled (else the table limited it): unthrottled is not empty.
        based = max(unthrottled, key=lambda step: step.achieved_rcu_per_s)
        rate = float(math.ceil(based.achieved_rcu_per_s))
        busy = max(top.reads_in_flight, top.sends_in_flight or 0.0)
        if limit is Limit.CONCURRENCY:
            why = f"{busy:.1f} calls in flight of --concurrency {concurrency}"
        elif top.cpu_share >= criteria.client_cpu_share:
            why = f"CPU-bound at {top.cpu_share:.0%} of a core"
        else:
            why = (
                f"nothing throttled, {top.cpu_share:.0%} of a core busy, {busy:.1f} calls in "
                f"flight of --concurrency {concurrency}"
            )
        reason = (
            f"this machine, not the table, was the limit at ~{based.achieved_rcu_per_s:.0f} "
            f"RCU/s ({why}, {top.percent:g}% step reached {top.achieved_share:.0%} of "
            f"{top.target_rcu_per_s:g} RCU/s); run more processes with --segment, or raise "
            "--concurrency"
        )
    bounded, needed = _concurrency_for(based, rate, criteria)
    return Recommendation(
        rate_rcu_per_s=rate,
        concurrency=bounded,
        based_on_percent=based.percent,
        limit=limit,
        caveats=caveats,
        reason=(
            f"{reason}; concurrency from {needed:.2f} calls in flight at p99 latency, within "
            f"{criteria.min_concurrency}..{criteria.max_concurrency}"
        ),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class BenchResult:
    table: str
    billing_mode: str
    provisioned_rcu: int  # 0 for on-demand
    base_rcu_per_s: float
    base_description: str
    workload: str  # "scan (N segments)" or "keys FILE (N keys)"
    queue_url: str | None
    step_seconds: float
    concurrency: int
    steps: tuple[StepResult, ...]
    recommendation: Recommendation
    criteria: Criteria = field(default_factory=Criteria)
    engine: Engine = Engine.FAST

    def holds(self, step: StepResult) -> bool:
        """Whether `step` held its target without throttling (see `qualifies`)."""
        return qualifies(step, self.criteria)

    def limit_of(self, step: StepResult) -> Limit:
        return classify(step, concurrency=self.concurrency, criteria=self.criteria)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "billing_mode": self.billing_mode,
            "provisioned_rcu": self.provisioned_rcu,
            "base_rcu_per_s": self.base_rcu_per_s,
            "base": self.base_description,
            "workload": self.workload,
            "queue_url": self.queue_url,
            "sends": self.queue_url is not None,
            "engine": str(self.engine),
            "step_seconds": self.step_seconds,
            "concurrency": self.concurrency,
            "steps": [
                {**step.to_json(), "holds": self.holds(step), "limit": str(self.limit_of(step))}
                for step in self.steps
            ],
            "recommendation": self.recommendation.to_json(),
        }
