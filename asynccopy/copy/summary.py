"""The result of a copy (or of a dry run's plan), as one record, and its two renderings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asynccopy.copy.reasons import FailureCode
from asynccopy.copy.stats import FailedKey, Stats
from asynccopy.copy.wording import counted as _counted
from asynccopy.errors import ExitCode
from asynccopy.read.keys import describe_duplicates, duplicates_json
from consumer.wire import SQS_MAX_MESSAGE_BYTES, Item, key_to_text

if TYPE_CHECKING:
    from asynccopy.copy.wait import WriteSide


@dataclass(frozen=True, kw_only=True, slots=True)
class DryRunPlan:
    max_message_bytes: int
    average_item_bytes: int
    estimated_rcu: float
    estimated_messages: int
    estimated_batches: int  # SendMessageBatch requests
    estimated_request_units: int  # SQS 64 KB billing units
    estimated_seconds: float | None  # None: no rate limit
    sample_items: tuple[Item, ...]
    key_names: tuple[str, ...] = ()  # the table's key attributes: shown first in the sample
    # What average_item_bytes was measured on: the sample's items, or the table's estimate.
    average_item_source: str = "TableSizeBytes / ItemCount"
    # --index: how the index is read, e.g. "byEmail (global, projection KEYS_ONLY): ...".
    index_reads: str | None = None
    # --transform: the sample as read, before the function (wire JSON); empty without one
    sample_before_transform: tuple[Item, ...] = ()
    # False for a Query: how many items it selects is known only once it is read, so the
    # estimates, made for none, mean nothing
    estimated: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class CopySummary:
    table: str
    queue_url: str
    items_selected: int | None
    items_selected_exact: bool
    items_read: int
    items_sent: int
    items_missing: int
    items_failed: int
    messages_sent: int
    batches_sent: int
    bytes_sent: int
    sqs_request_units: int
    rcu_consumed: float
    rcu_per_s: float
    elapsed_s: float
    rate_target: float | None  # RCU/s; None: no limit
    rate_description: str
    retries: int
    throttles: int
    interrupted: bool
    dry_run: bool
    missing_sample: tuple[str, ...]
    failed_sample: tuple[str, ...]  # "key (code: reason)"
    error: str | None = None  # a failure that stopped the copy early
    plan: DryRunPlan | None = None
    checkpoint: str | None = None  # the checkpoint file kept, if any
    resumed: bool = False
    items_skipped_by_resume: int = 0  # done by earlier runs (key file: keys, found or not)
    items_skipped_expired: int = 0  # read with a TTL in the past (--skip-expired): not sent
    items_transformed: int = 0  # returned by --transform
    items_skipped_by_transform: int = 0  # --transform returned None: not sent
    items_replication_attributes_stripped: int = 0  # sent without their aws:rep:* attributes
    nothing_left: bool = False  # resumed a checkpoint that records a complete copy
    failed_by_reason: Mapping[FailureCode, int] = field(default_factory=dict)
    failed_examples: Mapping[FailureCode, FailedKey] = field(default_factory=dict)  # the first
    max_message_bytes: int | None = None  # the queue's MaximumMessageSize
    too_large_max_bytes: int = 0  # the largest message an ItemTooLarge item would need
    keys_duplicate: int = 0  # key-file lines skipped: an earlier line names the same key
    first_duplicate: tuple[int, int] | None = None  # (that line, the earlier line)
    throttle_reasons: Mapping[str, int] = field(default_factory=dict)  # DynamoDB's, counted
    write_side: WriteSide | None = None  # with --wait: the queue watched until drained

    @property
    def items_failed_by_transform(self) -> int:
        return sum(n for code, n in self.failed_by_reason.items() if code.by_transform)

    @property
    def items_failed_retryable(self) -> int:
        """The failed items a retry (--resume) may copy: not those too large, nor those the
        transform rejected (the same function rejects them again)."""
        return sum(n for code, n in self.failed_by_reason.items() if code.retry_fixes)

    @property
    def exit_code(self) -> ExitCode:
        waited = self.write_side
        if self.interrupted or (waited is not None and waited.interrupted):
            return ExitCode.INTERRUPTED
        if self.items_failed or self.error or (waited is not None and waited.failed):
            return ExitCode.FAILURES
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "table": self.table,
            "queue_url": self.queue_url,
            "items_selected": self.items_selected,
            "items_selected_exact": self.items_selected_exact,
            "items_read": self.items_read,
            "items_sent": self.items_sent,
            "items_missing": self.items_missing,
            "items_failed": self.items_failed,
            "messages_sent": self.messages_sent,
            "batches_sent": self.batches_sent,
            "bytes_sent": self.bytes_sent,
            "sqs_request_units": self.sqs_request_units,
            "rcu_consumed": round(self.rcu_consumed, 3),
            "rcu_per_s": round(self.rcu_per_s, 3),
            "elapsed_s": round(self.elapsed_s, 3),
            "rate_target": self.rate_target,
            "retries": self.retries,
            "throttles": self.throttles,
            "throttle_reasons": dict(self.throttle_reasons),
            "interrupted": self.interrupted,
            "dry_run": self.dry_run,
            "missing_keys_sample": list(self.missing_sample),
            "failed_keys_sample": list(self.failed_sample),
            "error": self.error,
            "exit_code": int(self.exit_code),
            "checkpoint": self.checkpoint,
            "resumed": self.resumed,
            "items_skipped_by_resume": self.items_skipped_by_resume,
            "items_skipped_expired": self.items_skipped_expired,
            "items_transformed": self.items_transformed,
            "items_skipped_by_transform": self.items_skipped_by_transform,
            "items_replication_attributes_stripped": self.items_replication_attributes_stripped,
            "nothing_left": self.nothing_left,
            "items_failed_retryable": self.items_failed_retryable,
            "items_failed_by_transform": self.items_failed_by_transform,
            "failed_by_reason": {str(code): n for code, n in self.failed_by_reason.items()},
            "failed_examples": {
                str(code): {"key": json.loads(key_to_text(one.key)), "reason": one.reason}
                for code, one in self.failed_examples.items()
            },
            "keys_duplicate": self.keys_duplicate,
            "first_duplicate": duplicates_json(self.first_duplicate),
            "write_side": None if self.write_side is None else self.write_side.to_dict(),
        }
        if self.plan is not None:
            plan = self.plan
            document.update(
                max_message_bytes=plan.max_message_bytes,
                average_item_bytes=plan.average_item_bytes,
                estimated_rcu=round(plan.estimated_rcu, 3),
                estimated_messages=plan.estimated_messages,
                estimated_batches=plan.estimated_batches,
                estimated_request_units=plan.estimated_request_units,
                estimated_seconds=(
                    None if plan.estimated_seconds is None else round(plan.estimated_seconds, 3)
                ),
                # wire form: B as base64, as in the message bodies
                sample_items=[json.loads(key_to_text(item)) for item in plan.sample_items],
                index_reads=plan.index_reads,
                average_item_source=plan.average_item_source,
                estimates_known=plan.estimated,
            )
            if plan.sample_before_transform:
                document["sample_items_before_transform"] = list(plan.sample_before_transform)
        return document


def build_summary(
    stats: Stats,
    *,
    now_s: float,
    table: str,
    queue_url: str,
    rate_target: float | None,
    rate_description: str,
    dry_run: bool,
    error: str | None = None,
    plan: DryRunPlan | None = None,
    checkpoint: str | None = None,
    resumed: bool = False,
    nothing_left: bool = False,
    max_message_bytes: int | None = None,
    keys_duplicate: int = 0,
    first_duplicate: tuple[int, int] | None = None,
) -> CopySummary:
    elapsed = stats.elapsed_s(now_s)
    selected, exact = stats.items_selected, stats.items_selected_exact
    finished = not dry_run and error is None and not stats.interrupted
    if finished and (selected is None or not exact):
        # The run read its whole selection (a Query's, or a Scan's that was only estimated),
        # so what it read is what it selected.
        selected, exact = stats.items_read, True
    return CopySummary(
        table=table,
        queue_url=queue_url,
        items_selected=selected,
        items_selected_exact=exact,
        items_read=stats.items_read,
        items_sent=stats.items_sent,
        items_missing=stats.items_missing,
        items_failed=stats.items_failed,
        messages_sent=stats.messages_sent,
        batches_sent=stats.batches_sent,
        bytes_sent=stats.bytes_sent,
        sqs_request_units=stats.sqs_request_units,
        rcu_consumed=stats.rcu_consumed,
        rcu_per_s=stats.rcu_consumed / elapsed if elapsed > 0 else 0.0,
        elapsed_s=elapsed,
        rate_target=rate_target,
        rate_description=rate_description,
        retries=stats.retries,
        throttles=stats.throttles,
        throttle_reasons=dict(stats.throttle_reasons),
        interrupted=stats.interrupted,
        dry_run=dry_run,
        missing_sample=tuple(key_to_text(key) for key in stats.missing_sample),
        failed_sample=tuple(
            f"{key_to_text(f.key)} ({f.code}: {f.reason})" for f in stats.failed_sample
        ),
        error=error,
        plan=plan,
        checkpoint=checkpoint,
        resumed=resumed,
        items_skipped_by_resume=stats.items_skipped_by_resume,
        items_skipped_expired=stats.items_skipped_expired,
        items_transformed=stats.items_transformed,
        items_skipped_by_transform=stats.items_skipped_by_transform,
        items_replication_attributes_stripped=stats.items_replication_attributes_stripped,
        nothing_left=nothing_left,
        failed_by_reason=dict(stats.failed_by_reason),
        failed_examples=dict(stats.failed_examples),
        max_message_bytes=max_message_bytes,
        too_large_max_bytes=stats.too_large_max_bytes,
        keys_duplicate=keys_duplicate,
        first_duplicate=first_duplicate,
    )


def reasons_text(reasons: Mapping[str, int]) -> str:
    """DynamoDB's ThrottlingReasons as `Reason xN, ...`, most frequent first."""
    ordered = sorted(reasons.items(), key=lambda pair: (-pair[1], pair[0]))
    return ", ".join(f"{reason} x{count:,}" for reason, count in ordered)


