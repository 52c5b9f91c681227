"""Benchmark 3: does `--rate R` hold the source table to R RCU/s, measured from outside?

The copy's DynamoDB traffic goes through the fault proxy (benchmarks/faultproxy/) with every fault
off and capacity metering on; the proxy adds the ConsumedCapacity real DynamoDB would report and
counts it per table. The benchmark samples that cumulative count every `tick_s` while the copy
runs and derives:

* achieved RCU/s: RCU consumed between the first and the last change of the count, over the
  time between them (the first read's own units are left out: a fence-post correction);
* one-second windows: RCU metered in [t, t + 1 s) for t at every sample (sliding, so no choice
  of where seconds start can hide a burst); the worst must stay at or below 110% of the target.
  Note the floor this sets: with reads of c RCU each, evenly spaced, some window holds
  target + c, so the criterion needs reads of at most 10% of a second's budget (a BatchGetItem
  of 100 keys of 1 KB costs 50 RCU: 25% of 200 RCU/s);
* the per-second series in whole seconds from half a second before the first metered read,
  drawn by benchmarks.report against the target.

Each target copies enough items (0.5 RCU each: 1 KB, eventually consistent) for about
`duration_s` seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.harness import SOURCE_ACCOUNT, TABLE_NAME, BenchSandbox, log, run_copy, write_keys

if TYPE_CHECKING:
    from benchmarks.faultproxy import FaultProxy

RCU_PER_ITEM = 0.5  # items under 4 KB, eventually consistent reads


@dataclass(frozen=True, kw_only=True, slots=True)
class RateRun:
    target_rcu_per_s: float
    items: int
    metered_rcu: float
    achieved_rcu_per_s: float
    max_window_rcu: float
    per_second_rcu: tuple[float, ...]
    copy_rcu_consumed: float  # what the copy itself counted
    copy_rcu_per_s: float
    copy_elapsed_s: float
    accuracy_limit: float = 0.03
    window_limit: float = 1.10

    @property
    def ratio(self) -> float:
        """Achieved / target."""
        return self.achieved_rcu_per_s / self.target_rcu_per_s

    @property
    def max_window_ratio(self) -> float:
        """The worst one-second window / target."""
        return self.max_window_rcu / self.target_rcu_per_s

    @property
    def accurate(self) -> bool:
        return abs(self.ratio - 1) <= self.accuracy_limit

    @property
    def within_windows(self) -> bool:
        return self.max_window_ratio <= self.window_limit


def _at(samples: list[tuple[float, float]], t: float) -> float:
    """The cumulative count at time `t`: the last sample taken at or before it."""
    value = 0.0
    for when, count in samples:
        if when > t:
            break
        value = count
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class Analysis:
    achieved_rcu_per_s: float
    max_window_rcu: float  # the worst one-second window, sliding in steps of one sample
    per_second_rcu: tuple[float, ...]  # whole seconds from half a second before the first read


def analyse(samples: list[tuple[float, float]]) -> Analysis:
    """Rates and windows from (seconds since start, cumulative metered RCU) samples."""
    changes = [(t, c) for i, (t, c) in enumerate(samples) if c > (samples[i - 1][1] if i else 0.0)]
    if len(changes) < 2:
        total = samples[-1][1] if samples else 0.0
        return Analysis(achieved_rcu_per_s=0.0, max_window_rcu=total, per_second_rcu=(total,))
    (first_t, first_c), (last_t, last_c) = changes[0], changes[-1]
    origin = first_t - 0.5
    seconds = math.ceil(last_t - origin)
    bins = [_at(samples, origin + k + 1) - _at(samples, origin + k) for k in range(seconds)]
    # A window [t, t + 1 s) starting at every sample from just before the first read.
    starts = [t for t, _ in samples if first_t - 1 <= t <= last_t]
    worst = max(_at(samples, t + 1) - _at(samples, t) for t in starts)
    return Analysis(
        achieved_rcu_per_s=(last_c - first_c) / (last_t - first_t),
        max_window_rcu=worst,
        per_second_rcu=tuple(bins),
    )


def run_rate(
    box: BenchSandbox,
    *,
    keys: list[str],
    targets: tuple[float, ...],
    duration_s: float,
    concurrency: int,
    work_dir: Path,
    tick_s: float = 0.05,
) -> list[RateRun]:
    from benchmarks.faultproxy import FaultConfig, FaultProxy

    runs: list[RateRun] = []
    meter_key = f"{SOURCE_ACCOUNT}/{TABLE_NAME}"
    with FaultProxy(box.endpoint_url, FaultConfig(measure_capacity=True)) as proxy:
        for target in targets:
            wanted = math.ceil(target * duration_s / RCU_PER_ITEM)
            if wanted > len(keys):
                log(f"rate {target:g}: only {len(keys)} items are seeded, not {wanted}")
            key_file = write_keys(work_dir / f"rate-{target:g}.txt", keys[:wanted])
            box.purge()
            proxy.reset()
            samples: list[tuple[float, float]] = []

            def sample(now_s: float) -> None:
                samples.append((now_s, _total(proxy, meter_key)))  # noqa: B023

            copy = run_copy(
                box,
                keys=key_file,
                rate=f"{target:g}",
                concurrency=concurrency,
                extra_env={"AWS_ENDPOINT_URL_DYNAMODB": proxy.url},
                on_tick=sample,
                tick_s=tick_s,
            )
            samples.append((samples[-1][0] + tick_s if samples else 0.0, _total(proxy, meter_key)))
            found = analyse(samples)
            achieved, worst = found.achieved_rcu_per_s, found.max_window_rcu
            run = RateRun(
                target_rcu_per_s=target,
                items=copy.items_sent,
                metered_rcu=_total(proxy, meter_key),
                achieved_rcu_per_s=achieved,
                max_window_rcu=worst,
                per_second_rcu=found.per_second_rcu,
                copy_rcu_consumed=float(copy.summary.get("rcu_consumed", 0.0)),
                copy_rcu_per_s=float(copy.summary.get("rcu_per_s", 0.0)),
                copy_elapsed_s=copy.elapsed_s,
            )
            log(
                f"rate {target:g} RCU/s: achieved {achieved:,.1f} ({run.ratio:.3f}x),"
                f" worst second {worst:,.1f} ({run.max_window_ratio:.2f}x),"
                f" metered {run.metered_rcu:,.1f} RCU,"
                f" the copy counted {run.copy_rcu_consumed:,.1f}"
            )
            runs.append(run)
    box.purge()
    return runs


def _total(proxy: FaultProxy, key: str) -> float:
    return float(proxy.stats().consumed_rcu.get(key, 0.0))
