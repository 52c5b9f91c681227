"""An asynccopy `--transform`: e-mail addresses masked with a salted hash, `bio` dropped.

    MASK_SALT=... asynccopy copy ... --transform docs/examples/mask_email.py:transform

Items arrive as DynamoDB wire JSON ({"name": {"S": "text"}}, binary as base64 text); the
function returns the item to send (the key attributes unchanged), or None to skip it.
Every string that looks like an e-mail address, at any depth, becomes
"<first 16 hex digits of sha256(salt + address)>@masked.invalid": the same address always
gives the same mask, so masked items still join, and the salt keeps it from being looked up.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

DROPPED = ("bio",)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SALT = os.environ.get("MASK_SALT", "change me").encode()


def mask(text: str) -> str:
    if not _EMAIL.fullmatch(text):
        return text
    digest = hashlib.sha256(SALT + text.encode()).hexdigest()[:16]
    return f"{digest}@masked.invalid"


def _value(value: dict[str, Any]) -> dict[str, Any]:
    ((tag, inner),) = value.items()
    if tag == "S":
        return {"S": mask(inner)}
    if tag == "SS":  # two addresses may mask alike only if equal: the set keeps its size
        return {"SS": sorted({mask(text) for text in inner})}
    if tag == "L":
        return {"L": [_value(element) for element in inner]}
    if tag == "M":
        return {"M": {name: _value(element) for name, element in inner.items()}}
    return value


def transform(item: dict[str, Any]) -> dict[str, Any] | None:
    return {name: _value(value) for name, value in item.items() if name not in DROPPED}