def _reasons(reasons: Mapping[str, int]) -> str:
    return f" ({reasons_text(reasons)})" if reasons else ""


def _count(value: int | None) -> str:
    return (
        "not known before reading (a Query, or a Scan with --filter)"
        if value is None
        else f"{value:,}"
    )


def _sent(summary: CopySummary) -> str:
    """How many items were sent, out of what this run selected, as far as that is known."""
    sent, selected = summary.items_sent, summary.items_selected
    if selected is None:
        return (
            f"{_counted(sent, 'item')} sent (how many are selected is not known:"
            " reading stopped before the end)"
        )
    if not summary.items_selected_exact:
        return (
            f"{_counted(sent, 'item')} sent of about {selected:,} selected (the table's estimate)"
        )
    return f"{sent:,} of {_counted(selected, 'item')} sent"


def _too_large_advice(summary: CopySummary) -> list[str]:
    """What would copy the items that fit no message: never --resume alone, which fails them
    again."""
    count = summary.failed_by_reason.get(FailureCode.ITEM_TOO_LARGE, 0)
    if not count:
        return []
    largest, limit = summary.too_large_max_bytes, summary.max_message_bytes
    items = _counted(count, "item")
    queue_limit = f" ({limit:,} bytes)" if limit is not None else ""
    at_most = limit is not None and limit >= SQS_MAX_MESSAGE_BYTES
    if largest > SQS_MAX_MESSAGE_BYTES or at_most:
        needs = f"needs {largest:,} bytes" if largest else "needs more"
        others = (
            ""
            if at_most or count == 1
            else f"; raising MaximumMessageSize to {SQS_MAX_MESSAGE_BYTES:,} may let smaller"
            " ones through"
        )
        return [
            f"  {items} did not fit the queue's MaximumMessageSize{queue_limit}; the largest"
            f" {needs}, more than an SQS message can hold ({SQS_MAX_MESSAGE_BYTES:,}): copy"
            f" them another way by key (--failed-out FILE lists them){others}. --resume would"
            " fail them again"
        ]
    then = (
        f"then run the same command with --resume ({summary.checkpoint})"
        if summary.checkpoint
        else "then copy their keys again (--failed-out FILE lists them)"
    )
    at_least = f"to at least {largest:,} bytes" if largest else "up"
    return [
        f"  {items} did not fit the queue's MaximumMessageSize{queue_limit}: raise it {at_least}"
        f" (SQS allows up to {SQS_MAX_MESSAGE_BYTES:,}), {then}"
    ]


