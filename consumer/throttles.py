"""Counting the DynamoDB calls the table pushed back on, for the invocation's metrics.

A call counts as throttled when DynamoDB answers with a throttling error, or (BatchWriteItem)
hands items back in UnprocessedItems, which it does when a partition is over its capacity.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from consumer.calls import BoundedClients, CallTimeouts
from consumer.fast_dynamodb import DynamoDBWrites
from consumer.retry import is_throttling


class ThrottleCounter:
    """A count shared by the writers' threads."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


class CountingDynamoDB:
    """`DynamoDBWrites` that counts throttled calls, passing everything through unchanged."""

    def __init__(self, inner: DynamoDBWrites, counter: ThrottleCounter) -> None:
        self._inner = inner
        self._counter = counter

    def batch_write_item(self, *, RequestItems: Any) -> Any:
        response = self._counted(lambda: self._inner.batch_write_item(RequestItems=RequestItems))
        if any(response.get("UnprocessedItems", {}).values()):
            self._counter.add()
        return response

    def put_item(self, **request: Any) -> Any:
        return self._counted(lambda: self._inner.put_item(**request))

    def describe_table(self, *, TableName: str) -> Any:
        return self._inner.describe_table(TableName=TableName)

    def _counted(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ClientError as err:
            if is_throttling(err):
                self._counter.add()
            raise


def counting(
    clients: BoundedClients[DynamoDBWrites], counter: ThrottleCounter
) -> BoundedClients[DynamoDBWrites]:
    """`clients`, each wrapped to count into `counter`; the same timeout rungs."""

    def make(timeouts: CallTimeouts) -> DynamoDBWrites:
        inner = clients.within(timeouts.worst_case_s)  # exactly this rung's client
        assert inner is not None
        return CountingDynamoDB(inner, counter)

    return BoundedClients(make, wire_items=clients.wire_items)
