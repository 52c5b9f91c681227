"""The SQS message format that carries DynamoDB items between accounts: one home for both sides.

Standard library only: the consumer Lambda ships this module as it is, and the producer imports
it from here (asynccopy/send/packing.py packs items into messages with it).

Items are low-level AttributeValue maps in the boto3 client shape (B and BS hold `bytes`).
Numbers stay the strings DynamoDB sent, so nothing is rounded on the way.

A body is a versioned JSON envelope, ASCII-escaped and compact:

    {"v":1,"items":[{"userid":{"S":"u1"},"b":{"B":"AP8="}}, ...]}     plain
    {"v":1,"z":"<base64 of zlib of the items array>"}                  only when shorter

B and BS values travel as base64 text. Every body is printable ASCII, so its length is its size
in bytes and SQS accepts it whatever the items hold.

Items may also arrive as a `WireItem`: the AttributeValue JSON DynamoDB sent, parsed but never
converted (B and BS still base64 text; the fast engine's key attributes may hold bytes). The
producer's packer encodes those with orjson as they are, so a body built from a WireItem is byte
for byte the body `encode_items` builds from the same item in client shape.

The consumer's fast engine decodes a body into WireItems (`decode_wire_body`), each holding the
very text it had in the message, so that the request DynamoDB gets is made by joining texts.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Final

FORMAT_VERSION: Final = 1
_SUPPORTED_VERSIONS: Final = (FORMAT_VERSION,)
# SQS caps a message body at 1 MiB, so no body this codec accepts can inflate past it; the
# cap stops a hostile compressed body from exhausting the consumer's memory.
SQS_MAX_MESSAGE_BYTES: Final = 1_048_576

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

_PLAIN_HEADER: Final = f'{{"v":{FORMAT_VERSION},"items":['
_PLAIN_TRAILER: Final = "]}"
# The bytes a plain body adds around its items joined by commas.
ENVELOPE_BYTES: Final = len(_PLAIN_HEADER) + len(_PLAIN_TRAILER)
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Base64 as b64encode writes it: padded, and the bits the padding leaves unused all zero. Text
# b64decode also accepts ("AB==" for b"\x00") is not this, and is re-encoded before it is sent.
_CANONICAL_BASE64: Final = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==)?"
)
_NUMBERS: Final = re.compile(rf"(?:(?:{_NUMBER.pattern})\n)*(?:{_NUMBER.pattern})")
_CANONICAL_BASE64S: Final = re.compile(
    rf"(?:(?:{_CANONICAL_BASE64.pattern})\n)*(?:{_CANONICAL_BASE64.pattern})"
)
_COMPRESSED_HEADER: Final = f'{{"v":{FORMAT_VERSION},"z":"'
# A key whose closing quote is followed by white space before its colon (see _same_text).
_SPACED_KEY: Final = re.compile(r'"[ \t\n\r]+:')
# json.loads' own parser of one value (JSONDecoder sets it up; typeshed omits the attribute).
_SCAN_ONCE: Final[Callable[[str, int], tuple[Any, int]]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


class WireItem(dict[str, Any]):
    """An item as DynamoDB's JSON has it (B/BS base64 text), trusted and never converted.

    Only the fast engines make these: the producer's from responses DynamoDB validated, which
    its packer encodes without checking or converting each value; the consumer's from message
    bodies it validated (`decode_wire_body`). `encoded`, when set, is the item's wire JSON
    already made (the producer needs its length to meter reads; the consumer sends it as is).
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


def item_json(item: Item) -> str:
    """One item validated and in compact ASCII JSON, as it stands in a plain body; a WireItem,
    already valid wire form, as it is (its `encoded` text when it has one)."""
    if isinstance(item, WireItem):
        encoded: str | None = getattr(item, "encoded", None)
        if encoded is not None:
            return encoded
        return json.dumps(item, ensure_ascii=True, separators=(",", ":"))
    return json.dumps(to_wire(item), ensure_ascii=True, separators=(",", ":"))


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


def body_of(item_jsons: Sequence[str]) -> str:
    """The message body holding these items' JSON: plain, or compressed when that is shorter."""
    items_json = ",".join(item_jsons)
    plain = f"{_PLAIN_HEADER}{items_json}{_PLAIN_TRAILER}"
    packed = zlib.compress(f"[{items_json}]".encode("ascii"))
    compressed = f'{{"v":{FORMAT_VERSION},"z":"{base64.b64encode(packed).decode("ascii")}"}}'
    return compressed if len(compressed) < len(plain) else plain


def encode_items(items: Sequence[Item]) -> str:
    """One message body holding `items`; raises InvalidItemError for a malformed item."""
    return body_of([item_json(item) for item in items])


def _inflate(text: object) -> object:
    raw = _inflate_text(text)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise MessageDecodeError(f'"z" does not inflate to ASCII JSON ({err})') from None


def _inflate_text(text: object) -> str:
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
        return raw.decode("ascii")
    except UnicodeDecodeError as err:
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


class _Unfit(Exception):
    """Internal: the fast path does not vouch for a body; decode_body judges it instead."""


