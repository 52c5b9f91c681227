"""skip-existing and newer-wins: one conditional PutItem per item, a few at a time.

BatchWriteItem takes no condition expressions, so these modes use PutItem (consumer.item_writer).
A failed condition means the destination already holds the item (or a newer one): a skip, not
a failure. A failed conditional put still costs write capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from consumer.item_writer import ItemWriter
from consumer.message import DecodedMessage
from consumer.results import ItemOutcome, MessageResult, result_of
from consumer.retry import Deadline
from consumer.table import KeySchema


class ConditionalWriter:
    def __init__(self, *, items: ItemWriter, threads: int) -> None:
        self._items = items
        self._threads = threads

    @property
    def schema(self) -> KeySchema:
        return self._items.schema

    @property
    def wire_items(self) -> bool:
        return self._items.wire_items

    def write(self, messages: Sequence[DecodedMessage], deadline: Deadline) -> list[MessageResult]:
        jobs = [(index, item) for index, message in enumerate(messages) for item in message.items]
        with ThreadPoolExecutor(max_workers=max(1, min(self._threads, len(jobs)))) as pool:
            outcomes = list(pool.map(lambda job: self._items.put(job[1], deadline), jobs))
        per_message: list[list[ItemOutcome]] = [[] for _ in messages]
        for (index, _item), outcome in zip(jobs, outcomes, strict=True):
            per_message[index].append(outcome)
        return [
            result_of(message.message_id, found)
            for message, found in zip(messages, per_message, strict=True)
        ]
