"""The progress display and the summary, rendered to a StringIO console with a fake clock."""

from __future__ import annotations

import io
from typing import Any

import anyio
from rich.console import Console

from asynccopy.copy.outcome import _request_units
from asynccopy.copy.progress import ProgressConfig, ProgressMode, ProgressView, show_progress
from asynccopy.copy.reasons import FailureCode
from asynccopy.copy.stats import FailedKey, Stats
from asynccopy.copy.summary import CopySummary, DryRunPlan, build_summary, render_text
from asynccopy.read.limiter import LimiterConfig, ReadCapacityLimiter, UnlimitedLimiter


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


# --- honest counts and next steps -----------------------------------------------------------
def _summary(stats: Stats, **options: Any) -> CopySummary:
    return build_summary(
        stats, now_s=5.0, table="t", queue_url="q", rate_target=None,
        rate_description="no limit", **{"dry_run": False, **options},
    )  # fmt: skip


def test_an_estimate_is_replaced_by_what_a_finished_run_read() -> None:
    # --segment 1/2: half the table's ItemCount is an estimate; the segment held more.
    stats = Stats(items_selected=5_000, items_selected_exact=False, started_s=0.0)
    stats.items_read = stats.items_sent = 5_011
    summary = _summary(stats)
    assert "copy done: 5,011 of 5,011 items sent" in render_text(summary)
    assert (summary.to_json()["items_selected"], summary.items_selected_exact) == (5_011, True)

    stats.interrupted = True
    text = render_text(_summary(stats))
    assert "5,011 items sent of about 5,000 selected (the table's estimate)" in text
    assert "of 5,000 items" not in text


def test_an_unknown_selection_is_said_so_or_counted_once_read() -> None:
    stats = Stats(items_selected=None, started_s=0.0)  # a Query
    stats.items_read = stats.items_sent = 5
    assert "copy done: 5 of 5 items sent" in render_text(_summary(stats))
    text = render_text(_summary(stats, error="ReadError"))
    assert "5 items sent (how many are selected is not known" in text
    assert "unknown items" not in text


def test_counts_of_one_are_singular() -> None:
    stats = Stats(items_selected=1, started_s=0.0)
    stats.items_read = stats.items_sent = stats.messages_sent = stats.batches_sent = 1
    stats.sqs_request_units = 1
    text = render_text(_summary(stats))
    assert "1 of 1 item sent" in text
    assert "1 message in 1 batch," in text
    assert "1 SQS request unit" in text
    assert "1 messages" not in text


def _too_large(stats: Stats, *, largest: int) -> None:
    big = FailedKey(key={"id": {"S": "big"}}, code=FailureCode.ITEM_TOO_LARGE, reason="needs more")
    stats.record_failed([big])
    stats.too_large_max_bytes = largest


def test_an_item_too_large_is_not_sent_back_to_resume() -> None:
    stats = Stats(items_selected=4, started_s=0.0)
    stats.items_read, stats.items_sent = 4, 3
    _too_large(stats, largest=3_100)
    summary = _summary(stats, checkpoint="cp.json", max_message_bytes=1_024)
    text = render_text(summary)
    assert "to continue: the same command with --resume" not in text
    assert (
        "1 item did not fit the queue's MaximumMessageSize (1,024 bytes): raise it to at least"
        " 3,100 bytes (SQS allows up to 1,048,576), then run the same command with --resume"
        " (cp.json)"
    ) in text
    assert summary.to_json()["failed_by_reason"] == {"item_too_large": 1}

    # Larger than any SQS message: only another way helps, never --resume.
    stats = Stats(items_selected=1, started_s=0.0)
    stats.items_read = 1
    _too_large(stats, largest=2_000_000)
    text = render_text(_summary(stats, checkpoint="cp.json", max_message_bytes=1_048_576))
    assert "more than an SQS message can hold (1,048,576): copy them another way by key" in text
    assert "--resume would fail them again" in text
    assert "to continue" not in text