def _transform_advice(summary: CopySummary) -> list[str]:
    """What copies the items the transform rejected: a fixed function, never --resume alone."""
    count = summary.items_failed_by_transform
    if not count:
        return []
    return [
        f"  {_counted(count, 'item')} failed by the transform: fix the function (a --dry-run"
        " shows items before and after it), then copy their keys again with --keys"
        " (--failed-out FILE lists them). --resume would fail them again"
    ]


def _failed(summary: CopySummary) -> str:
    """`failed N`, and how many of them the transform failed."""
    by_transform = summary.items_failed_by_transform
    if not by_transform:
        return f"failed {summary.items_failed:,}"
    return f"failed {summary.items_failed:,} ({by_transform:,} by the transform)"


def _failed_by_reason(summary: CopySummary) -> list[str]:
    """One line per reason: how many, and the first item's own reason."""
    lines = []
    ordered = sorted(summary.failed_by_reason.items(), key=lambda pair: (-pair[1], pair[0]))
    for code, count in ordered:
        example = summary.failed_examples.get(code)
        first = "" if example is None else f", first: {example.reason}"
        lines.append(f"    {code} x{count:,}{first}")
    return ["  failed by reason:", *lines] if lines else []


def _duplicates(summary: CopySummary) -> list[str]:
    if not summary.keys_duplicate:
        return []
    return [f"  {describe_duplicates(summary.keys_duplicate, summary.first_duplicate)}"]


