"""The choices and limits the command line declares: engine, concurrency, segments, batches.

Standard library only: every CLI module imports this at start-up, so `asynccopy --help` pays for
nothing else. asynccopy.config re-exports these names beside the configs that use them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DEFAULT_CONCURRENCY: Final = 8
MAX_CONCURRENCY: Final = 256
BATCH_GET_MAX_KEYS: Final = 100  # BatchGetItem limit
MAX_SCAN_SEGMENTS: Final = 1_000_000  # DynamoDB's TotalSegments limit
MAX_RECEIVE_BATCH: Final = 10  # ReceiveMessage returns at most 10 messages
# `consume --concurrency`: batches in flight; chosen from benchmark 9 (benchmarks/consume_bench.py).
DEFAULT_CONSUME_CONCURRENCY: Final = 8


class Engine(StrEnum):
    """How the calls made per item (BatchGetItem, Query, Scan, SendMessageBatch) are made.

    FAST signs with botocore and sends on one aiohttp session, keeping items as the JSON they
    arrive in (asynccopy.engine), and makes its few other calls on botocore's own clients
    (asynccopy.botosession); BOTOCORE uses aioboto3's clients for every call. Both send the
    same bytes and handle errors alike.
    """

    FAST = "fast"
    BOTOCORE = "botocore"
