"""Key lines and JSON values, typed by the table's key schema.

A key file holds one key per line:

    user-0000001                      a bare partition-key value (S as is, N a number, B base64)
    {"userid": "u1", "ts": 17}        a full key with plain JSON values
    {"userid": {"S": "u1"}}           or with typed AttributeValues
    # a comment; blank lines are skipped too

A bare line is stripped of surrounding whitespace; a key whose value has leading or trailing
spaces must be written as a JSON line, and so must one that looks blank (zero-width spaces)
or holds a control character or a byte-order mark: as bare lines those are refused. A line
starting with `{` or `[` is JSON, and must be an object. A JSON object with exactly one type
tag as its only field (`{"S": ...}`) is read as a typed AttributeValue, anything else as plain
JSON.

A key file is read twice, streaming both times: `scan_key_file` validates every line and counts
the distinct keys before anything is sent; `iter_keys` then yields them. Standard input is
spooled to a temporary file on the first pass. Duplicates are found on the first pass by
`dedupe.DuplicateFinder`: 64-bit fingerprints of each key's canonical bytes in a compact table
(11-23 bytes per distinct key: ~115-230 MB for 10 million keys) as a filter, then, only if a
fingerprint repeats, an exact comparison of the canonical bytes of just those lines, read again:
a fingerprint collision can never drop a key. The second pass skips the duplicate line numbers,
so it holds no table.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import itertools
import json
import math
import os
import stat
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import anyio.to_thread

from asynccopy.errors import InputError, KeyLineError
from asynccopy.read.dedupe import DuplicateFinder, LinesChangedError
from asynccopy.read.numbers import canonical_number, number_problem
from asynccopy.read.tables import KeyAttribute, KeySchema
from consumer.wire import AttributeValue, Item

STDIN_NAME: Final = "-"
# DynamoDB limits on key values (bytes, UTF-8 or raw binary).
MAX_PARTITION_KEY_BYTES: Final = 2048
MAX_SORT_KEY_BYTES: Final = 1024
TYPE_TAGS: Final = frozenset({"S", "N", "B", "SS", "NS", "BS", "L", "M", "NULL", "BOOL"})


class _JsonNumber(str):
    """A JSON number kept as the text it was written in, never made binary floating point."""

    __slots__ = ()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number DynamoDB accepts")


def loads_exact(text: str) -> Any:
    """json.loads with every number kept as its text (a `_JsonNumber`)."""
    return json.loads(
        text, parse_int=_JsonNumber, parse_float=_JsonNumber, parse_constant=_reject_constant
    )


class ValueProblem(ValueError):
    """Internal: why a JSON value is not an AttributeValue; the caller adds where."""


def _number_text(value: str) -> str:
    """`value` as it is, if DynamoDB can store it: a key or a --values number it cannot store
    would fail a whole read call at run time, so it is refused before anything is read."""
    problem = number_problem(value)
    if problem is not None:
        raise ValueProblem(problem)
    return value


def _base64_bytes(value: object) -> bytes:
    if not isinstance(value, str) or isinstance(value, _JsonNumber):
        raise ValueProblem("a binary value must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueProblem(f"{value!r} is not valid base64") from None


def _typed(tag: str, inner: Any) -> AttributeValue:
    match tag:
        case "S" if isinstance(inner, str) and not isinstance(inner, _JsonNumber):
            return {"S": inner}
        case "N" if isinstance(inner, str):
            return {"N": _number_text(inner)}
        case "B":
            return {"B": _base64_bytes(inner)}
        case "BOOL" if isinstance(inner, bool):
            return {"BOOL": inner}
        case "NULL" if inner is True:
            return {"NULL": True}
        case "SS" if isinstance(inner, list) and inner:
            return {"SS": [_typed("S", element)["S"] for element in inner]}
        case "NS" if isinstance(inner, list) and inner:
            return {"NS": [_typed("N", element)["N"] for element in inner]}
        case "BS" if isinstance(inner, list) and inner:
            return {"BS": [_base64_bytes(element) for element in inner]}
        case "L" if isinstance(inner, list):
            return {"L": [to_attribute_value(element) for element in inner]}
        case "M" if isinstance(inner, dict):
            return {"M": {name: to_attribute_value(v) for name, v in inner.items()}}
    raise ValueProblem(f"{{{tag!r}: {inner!r}}} is not a valid {tag} value")


def is_typed(value: object) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in TYPE_TAGS


def to_attribute_value(value: Any) -> AttributeValue:
    """An AttributeValue from plain JSON (from `loads_exact`) or a typed `{"S": ...}` object."""
    if is_typed(value):
        ((tag, inner),) = value.items()
        return _typed(tag, inner)
    if isinstance(value, _JsonNumber):
        return {"N": _number_text(str(value))}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, list):
        return {"L": [to_attribute_value(element) for element in value]}
    if isinstance(value, dict):
        return {"M": {name: to_attribute_value(v) for name, v in value.items()}}
    raise ValueProblem(f"{value!r} cannot be a DynamoDB value")


def parse_values_json(text: str, *, flag: str) -> dict[str, AttributeValue]:
    """`--values '{":u": "user-1", ":n": {"N": "5"}}'`: plain or typed values by name."""
    try:
        document = loads_exact(text)
    except ValueError as exc:
        raise InputError(
            f"{flag} is not valid JSON: {exc}", hint=f"{flag} takes a JSON object"
        ) from None
    if not isinstance(document, dict):
        raise InputError(f"{flag} must be a JSON object", hint='e.g. {":u": "user-0000001"}')
    values: dict[str, AttributeValue] = {}
    for name, value in document.items():
        try:
            values[name] = to_attribute_value(value)
        except ValueProblem as problem:
            raise InputError(
                f"{flag} {name}: {problem}",
                hint=f"give {flag} values DynamoDB can store, e.g. "
                '{":u": "user-0000001", ":n": 17}',
            ) from None
    return values


def parse_names_json(text: str, *, flag: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InputError(
            f"{flag} is not valid JSON: {exc}", hint=f"{flag} takes a JSON object"
        ) from None
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise InputError(f"{flag} must map placeholders to names", hint='e.g. {"#n": "name"}')
    return document


def _check_key_value(attribute: KeyAttribute, value: AttributeValue, *, max_bytes: int) -> None:
    ((tag, inner),) = value.items()
    if tag != attribute.type:
        raise ValueProblem(
            f"key attribute {attribute.name!r} must be of type {attribute.type}, not {tag}"
        )
    if tag == "S":
        size = len(inner.encode("utf-8", "surrogatepass"))
    elif tag == "B":
        size = len(inner)
    else:
        return
    if size == 0:
        raise ValueProblem(f"key attribute {attribute.name!r} must not be empty")
    if size > max_bytes:
        raise ValueProblem(f"key attribute {attribute.name!r} is over {max_bytes} bytes")


def _bare_value(text: str, attribute: KeyAttribute) -> AttributeValue:
    try:
        match attribute.type:
            case "N":
                return {"N": _number_text(text)}
            case "B":
                return {"B": _base64_bytes(text)}
    except ValueProblem as problem:
        raise ValueProblem(
            f"key attribute {attribute.name!r} ({attribute.type}): {problem}"
        ) from None
    return {"S": text}


def _is_hidden(char: str) -> bool:
    """A control character (but tab) or a byte-order mark: nothing a reader sees."""
    return char == "\ufeff" or (unicodedata.category(char) == "Cc" and char != "\t")


def _check_visible(bare: str) -> None:
    """A bare line that looks blank, or holds a control character or a byte-order mark, is a
    mistake far more often than a key: such a key must be written as a JSON line."""
    # Every key line is checked on both passes, so the usual line takes one C call:
    # isprintable() is false for every control (Cc) and format (Cf) character and every space
    # but U+0020, which strip() removed from both ends, so a printable line is neither blank
    # nor holds a hidden character (test_keys.py checks that for every code point).
    if bare.isprintable():
        return
    blank = all(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in bare)
    hidden = sorted({c for c in bare if blank or _is_hidden(c)})
    if hidden:
        codes = ", ".join(f"U+{ord(c):04X}" for c in hidden)
        looks = "looks blank but holds" if blank else "holds"
        raise ValueProblem(
            f"the line {looks} invisible characters ({codes}); delete them, or write such a "
            f"key as a JSON line"
        )


def parse_key_line(text: str, *, schema: KeySchema) -> Item | None:
    """The key on one line, or None for a blank or comment line; raises ValueProblem."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped.startswith(("{", "[")):  # `[` too: a JSON array is a mistake, not a key
        try:
            document = loads_exact(stripped)
        except ValueError as exc:
            raise ValueProblem(f"not valid JSON ({exc})") from None
        if not isinstance(document, dict):
            raise ValueProblem("a JSON key line must be an object")
        extra = sorted(set(document) - set(schema.names))
        if extra:
            raise ValueProblem(
                f"{', '.join(map(repr, extra))} is not a key attribute of the table "
                f"(its key is {', '.join(schema.names)})"
            )
        key: Item = {}
        for attribute in schema.attributes:
            if attribute.name not in document:
                raise ValueProblem(f"the key attribute {attribute.name!r} is missing")
            raw = document[attribute.name]
            if isinstance(raw, str) and not isinstance(raw, _JsonNumber):
                value = _bare_value(raw, attribute)  # a JSON string is typed by the schema
            else:
                try:
                    value = to_attribute_value(raw)
                except ValueProblem as problem:
                    raise ValueProblem(f"key attribute {attribute.name!r}: {problem}") from None
            key[attribute.name] = value
    else:
        _check_visible(stripped)
        if schema.sort is not None:
            raise ValueProblem(
                f"the table also has the sort key {schema.sort.name!r}: write the full key as a "
                f'JSON object, e.g. {{"{schema.partition.name}": ..., "{schema.sort.name}": ...}}'
            )
        key = {schema.partition.name: _bare_value(stripped, schema.partition)}
    _check_key_value(
        schema.partition, key[schema.partition.name], max_bytes=MAX_PARTITION_KEY_BYTES
    )
    if schema.sort is not None:
        _check_key_value(schema.sort, key[schema.sort.name], max_bytes=MAX_SORT_KEY_BYTES)
    return key


def key_canonical(key: Item) -> bytes:
    """Bytes equal exactly when two keys are the same to DynamoDB: numbers compared by value,
    exactly, at any number of digits ("1", "1.0" and "1e0" agree, as do "-0" and "0")."""
    parts: list[bytes] = []
    for name in sorted(key):
        ((tag, inner),) = key[name].items()
        if tag == "N":
            try:
                canonical = canonical_number(inner).encode()
            except ValueError:  # not a number: only a key DynamoDB refuses, kept distinct
                canonical = inner.encode()
        elif tag == "B":
            canonical = inner
        else:
            canonical = inner.encode("utf-8", "surrogatepass")
        parts.append(f"{len(name)}:{name}:{tag}:{len(canonical)}:".encode("utf-8", "surrogatepass"))
        parts.append(canonical)
    return b"".join(parts)


def key_digest(key: Item) -> int:
    """128 bits identifying a key; equal numbers written differently ("1", "1.0") agree."""
    return int.from_bytes(hashlib.blake2b(key_canonical(key), digest_size=16).digest(), "big")


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyFilePlan:
    """A validated key file: where to read it again and what the first pass found."""

    path: Path  # the file itself, or the spool of standard input
    display_name: str  # for messages: the path as given, or "stdin"
    keys_total: int  # distinct keys
    lines_total: int
    duplicate_lines: frozenset[int]  # lines whose key an earlier line names: skipped, not read
    first_duplicate: tuple[int, int] | None = None  # (first duplicate line, the line it repeats)
    size_bytes: int = 0
    content_sha256: str = ""  # of every byte, computed on the first pass: the file's identity

    @property
    def keys_duplicate(self) -> int:
        """Key lines skipped because an earlier line names the same key."""
        return len(self.duplicate_lines)


def describe_duplicates(count: int, first: tuple[int, int] | None) -> str:
    """The summaries' line: "12 duplicate key lines skipped; first: line 7 = line 3"."""
    lines = "line" if count == 1 else "lines"
    where = f"; first: line {first[0]} = line {first[1]}" if first is not None else ""
    return f"{count:,} duplicate key {lines} skipped{where}"


def duplicates_json(first: tuple[int, int] | None) -> dict[str, int] | None:
    """The first duplicate for --json: {"line": 7, "same_as_line": 3}, or None."""
    return None if first is None else {"line": first[0], "same_as_line": first[1]}


def _lines(stream: Iterable[bytes], *, source: str, start: int = 1) -> Iterator[tuple[int, str]]:
    for line_no, raw in enumerate(stream, start=start):
        try:
            yield line_no, raw.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyLineError(
                source=source, line_no=line_no, problem="is not valid UTF-8"
            ) from None


@dataclass(kw_only=True, slots=True)
class _Identity:
    """Size and SHA-256 of the bytes read, updated line by line on the first pass."""

    size_bytes: int = 0
    digest: Any = field(default_factory=hashlib.sha256)

    def read(self, stream: IO[bytes]) -> Iterator[bytes]:
        for raw in stream:
            self.size_bytes += len(raw)
            self.digest.update(raw)
            yield raw


# Bytes of the file's start used to estimate its line count: one buffer, read anyway.
_SAMPLE_BYTES: Final = 8192


def _expected_lines(stream: IO[bytes]) -> int:
    """The lines of a regular file, estimated from its size and the lines of its first bytes
    (without reading them: peeked at); 0 when it cannot be told (a pipe, no peek)."""
    peek = getattr(stream, "peek", None)
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return 0
    if peek is None or not stat.S_ISREG(info.st_mode):
        return 0
    sample: bytes = peek(_SAMPLE_BYTES)[:_SAMPLE_BYTES]
    sampled_bytes = sample.rfind(b"\n") + 1
    if not sampled_bytes:
        return 1
    return math.ceil(info.st_size * sample.count(b"\n") / sampled_bytes)


def _canonical_line(raw: bytes, *, schema: KeySchema) -> bytes | None:
    """A line read again for `DuplicateFinder.resolve`; None if it no longer holds a key."""
    try:
        key = parse_key_line(raw.decode("utf-8"), schema=schema)
    except (UnicodeDecodeError, ValueProblem):
        return None
    return None if key is None else key_canonical(key)


def _rewound(stream: IO[bytes], *, source: str) -> IO[bytes]:
    try:
        stream.flush()  # the spool of standard input is still being written
        stream.seek(0)
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        raise InputError(
            f"the key file {source} repeats keys, and it cannot be read again to find which",
            hint="give a regular file to --keys, or pipe it to --keys -",
        ) from None
    return stream


def _validate(
    stream: IO[bytes],
    *,
    schema: KeySchema,
    source: str,
    spool: IO[bytes] | None,
    identity: _Identity,
) -> tuple[int, int, frozenset[int], tuple[int, int] | None]:
    """(distinct keys, lines, duplicate line numbers, the first duplicate and the line it
    repeats). `spool`, if given, must be readable too: it is what is read again when some key
    fingerprint repeats."""
    line_no = 0
    raw_lines = identity.read(stream)
    with DuplicateFinder(expected_keys=_expected_lines(stream)) as finder:
        for line_no, text in _lines(raw_lines, source=source):
            if spool is not None:
                spool.write(text.encode("utf-8"))
            try:
                key = parse_key_line(text, schema=schema)
            except ValueProblem as problem:
                raise KeyLineError(source=source, line_no=line_no, problem=str(problem)) from None
            if key is not None:
                finder.add(line_no, key_canonical(key))
        try:
            duplicates = finder.resolve(
                reread=lambda: _rewound(stream if spool is None else spool, source=source),
                canonical=functools.partial(_canonical_line, schema=schema),
            )
        except LinesChangedError as exc:
            raise InputError(
                f"the key file {source} changed while it was read ({exc})",
                hint="copy from a file nothing else is writing",
            ) from None
        return finder.distinct_keys, line_no, duplicates, finder.first_duplicate


def _first_pass(
    stream: IO[bytes],
    *,
    path: Path,
    display_name: str,
    schema: KeySchema,
    spool: IO[bytes] | None,
) -> KeyFilePlan:
    """Validate `stream` (spooling it if asked) and describe what the second pass will read."""
    identity = _Identity()
    keys, lines, duplicates, first_duplicate = _validate(
        stream, schema=schema, source=display_name, spool=spool, identity=identity
    )
    return KeyFilePlan(
        path=path,
        display_name=display_name,
        keys_total=keys,
        lines_total=lines,
        duplicate_lines=duplicates,
        first_duplicate=first_duplicate,
        size_bytes=identity.size_bytes,
        content_sha256=identity.digest.hexdigest(),
    )


async def enter_key_file(
    stack: contextlib.ExitStack,
    path_text: str,
    *,
    schema: KeySchema,
    stdin: IO[bytes] | None = None,
) -> KeyFilePlan:
    """`open_key_file` entered on `stack` (the spool lives until it closes), its first pass (a
    read of the whole file) in a worker thread so the event loop is not blocked."""
    opened = open_key_file(path_text, schema=schema, stdin=stdin)
    return await anyio.to_thread.run_sync(stack.enter_context, opened)


@contextlib.contextmanager
def open_key_file(
    path_text: str, *, schema: KeySchema, stdin: IO[bytes] | None = None
) -> Iterator[KeyFilePlan]:
    """The first pass over a key file (`-` for stdin, spooled); the spool is removed on exit."""
    if path_text == STDIN_NAME:
        source = "stdin"
        fd, spool_name = tempfile.mkstemp(prefix="asynccopy-keys-", suffix=".txt")
        spool_path = Path(spool_name)
        try:
            with os.fdopen(fd, "w+b") as spool:  # read again if keys repeat
                stream = stdin if stdin is not None else sys.stdin.buffer
                plan = _first_pass(
                    stream, path=spool_path, display_name=source, schema=schema, spool=spool
                )
            yield plan
        finally:
            spool_path.unlink(missing_ok=True)
        return
    path = Path(path_text)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(
            f"cannot read the key file {path_text}: {exc.strerror}",
            hint="check the path given to --keys (or use - for standard input)",
        ) from None
    with handle:
        plan = _first_pass(handle, path=path, display_name=path_text, schema=schema, spool=None)
    yield plan


def iter_keys(
    plan: KeyFilePlan, *, schema: KeySchema, after_line: int = 0
) -> Iterator[tuple[int, Item]]:
    """(line number, key) for every distinct key of a validated file, in file order.

    Lines up to `after_line` (a resumed copy's checkpoint) are read past without being parsed.
    """
    with plan.path.open("rb") as handle:
        for _ in itertools.islice(handle, after_line):
            pass
        for line_no, text in _lines(handle, source=plan.display_name, start=after_line + 1):
            if line_no in plan.duplicate_lines:
                continue
            try:
                key = parse_key_line(text, schema=schema)
            except ValueProblem as problem:  # the file changed since it was validated
                raise KeyLineError(
                    source=plan.display_name, line_no=line_no, problem=str(problem)
                ) from None
            if key is not None:
                yield line_no, key
