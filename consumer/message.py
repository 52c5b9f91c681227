"""One SQS record turned into the items it carries, or into the reason it cannot be written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consumer.contract import SqsRecord
from consumer.table import KeySchema
from consumer.wire import Item, MessageDecodeError, decode_body, decode_wire_body


@dataclass(frozen=True, kw_only=True, slots=True)
class DecodedMessage:
    message_id: str
    items: tuple[Item, ...]  # unique by key; a repeated key keeps its last item


@dataclass(frozen=True, kw_only=True, slots=True)
class UnwritableMessage:
    """A record whose body cannot be decoded or whose keys do not fit the table: the whole
    message fails (and, after maxReceiveCount receives, moves to the dead-letter queue)."""

    message_id: str
    reason: str


def decode_record(
    record: SqsRecord, schema: KeySchema, *, wire_items: bool = False
) -> DecodedMessage | UnwritableMessage:
    """`wire_items`: the items in wire form (B as base64 text), as the fast engine takes them;
    else in client shape (B as bytes). Either way the same bodies decode, and fail alike."""
    message_id = record["messageId"]
    decode = decode_wire_body if wire_items else decode_body
    try:
        items: Sequence[Item] = decode(record["body"])
    except MessageDecodeError as err:
        return UnwritableMessage(message_id=message_id, reason=str(err))
    unique: dict[tuple[object, ...], Item] = {}
    for index, item in enumerate(items):
        problem = schema.mismatch(item)
        if problem is not None:
            return UnwritableMessage(
                message_id=message_id,
                reason=f"item {index} {problem} (the message was built for another table)",
            )
        # BatchWriteItem rejects a request that names one key twice. The key's values (str or
        # bytes, of the one type `mismatch` checked; a B key's base64 text is canonical, so it
        # names one value) identify it: no need to render it as text.
        unique[tuple(item[name][schema.key_types[name]] for name in schema.key_names)] = item
    return DecodedMessage(message_id=message_id, items=tuple(unique.values()))
