"""DuplicateFinder: exact whatever the fingerprints do, and small per key."""

from __future__ import annotations

import functools
import io
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccopy.read import dedupe, keys
from asynccopy.read.dedupe import MAX_LOAD, DuplicateFinder, LinesChangedError
from asynccopy.read.keys import iter_keys, open_key_file
from asynccopy.read.tables import KeyAttribute, KeySchema

S_TABLE = KeySchema(partition=KeyAttribute(name="userid", type="S"))


def _same(_: bytes) -> int:
    """Every key gets one 64-bit fingerprint: every pair of distinct keys collides."""
    return 0x1234_5678_9ABC_DEF0


def _first_byte(canonical: bytes) -> int:
    return canonical[0] if canonical else 0


def _never_reread() -> Iterable[bytes]:
    raise AssertionError("the lines were read again although no fingerprint repeated")


def find(
    lines: Sequence[bytes | None],
    *,
    fingerprint: Callable[[bytes], int] = hash,
    expected_keys: int = 0,
) -> tuple[frozenset[int], int, int]:
    """(duplicate lines, distinct keys, times the lines were read again) for `lines`, where
    None is a line without a key and a line's canonical bytes are the line itself."""
    rereads = 0

    def reread() -> Iterable[bytes]:
        nonlocal rereads
        rereads += 1
        return [b"" if line is None else line for line in lines]

    with DuplicateFinder(expected_keys=expected_keys, fingerprint=fingerprint) as finder:
        for line_no, line in enumerate(lines, start=1):
            if line is not None:
                finder.add(line_no, line)
        duplicates = finder.resolve(reread=reread, canonical=lambda line: line or None)
        return duplicates, finder.distinct_keys, rereads


def reference(lines: Sequence[bytes | None]) -> frozenset[int]:
    seen: set[bytes] = set()
    duplicates = set()
    for line_no, line in enumerate(lines, start=1):
        if line is None:
            continue
        if line in seen:
            duplicates.add(line_no)
        seen.add(line)
    return frozenset(duplicates)


def test_distinct_keys_are_read_once() -> None:
    with DuplicateFinder(expected_keys=1_000) as finder:
        for line_no in range(1, 1_001):
            finder.add(line_no, f"user-{line_no}".encode())
        assert not finder.has_candidates
        assert finder.resolve(reread=_never_reread, canonical=bytes) == frozenset()
        assert finder.distinct_keys == 1_000


@pytest.mark.parametrize(
    ("lines", "duplicates"),
    [
        pytest.param([b"a", b"a", b"b", b"c"], {2}, id="at the start"),
        pytest.param([b"a", b"b", b"c", b"a"], {4}, id="at the end, of the first"),
        pytest.param([b"a", b"b", b"c", b"c"], {4}, id="at the end, adjacent"),
        pytest.param([b"a", b"b", b"b", b"b", b"c"], {3, 4}, id="three in a row"),
        pytest.param([None, b"a", None, None, b"a", None], {5}, id="lines without keys"),
        pytest.param([b"a", b"b", b"a", b"b", b"a"], {3, 4, 5}, id="interleaved"),
        pytest.param([b"x"] * 5, {2, 3, 4, 5}, id="one key only"),
    ],
)
@pytest.mark.parametrize("fingerprint", [hash, _same, _first_byte], ids=["hash", "all", "byte"])
def test_duplicates_anywhere(
    lines: list[bytes | None], duplicates: set[int], fingerprint: Callable[[bytes], int]
) -> None:
    found, distinct, rereads = find(lines, fingerprint=fingerprint)
    assert found == duplicates
    assert distinct == len({line for line in lines if line is not None})
    assert rereads == 1


def test_colliding_fingerprints_never_drop_a_key() -> None:
    lines: list[bytes | None] = [f"key-{n}".encode() for n in range(200)]
    found, distinct, rereads = find(lines, fingerprint=_same)
    assert found == frozenset()
    assert distinct == 200
    assert rereads == 1  # a collision costs a look at the lines again, never a key


def test_fingerprints_are_used_as_64_bits() -> None:
    """Fingerprints equal in their low 64 bits collide, 0 (a free slot) included; wider or
    negative ones are cut to 64 bits; none of it changes the answer."""
    fingerprints = {b"a": 0, b"b": 1 << 64, b"c": -1, b"d": (1 << 64) - 1, b"e": 1}
    lines: list[bytes | None] = [b"a", b"b", b"c", b"d", b"e", b"a", b"c"]
    found, distinct, _ = find(lines, fingerprint=fingerprints.__getitem__)
    assert found == {6, 7}
    assert distinct == 5


def test_the_table_grows_beyond_its_estimate() -> None:
    count = 20_000
    lines = [f"user-{n}".encode() for n in range(count)]
    lines += [b"user-0", b"user-19999", b"user-7"]
    with DuplicateFinder(expected_keys=10) as finder:
        first = finder.capacity
        for line_no, line in enumerate(lines, start=1):
            finder.add(line_no, line)
        assert finder.capacity >= 4 * first
        assert finder.distinct_keys <= finder.capacity * MAX_LOAD
        found = finder.resolve(reread=lambda: lines, canonical=lambda line: line)
    assert found == {count + 1, count + 2, count + 3}


