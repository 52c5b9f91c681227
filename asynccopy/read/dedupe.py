"""Exact duplicate detection over a stream of keys, in about 11 bytes per distinct key.

`DuplicateFinder` is given each key line's canonical bytes in file order (`add`) and answers,
once the stream has ended (`resolve`), which lines repeat the key of an earlier line. It holds:

* a table of 64-bit fingerprints: open addressing with linear probing in one `array('Q')`,
  8 bytes a slot, at most `MAX_LOAD` (70%) full. Sized from the caller's estimate of the key
  count, that is 8 / 0.7 = 11.4 bytes per distinct key; a table that fills up doubles (up to
  22.9 bytes per key, and the old table beside the new one while it is rehashed);
* the fingerprints seen more than once ("candidates"): a set, empty unless the stream repeats
  a key (or, with odds near n² / 2⁶⁵, two keys share a fingerprint);
* the fingerprint of every line, in order: `SPILL_LINES` of them in memory (512 KiB), the rest in
  an anonymous temporary file, 8 bytes a line on disk.

A fingerprint is only a filter, never proof: no line is called a duplicate because its
fingerprint matched. When there are candidates, `resolve` scans the spilled fingerprints for
the lines that carry one, reads just those lines again (the others are skipped, not parsed) and
compares their canonical bytes exactly. So a fingerprint collision costs a moment, never a key,
and the fingerprint need not be cryptographic: the default is Python's own keyed SipHash of the
bytes (`hash`, randomised per process), about ten times cheaper than a BLAKE2b digest. When no
fingerprint repeats (the common case), the stream is read once and nothing is re-read.

Memory, all told: the table, 11.4-22.9 bytes per distinct key (34 at the peak of a doubling);
a constant 512 KiB of buffered fingerprints; and, only when the stream repeats keys, the
canonical bytes and line number of one line per distinct repeated key while `resolve` runs,
besides the duplicate line numbers it returns (and the first of them with the line it repeats).
"""

from __future__ import annotations

import itertools
import math
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Final

MAX_LOAD: Final = 0.7  # largest fill: linear probing takes ~2.2 probes an insert, ~6 when full
MIN_CAPACITY: Final = 1 << 12  # slots: 32 KiB
SPILL_LINES: Final = 1 << 16  # fingerprints buffered in memory before they go to disk: 512 KiB
_MASK: Final = (1 << 64) - 1
_SLOT_BYTES: Final = 8  # array('Q') holds unsigned 64-bit integers on every CPython platform

# Any integer from the canonical bytes; its low 64 bits are used. The default, `hash`, is
# Python's SipHash, keyed at random per process (PYTHONHASHSEED), called without a wrapper.
Fingerprint = Callable[[bytes], int]


class LinesChangedError(ValueError):
    """The lines read again by `resolve` are not the lines the first pass saw."""


