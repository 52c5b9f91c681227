"""The SQS message format that carries DynamoDB items between accounts, and how items are packed.

Standard library only (orjson is used when installed): the consumer Lambda imports this
module on its own.

Items are low-level AttributeValue maps in the boto3 client shape (B and BS hold `bytes`).
Numbers stay the strings DynamoDB sent, so nothing is rounded on the way.

A body is a versioned JSON envelope, ASCII-escaped and compact:

    {"v":1,"items":[{"userid":{"S":"u1"},"b":{"B":"AP8="}}, ...]}     plain
    {"v":1,"z":"<base64 of zlib of the items array>"}                  only when shorter

B and BS values travel as base64 text. Every body is printable ASCII, so its length is its size
in bytes and SQS accepts it whatever the items hold.

Items may also arrive as a `WireItem`: the AttributeValue JSON DynamoDB sent, parsed but never
converted (B and BS still base64 text; the fast engine's key attributes may hold bytes). The
packer encodes those with orjson as they are and escapes them to ASCII itself, so a body built
from a WireItem is byte for byte the body `encode_items` builds from the same item in client
shape. orjson is optional: the consumer Lambda, which only decodes, ships without it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any, Final

_orjson: Any = None
try:
    import orjson

    _orjson = orjson
except ImportError:  # pragma: no cover - the consumer Lambda ships the codec alone
    pass

FORMAT_VERSION: Final = 1
_SUPPORTED_VERSIONS: Final = (FORMAT_VERSION,)
MAX_ITEMS_PER_MESSAGE: Final = 25  # one BatchWriteItem's worth
MAX_ENTRIES_PER_BATCH: Final = 10  # SendMessageBatch limit
DEFAULT_MAX_MESSAGE_BYTES: Final = 262_144  # 256 KiB, SQS's long-standing MaximumMessageSize
# SQS caps a message body at 1 MiB, so no body this codec accepts can inflate past it; the
# cap stops a hostile compressed body from exhausting the consumer's memory.
SQS_MAX_MESSAGE_BYTES: Final = 1_048_576

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

_PLAIN_HEADER: Final = f'{{"v":{FORMAT_VERSION},"items":['
_PLAIN_TRAILER: Final = "]}"
_ENVELOPE_BYTES: Final = len(_PLAIN_HEADER) + len(_PLAIN_TRAILER)
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class WireItem(dict[str, Any]):
    """An item as DynamoDB's JSON has it (B/BS base64 text), trusted and never converted.

    Only the fast engine makes these, from responses DynamoDB validated; `MessagePacker`
    encodes them without checking or converting each value. `encoded`, when set, is the
    item's `wire_json` already made (the engine needs its length to meter reads).
    """

    __slots__ = ("encoded",)

    encoded: str


class CodecError(ValueError):
    """Base for every error this module raises."""


class MessageDecodeError(CodecError):
    """A message body is not a valid message in any format version this codec knows."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"cannot decode message body: {reason} (it was not written by a compatible "
            f"asynccopy encoder; check that sender and consumer run matching versions)"
        )


