"""Items selected through an index that does not project every attribute: each page of the
index (Query or Scan) names keys, read whole from the table with BatchGetItem."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, Protocol

from asynccopy.read.base import Page
from asynccopy.read.keyfile import BatchGetReader
from asynccopy.read.keys import key_digest
from asynccopy.read.tables import KeySchema
from consumer.wire import Item, item_key


class IndexPages(Protocol):
    def units(self) -> AsyncGenerator[int, None]: ...

    def pages(
        self, unit: int, *, start_key: Mapping[str, Any] | None = None
    ) -> AsyncGenerator[Page, None]: ...


class IndexFetchSource:
    """Source: the index's pages, each page's items read from the table by key.

    Every index projects the table's key attributes (DynamoDB's "Projected Attributes"), so
    the keys come from the index page as they are; both reads are charged to the limiter.
    """

    def __init__(
        self,
        index_pages: IndexPages,
        *,
        reader: BatchGetReader,
        schema: KeySchema,
        keys_per_chunk: int,
    ) -> None:
        self._index_pages = index_pages
        self._reader = reader
        self._names = schema.names
        self._keys_per_chunk = keys_per_chunk

    def units(self) -> AsyncGenerator[int, None]:
        return self._index_pages.units()

    async def pages(
        self, unit: int, *, start_key: Mapping[str, Any] | None = None
    ) -> AsyncGenerator[Page, None]:
        async for page in self._index_pages.pages(unit, start_key=start_key):
            keys = _distinct_keys(page.items, self._names)
            found: list[Item] = []
            failed = []
            for first in range(0, len(keys), self._keys_per_chunk):
                chunk = keys[first : first + self._keys_per_chunk]
                items, chunk_failed = await self._reader.read(chunk)
                found.extend(items)
                failed.extend(chunk_failed)
            yield Page(
                items=found,
                position=page.position,
                missing=_missing(keys, found, failed, self._names),
                failed=failed,
            )


def _distinct_keys(items: list[Item], names: tuple[str, ...]) -> list[Item]:
    # BatchGetItem refuses a call that names one key twice; one index page holds each table
    # item once, but keep the call valid whatever the page holds.
    seen: set[int] = set()
    keys = []
    for item in items:
        key = item_key(item, names)
        digest = key_digest(key)
        if digest not in seen:
            seen.add(digest)
            keys.append(key)
    return keys


def _missing(
    keys: list[Item], found: list[Item], failed: list[Any], names: tuple[str, ...]
) -> list[Item]:
    """Keys the index named that the table no longer holds (deleted between the two reads)."""
    if len(found) + len(failed) >= len(keys):
        return []
    done = {key_digest(item_key(item, names)) for item in found}
    done.update(key_digest(item_key(failure.key, names)) for failure in failed)
    return [key for key in keys if key_digest(key) not in done]
