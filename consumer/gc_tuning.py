"""The cyclic garbage collector kept off what a container builds once and keeps.

After the cold start the process holds tens of thousands of long-lived objects (boto3's
session, botocore's service models and clients, the handler's writer). CPython's collector
walks every one of them again on each full collection, and the items decoded from each batch
(dozens of small dicts per item) trigger a young collection every 700 allocations and a full
one every few invocations: a fifth of the fast engine's CPU per item on benchmark 5.

`gc.freeze()` moves everything alive into the permanent generation, which no collection
walks again (the gc module's docs: "ignore them in all the future collections"). Lambda keeps an
execution environment's clients between invocations (Lambda best practices: initialise SDK
clients outside the handler), so the container's objects are exactly such objects. A higher
young-generation threshold then lets one batch's items be freed by reference counting before a
collection looks at them (they hold no cycles). Measured on benchmark 5: botocore's CPU per item
~414 -> ~366 us, the fast engine's ~109 -> ~102 us; `asynccopy consume` ~10% less CPU.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Final

# (young, middle, old): 20,000 allocations per young collection instead of CPython's 700; the
# producer's copy and bench run under `settled` too, where the parsed pages are what is young.
GC_THRESHOLDS: Final = (20_000, 20, 100)


def settle_after_start() -> None:
    """Freeze what the container built and raise the collector's thresholds; call once, when
    the clients and the writer exist."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextlib.contextmanager
def settled() -> Iterator[None]:
    """`settle_after_start` for a run inside a longer process (`asynccopy consume`, `copy`,
    `bench`), undone on exit: the thresholds restored and the frozen objects collectable again.
    For the producer it took a third off the fast engine's CPU per item."""
    thresholds = gc.get_threshold()
    settle_after_start()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
