"""`asynccopy bench`'s verdict on the sandbox, beside what `copy --rate max` read (issue 15).

    1. `asynccopy copy --keys K --rate max` of the keys: the RCU/s the copy reached;
    2. `asynccopy bench --keys K --rate 2x that --steps 25,50,75,100 --queue-url Q`: its steps
       straddle what the copy reached, and it reads, packs and sends as the copy does;
    3. the ratio of bench's recommended --rate to the copy's RCU/s.

Both run on the default engine at the same concurrency, against the same emulator, seconds
apart. The emulator never throttles, so the table is never the limit here: bench should name
this machine (`client` or `concurrency`) and recommend about what the copy read. Before
issue 15 it read through aiobotocore and
recommended a sixth of the copy's rate. Target: the ratio >= 0.8.

    python -m benchmarks.verdict --items 10000        # on a sandbox of its own
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from benchmarks.harness import (
    TABLE_NAME,
    BenchSandbox,
    asynccopy_argv,
    log,
    read_keys,
    run_copy,
    run_measured,
    write_keys,
)

TARGET_RATIO: Final = 0.8  # bench's recommended --rate over what copy --rate max read
STEPS: Final = "25,50,75,100"
HEADROOM: Final = 2.0  # the 100% step, as a multiple of the copy's RCU/s


@dataclass(frozen=True, kw_only=True, slots=True)
class VerdictResult:
    items: int
    concurrency: int
    copy_rcu_per_s: float  # copy --rate max: its own rcu_per_s
    copy_items_per_s: float
    bench_base_rcu_per_s: float  # the 100% step
    step_seconds: float
    limit: str | None  # bench's verdict: table, client, concurrency or none
    recommended_rcu_per_s: float | None
    reason: str
    steps: tuple[dict[str, Any], ...]  # percent, target, achieved, limit, cpu_share, throttles
    target_ratio: float = TARGET_RATIO

    @property
    def ratio(self) -> float:
        if not self.recommended_rcu_per_s or self.copy_rcu_per_s <= 0:
            return 0.0
        return self.recommended_rcu_per_s / self.copy_rcu_per_s

    @property
    def passed(self) -> bool:
        return self.ratio >= self.target_ratio

    def json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "passed": self.passed}


def _step_summary(step: dict[str, Any]) -> dict[str, Any]:
    return {
        name: step[name]
        for name in (
            "percent",
            "target_rcu_per_s",
            "achieved_rcu_per_s",
            "throttles",
            "cpu_share",
            "reads_in_flight",
            "limit",
        )
    }


def run_verdict(
    box: BenchSandbox,
    *,
    keys: Sequence[str],
    concurrency: int,
    work_dir: Path,
    step_seconds: float = 3.0,
) -> VerdictResult:
    keys_file = write_keys(work_dir / "verdict-keys.txt", keys)
    box.purge()
    copied = run_copy(box, keys=keys_file, concurrency=concurrency, extra=["--no-checkpoint"])
    box.purge()
    copy_rcu_per_s = float(copied.summary["rcu_per_s"])
    log(f"copy --rate max: {copy_rcu_per_s:,.0f} RCU/s, {copied.items_per_s:,.0f} items/s")
    base = max(1, math.ceil(copy_rcu_per_s * HEADROOM))
    argv = asynccopy_argv(
        *("bench", "--table", TABLE_NAME, "--keys", str(keys_file)),
        *("--rate", str(base), "--steps", STEPS, "--step-seconds", f"{step_seconds:g}"),
        *("--concurrency", str(concurrency), "--queue-url", box.queue_url, "--json"),
    )
    measured = run_measured(argv, env=box.env(), timeout_s=120.0 + 8 * step_seconds).check()
    box.purge()
    result = measured.json()
    advice = result["recommendation"]
    verdict = VerdictResult(
        items=len(keys),
        concurrency=concurrency,
        copy_rcu_per_s=copy_rcu_per_s,
        copy_items_per_s=copied.items_per_s,
        bench_base_rcu_per_s=float(result["base_rcu_per_s"]),
        step_seconds=step_seconds,
        limit=advice["limit"],
        recommended_rcu_per_s=advice["rate_rcu_per_s"],
        reason=advice["reason"],
        steps=tuple(_step_summary(step) for step in result["steps"]),
    )
    log(
        f"bench: limit {verdict.limit}, recommends {verdict.recommended_rcu_per_s} RCU/s:"
        f" {verdict.ratio:.2f}x the copy's"
    )
    return verdict


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.verdict", description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--item-bytes", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--step-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="asynccopy-verdict-") as tmp, BenchSandbox() as box:
        keys_file = Path(tmp) / "keys.txt"
        box.seed(items=args.items, item_bytes=args.item_bytes, keys_out=keys_file)
        verdict = run_verdict(
            box,
            keys=read_keys(keys_file),
            concurrency=args.concurrency,
            work_dir=Path(tmp),
            step_seconds=args.step_seconds,
        )
    print(verdict.json())


if __name__ == "__main__":
    main()