class InvalidItemError(CodecError):
    """An item handed to the codec is not a valid DynamoDB AttributeValue map."""

    def __init__(self, *, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        where = f"attribute {path}" if path else "item"
        super().__init__(
            f"{where}: {problem} (pass items as boto3 client AttributeValue maps, "
            f"e.g. {{'name': {{'S': 'abc'}}, 'blob': {{'B': b'...'}}}})"
        )


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


class _BadValue(Exception):
    """Internal: where an AttributeValue is invalid, path collected innermost first."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.segments: list[str] = []

    def path(self) -> str:
        return "".join(reversed(self.segments)).removeprefix(".")


def _bytes_to_wire(value: object) -> str:
    if not isinstance(value, bytes):
        raise _BadValue(f"binary value must be bytes, not {type(value).__name__}")
    return base64.b64encode(value).decode("ascii")


def _bytes_from_wire(value: object) -> bytes:
    if not isinstance(value, str):
        raise _BadValue(f"binary value must be base64 text, not {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise _BadValue(f"binary value is not valid base64 ({err})") from None


def is_number(value: object) -> bool:
    """Whether `value` is a number's text as DynamoDB writes one (no NaN, no Infinity)."""
    return isinstance(value, str) and _NUMBER.fullmatch(value) is not None


def significant_digits(number: str) -> str:
    """The digits of a number that DynamoDB counts (at most 38) and sizes: the mantissa without
    its sign, point, and leading or trailing zeros."""
    mantissa = number.lstrip("+-").partition("e")[0].partition("E")[0]
    return mantissa.replace(".", "").strip("0")


def _convert(value: object, binary: Callable[[object], Any]) -> Any:
    """Validate one AttributeValue strictly, converting B/BS values with `binary`."""
    if not isinstance(value, dict) or len(value) != 1:
        raise _BadValue("must be a map with exactly one type tag, such as {'S': ...}")
    ((tag, inner),) = value.items()
    match tag:
        case "SS" | "NS" | "BS" | "L" if not isinstance(inner, list):
            raise _BadValue(f"{tag} value must be a list")
        case "SS" | "NS" | "BS" if not inner:
            raise _BadValue(f"{tag} value must not be empty (DynamoDB has no empty sets)")
        case "S" if not isinstance(inner, str):
            raise _BadValue("S value must be a string")
        case "N" if not is_number(inner):
            raise _BadValue(f"N value {inner!r} is not a number")
        case "BOOL" if not isinstance(inner, bool):
            raise _BadValue("BOOL value must be true or false")
        case "NULL" if inner is not True:
            raise _BadValue("NULL value must be true")
        case "SS" if not all(isinstance(element, str) for element in inner):
            raise _BadValue("SS elements must be strings")
        case "NS" if not all(is_number(element) for element in inner):
            bad = next(element for element in inner if not is_number(element))
            raise _BadValue(f"NS element {bad!r} is not a number")
        case "S" | "N" | "BOOL" | "NULL" | "SS" | "NS":
            return value
        case "B":
            return {"B": binary(inner)}
        case "BS":
            return {"BS": [binary(element) for element in inner]}
        case "L":
            converted = []
            for index, element in enumerate(inner):
                try:
                    converted.append(_convert(element, binary))
                except _BadValue as bad:
                    bad.segments.append(f"[{index}]")
                    raise
            return {"L": converted}
        case "M" if not isinstance(inner, dict):
            raise _BadValue("M value must be a map")
        case "M":
            return {"M": _convert_map(inner, binary)}
    raise _BadValue(f"unknown type tag {tag!r}")


def _convert_map(attributes: object, binary: Callable[[object], Any]) -> dict[str, Any]:
    if not isinstance(attributes, dict):
        raise _BadValue("must be a map of attribute names to AttributeValues")
    converted = {}
    for name, value in attributes.items():
        try:
            if not isinstance(name, str):
                raise _BadValue("attribute name must be a string")
            converted[name] = _convert(value, binary)
        except _BadValue as bad:
            bad.segments.append(f".{name}")
            raise
    return converted


def _convert_item(item: Item, binary: Callable[[object], Any]) -> dict[str, Any]:
    """`_convert_map` of a whole item, a bad value raised as the InvalidItemError naming it."""
    try:
        return _convert_map(item, binary)
    except _BadValue as bad:
        raise InvalidItemError(path=bad.path(), problem=bad.problem) from None


def _item_json(item: Item) -> str:
    return json.dumps(to_wire(item), ensure_ascii=True, separators=(",", ":"))


def _bytes_default(value: object) -> str:
    """orjson's fallback: the bytes a client-shape key (or a key file) holds, as base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _ascii_json(text: str) -> str:
    """Valid JSON text with its non-ASCII characters (and DEL) escaped as ensure_ascii does.

    Outside strings JSON text is ASCII, so escaping the whole text is escaping each string:
    json's own escaper on the whole text, then its escapes of `\\` and `"` undone (see
    test_engine.py). Measured on the benchmark's items, a hand-written escaper was no faster.
    """
    escaped = encode_basestring_ascii(text)[1:-1]
    return escaped.replace("\\\\", "\\").replace('\\"', '"')


def wire_json(value: Any) -> str:
    """Compact ASCII JSON, identical to json.dumps(ensure_ascii=True, separators=(",", ":")),
    bytes written as base64; by orjson where installed."""
    if _orjson is None:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=_bytes_default)
    raw: bytes = _orjson.dumps(value, default=_bytes_default)
    if raw.isascii() and b"\x7f" not in raw:
        return raw.decode("ascii")
    return _ascii_json(raw.decode("utf-8"))


def to_wire(item: Item) -> WireItem:
    """A client-shape item (B as bytes) in wire form (B as base64 text); raises InvalidItemError."""
    return WireItem(_convert_item(item, _bytes_to_wire))


def _bytes_from_either(value: object) -> bytes:
    return value if isinstance(value, bytes) else _bytes_from_wire(value)


def from_wire(item: Item) -> Item:
    """A wire-form item (B as base64 text, or bytes) in client shape; raises InvalidItemError."""
    return _convert_item(item, _bytes_from_either)


def client_key(key: Item) -> Item:
    """A key in client shape: a B key value given as base64 text (wire form) becomes bytes."""
    converted = key
    for name, value in key.items():
        inner = value.get("B")
        if isinstance(inner, str):
            if converted is key:
                converted = dict(key)
            try:
                converted[name] = {"B": base64.b64decode(inner, validate=True)}
            except (binascii.Error, ValueError) as err:
                raise InvalidItemError(path=name, problem=f"B is not base64 ({err})") from None
    return converted


def _body(item_jsons: Sequence[str]) -> str:
    items_json = ",".join(item_jsons)
    plain = f"{_PLAIN_HEADER}{items_json}{_PLAIN_TRAILER}"
    packed = zlib.compress(f"[{items_json}]".encode("ascii"))
    compressed = f'{{"v":{FORMAT_VERSION},"z":"{base64.b64encode(packed).decode("ascii")}"}}'
    return compressed if len(compressed) < len(plain) else plain


def encode_items(items: Sequence[Item]) -> str:
    """One message body holding `items`; raises InvalidItemError for a malformed item."""
    return _body([_item_json(item) for item in items])


def _inflate(text: object) -> object:
    if not isinstance(text, str):
        raise MessageDecodeError('"z" must be base64 text')
    try:
        packed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise MessageDecodeError(f'"z" is not valid base64 ({err})') from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, SQS_MAX_MESSAGE_BYTES)
    except zlib.error as err:
        raise MessageDecodeError(f'"z" is not valid zlib data ({err})') from None
    if inflater.unconsumed_tail:
        raise MessageDecodeError(f'"z" inflates past {SQS_MAX_MESSAGE_BYTES} bytes')
    if not inflater.eof:
        raise MessageDecodeError('"z" is truncated zlib data')
    try:
        return json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise MessageDecodeError(f'"z" does not inflate to ASCII JSON ({err})') from None


def decode_body(body: str) -> list[Item]:
    """The items in a message body, validated strictly; raises MessageDecodeError."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise MessageDecodeError(f"not JSON ({err})") from None
    if not isinstance(envelope, dict):
        raise MessageDecodeError(f"expected a JSON object, got {type(envelope).__name__}")
    version = envelope.get("v")
    if type(version) is not int or version not in _SUPPORTED_VERSIONS:
        raise MessageDecodeError(
            f"unsupported format version {version!r}; this codec knows versions "
            f"{', '.join(map(str, _SUPPORTED_VERSIONS))}"
        )
    fields = envelope.keys() - {"v"}
    if fields == {"items"}:
        items = envelope["items"]
    elif fields == {"z"}:
        items = _inflate(envelope["z"])
    else:
        raise MessageDecodeError(
            f'expected "v" with exactly one of "items" or "z", got fields {sorted(envelope)}'
        )
    if not isinstance(items, list):
        raise MessageDecodeError(f"items must be a JSON array, got {type(items).__name__}")
    decoded = []
    for index, item in enumerate(items):
        try:
            decoded.append(_convert_map(item, _bytes_from_wire))
        except _BadValue as bad:
            where = f"item {index}, attribute {bad.path()}" if bad.segments else f"item {index}"
            raise MessageDecodeError(f"{where}: {bad.problem}") from None
        except RecursionError:
            raise MessageDecodeError(f"item {index} is nested too deeply") from None
    return decoded


def item_key(item: Item, key_names: Sequence[str]) -> Item:
    """The key attributes of `item`; raises InvalidItemError if one is missing."""
    try:
        return {name: item[name] for name in key_names}
    except KeyError as missing:
        raise InvalidItemError(
            path=str(missing.args[0]), problem="the item lacks this key attribute"
        ) from None


def key_to_text(key: Item) -> str:
    """A key as one line of JSON in wire form (B as base64), names sorted, for reports."""
    try:
        wire = _convert_map(key, _bytes_to_wire)
    except _BadValue:
        return repr(key)  # still say which key, even when it is malformed
    return json.dumps(wire, ensure_ascii=True, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    body: str
    keys: tuple[Item, ...]  # the key of every item in the body, in order
    size_bytes: int


class MessagePacker:
    """Packs items into message bodies, encoding each item once as it arrives."""

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
        self._plain_bytes = _ENVELOPE_BYTES

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
            encoded = _item_json(item)
        alone = _ENVELOPE_BYTES + len(encoded)
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
        body = _body(self._jsons)
        message = Message(body=body, keys=tuple(self._keys), size_bytes=len(body))
        self._jsons = []
        self._keys = []
        self._plain_bytes = _ENVELOPE_BYTES
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
