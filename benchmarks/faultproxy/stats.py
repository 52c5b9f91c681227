"""What the proxy did: counters and consumed units per `account/table`, thread-safe.

In (bumps and consumed units from the request path) -> out (`ProxyStats` snapshots).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from benchmarks.faultproxy.capacity import CapacityKind
from benchmarks.faultproxy.protocol import JSONObject

# Every counter stats() reports, always present (zero until it happens).
COUNTERS: Final = (
    "requests",  # AWS calls seen (control endpoints excluded)
    "forwarded",  # requests sent upstream
    "upstream_errors",  # upstream unreachable: answered 502
    "delayed",  # requests given latency
    "dropped_requests",  # connection closed before forwarding
    "dropped_responses",  # forwarded, then the connection closed without the response
    "throttling_errors",  # ThrottlingException answered
    "errors_500",
    "errors_503",
    "capacity_exceeded",  # ProvisionedThroughputExceededException: a bucket in debt
    "batches_refused",  # ProvisionedThroughputExceededException: batch_keep_share 0
    "batches_trimmed",  # BatchGetItem/BatchWriteItem forwarded in part
    "unprocessed_keys",  # keys handed back in UnprocessedKeys
    "unprocessed_items",  # requests handed back in UnprocessedItems
    "send_batches_faulted",  # SendMessageBatch calls with injected Failed entries
    "failed_entries",  # entries failed with SenderFault false (InternalError)
    "sender_fault_entries",  # entries failed with SenderFault true
    "consumed_capacity_added",  # responses given a computed ConsumedCapacity
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProxyStats:
    """A snapshot: `counters` (every name in COUNTERS) and units consumed per `account/table`."""

    counters: Mapping[str, int]
    consumed_rcu: Mapping[str, float]
    consumed_wcu: Mapping[str, float]

    def as_json(self) -> JSONObject:
        return {
            "counters": dict(self.counters),
            "consumed_rcu": dict(self.consumed_rcu),
            "consumed_wcu": dict(self.consumed_wcu),
        }


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._consumed: dict[CapacityKind, dict[str, float]] = {"read": {}, "write": {}}

    def bump(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counters[name] += by

    def consumed(self, kind: CapacityKind, key: str, units: float) -> None:
        with self._lock:
            table = self._consumed[kind]
            table[key] = table.get(key, 0.0) + units

    def snapshot(self) -> ProxyStats:
        with self._lock:
            return ProxyStats(
                counters=MappingProxyType(dict(self._counters)),
                consumed_rcu=MappingProxyType(dict(self._consumed["read"])),
                consumed_wcu=MappingProxyType(dict(self._consumed["write"])),
            )

    def reset(self) -> None:
        with self._lock:
            self._counters = dict.fromkeys(COUNTERS, 0)
            self._consumed = {"read": {}, "write": {}}