def test_many_spill_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fingerprints go to disk a block at a time; the candidates are found across
    blocks, and runs of lines without keys longer than a block are kept in step."""
    monkeypatch.setattr(dedupe, "SPILL_LINES", 16)
    lines: list[bytes | None] = [f"k{n % 70}".encode() for n in range(100)]
    lines[30:30] = [None] * 40
    lines.append(b"k3")
    found, distinct, _ = find(lines, fingerprint=_first_byte)  # every key starts with b"k"
    assert found == reference(lines)
    assert distinct == 70


@given(
    st.lists(st.one_of(st.none(), st.binary(min_size=1, max_size=2)), max_size=60),
    st.sampled_from([hash, _same, _first_byte]),
)
def test_agrees_with_a_set(lines: list[bytes | None], fingerprint: Callable[[bytes], int]) -> None:
    found, distinct, _ = find(lines, fingerprint=fingerprint)
    assert found == reference(lines)
    assert distinct == len({line for line in lines if line is not None})


def test_lines_changed_since_the_first_pass_are_an_error() -> None:
    with DuplicateFinder() as finder:
        for line_no, line in enumerate([b"a", b"b", b"a"], start=1):
            finder.add(line_no, line)
        with pytest.raises(LinesChangedError, match="line 1"):
            finder.resolve(reread=lambda: [b"z", b"b", b"a"], canonical=lambda line: line)


def test_lines_shorter_than_the_first_pass_are_an_error() -> None:
    with DuplicateFinder() as finder:
        for line_no, line in enumerate([b"a", b"b", b"a"], start=1):
            finder.add(line_no, line)
        with pytest.raises(LinesChangedError, match="line 3"):
            finder.resolve(reread=lambda: [b"a", b"b"], canonical=lambda line: line)


def test_lines_must_ascend() -> None:
    with DuplicateFinder() as finder:
        finder.add(5, b"a")
        with pytest.raises(ValueError, match="ascending"):
            finder.add(3, b"b")


# ---- memory --------------------------------------------------------------------------------
def test_table_is_eight_bytes_a_slot_and_at_most_70_percent_full() -> None:
    count = 100_000
    with DuplicateFinder(expected_keys=count) as finder:
        for line_no in range(1, count + 1):
            finder.add(line_no, line_no.to_bytes(8, "big"))
        finder.resolve(reread=_never_reread, canonical=bytes)
        per_key = finder.table_bytes() / count
        assert finder.table_bytes() == 8 * finder.capacity
        assert per_key <= 8 / MAX_LOAD + 0.01  # 11.4 bytes a key, sized from the estimate


def test_memory_per_key_is_the_table_and_nothing_per_key_besides() -> None:
    """Every allocation the finder keeps, counted by tracemalloc: the table, and a buffer of
    fingerprints whose size does not depend on the key count."""
    count = 200_000
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        finder = DuplicateFinder(expected_keys=count)
        for line_no in range(1, count + 1):
            finder.add(line_no, b"user-%d" % line_no)
        held, _ = tracemalloc.get_traced_memory()
        finder.resolve(reread=_never_reread, canonical=bytes)
    finally:
        tracemalloc.stop()
    buffer_bytes = 8 * dedupe.SPILL_LINES
    assert held - before <= finder.table_bytes() + buffer_bytes + 64 * 1024
    assert finder.table_bytes() / count <= 11.5


def test_doubling_keeps_at_most_23_bytes_a_key() -> None:
    count = 50_000
    with DuplicateFinder(expected_keys=0) as finder:
        for line_no in range(1, count + 1):
            finder.add(line_no, line_no.to_bytes(8, "big"))
        assert finder.distinct_keys == count
        assert finder.table_bytes() / count <= 2 * 8 / MAX_LOAD + 0.01


# ---- through the key file --------------------------------------------------------------------
@pytest.fixture
def colliding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key in a key file gets the same fingerprint."""
    monkeypatch.setattr(
        keys, "DuplicateFinder", functools.partial(DuplicateFinder, fingerprint=_same)
    )


@pytest.mark.usefixtures("colliding")
def test_key_file_with_colliding_fingerprints(tmp_path: Path) -> None:
    path = tmp_path / "k.txt"
    path.write_text('a\n\n# c\nb\na\n{"userid": "b"}\nc')
    with open_key_file(str(path), schema=S_TABLE) as plan:
        assert plan.keys_total == 3
        assert plan.duplicate_lines == {5, 6}
        assert [line for line, _ in iter_keys(plan, schema=S_TABLE)] == [1, 4, 7]


@pytest.mark.usefixtures("colliding")
def test_stdin_with_colliding_fingerprints_reads_the_spool_again() -> None:
    stdin = io.BytesIO(b"a\nb\na\nc\n")
    with open_key_file("-", schema=S_TABLE, stdin=stdin) as plan:
        assert plan.keys_total == 3
        assert plan.duplicate_lines == {3}
        assert [line for line, _ in iter_keys(plan, schema=S_TABLE)] == [1, 2, 4]
