"""The copy's result: the summary of a run, and a dry run's plan.

In: the CopyConfig, what preparation found, the run's counters (and a dry run's sample items).
Out: a CopySummary (summary.py renders it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asynccopy.config import CopyConfig, ScanSelection
from asynccopy.copy.prepare import Prepared, scan_estimate
from asynccopy.copy.stats import Stats
from asynccopy.copy.summary import CopySummary, DryRunPlan, build_summary
from asynccopy.read.factory import per_item_rcu
from asynccopy.read.itemsize import pooled_read_units
from asynccopy.send.packing import MAX_ENTRIES_PER_BATCH, MAX_ITEMS_PER_MESSAGE
from asynccopy.send.sender import SEND_BATCH_MAX_BYTES, request_units_for_bytes
from consumer.wire import encode_items


def _read_units(config: CopyConfig, prepared: Prepared, count: int) -> float:
    table = prepared.table
    if isinstance(config.selection, ScanSelection):
        # A Scan reads the whole segment; a filter saves no capacity.
        share = len(config.selection.segments) / config.selection.total_segments
        return pooled_read_units(table.size_bytes * share, consistent=config.consistent_read)
    return count * per_item_rcu(
        config.selection,
        average_item_bytes=table.average_item_bytes,
        consistent_read=config.consistent_read,
    )


def dry_run_plan(
    config: CopyConfig,
    prepared: Prepared,
    stats: Stats,
    sample_items: Sequence[Any],
    before_transform: Sequence[Any] = (),
) -> DryRunPlan:
    """What the copy would read and send, estimated from the table and the sample read."""
    table = prepared.table
    selected = stats.items_selected
    count = selected if selected is not None else 0
    if isinstance(config.selection, ScanSelection) and selected is None:
        count = scan_estimate(config.selection, table)  # a filter: plan for all it may keep
    rcu = _read_units(config, prepared, count)
    if sample_items:
        encoded = sum(len(encode_items([item])) for item in sample_items) / len(sample_items)
    else:
        encoded = table.average_item_bytes * 2.0  # typed JSON roughly doubles an item
    per_message = max(1, min(MAX_ITEMS_PER_MESSAGE, int(prepared.max_message_bytes / encoded)))
    messages = -(-count // per_message)
    message_bytes = per_message * encoded
    batch_bytes = max(prepared.max_message_bytes, SEND_BATCH_MAX_BYTES)
    per_batch = max(1, min(MAX_ENTRIES_PER_BATCH, int(batch_bytes / message_bytes)))
    batches = -(-messages // per_batch)
    units_per_batch = request_units_for_bytes(int(per_batch * message_bytes))
    rate = prepared.rate.rcu_per_s
    return DryRunPlan(
        max_message_bytes=prepared.max_message_bytes,
        average_item_bytes=table.average_item_bytes,
        estimated_rcu=rcu,
        estimated_messages=messages,
        estimated_batches=batches,
        estimated_request_units=batches * units_per_batch,
        estimated_seconds=None if rate is None else rcu / rate,
        sample_items=tuple(sample_items),
        sample_before_transform=tuple(before_transform),
    )


def summarize(
    config: CopyConfig,
    prepared: Prepared,
    stats: Stats,
    *,
    now_s: float,
    error: str | None,
    plan: DryRunPlan | None = None,
    nothing_left: bool = False,
) -> CopySummary:
    keeps = config.checkpoint_path is not None and not config.dry_run
    key_plan = prepared.key_plan
    return build_summary(
        stats,
        now_s=now_s,
        table=prepared.table.name,
        queue_url=config.queue_url,
        rate_target=prepared.rate.rcu_per_s,
        rate_description=prepared.rate.description,
        dry_run=config.dry_run,
        error=error,
        plan=plan,
        checkpoint=str(config.checkpoint_path) if keeps else None,
        resumed=config.resume,
        nothing_left=nothing_left,
        max_message_bytes=prepared.max_message_bytes,
        keys_duplicate=0 if key_plan is None else key_plan.keys_duplicate,
        first_duplicate=None if key_plan is None else key_plan.first_duplicate,
    )
