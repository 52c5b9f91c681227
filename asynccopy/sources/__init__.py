"""Where items come from: each source turns units of work into pages of items.

    keyfile.py   key chunks (<= 100 keys) -> BatchGetItem, UnprocessedKeys retried
    query.py     one Query, paged
    scan.py      scan segments, each paged

Sources know nothing of sending; `pipeline.py` runs `units()` through `pages(unit)` with
several workers. A page carries its position, where a checkpoint would record progress.
"""

from asynccopy.sources.base import (
    KeyChunkPosition,
    Page,
    PagePosition,
    ReadContext,
    ScanPosition,
    Source,
)

__all__ = [
    "KeyChunkPosition",
    "Page",
    "PagePosition",
    "ReadContext",
    "ScanPosition",
    "Source",
]
