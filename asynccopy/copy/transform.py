"""`--transform FILE.py:function` (or `module:function`): a user function applied to each item.

The function takes an item as DynamoDB wire JSON (a dict of AttributeValue dicts, B and BS as
base64 text) and returns the item to send, or None to skip it. It runs in the producer, so what
it removes never leaves the source account. Every returned item is checked before it is sent:
its key attributes present, of the table's types and unchanged (the consumer writes by key, and
a changed key would write another item), every value a valid AttributeValue
(consumer/wire.py's validation). A failing call or an invalid result fails that item alone.

    load_transform(spec)          the function, or a TransformSpecError (exit 2) before any read
    Transform.apply(item, ...)    one item: Sent(item) | None (skipped); raises ItemRejected
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from asynccopy.copy.reasons import FailureCode
from asynccopy.errors import InputError
from asynccopy.read.tables import KeyAttribute
from asynccopy.send.packing import wire_json
from consumer.wire import InvalidItemError, Item, WireItem, from_wire


class TransformSpecError(InputError):
    """`--transform` names no callable function: its text, and what is wrong."""

    def __init__(self, *, spec: str, problem: str, hint: str) -> None:
        self.spec = spec
        super().__init__(f"--transform {spec!r}: {problem}", hint=hint)


class ItemRejected(Exception):
    """The transform raised, or returned something that cannot be sent: `code` says which,
    `reason` how."""

    def __init__(self, reason: str, *, code: FailureCode) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


_HINT: Final = "give FILE.py:function or module:function, e.g. --transform mask.py:transform"


def _load_module(target: str, spec: str) -> Any:
    if target.endswith(".py") or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise TransformSpecError(
                spec=spec,
                problem=f"no file {target}",
                hint="check the path: a relative one starts at the current directory",
            )
        name = f"_asynccopy_transform_{path.stem}"
        # Any file name will do (the source loader reads it as Python whatever its suffix).
        loader = importlib.machinery.SourceFileLoader(name, str(path))
        module_spec = importlib.util.spec_from_file_location(name, path, loader=loader)
        if module_spec is None:
            raise TransformSpecError(spec=spec, problem=f"{target} is not a module", hint=_HINT)
        module = importlib.util.module_from_spec(module_spec)
        loader.exec_module(module)
        return module
    return importlib.import_module(target)


def load_transform(spec: str) -> Transform:
    """The function `spec` names, imported now; raises TransformSpecError (exit 2)."""
    target, colon, name = spec.rpartition(":")
    if not colon or not target or not name:
        raise TransformSpecError(spec=spec, problem="no ':function' part", hint=_HINT)
    try:
        module = _load_module(target, spec)
    except TransformSpecError:
        raise
    except Exception as err:  # the user's module: any error while importing it is bad input
        raise TransformSpecError(
            spec=spec,
            problem=f"importing {target} failed: {type(err).__name__}: {err}",
            hint="run the module with python to see the error, fix it, and try again",
        ) from None
    function = getattr(module, name, None)
    if function is None:
        raise TransformSpecError(
            spec=spec, problem=f"{target} has no {name!r}", hint="check the function's name"
        )
    if not callable(function):
        raise TransformSpecError(
            spec=spec,
            problem=f"{target}.{name} is a {type(function).__name__}, not a function",
            hint="name a function taking an item and returning an item or None",
        )
    source = getattr(module, "__file__", None)
    return Transform(
        spec=spec,
        function=function,
        source=str(Path(source).resolve()) if source else target,
        source_sha256=_sha256(source),
    )


def _sha256(path: str | None) -> str | None:
    """The SHA-256 of the module's file, which a checkpoint records: a changed function is
    another copy. None for a module without a readable file."""
    if not path:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def wire_copy(item: Item) -> dict[str, Any]:
    """A fresh wire-JSON copy of `item` (B as base64 text) that the user's function may change.
    The fast engine's items are parsed from the text already made for their message."""
    encoded: str | None = getattr(item, "encoded", None)
    parsed: dict[str, Any] = orjson.loads(encoded if encoded is not None else wire_json(item))
    return parsed


@dataclass(frozen=True, kw_only=True, slots=True)
class Transform:
    spec: str
    function: Callable[[dict[str, Any]], Any]
    source: str = ""  # the module's file (resolved), or its name if it has none
    source_sha256: str | None = None  # of that file

    @property
    def function_name(self) -> str:
        return self.spec.rpartition(":")[2]

    def wire_result(self, wire: dict[str, Any]) -> dict[str, Any] | None:
        """The function's result for a wire-JSON item: the item, or None (skip); raises
        ItemRejected if it raised or returned something other than a dict or None."""
        try:
            result = self.function(wire)
        except Exception as err:  # the user's code: any error fails this item only
            raise ItemRejected(
                f"{type(err).__name__}: {err}", code=FailureCode.TRANSFORM_ERROR
            ) from None
        if result is not None and not isinstance(result, dict):
            raise ItemRejected(
                f"returned a {type(result).__name__}, not an item (dict) or None",
                code=FailureCode.TRANSFORM_INVALID_RESULT,
            )
        return result

    def apply(self, item: Item, *, keys: Sequence[KeyAttribute]) -> Item | None:
        """`item` transformed, ready to pack (a WireItem, its message text made), or None to
        skip it; raises ItemRejected naming the problem."""
        wire = wire_copy(item)
        before = {key.name: wire.get(key.name) for key in keys}
        result = self.wire_result(wire)
        if result is None:
            return None
        check(result, before=before, keys=keys)
        sent = WireItem(result)
        for key in keys:  # the source's own key values: the same, in the shape the engine keeps
            sent[key.name] = item[key.name]
        sent.encoded = wire_json(sent)
        return sent


def check(result: dict[str, Any], *, before: dict[str, Any], keys: Sequence[KeyAttribute]) -> None:
    """Raises ItemRejected unless `result` is a valid item with the key `before` had."""
    invalid_key = FailureCode.TRANSFORM_INVALID_KEY
    for key in keys:
        value = result.get(key.name)
        if value is None:
            raise ItemRejected(f"the result lacks key attribute {key.name!r}", code=invalid_key)
        if not isinstance(value, dict) or key.type not in value:
            raise ItemRejected(
                f"key attribute {key.name!r} must be of type {key.type}", code=invalid_key
            )
        if value != before[key.name]:
            raise ItemRejected(
                f"key attribute {key.name!r} was changed (keys must stay as read)", code=invalid_key
            )
    invalid = FailureCode.TRANSFORM_INVALID_RESULT
    try:
        from_wire(result)
    except InvalidItemError as err:
        raise ItemRejected(f"invalid result: {err}", code=invalid) from None
    except RecursionError:
        raise ItemRejected("invalid result: nested too deeply", code=invalid) from None