class DuplicateFinder:
    """Finds the lines whose key an earlier line already named: 64-bit fingerprints in an
    open-addressing table as a filter, then an exact comparison of just the suspect lines.

    Call `add` for every key line in ascending line order (lines without a key are simply not
    added), then `resolve` once. Use it as a context manager, or `close` it, to free the
    spill file.
    """

    def __init__(self, *, expected_keys: int = 0, fingerprint: Fingerprint = hash) -> None:
        capacity = max(MIN_CAPACITY, math.ceil(expected_keys / MAX_LOAD))
        self._table = array("Q", [0]) * capacity  # 0 marks a free slot
        self._capacity = capacity
        self._limit = int(capacity * MAX_LOAD)
        self._fingerprint = fingerprint
        self._stored = 0  # distinct fingerprints in the table
        self._key_lines = 0
        self._candidates: set[int] = set()
        self._recent = array("Q")  # fingerprints of lines since the last spill; 0: no key
        self._absorbed = 0  # how many of `_recent` are in the table already
        self._next_line = 1
        self._spill: IO[bytes] | None = None  # created when `_recent` first fills up
        self._duplicates: frozenset[int] | None = None
        self._first_duplicate: tuple[int, int] | None = None

    # ---- the first pass ---------------------------------------------------------------------
    def add(self, line_no: int, canonical: bytes) -> None:
        """Record the key on `line_no` (1-based, greater than any line added before).

        Cheap on purpose: the fingerprint is buffered, and a whole buffer goes into the table
        at a time (`_absorb`), in a loop over local names.
        """
        fingerprint = (self._fingerprint(canonical) & _MASK) or 1  # 0 marks a free slot
        if line_no != self._next_line:
            self._skip_lines(line_no - self._next_line)
        self._next_line = line_no + 1
        recent = self._recent
        recent.append(fingerprint)
        if len(recent) >= SPILL_LINES:
            self._flush()

    @property
    def has_candidates(self) -> bool:
        """Whether some fingerprint repeated, so that `resolve` will read lines again."""
        self._absorb()
        return bool(self._candidates)

    @property
    def capacity(self) -> int:
        """Slots in the fingerprint table (8 bytes each), every key added counted in."""
        self._absorb()
        return self._capacity

    def table_bytes(self) -> int:
        """The fingerprint table's size in bytes: the part of the memory that grows with keys."""
        self._absorb()
        return self._table.buffer_info()[1] * self._table.itemsize

    # ---- the confirmation ---------------------------------------------------------------------
    def resolve(
        self,
        *,
        reread: Callable[[], Iterable[bytes]],
        canonical: Callable[[bytes], bytes | None],
    ) -> frozenset[int]:
        """The line numbers whose key repeats an earlier line's, exactly.

        Only if some fingerprint repeated is `reread()` called: it must give the same lines
        again, from the first; `canonical(line)` turns one of them into the bytes `add` was
        given for it. Raises LinesChangedError if a line read again is not the one first seen.
        """
        if self._duplicates is not None:
            return self._duplicates
        self._absorb()
        duplicates: list[int] = []  # ascending, each line once
        if self._candidates:
            self._flush()
            assert self._spill is not None  # `_flush` ran
            duplicates, self._first_duplicate = _exact_duplicates(
                _candidate_lines(self._spill, self._candidates),
                iter(reread()),
                canonical=canonical,
                fingerprint=self._fingerprint,
            )
        self.close()
        self._duplicates = frozenset(duplicates)
        return self._duplicates

    @property
    def first_duplicate(self) -> tuple[int, int] | None:
        """Once `resolve` has run: (the first duplicate line, the earlier line whose key it
        repeats), or None when no key repeats."""
        return self._first_duplicate

    @property
    def distinct_keys(self) -> int:
        """Distinct keys among the lines added: exact once `resolve` has run, until then an
        upper bound (it counts a repeated key more than once)."""
        self._absorb()
        return self._key_lines - len(self._duplicates or ())

    def close(self) -> None:
        """Free the spill file and the fingerprint buffer; the table stays until the finder goes."""
        self._absorb()
        self._recent = array("Q")
        self._absorbed = 0
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def __enter__(self) -> DuplicateFinder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ---- private steps ------------------------------------------------------------------------
    def _skip_lines(self, count: int) -> None:
        """Record `count` lines without a key (fingerprint 0), the spill kept in order."""
        if count < 0:
            raise ValueError("lines must be added in ascending order")
        while count:
            room = min(count, SPILL_LINES - len(self._recent))
            self._recent.frombytes(bytes(room * _SLOT_BYTES))
            count -= room
            if len(self._recent) >= SPILL_LINES:
                self._flush()

    def _flush(self) -> None:
        """Put the buffered fingerprints in the table, then append them to the spill file."""
        if not self._recent:
            return
        self._absorb()
        if self._spill is None:
            # Closed by `close`: it lives as long as the finder.
            self._spill = tempfile.TemporaryFile(prefix="asynccopy-dedupe-")  # noqa: SIM115
        self._recent.tofile(self._spill)
        self._recent = array("Q")
        self._absorbed = 0

    def _absorb(self) -> None:
        """Insert the buffered fingerprints not in the table yet; a repeated one is a candidate.

        Linear probing from the slot the fingerprint's high bits pick, `(f * capacity) >> 64`:
        no modulo, and any capacity works, not only powers of two.
        """
        recent = self._recent
        if self._absorbed == len(recent):
            return
        pending = recent[self._absorbed :] if self._absorbed else recent
        table, capacity, limit = self._table, self._capacity, self._limit
        stored = self._stored
        candidates = self._candidates
        key_lines = 0
        for fingerprint in pending:
            if not fingerprint:  # a line without a key
                continue
            key_lines += 1
            slot = (fingerprint * capacity) >> 64
            while True:
                found = table[slot]
                if not found:
                    table[slot] = fingerprint
                    stored += 1
                    if stored > limit:
                        self._grow()
                        table, capacity, limit = self._table, self._capacity, self._limit
                    break
                if found == fingerprint:
                    candidates.add(fingerprint)
                    break
                slot += 1
                if slot == capacity:
                    slot = 0
        self._stored = stored
        self._key_lines += key_lines
        self._absorbed = len(recent)

    def _grow(self) -> None:
        """Double the table and insert every fingerprint again."""
        capacity = self._capacity * 2
        self._table = _rehashed(self._table, capacity)
        self._capacity = capacity
        self._limit = int(capacity * MAX_LOAD)


