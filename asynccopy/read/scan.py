"""A parallel Scan: each segment is a unit of work, read page by page."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from asynccopy.config import ScanSelection
from asynccopy.read.base import Page, ScanPosition
from asynccopy.read.paging import PageReader, expression_arguments


class ScanSource:
    """Source: the segments of `selection` this process scans (all of them, or `--segment I/N`)."""

    def __init__(self, reader: PageReader, *, selection: ScanSelection) -> None:
        self._reader = reader
        self._selection = selection

    async def units(self) -> AsyncGenerator[int, None]:
        for segment in self._selection.segments:
            yield segment

    async def pages(
        self, unit: int, *, start_key: Mapping[str, Any] | None = None
    ) -> AsyncGenerator[Page, None]:
        total = self._selection.total_segments
        arguments = expression_arguments(
            filter_expression=self._selection.filter_expression,
            values=self._selection.values,
            names=self._selection.names,
        )
        if self._selection.index_name:
            arguments["IndexName"] = self._selection.index_name
        if total > 1:
            arguments.update(Segment=unit, TotalSegments=total)
        async for items, last_key in self._reader.pages(arguments, start_key=start_key):
            yield Page(
                items=items,
                position=ScanPosition(
                    segment=unit, total_segments=total, last_evaluated_key=last_key
                ),
            )
