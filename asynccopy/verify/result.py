"""What verify found: the tally the checkers keep, and the VerifyResult rendered from it.

In: the checkers' counts and the keys they list. Out: a VerifyResult (text, JSON, exit code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asynccopy.errors import ExitCode
from asynccopy.read.keys import describe_duplicates, duplicates_json


@dataclass(frozen=True, kw_only=True, slots=True)
class Difference:
    key: str  # key_to_text of the item's key
    attributes: tuple[str, ...]  # paths that differ


@dataclass(kw_only=True, slots=True)
class Tally:
    """What the checkers counted, and the first keys of each kind, as they go."""

    compared: int = 0
    identical: int = 0
    missing: int = 0
    different: int = 0
    unreadable: int = 0  # keys that could not be read on either side after every retry
    absent_from_source: int = 0
    missing_keys: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    unreadable_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyResult:
    table: str
    dest_table: str
    items_compared: int
    items_identical: int
    items_missing: int  # in the source, not in the destination
    items_different: int
    items_unreadable: int
    keys_absent_from_source: int
    missing_keys: tuple[str, ...]
    differences: tuple[Difference, ...]
    unreadable_keys: tuple[str, ...]
    rcu_source: float
    rcu_dest: float
    elapsed_s: float
    keys_duplicate: int = 0  # key-file lines skipped: an earlier line names the same key
    first_duplicate: tuple[int, int] | None = None  # (that line, the earlier line)

    @property
    def identical(self) -> bool:
        return self.items_identical == self.items_compared and self.items_unreadable == 0

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.identical else ExitCode.FAILURES

    def verdict(self) -> str:
        noun = "item" if self.items_compared == 1 else "items"
        head = f"{self.items_identical} of {self.items_compared} {noun} identical"
        if self.identical:
            return head
        parts = [
            f"{count} {what}"
            for count, what in (
                (self.items_missing, "missing in the destination"),
                (self.items_different, "different"),
                (self.items_unreadable, "unreadable"),
            )
            if count
        ]
        return f"{head}; {', '.join(parts)}"

    def render_text(self) -> str:
        lines = [f"verify {self.table} -> {self.dest_table}: {self.verdict()}"]
        if self.keys_absent_from_source:
            absent = self.keys_absent_from_source
            lines.append(
                f"  {absent} listed {'key is' if absent == 1 else 'keys are'} not in the source"
            )
        if self.keys_duplicate:
            lines.append(f"  {describe_duplicates(self.keys_duplicate, self.first_duplicate)}")
        if self.missing_keys:
            lines.append("  missing: " + ", ".join(self.missing_keys))
        for difference in self.differences:
            lines.append(f"  different: {difference.key} ({', '.join(difference.attributes)})")
        if self.unreadable_keys:
            lines.append("  unreadable: " + ", ".join(self.unreadable_keys))
        lines.append(
            f"  read {self.rcu_source:,.1f} RCU from the source and {self.rcu_dest:,.1f} RCU from"
            f" the destination in {self.elapsed_s:.1f} s"
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "dest_table": self.dest_table,
            "identical": self.identical,
            "items_compared": self.items_compared,
            "items_identical": self.items_identical,
            "items_missing": self.items_missing,
            "items_different": self.items_different,
            "items_unreadable": self.items_unreadable,
            "keys_absent_from_source": self.keys_absent_from_source,
            "keys_duplicate": self.keys_duplicate,
            "first_duplicate": duplicates_json(self.first_duplicate),
            "missing_keys": list(self.missing_keys),
            "different_keys": [
                {"key": d.key, "attributes": list(d.attributes)} for d in self.differences
            ],
            "unreadable_keys": list(self.unreadable_keys),
            "rcu_source": round(self.rcu_source, 3),
            "rcu_dest": round(self.rcu_dest, 3),
            "elapsed_s": round(self.elapsed_s, 3),
        }
