"""The producer's packing: items into message bodies, messages into SendMessageBatch calls.

The body format itself is consumer/wire.py's, the one the consumer decodes; this module decides
how many items go into one message (at most 25, one BatchWriteItem's worth, and at most the
queue's MaximumMessageSize) and how many messages into one call (at most 10 entries, whose
bodies SQS limits as a sum). Messages come out in the order their items went in (FIFO): the
checkpoint relies on it.

`wire_json` encodes with orjson, which only the producer has: the Lambda ships without it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any, Final

import orjson

from consumer.wire import (
    ENVELOPE_BYTES,
    SQS_MAX_MESSAGE_BYTES,
    CodecError,
    Item,
    WireItem,
    body_of,
    client_key,
    item_json,
    item_key,
    key_to_text,
)

MAX_ITEMS_PER_MESSAGE: Final = 25  # one BatchWriteItem's worth
MAX_ENTRIES_PER_BATCH: Final = 10  # SendMessageBatch limit
DEFAULT_MAX_MESSAGE_BYTES: Final = 262_144  # 256 KiB, SQS's long-standing MaximumMessageSize


class ItemTooLargeError(CodecError):
    """An item does not fit in one message even on its own."""

    def __init__(self, *, key: Item, size_bytes: int, limit_bytes: int) -> None:
        self.key = key
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes
        super().__init__(
            f"item {key_to_text(key)} encodes to {size_bytes} bytes, over the {limit_bytes}-byte "
            f"message limit (raise max_message_bytes, up to SQS's {SQS_MAX_MESSAGE_BYTES}, "
            f"or copy this item another way)"
        )


def _bytes_default(value: object) -> str:
    """orjson's fallback: the bytes a client-shape key (or a key file) holds, as base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _ascii_json(text: str) -> str:
    """Valid JSON text with its non-ASCII characters (and DEL) escaped as ensure_ascii does.

    Outside strings JSON text is ASCII, so escaping the whole text is escaping each string:
    json's own escaper on the whole text, then its escapes of `\\` and `"` undone (see
    test_engine.py). Measured on the benchmark's items, a hand-written escaper was no faster,
    nor was str.encode("ascii", "backslashreplace") with its `\\x` and `\\U` forms respelled
    (11.0 against 10.9 µs per freshly parsed item).
    """
    escaped = encode_basestring_ascii(text)[1:-1]
    # Without a backslash in `text` there is no escaped one to undo, and the search for one
    # is slow: every escaped quote starts a partial match.
    if "\\" in text:
        escaped = escaped.replace("\\\\", "\\")
    return escaped.replace('\\"', '"')


def wire_json(value: Any) -> str:
    """Compact ASCII JSON, identical to json.dumps(ensure_ascii=True, separators=(",", ":")),
    bytes written as base64, by orjson."""
    raw: bytes = orjson.dumps(value, default=_bytes_default)
    if raw.isascii() and b"\x7f" not in raw:
        return raw.decode("ascii")
    return _ascii_json(raw.decode("utf-8"))


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    body: str
    keys: tuple[Item, ...]  # the key of every item in the body, in order
    size_bytes: int


class MessagePacker:
    """Packs items into message bodies, encoding each item once as it arrives.

    The order is decided here, and kept: a message holds the oldest items not yet in one, in
    the order `add` received them, and messages come out of `add` and `flush` in that order.
    The checkpoint's DeliveryTracker (copy/checkpoint.py) relies on it to tell which pages a
    finished message holds, from nothing but its item count: reordering items here (to fill
    messages tighter, say) would record pages as acknowledged that are not.
    """

    def __init__(
        self,
        *,
        key_names: Sequence[str],
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_items: int = MAX_ITEMS_PER_MESSAGE,
    ) -> None:
        if not key_names:
            raise ValueError("key_names must name the table's key attributes")
        if not 0 < max_message_bytes <= SQS_MAX_MESSAGE_BYTES:
            raise ValueError(
                f"max_message_bytes={max_message_bytes} must be 1..{SQS_MAX_MESSAGE_BYTES}"
            )
        if max_items < 1:
            raise ValueError(f"max_items={max_items} must be at least 1")
        self._key_names = tuple(key_names)
        self._max_bytes = max_message_bytes
        self._max_items = max_items
        self._jsons: list[str] = []
        self._keys: list[Item] = []
        self._plain_bytes = ENVELOPE_BYTES

    def add(self, item: Item) -> list[Message]:
        """Messages completed by adding `item`, usually none.

        A `WireItem` is encoded as it is; any other item is validated and converted first.
        Either way the message keys are in client shape (B as bytes).
        """
        if type(item) is WireItem:
            key = client_key(item_key(item, self._key_names))
            encoded = getattr(item, "encoded", None) or wire_json(item)
        else:
            key = item_key(item, self._key_names)
            encoded = item_json(item)
        alone = ENVELOPE_BYTES + len(encoded)
        if alone > self._max_bytes:
            raise ItemTooLargeError(key=key, size_bytes=alone, limit_bytes=self._max_bytes)
        done: list[Message] = []
        if self._jsons and self._plain_bytes + 1 + len(encoded) > self._max_bytes:
            done = self.flush()
        self._plain_bytes += len(encoded) + (1 if self._jsons else 0)
        self._jsons.append(encoded)
        self._keys.append(key)
        if len(self._jsons) == self._max_items:
            done += self.flush()
        return done

    def flush(self) -> list[Message]:
        """The partial message, if any."""
        if not self._jsons:
            return []
        body = body_of(self._jsons)
        message = Message(body=body, keys=tuple(self._keys), size_bytes=len(body))
        self._jsons = []
        self._keys = []
        self._plain_bytes = ENVELOPE_BYTES
        return [message]


class BatchPacker:
    """Groups messages into SendMessageBatch calls, whose body sizes SQS limits as a sum."""

    def __init__(
        self,
        *,
        max_batch_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_entries: int = MAX_ENTRIES_PER_BATCH,
    ) -> None:
        if max_batch_bytes < 1:
            raise ValueError(f"max_batch_bytes={max_batch_bytes} must be at least 1")
        if max_entries < 1:
            raise ValueError(f"max_entries={max_entries} must be at least 1")
        self._max_bytes = max_batch_bytes
        self._max_entries = max_entries
        self._batch: list[Message] = []
        self._bytes = 0

    def add(self, message: Message) -> list[list[Message]]:
        """Batches completed by adding `message`, usually none."""
        if message.size_bytes > self._max_bytes:
            raise ValueError(
                f"a {message.size_bytes}-byte message cannot fit a {self._max_bytes}-byte batch; "
                f"make max_batch_bytes at least the packer's max_message_bytes"
            )
        done: list[list[Message]] = []
        if self._bytes + message.size_bytes > self._max_bytes:
            done = self.flush()
        self._batch.append(message)
        self._bytes += message.size_bytes
        if len(self._batch) == self._max_entries:
            done += self.flush()
        return done

    def flush(self) -> list[list[Message]]:
        """The partial batch, if any."""
        if not self._batch:
            return []
        batch = self._batch
        self._batch = []
        self._bytes = 0
        return [batch]


def pack_batches(
    messages: Iterable[Message],
    *,
    max_batch_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_entries: int = MAX_ENTRIES_PER_BATCH,
) -> Iterator[list[Message]]:
    """Batches of at most `max_entries` messages whose bodies sum to at most `max_batch_bytes`."""
    packer = BatchPacker(max_batch_bytes=max_batch_bytes, max_entries=max_entries)
    for message in messages:
        yield from packer.add(message)
    yield from packer.flush()