def _candidate_lines(spill: IO[bytes], candidates: set[int]) -> Iterator[tuple[int, int]]:
    """(line number, fingerprint) of every line whose fingerprint is a candidate, in order,
    streamed from the spill file a block at a time."""
    spill.seek(0)
    first_line = 1
    while block := spill.read(SPILL_LINES * _SLOT_BYTES):
        fingerprints = array("Q")
        fingerprints.frombytes(block)
        for index in [i for i, f in enumerate(fingerprints) if f in candidates]:
            yield first_line + index, fingerprints[index]
        first_line += len(fingerprints)


def _rehashed(old: array[int], capacity: int) -> array[int]:
    """`old`'s fingerprints in a new table of `capacity` slots, placed as `_absorb` places them."""
    table = array("Q", [0]) * capacity
    for fingerprint in old:
        if not fingerprint:
            continue
        slot = (fingerprint * capacity) >> 64
        while table[slot]:
            slot += 1
            if slot == capacity:
                slot = 0
        table[slot] = fingerprint
    return table


def _exact_duplicates(
    candidate_lines: Iterator[tuple[int, int]],
    lines: Iterator[bytes],
    *,
    canonical: Callable[[bytes], bytes | None],
    fingerprint: Fingerprint,
) -> tuple[list[int], tuple[int, int] | None]:
    """The candidate lines whose key repeats an earlier candidate's, compared byte for byte
    (ascending, each line once), and the first of them with the line it repeats.

    `lines` gives the file's lines again from the first; only the candidate lines are turned
    into keys. Raises LinesChangedError if one is not the line first seen.
    """
    duplicates: list[int] = []
    first_duplicate: tuple[int, int] | None = None
    consumed = 0
    # fingerprint -> the distinct keys seen with it, each with the line it is first on
    kept: dict[int, list[tuple[bytes, int]]] = {}
    for line_no, expected in candidate_lines:
        line = next(itertools.islice(lines, line_no - consumed - 1, None), None)
        consumed = line_no
        key = canonical(line) if line is not None else None
        if key is None or ((fingerprint(key) & _MASK) or 1) != expected:
            raise LinesChangedError(f"line {line_no} is not the line first read")
        same_fingerprint = kept.setdefault(expected, [])
        # bytes compared in full, never by fingerprint
        earlier = next((first for seen, first in same_fingerprint if seen == key), None)
        if earlier is None:
            same_fingerprint.append((key, line_no))
            continue
        duplicates.append(line_no)
        if first_duplicate is None:
            first_duplicate = (line_no, earlier)
    return duplicates, first_duplicate
