"""The progress display and the summary, rendered to a StringIO console with a fake clock."""

from __future__ import annotations

import io

import anyio
from rich.console import Console

from asynccopy.limiter import LimiterConfig, ReadCapacityLimiter, UnlimitedLimiter
from asynccopy.progress import ProgressConfig, ProgressMode, ProgressView, show_progress
from asynccopy.stats import Stats
from asynccopy.summary import build_summary, render_text


def test_line_shows_counts_rates_and_eta() -> None:
    now = [100.0]
    stats = Stats(items_selected=1_000, started_s=90.0)
    stats.items_read, stats.items_sent, stats.items_missing = 500, 400, 2
    stats.rcu_consumed, stats.bytes_sent, stats.messages_sent = 250.0, 2048, 16
    stats.retries, stats.throttles = 3, 1
    limiter = ReadCapacityLimiter(LimiterConfig(target_rcu_per_s=30), clock=lambda: now[0])
    limiter.on_throttle()
    line = ProgressView(stats, limiter=limiter, clock=lambda: now[0]).line()
    assert "read 500/1,000 · sent 400 · missing 2 · failed 0" in line
    assert "25.0 RCU/s (allowed 15.0 of 30.0)" in line
    assert "50 items/s" in line
    assert "2.0 KB in 16 messages" in line
    assert "retries 3 · throttles 1" in line
    assert "elapsed 0:00:10 · ETA 0:00:09" in line


def test_unknown_total_and_no_limit() -> None:
    stats = Stats(items_selected=None, started_s=0.0)
    line = ProgressView(stats, limiter=UnlimitedLimiter(), clock=lambda: 1.0).line()
    assert "read 0/?" in line
    assert "(no limit)" in line
    assert "ETA ?" in line


def test_plain_mode_prints_lines_from_the_counters() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=300)
    assert ProgressMode.choose(enabled=True, console=console) is ProgressMode.PLAIN
    assert ProgressMode.choose(enabled=False, console=console) is ProgressMode.OFF
    stats = Stats(items_selected=10, started_s=0.0)
    view = ProgressView(stats, limiter=UnlimitedLimiter(), clock=lambda: 1.0)

    async def main() -> None:
        with anyio.move_on_after(0.2):
            await show_progress(
                view,
                console=console,
                config=ProgressConfig(mode=ProgressMode.PLAIN, plain_every_s=0.05),
            )

    anyio.run(main)
    lines = buffer.getvalue().splitlines()
    assert 2 <= len(lines) <= 5
    assert lines[0].startswith("read 0/10")


def test_summary_text_and_exit_codes() -> None:
    stats = Stats(items_selected=3, started_s=0.0, finished_s=2.0)
    stats.items_read = stats.items_sent = 3
    stats.rcu_consumed = 1.5
    summary = build_summary(
        stats, now_s=5.0, table="t", queue_url="q", rate_target=None,
        rate_description="no limit", dry_run=False,
    )  # fmt: skip
    assert summary.rcu_per_s == 0.75
    assert summary.elapsed_s == 2.0
    assert int(summary.exit_code) == 0
    assert "copy done: 3 of 3 items sent in 2.0 s" in render_text(summary)
    document = summary.to_json()
    for name in ("items_selected", "items_read", "items_sent", "items_missing", "items_failed",
                 "messages_sent", "batches_sent", "rcu_consumed", "rcu_per_s", "elapsed_s",
                 "rate_target", "dry_run"):  # fmt: skip
        assert name in document
    stats.interrupted = True
    assert int(build_summary(stats, now_s=5.0, table="t", queue_url="q", rate_target=None,
                             rate_description="", dry_run=False).exit_code) == 130  # fmt: skip


def test_the_summary_names_dynamodb_s_throttling_reasons() -> None:
    stats = Stats(items_selected=1, started_s=0.0, finished_s=1.0)
    stats.record_throttle(("TableReadKeyRangeThroughputExceeded",))
    stats.record_throttle(("TableReadProvisionedThroughputExceeded",))
    stats.record_throttle(("TableReadProvisionedThroughputExceeded",))
    stats.record_throttle()  # UnprocessedKeys: no reason given
    summary = build_summary(
        stats, now_s=1.0, table="t", queue_url="q", rate_target=None,
        rate_description="no limit", dry_run=False,
    )  # fmt: skip
    assert (
        "throttles 4 (TableReadProvisionedThroughputExceeded x2, "
        "TableReadKeyRangeThroughputExceeded x1)" in render_text(summary)
    )
    assert summary.to_json()["throttle_reasons"] == {
        "TableReadKeyRangeThroughputExceeded": 1,
        "TableReadProvisionedThroughputExceeded": 2,
    }
