"""The newer-wins rule: which of two items with the same key survives.

    incoming version         destination item              outcome
    missing, BOOL, NULL,     (any)                         rejected: nothing to compare
    M, L or a set
    S, N or B                absent, or lacks the attribute written: the source wins
    S, N or B                same type, older              written
    S, N or B                same type, equal or newer     skipped: the destination stays
    S, N or B                another type                  rejected: the two cannot be compared

S, N and B are the types DynamoDB's `<` compares (Comparison operator and function reference):
numbers by value, exactly (38 digits); strings by their UTF-8 bytes; binary byte by byte,
unsigned (a B value as bytes, or as the base64 text of wire form). Between two types
DynamoDB's `<` is simply false, which would keep the destination silently: the rule names that
case instead.

The writer puts with `attribute_not_exists(<pk>) OR attribute_not_exists(<v>) OR <v> < :v`, so
DynamoDB applies the rule atomically; when the condition fails, this module says why (skip or
mismatch) from the destination item the failure returns.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from consumer.wire import Item

COMPARABLE_TYPES: Final = ("S", "N", "B")

# The codes rejected items carry in their dead-letter message (asynccopy-error-code).
VERSION_MISSING: Final = "NewerWinsVersionMissing"
VERSION_NOT_COMPARABLE: Final = "NewerWinsVersionNotComparable"
VERSION_TYPE_MISMATCH: Final = "NewerWinsVersionTypeMismatch"


class Verdict(Enum):
    WRITE = "write"
    SKIP = "skip"
    REJECT = "reject"


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    verdict: Verdict
    code: str | None = None  # REJECT only
    reason: str | None = None  # REJECT only


def _type_of(value: Mapping[str, Any]) -> str:
    return "/".join(value) or "nothing"


def unusable_version(item: Item, attribute: str) -> Decision | None:
    """A REJECT decision if `item` has no version newer-wins can compare, else None."""
    value = item.get(attribute)
    if value is None:
        return Decision(
            verdict=Verdict.REJECT,
            code=VERSION_MISSING,
            reason=(
                f"the item lacks the newer-wins attribute {attribute!r}, so it cannot be "
                f"compared (give every item that attribute, or copy with another WRITE_MODE)"
            ),
        )
    if len(value) != 1 or next(iter(value)) not in COMPARABLE_TYPES:
        return Decision(
            verdict=Verdict.REJECT,
            code=VERSION_NOT_COMPARABLE,
            reason=(
                f"the newer-wins attribute {attribute!r} is {_type_of(value)}, which DynamoDB "
                f"cannot compare (use an S, N or B attribute as the version)"
            ),
        )
    return None


def is_older(existing: Mapping[str, Any], incoming: Mapping[str, Any]) -> bool:
    """Whether `existing` < `incoming`, both single-type S, N or B AttributeValues of one type,
    compared as DynamoDB compares them."""
    ((kind, old),) = existing.items()
    new = incoming[kind]
    if kind == "N":
        # Decimal holds the text's digits exactly and compares exactly: no rounding, no float.
        return bool(Decimal(old) < Decimal(new))
    if kind == "S":
        return bool(str(old).encode("utf-8") < str(new).encode("utf-8"))
    return bool(_binary(old) < _binary(new))


def _binary(value: Any) -> bytes:
    return base64.b64decode(value) if isinstance(value, str) else bytes(value)


def newer_wins(incoming: Item, existing: Item | None, attribute: str) -> Decision:
    """What newer-wins does with `incoming` when the destination holds `existing` (None: no
    item with that key)."""
    unusable = unusable_version(incoming, attribute)
    if unusable is not None:
        return unusable
    if existing is None or attribute not in existing:
        return Decision(verdict=Verdict.WRITE)
    new, old = incoming[attribute], existing[attribute]
    if set(old) != set(new):
        return Decision(
            verdict=Verdict.REJECT,
            code=VERSION_TYPE_MISMATCH,
            reason=(
                f"the newer-wins attribute {attribute!r} is {_type_of(new)} in the item but "
                f"{_type_of(old)} in the destination, so neither can be called newer (make "
                f"the types agree, then redrive)"
            ),
        )
    return Decision(verdict=Verdict.WRITE if is_older(old, new) else Verdict.SKIP)
