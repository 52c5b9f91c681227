"""The bad inputs of `asynccopy schema` (exit 2, nothing created), and its one failure."""

from __future__ import annotations

from asynccopy.errors import AsyncCopyError, InputError


class WarmThroughputError(InputError):
    """`--warm-throughput` is not two positive whole numbers READS,WRITES."""

    def __init__(self, *, text: str, problem: str) -> None:
        self.text = text
        super().__init__(
            f"--warm-throughput {text!r}: {problem}",
            hint="give read and write units per second, e.g. --warm-throughput 12000,8000",
        )


class TableExistsError(InputError):
    """The destination already holds a table of that name with another key schema."""

    def __init__(self, *, table: str, existing: str, wanted: str) -> None:
        self.table = table
        self.existing = existing
        self.wanted = wanted
        super().__init__(
            f"the destination table {table!r} already exists with the key {existing}, "
            f"not the source's {wanted}",
            hint="choose another name with --dest-table, or delete that table first",
        )


class TableNotActiveError(AsyncCopyError):
    """CreateTable was accepted but the table or an index did not become ACTIVE in time."""

    def __init__(self, *, table: str, waited_s: float, pending: tuple[str, ...]) -> None:
        self.table = table
        self.pending = pending
        super().__init__(
            f"table {table!r} was created but {' and '.join(pending)}"
            f" {'is' if len(pending) == 1 else 'are'} not ACTIVE after {waited_s:.0f} s",
            hint="check it with `aws dynamodb describe-table`, and once it is ACTIVE enable "
            "its TTL with `aws dynamodb update-time-to-live` if the source has one",
        )
