"""What a checkpoint records of how items are shaped, and which flags differ from this copy's.

A `--resume` continues the copy its checkpoint records, so every flag that changes what is
sent is part of that copy: the selection's (checkpoint.py: `selection_identity`) and the
item-shaping flags here. A resume with any of them changed is refused, naming the flag.

    shape_identity(shape)            the shaping flags as JSON, only those given ({} for none)
    changed_flags(old, new, ...)     "--skip-expired given then, not now", ... for each that differs
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from asynccopy.config import ItemShape

_SELECTION_FLAGS: Final = {
    "key_condition": "--query",
    "filter": "--filter",
    "values": "--values",
    "names": "--names",
    "index": "--index",
    "total_segments": "--segments",
    "segments": "--segment",
}
_SHAPE_FLAGS: Final = {
    "attributes": "--attributes",
    "transform": "--transform",
    "skip_expired": "--skip-expired",
    "keep_replication_attributes": "--keep-replication-attributes",
}


def shape_identity(shape: ItemShape) -> dict[str, Any]:
    """The shaping flags given, as JSON. Flags left at their default are left out, so that a
    checkpoint of a copy without them keeps the fingerprint it had before they existed."""
    identity: dict[str, Any] = {}
    if shape.projection is not None:
        identity["attributes"] = shape.projection.text()
    transform = shape.transform
    if transform is not None:
        identity["transform"] = {
            "source": transform.source or transform.spec.rpartition(":")[0],
            "function": transform.function_name,
            "sha256": transform.source_sha256,
        }
    if shape.skip_expired:
        identity["skip_expired"] = True
    if shape.keep_replication_attributes:
        identity["keep_replication_attributes"] = True
    return identity


def _shown(value: Any) -> str:
    if value is None or value is False:
        return "not given"
    if value is True:
        return "given"
    if isinstance(value, Mapping) and "function" in value:
        return f"{value.get('source')}:{value.get('function')}"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _one(flag: str, old: Any, new: Any) -> str:
    if flag == "--transform" and old and new and _shown(old) == _shown(new):
        return f"--transform {_shown(new)}: the file has changed since"
    return f"{flag} {_shown(old)} then, {_shown(new)} now"


def changed_flags(
    old_selection: Mapping[str, Any],
    new_selection: Mapping[str, Any],
    old_shape: Mapping[str, Any],
    new_shape: Mapping[str, Any],
) -> list[str]:
    """Each flag whose value differs between the copy recorded and this one (same kind of
    selection), said as "FLAG <then> then, <now> now"."""
    differences = [
        _one(flag, old_selection.get(name), new_selection.get(name))
        for name, flag in _SELECTION_FLAGS.items()
        if old_selection.get(name) != new_selection.get(name)
    ]
    differences += [
        _one(flag, old_shape.get(name), new_shape.get(name))
        for name, flag in _SHAPE_FLAGS.items()
        if old_shape.get(name) != new_shape.get(name)
    ]
    return differences
