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
from asynccopy.copy.wording import counted as _counted
from asynccopy.read.factory import per_item_rcu
from asynccopy.read.itemsize import item_size_bytes, pooled_read_units, read_units
from asynccopy.read.tables import IndexInfo
from asynccopy.send.packing import MAX_ENTRIES_PER_BATCH, MAX_ITEMS_PER_MESSAGE
from asynccopy.send.sender import SEND_BATCH_MAX_BYTES, request_units_for_bytes
from consumer.wire import encode_items


def _read_units(config: CopyConfig, prepared: Prepared, count: int, item_bytes: int) -> float:
    table = prepared.table
    if isinstance(config.selection, ScanSelection):
        # A Scan reads the whole segment; a filter saves no capacity.
        share = len(config.selection.segments) / config.selection.total_segments
        pages = pooled_read_units(
            table.item_count * share * item_bytes, consistent=config.consistent_read
        )
    else:
        pages = count * per_item_rcu(
            config.selection, average_item_bytes=item_bytes, consistent_read=config.consistent_read
        )
    index = _index(config, prepared)
    if index is None or index.projects_all:
        return pages
    # The index's pages (at most what reading the items themselves would cost), then each
    # item again with BatchGetItem, rounded up to 4 KB per item.
    return pages + count * read_units(item_bytes, consistent=config.consistent_read)


def average_item(
    config: CopyConfig, prepared: Prepared, read_items: Sequence[Any]
) -> tuple[int, str]:
    """The average size of the items as read, and what it was measured on. TableSizeBytes /
    ItemCount is refreshed only about every six hours (and an emulator may not keep it), so
    the sample's measured items are preferred: as read (before a --transform, which may drop
    attributes), and not with --attributes, whose sample is projected while DynamoDB charges
    reads for the whole item."""
    if read_items and config.shape.projection is None:
        sizes = [item_size_bytes(item) for item in read_items]
        measured = f"measured on {_counted(len(sizes), 'sample item')}"
        if config.shape.transform is not None:
            measured += " before the transform"
        return max(1, -(-sum(sizes) // len(sizes))), measured
    if read_items:  # projected: DynamoDB still charges a read for the whole item
        return (
            prepared.table.average_item_bytes,
            "TableSizeBytes / ItemCount: the sample is projected",
        )
    return prepared.table.average_item_bytes, "TableSizeBytes / ItemCount"


def _index(config: CopyConfig, prepared: Prepared) -> IndexInfo | None:
    name = getattr(config.selection, "index_name", None)
    return None if name is None else prepared.table.index(name)


def index_reads(config: CopyConfig, prepared: Prepared) -> str | None:
    """How a copy --index reads, for the plan: the pages are the items, or each page's keys
    are read whole with BatchGetItem (both reads charged to the --rate limiter)."""
    index = _index(config, prepared)
    if index is None:
        return None
    if index.projects_all:
        return f"{index.describe()}: its pages are the items"
    return (
        f"{index.describe()}: each page's keys are read whole with BatchGetItem; "
        "both reads are charged to the rate limit"
    )


def _request_units(total_bytes: float, *, batches: int, batch_bytes: float) -> int:
    """SQS's 64 KB billing units of `batches` requests carrying `total_bytes`: full batches of
    `batch_bytes`, then the last with what is left (a small copy is one small request)."""
    if batches == 0:
        return 0
    full = request_units_for_bytes(int(batch_bytes))
    last = max(0.0, total_bytes - (batches - 1) * batch_bytes)
    return (batches - 1) * full + request_units_for_bytes(int(last))


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
    # Reads are charged for the items as read; messages carry them as sent.
    item_bytes, measured_on = average_item(config, prepared, before_transform or sample_items)
    rcu = _read_units(config, prepared, count, item_bytes)
    if sample_items:
        encoded = sum(len(encode_items([item])) for item in sample_items) / len(sample_items)
    else:
        encoded = item_bytes * 2.0  # typed JSON roughly doubles an item
    per_message = max(1, min(MAX_ITEMS_PER_MESSAGE, int(prepared.max_message_bytes / encoded)))
    messages = -(-count // per_message)
    message_bytes = per_message * encoded
    batch_bytes = max(prepared.max_message_bytes, SEND_BATCH_MAX_BYTES)
    per_batch = max(1, min(MAX_ENTRIES_PER_BATCH, int(batch_bytes / message_bytes)))
    batches = -(-messages // per_batch)
    units = _request_units(count * encoded, batches=batches, batch_bytes=per_batch * message_bytes)
    rate = prepared.rate.rcu_per_s
    return DryRunPlan(
        max_message_bytes=prepared.max_message_bytes,
        average_item_bytes=item_bytes,
        average_item_source=measured_on,
        key_names=table.key_schema.names,
        estimated_rcu=rcu,
        estimated_messages=messages,
        estimated_batches=batches,
        estimated_request_units=units,
        estimated_seconds=None if rate is None else rcu / rate,
        sample_items=tuple(sample_items),
        index_reads=index_reads(config, prepared),
        sample_before_transform=tuple(before_transform),
        estimated=selected is not None or isinstance(config.selection, ScanSelection),
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
