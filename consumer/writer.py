"""The Writer protocol, and the factory that picks a writer by mode."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from consumer.calls import BoundedClients
from consumer.config import ConsumerConfig
from consumer.dead_letters import DeadLetterSink, NoDeadLetterQueue
from consumer.message import DecodedMessage
from consumer.results import MessageResult
from consumer.retry import Backoff, Deadline, writer_backoff
from consumer.table import KeySchema, describe_key_schema

if TYPE_CHECKING:
    from consumer.fast_dynamodb import DynamoDBWrites


class Writer(Protocol):
    @property
    def schema(self) -> KeySchema: ...

    @property
    def wire_items(self) -> bool:
        """Whether its clients take items in wire form (consumer.calls.BoundedClients)."""

    def write(
        self, messages: Sequence[DecodedMessage], deadline: Deadline
    ) -> list[MessageResult]: ...


def make_writer(
    clients: BoundedClients[DynamoDBWrites],
    config: ConsumerConfig,
    *,
    schema: KeySchema | None = None,
    backoff: Backoff[None] | None = None,
    dead_letters: DeadLetterSink | None = None,
    deadline: Deadline | None = None,
) -> Writer:
    """The writer for `config.write_mode`; reads the key schema with DescribeTable if not given
    (within `deadline`, if given). Without `dead_letters`, a refused item fails its message."""
    from consumer.batch_writer import BatchWriter
    from consumer.conditional_writer import ConditionalWriter
    from consumer.item_writer import ItemWriter

    if schema is None:
        client = clients.within(math.inf if deadline is None else deadline.remaining_s())
        if client is None:
            raise TimeoutError(
                f"no time left to describe table {config.table_name!r} before the deadline"
            )
        schema = describe_key_schema(client, config.table_name)
    backoff = backoff or writer_backoff()
    items = ItemWriter(
        clients=clients,
        schema=schema,
        mode=config.write_mode,
        backoff=backoff,
        dead_letters=dead_letters or NoDeadLetterQueue("none was configured"),
    )
    if config.write_mode.kind == "overwrite":
        return BatchWriter(clients=clients, schema=schema, backoff=backoff, items=items)
    return ConditionalWriter(items=items, threads=config.write_threads)