def _shaped(summary: CopySummary) -> list[str]:
    """The items not sent as read: skipped as expired, or stripped of aws:rep:* attributes."""
    lines = []
    if summary.items_skipped_expired:
        count = _counted(summary.items_skipped_expired, "expired item")
        lines.append(f"  skipped {count} (TTL in the past, not yet deleted)")
    if summary.items_replication_attributes_stripped:
        count = _counted(summary.items_replication_attributes_stripped, "item")
        lines.append(f"  stripped aws:rep:* attributes from {count}")
    if summary.items_transformed or summary.items_skipped_by_transform:
        count = _counted(summary.items_transformed, "item")
        skipped = summary.items_skipped_by_transform
        lines.append(f"  transformed {count}; the transform skipped {skipped:,}")
    return lines


def render_text(summary: CopySummary, *, terminal: bool = False) -> str:
    """The summary for people: a few aligned lines; a dry run's sample as a table per item
    (box characters on a `terminal` only)."""
    lines: list[str] = []
    if summary.plan is not None:
        plan = summary.plan
        seconds = (
            "no limit (--rate max)"
            if plan.estimated_seconds is None
            else f"{plan.estimated_seconds:,.1f} s"
        )
        estimates = [
            f"  estimated RCU    {plan.estimated_rcu:,.1f}",
            *([f"  index            {plan.index_reads}"] if plan.index_reads else []),
            f"  messages         {plan.estimated_messages:,}",
            f"  SendMessageBatch {_counted(plan.estimated_batches, 'request')},"
            f" {_counted(plan.estimated_request_units, 'SQS 64 KB request unit')}",
            f"  rate             {summary.rate_description}",
            f"  duration         {seconds}",
        ]
        if not plan.estimated:
            estimates = [
                "  estimates        none: a Query's size is known only once it is read",
                *([f"  index            {plan.index_reads}"] if plan.index_reads else []),
                f"  rate             {summary.rate_description}",
            ]
        lines += [
            "dry run: nothing was sent",
            f"  table            {summary.table}",
            f"  queue            {summary.queue_url}",
            f"  message limit    {plan.max_message_bytes:,} bytes (the queue's MaximumMessageSize)",
            f"  items selected   {_count(summary.items_selected)}"
            + ("" if summary.items_selected_exact else " (the table's estimate)"),
            *_duplicates(summary),
            f"  average item     {plan.average_item_bytes:,} bytes ({plan.average_item_source})",
            *estimates,
            *_shaped(summary),
            f"  sample items     {len(plan.sample_items)}",
        ]
        if plan.sample_items or plan.sample_before_transform:
            from asynccopy.copy.sample import render_sample

            if plan.sample_before_transform:
                lines.append("  before the transform:")
                before = render_sample(
                    plan.sample_before_transform, plan.key_names, terminal=terminal
                )
                lines += [f"    {line}" if line else line for line in before.splitlines()]
                lines.append("  after the transform (as sent):")
            sample = render_sample(plan.sample_items, plan.key_names, terminal=terminal)
            lines += [f"    {line}" if line else line for line in sample.splitlines()]
    elif summary.nothing_left:
        lines += [
            f"nothing left to copy: the checkpoint {summary.checkpoint} records a complete copy"
            f" ({_counted(summary.items_skipped_by_resume, 'item')})",
        ]
    else:
        state = "interrupted" if summary.interrupted else "done"
        if summary.resumed:
            lines.append(
                f"resumed from {summary.checkpoint}:"
                f" skipped {_counted(summary.items_skipped_by_resume, 'item')} sent by earlier runs"
            )
        lines += [
            f"copy {state}: {_sent(summary)} in {summary.elapsed_s:,.1f} s",
            f"  read {summary.items_read:,} · missing {summary.items_missing:,}"
            f" · {_failed(summary)}",
            *_duplicates(summary),
            *_shaped(summary),
            f"  {_counted(summary.messages_sent, 'message')} in"
            f" {_counted(summary.batches_sent, 'batch', 'batches')},"
            f" {_counted(summary.bytes_sent, 'byte')},"
            f" {_counted(summary.sqs_request_units, 'SQS request unit')}",
            f"  {summary.rcu_consumed:,.1f} RCU at {summary.rcu_per_s:,.1f} RCU/s"
            f"; target {summary.rate_description}",
            f"  retries {summary.retries:,} · throttles {summary.throttles:,}"
            + _reasons(summary.throttle_reasons),
        ]
    if summary.missing_sample:
        lines.append(f"  missing keys (first {len(summary.missing_sample)}):")
        lines += [f"    {key}" for key in summary.missing_sample]
    lines += _failed_by_reason(summary)
    if summary.failed_sample:
        lines.append(f"  failed keys (first {len(summary.failed_sample)}):")
        lines += [f"    {key}" for key in summary.failed_sample]
    if summary.error:
        lines.append(f"  stopped early: {summary.error}")
    if summary.write_side is not None:
        lines += summary.write_side.lines()
    lines += _too_large_advice(summary)
    lines += _transform_advice(summary)
    # Only what a retry can fix: an item too large, or rejected by the transform, fails again
    # on every --resume.
    if (
        summary.checkpoint
        and summary.plan is None
        and (summary.items_failed_retryable > 0 or summary.error or summary.interrupted)
    ):
        lines.append(f"  to continue: the same command with --resume ({summary.checkpoint})")
    return "\n".join(lines)
