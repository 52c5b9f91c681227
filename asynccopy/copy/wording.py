"""Counts in the words people read: the noun agrees with the number."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 item`, `2,000 items`, `1 batch`, `2 batches` (plural given where `s` is wrong)."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
