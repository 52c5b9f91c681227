"""Query and Scan pages: LastEvaluatedKey followed, each page metered and retried."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import Any

from asynccopy.read.base import CostEstimator, ReadContext, reported_rcu
from asynccopy.read.itemsize import item_size_bytes, page_read_units, read_units
from asynccopy.read.projection import Projection


def expression_arguments(
    *,
    filter_expression: str | None,
    values: Mapping[str, Any],
    names: Mapping[str, str],
) -> dict[str, Any]:
    """The optional expression parameters of a Query or Scan, present only when given."""
    arguments: dict[str, Any] = {}
    if filter_expression:
        arguments["FilterExpression"] = filter_expression
    if values:
        arguments["ExpressionAttributeValues"] = dict(values)
    if names:
        arguments["ExpressionAttributeNames"] = dict(names)
    return arguments


class PageReader:
    """Follows one Query or one Scan segment to its end, one metered call per page."""

    def __init__(
        self,
        context: ReadContext,
        *,
        operation: str,  # "Query" or "Scan"
        table: str,
        consistent_read: bool,
        page_limit_items: int | None,
        average_item_bytes: int,
        projection: Projection | None = None,
    ) -> None:
        self._context = context
        self._operation = operation
        self._projection = projection
        self._table = table
        self._consistent = consistent_read
        self._limit = page_limit_items
        # Without a Limit a page reads up to 1 MB.
        first_page_bytes = average_item_bytes * page_limit_items if page_limit_items else 1 << 20
        self._estimator = CostEstimator(
            initial_rcu=read_units(first_page_bytes, consistent=consistent_read)
        )

    def _cost(self, reply: dict[str, Any]) -> float:
        reported = reported_rcu(reply, self._table)
        if reported is not None:
            return reported
        # Without a report: the returned items only (a filter's discarded items are unseen,
        # and a projection's items are smaller than the full items DynamoDB charges for).
        total = sum(item_size_bytes(item) for item in reply.get("Items", []))
        return page_read_units(total, consistent=self._consistent)

    async def pages(
        self, arguments: Mapping[str, Any], *, start_key: Mapping[str, Any] | None = None
    ) -> AsyncIterator[tuple[list[Any], Mapping[str, Any] | None]]:
        """(items, LastEvaluatedKey) per page; the key is None after the last page."""
        method = getattr(self._context.client, self._operation.lower())
        request = {
            "TableName": self._table,
            "ConsistentRead": self._consistent,
            "ReturnConsumedCapacity": "TOTAL",
            **arguments,
        }
        if self._projection is not None:
            request.update(
                self._projection.arguments(names=arguments.get("ExpressionAttributeNames"))
            )
        if self._limit:
            request["Limit"] = self._limit
        last_key = start_key
        while True:
            if last_key is not None:
                request["ExclusiveStartKey"] = dict(last_key)
            reply, consumed = await self._context.call(
                self._operation,
                partial(method, **request),
                reserve_rcu=self._estimator.per_unit(),
                cost_rcu=self._cost,
            )
            self._estimator.observe(units=1, rcu=consumed)
            self._context.limiter.on_success()
            last_key = reply.get("LastEvaluatedKey") or None
            yield reply.get("Items", []), last_key
            if last_key is None:
                return
