"""Clients whose every call ends before the invocation's deadline.

botocore fixes a client's timeouts when the client is made, and by default retries a call
itself: with read_timeout 20 s and 3 attempts, one call could outlast the whole invocation
(Lambda then fails every message of the batch). So each call is made with one attempt only
(the writers retry, bounded by the deadline) on a client whose connect + read timeouts fit in
the time left. Clients are made once per timeout "rung" and reused; the longest rung that
fits is chosen, so a call is never cut shorter than it needs to be.

read_timeout bounds each wait for data on the socket, not the whole response; the responses
here are small (DynamoDB and SQS acknowledgements), and the invocation's safety margin covers
the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from botocore.config import Config

# Covariant: clients of a wider protocol (consumer.fast_dynamodb.DynamoDBWrites) are accepted.
ClientT = TypeVar("ClientT", covariant=True)
_FixedT = TypeVar("_FixedT")


@dataclass(frozen=True, kw_only=True, slots=True)
class CallTimeouts:
    connect_timeout_s: float
    read_timeout_s: float

    @property
    def worst_case_s(self) -> float:
        """How long one attempt can wait: connecting, then waiting for the response."""
        return self.connect_timeout_s + self.read_timeout_s


# Worst cases from 20 s down to 0.5 s, each about 1.25 x the next: a call gets at least ~80% of
# the time left. 20 s is far above what a BatchWriteItem of 25 items or a PutItem needs; the
# shortest still leaves a normal call (tens of ms) room. A fifth of each, at most 2 s, is for
# connecting (pooled connections skip it), the rest for the response.
_WORST_CASES_S: Final = (20, 15, 12, 10, 8, 6, 5, 4, 3, 2.5, 2, 1.6, 1.3, 1.0, 0.8, 0.65, 0.5)
DEFAULT_RUNGS: Final = tuple(
    CallTimeouts(connect_timeout_s=min(2.0, total / 5), read_timeout_s=total - min(2.0, total / 5))
    for total in _WORST_CASES_S
)


def botocore_config(timeouts: CallTimeouts, *, max_pool_connections: int) -> Config:
    return Config(
        connect_timeout=timeouts.connect_timeout_s,
        read_timeout=timeouts.read_timeout_s,
        # One attempt: botocore's own retries would multiply the timeouts past the deadline.
        retries={"total_max_attempts": 1, "mode": "standard"},
        # botocore's pool defaults to 10 connections, which caps real concurrency: size it.
        max_pool_connections=max_pool_connections,
    )


class BoundedClients(Generic[ClientT]):
    """A client per timeout rung, made on first use by `make` (thread-safe: boto3 sessions
    are not, so clients are made one at a time).

    `wire_items`: the clients take items in wire form (consumer.wire.WireItem: B and BS as
    base64 text), as the fast engine's do; botocore's serializer needs them in client shape
    (B as bytes), so other clients get those."""

    def __init__(
        self,
        make: Callable[[CallTimeouts], ClientT],
        *,
        rungs: Sequence[CallTimeouts] = DEFAULT_RUNGS,
        wire_items: bool = False,
    ) -> None:
        if not rungs:
            raise ValueError("BoundedClients needs at least one timeout rung")
        self.wire_items = wire_items
        self._make = make
        self._rungs = tuple(sorted(rungs, key=lambda rung: rung.worst_case_s, reverse=True))
        self._clients: dict[CallTimeouts, ClientT] = {}
        self._lock = threading.Lock()

    @staticmethod
    def fixed(client: _FixedT) -> BoundedClients[_FixedT]:
        """The same client whatever the time left (its own timeouts apply): for fakes."""
        return BoundedClients(lambda _timeouts: client)

    def rung_within(self, remaining_s: float) -> CallTimeouts | None:
        """The longest timeouts that end within `remaining_s`, or None if none do."""
        for rung in self._rungs:
            if rung.worst_case_s <= remaining_s:
                return rung
        return None

    def within(self, remaining_s: float) -> ClientT | None:
        """A client whose one attempt ends within `remaining_s`, or None: no call fits."""
        rung = self.rung_within(remaining_s)
        if rung is None:
            return None
        with self._lock:
            client = self._clients.get(rung)
            if client is None:
                client = self._clients[rung] = self._make(rung)
            return client

    def longest(self) -> ClientT:
        """The client with the longest timeouts, for calls outside any invocation."""
        client = self.within(self._rungs[0].worst_case_s)
        assert client is not None
        return client