def test_resume_is_suggested_for_failures_a_retry_can_fix() -> None:
    stats = Stats(items_selected=4, started_s=0.0)
    stats.items_read, stats.items_sent = 4, 2
    _too_large(stats, largest=3_100)
    throttled = FailedKey(key={"id": {"S": "k"}}, code=FailureCode.THROTTLED, reason="Unprocessed")
    stats.record_failed([throttled])
    text = render_text(_summary(stats, checkpoint="cp.json", max_message_bytes=1_024))
    assert "raise it to at least 3,100 bytes" in text
    assert "to continue: the same command with --resume (cp.json)" in text


def _rejected(user: str, problem: str) -> FailedKey:
    return FailedKey(key={"id": {"S": user}}, code=FailureCode.TRANSFORM_ERROR, reason=problem)


def test_transform_failures_are_counted_apart_and_not_sent_back_to_resume() -> None:
    stats = Stats(items_selected=3, started_s=0.0)
    stats.items_read, stats.items_sent = 3, 1
    stats.record_failed([_rejected("a", "KeyError: 'email'"), _rejected("b", "ValueError: b")])
    summary = _summary(stats, checkpoint="cp.json")
    text = render_text(summary)
    assert "failed 2 (2 by the transform)" in text
    assert "2 items failed by the transform: fix the function" in text
    assert "to continue" not in text
    document = summary.to_json()
    assert (document["items_failed_by_transform"], document["items_failed_retryable"]) == (2, 0)

    # A failure a retry can fix still sends the user back to --resume.
    stats.record_failed([FailedKey(key={"id": {"S": "c"}}, code=FailureCode.THROTTLED,
                                   reason="UnprocessedKeys")])  # fmt: skip
    summary = _summary(stats, checkpoint="cp.json")
    assert "to continue: the same command with --resume (cp.json)" in render_text(summary)
    assert summary.to_json()["items_failed_retryable"] == 1


def test_failures_are_counted_by_a_stable_code_with_the_first_example() -> None:
    stats = Stats(items_selected=3, started_s=0.0)
    stats.items_read = 3
    stats.record_failed([_rejected(user, f"ValueError: no {user}") for user in ("a", "b", "c")])
    document = _summary(stats).to_json()
    assert document["failed_by_reason"] == {"transform_error": 3}
    assert document["failed_examples"] == {
        "transform_error": {"key": {"id": {"S": "a"}}, "reason": "ValueError: no a"}
    }
    text = render_text(_summary(stats))
    assert "    transform_error x3, first: ValueError: no a" in text
    assert '{"id":{"S":"b"}} (transform_error: ValueError: no b)' in text


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


def _plan(*, estimated: bool) -> DryRunPlan:
    return DryRunPlan(
        max_message_bytes=1_048_576, average_item_bytes=1_000, estimated_rcu=0.0,
        estimated_messages=0, estimated_batches=0, estimated_request_units=0,
        estimated_seconds=0.0, sample_items=(), estimated=estimated,
    )  # fmt: skip


def test_a_query_s_dry_run_makes_no_estimates_of_zero() -> None:
    stats = Stats(items_selected=None, started_s=0.0)
    summary = _summary(stats, dry_run=True, plan=_plan(estimated=False))
    text = render_text(summary)
    assert "estimates        none: a Query's size is known only once it is read" in text
    assert "estimated RCU" not in text
    assert "messages         0" not in text
    assert summary.to_json()["estimates_known"] is False
    known = render_text(_summary(Stats(items_selected=5), dry_run=True, plan=_plan(estimated=True)))
    assert "estimated RCU    0.0" in known


def test_a_small_copy_s_plan_bills_one_small_request_not_a_full_batch() -> None:
    # Four ~2 KB items: one request of 8 KB, one 64 KB unit (the plan said four: a full batch).
    assert _request_units(8_000.0, batches=1, batch_bytes=600_000.0) == 1
    # Two full batches of 600,000 bytes (10 units each) and a last one of 100,000 bytes (2).
    assert _request_units(1_300_000.0, batches=3, batch_bytes=600_000.0) == 22
    assert _request_units(0.0, batches=0, batch_bytes=600_000.0) == 0