def decode_wire_body(body: str) -> list[WireItem]:
    """The items in a message body, as `decode_body` accepts and rejects them, but in wire form
    (B and BS base64 text, canonical); raises MessageDecodeError.

    An item whose text in the body is exactly what was validated (no attribute named twice)
    keeps that text as `encoded`: the fast engine sends it without encoding the item again.
    """
    try:
        return _wire_items(body)
    except (_Unfit, ValueError, TypeError, StopIteration, RecursionError):
        # Anything this path does not vouch for is decode_body's to judge (and to word the
        # error); its items are then encoded afresh, binaries in canonical base64.
        return [to_wire(item) for item in decode_body(body)]


def _wire_items(body: str) -> list[WireItem]:
    if body.startswith(_COMPRESSED_HEADER) and body.endswith('"}'):
        # Only base64 text passes _inflate_text, so the envelope is exactly {"v":1,"z":...}.
        text = _inflate_text(body[len(_COMPRESSED_HEADER) : -2])
    elif body.startswith(_PLAIN_HEADER) and body.endswith(_PLAIN_TRAILER):
        text = body[len(_PLAIN_HEADER) - 1 : -len(_PLAIN_TRAILER) + 1]
    else:
        raise _Unfit()
    if text == "[]":
        return []
    if text[:1] != "[":
        raise _Unfit()
    items: list[tuple[Any, int, int]] = []
    start = 1
    while True:
        item, end = _SCAN_ONCE(text, start)  # json.loads' parse of one array element
        items.append((item, start, end))
        after = text[end : end + 1]
        if after == "]" and end + 1 == len(text):
            break
        if after != ",":
            raise _Unfit()
        start = end + 1
    numbers: list[str] = []
    binaries: list[str] = []
    keys = sum(_check_map(item, numbers, binaries) for item, _, _ in items)
    if numbers and not _all_match(_NUMBERS, numbers):
        raise _Unfit()
    if binaries and not _all_match(_CANONICAL_BASE64S, binaries):
        raise _Unfit()
    same = _same_text(text, keys)
    wire_items = []
    for item, start, end in items:
        wire = WireItem(item)
        if same:
            wire.encoded = text[start:end]
        wire_items.append(wire)
    return wire_items


def _same_text(text: str, keys: int) -> bool:
    """Whether the JSON `text`, parsed into maps holding `keys` keys in all, names no key twice
    in one map (json.loads keeps the last, and the text would say more than the items do).

    Every key but one followed by white space ends in `":`; other `":` can only be inside
    strings. So if no key is followed by white space, `":` occurs at least once per key
    written, and exactly `keys` times only if no key was written twice.
    """
    return text.isascii() and text.count('":') == keys and _SPACED_KEY.search(text) is None


def _check_map(attributes: object, numbers: list[str], binaries: list[str]) -> int:
    """What _convert_map checks, but N and B values (and set elements) only collected, to be
    checked in one go, and nothing converted; the number of keys in the maps within (each
    AttributeValue is a map of one key); raises _Unfit."""
    if type(attributes) is not dict:
        raise _Unfit()
    keys = len(attributes)
    for value in attributes.values():
        if type(value) is not dict or len(value) != 1:
            raise _Unfit()
        # S and N first, inline: most values are one or the other.
        if "S" in value:
            if type(value["S"]) is not str:
                raise _Unfit()
            keys += 1
        elif "N" in value:
            number = value["N"]
            if type(number) is not str:
                raise _Unfit()
            numbers.append(number)
            keys += 1
        else:
            keys += _check_value(value, numbers, binaries)
    return keys


def _check_value(value: object, numbers: list[str], binaries: list[str]) -> int:
    if type(value) is not dict or len(value) != 1:
        raise _Unfit()
    ((tag, inner),) = value.items()
    if tag == "S":
        if type(inner) is not str:
            raise _Unfit()
    elif tag == "N":
        if type(inner) is not str:
            raise _Unfit()
        numbers.append(inner)
    elif tag == "M":
        return 1 + _check_map(inner, numbers, binaries)
    elif tag == "L":
        if type(inner) is not list:
            raise _Unfit()
        return 1 + _check_map(dict(enumerate(inner)), numbers, binaries) - len(inner)
    elif tag == "B":
        if type(inner) is not str:
            raise _Unfit()
        binaries.append(inner)
    elif tag == "SS" or tag == "NS" or tag == "BS":
        if type(inner) is not list or not inner:
            raise _Unfit()
        if tag == "NS":
            numbers.extend(inner)
        elif tag == "BS":
            binaries.extend(inner)
        elif not all(type(element) is str for element in inner):
            raise _Unfit()
    elif tag == "BOOL":
        if type(inner) is not bool:
            raise _Unfit()
    elif tag != "NULL" or inner is not True:
        raise _Unfit()
    return 1


def _all_match(pattern: re.Pattern[str], texts: list[str]) -> bool:
    """Whether every one of `texts` matches `pattern` (which matches no line break), in one
    match: the texts joined by line breaks, each break one of those joins."""
    joined = "\n".join(texts)  # TypeError for an element that is not text
    return joined.count("\n") == len(texts) - 1 and pattern.fullmatch(joined) is not None


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
