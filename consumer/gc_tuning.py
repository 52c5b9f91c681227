"""The cyclic garbage collector kept off what a container builds once and keeps.

After the cold start the process holds tens of thousands of long-lived objects (boto3's
session, botocore's service models and clients, the handler's writer). CPython's collector
walks every one of them again on each full collection, and the items decoded from each batch
(dozens of small dicts per item) trigger a young collection every 700 allocations and a full
one every few invocations: measured on benchmark 5, a fifth of the fast engine's CPU per item.

`gc.freeze()` moves everything alive into the permanent generation, which no collection
walks: the pattern the Python docs give for a long-lived process after its set-up (gc.freeze)
and AWS's Lambda guidance names for work done once at initialisation. A higher young-generation
threshold then lets one batch's items be freed by reference counting before a collection looks
at them (they hold no cycles).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Final

# (young, middle, old): 20,000 allocations per young collection instead of CPython's 700, the
# others as asynccopy copy runs them (asynccopy.copy.copier.steady_gc).
GC_THRESHOLDS: Final = (20_000, 20, 100)


def settle_after_start() -> None:
    """Freeze what the container built and raise the collector's thresholds; call once, when
    the clients and the writer exist."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextlib.contextmanager
def settled() -> Iterator[None]:
    """`settle_after_start` for a run inside a longer process (`asynccopy consume`), undone
    on exit: the thresholds restored and the frozen objects collectable again."""
    thresholds = gc.get_threshold()
    settle_after_start()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
