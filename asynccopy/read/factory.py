"""The Source a selection names, sized to the read budget: shared by copy, verify and bench."""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from asynccopy.config import BATCH_GET_MAX_KEYS, KeysSelection, QuerySelection, Selection
from asynccopy.read.base import ReadContext, Source
from asynccopy.read.indexed import IndexFetchSource
from asynccopy.read.itemsize import pooled_read_units, read_units
from asynccopy.read.keyfile import BatchGetReader, KeyFileSource
from asynccopy.read.keys import KeyFilePlan
from asynccopy.read.paging import PageReader
from asynccopy.read.projection import Projection
from asynccopy.read.query import QuerySource
from asynccopy.read.scan import ScanSource
from asynccopy.read.tables import TableInfo

# One call costs at most this much of a second's budget. Whatever the limiter allows, a window
# of one second can hold one more call than the rate: small calls keep every second within
# about 5% of the target (a BatchGetItem of 100 keys of 1 KB is 50 RCU, a whole second at 50).
CALL_BUDGET_S: Final = 0.05


def per_item_rcu(selection: Selection, *, average_item_bytes: int, consistent_read: bool) -> float:
    """RCU one item costs: each rounded up to 4 KB by BatchGetItem, pooled by Query and Scan."""
    if isinstance(selection, KeysSelection):
        return read_units(average_item_bytes, consistent=consistent_read)
    return pooled_read_units(average_item_bytes, consistent=consistent_read)


def keys_per_chunk(call_budget_rcu: float | None, item_rcu: float) -> int:
    if call_budget_rcu is None:
        return BATCH_GET_MAX_KEYS
    return max(1, min(BATCH_GET_MAX_KEYS, int(call_budget_rcu / item_rcu)))


def page_limit(
    call_budget_rcu: float | None, item_rcu: float, average_item_bytes: int
) -> int | None:
    if call_budget_rcu is None:
        return None
    limit = max(1, int(call_budget_rcu / item_rcu))
    # A page reads at most 1 MB anyway: no Limit needed above that.
    return None if limit * average_item_bytes >= 1 << 20 else limit


def build_source(
    selection: Selection,
    *,
    context: ReadContext,
    table: TableInfo,
    key_plan: KeyFilePlan | None,
    consistent_read: bool,
    rate_rcu_per_s: float | None,
    call_budget_s: float = CALL_BUDGET_S,
    average_item_bytes: int | None = None,
    sample: int | None = None,
    after_line: int = 0,
    projection: Projection | None = None,
) -> Source[Any]:
    """The source of `selection`; `sample` caps the items read (a dry run's sample), and a key
    file is read from the line after `after_line` (a resumed copy). Calls are sized to
    `call_budget_s` of the rate's budget, for items of `average_item_bytes` (by default the
    table's average). A `projection` reads only those attributes, and the key's."""
    if projection is not None:
        projection = projection.with_keys(table.key_schema.names)
    item_bytes = table.average_item_bytes if average_item_bytes is None else average_item_bytes
    item_rcu = per_item_rcu(
        selection, average_item_bytes=item_bytes, consistent_read=consistent_read
    )
    call_budget_rcu = None if rate_rcu_per_s is None else rate_rcu_per_s * call_budget_s
    # What a key file reads, and what reads the whole items behind a partial index's keys.
    batch_get = partial(
        BatchGetReader,
        context,
        table=table.name,
        consistent_read=consistent_read,
        average_item_bytes=item_bytes,
        projection=projection,
    )
    if isinstance(selection, KeysSelection):
        assert key_plan is not None, "a key file is validated before its source is built"
        reader = batch_get()
        chunk = keys_per_chunk(call_budget_rcu, item_rcu)
        if sample is not None:
            chunk = max(1, min(chunk, sample))
        return KeyFileSource(
            reader,
            plan=key_plan,
            schema=table.key_schema,
            keys_per_chunk=chunk,
            limit_keys=sample,
            after_line=after_line,
        )
    limit = page_limit(call_budget_rcu, item_rcu, item_bytes)
    if sample is not None:
        limit = max(1, min(limit or sample, sample))
    fetch = selection.index_name is not None and not table.index(selection.index_name).projects_all
    pages = PageReader(
        context,
        operation="Query" if isinstance(selection, QuerySelection) else "Scan",
        table=table.name,
        consistent_read=consistent_read,
        page_limit_items=min(limit or BATCH_GET_MAX_KEYS, BATCH_GET_MAX_KEYS) if fetch else limit,
        average_item_bytes=item_bytes,
        # Through a partial index the projection applies to the table's items, read whole.
        projection=None if fetch else projection,
    )
    source = (
        QuerySource(pages, selection=selection)
        if isinstance(selection, QuerySelection)
        else ScanSource(pages, selection=selection)
    )
    if not fetch:
        return source
    reader = batch_get()
    return IndexFetchSource(
        source,
        reader=reader,
        schema=table.key_schema,
        keys_per_chunk=keys_per_chunk(call_budget_rcu, item_rcu),
    )
