"""One Query, read page by page: a single unit of work."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from asynccopy.config import QuerySelection
from asynccopy.read.base import Page, ScanPosition
from asynccopy.read.paging import PageReader, expression_arguments


class QuerySource:
    """Source: the items `selection` queries, in key order."""

    def __init__(self, reader: PageReader, *, selection: QuerySelection) -> None:
        self._reader = reader
        self._selection = selection

    async def units(self) -> AsyncGenerator[int, None]:
        yield 0

    async def pages(
        self, unit: int, *, start_key: Mapping[str, Any] | None = None
    ) -> AsyncGenerator[Page, None]:
        arguments = expression_arguments(
            filter_expression=self._selection.filter_expression,
            values=self._selection.values,
            names=self._selection.names,
        )
        arguments["KeyConditionExpression"] = self._selection.key_condition
        if self._selection.index_name:
            arguments["IndexName"] = self._selection.index_name
        async for items, last_key in self._reader.pages(arguments, start_key=start_key):
            yield Page(
                items=items,
                position=ScanPosition(segment=unit, total_segments=1, last_evaluated_key=last_key),
            )
