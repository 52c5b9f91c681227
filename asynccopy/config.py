"""What a copy is asked to do: frozen, validated, units in the names.

Memory stays bounded whatever the number of keys: at most `concurrency` reads in flight plus
`page_buffer` pages waiting to be packed (a page is at most 100 items, or 1 MB for Query and
Scan), and `concurrency` + `batch_buffer` SendMessageBatch calls (each at most the queue's
MaximumMessageSize, 1 MiB at most). With the defaults and 1 KB items that is a few MB; the
worst case, 400 KB items, is about (2 x 8 + 8) x 16 MB for reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from asynccopy.aws import AwsTarget
from asynccopy.choices import (
    BATCH_GET_MAX_KEYS,
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    MAX_SCAN_SEGMENTS,
    Engine,
)
from asynccopy.read.projection import Projection
from asynccopy.read.rate import DEFAULT_RATE, RateSpec
from asynccopy.retry import RetryPolicy
from consumer.wire import AttributeValue

if TYPE_CHECKING:
    from asynccopy.copy.transform import Transform

__all__ = [
    "BATCH_GET_MAX_KEYS",
    "DEFAULT_CONCURRENCY",
    "MAX_CONCURRENCY",
    "MAX_SCAN_SEGMENTS",
    "CopyConfig",
    "Engine",
    "KeysSelection",
    "QuerySelection",
    "ReadConfig",
    "ScanSelection",
    "Selection",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class KeysSelection:
    """Items named in a key file (`-` for standard input), read with BatchGetItem."""

    path: str


@dataclass(frozen=True, kw_only=True, slots=True)
class QuerySelection:
    key_condition: str
    values: Mapping[str, AttributeValue]
    names: Mapping[str, str] = field(default_factory=dict)
    filter_expression: str | None = None
    index_name: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ScanSelection:
    total_segments: int = 1
    segments: tuple[int, ...] = (0,)  # the segments this process scans
    filter_expression: str | None = None
    values: Mapping[str, AttributeValue] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    index_name: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.total_segments <= MAX_SCAN_SEGMENTS:
            raise ValueError(f"total_segments={self.total_segments} must be 1..{MAX_SCAN_SEGMENTS}")
        if not self.segments or not all(0 <= s < self.total_segments for s in self.segments):
            raise ValueError(f"segments {self.segments} must be in 0..{self.total_segments - 1}")


Selection = KeysSelection | QuerySelection | ScanSelection


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadConfig:
    """How items are read from the source table, whatever selects them."""

    table: str
    consistent_read: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    keys_per_batch_get: int = BATCH_GET_MAX_KEYS
    page_limit_items: int | None = None  # Scan/Query Limit; None: 1 MB pages
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemShape:
    """What of each selected item is sent."""

    projection: Projection | None = None  # None: whole items; else these paths and the key
    keep_replication_attributes: bool = False  # aws:rep:* of legacy global tables
    skip_expired: bool = False  # items whose TTL attribute is already in the past
    transform: Transform | None = None  # --transform, loaded


@dataclass(frozen=True, kw_only=True, slots=True)
class CopyConfig:
    table: str
    selection: Selection
    queue_url: str
    source: AwsTarget = field(default_factory=AwsTarget)
    queue: AwsTarget = field(default_factory=AwsTarget)  # unset fields default to the source's
    rate: RateSpec = DEFAULT_RATE
    consistent_read: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    dry_run: bool = False
    sample_items: int = 3
    failed_out: Path | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    page_buffer: int = 8  # pages read but not yet packed
    batch_buffer: int = 8  # SendMessageBatch calls packed but not yet sent
    missing_shown: int = 5  # missing keys listed in the summary
    checkpoint_path: Path | None = None  # None: keep no checkpoint (a dry run never does)
    resume: bool = False  # continue from checkpoint_path, which must then exist
    engine: Engine = Engine.FAST
    shape: ItemShape = field(default_factory=ItemShape)
    wait: bool = False  # after the last send, watch the queue until the consumer drained it
    wait_timeout_s: float | None = None  # None: wait as long as it takes
    max_queue_depth: int | None = None  # pause reading above it (visible + in flight); None: off

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency={self.concurrency} must be 1..{MAX_CONCURRENCY}")
        if self.resume and (self.checkpoint_path is None or self.dry_run):
            raise ValueError("resume needs a checkpoint_path and is not for a dry run")
        if self.sample_items < 0:
            raise ValueError(f"sample_items={self.sample_items} must not be negative")
        if self.wait and self.dry_run:
            raise ValueError("wait is not for a dry run: it sends nothing to wait for")
        if self.max_queue_depth is not None and self.max_queue_depth < 1:
            raise ValueError(f"max_queue_depth={self.max_queue_depth} must be at least 1")

    @property
    def queue_target(self) -> AwsTarget:
        return self.queue.or_else(self.source)
